"""Charts: valid 1200x800 PNGs, candles vs line, panels, watermarks, names, ChartService."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from PIL import Image

from tests import shared_data
from tests.tools.market.fakes import FakeMarket
from tools.analysis.bars import Bars
from tools.analysis.charts import (
    ChartService,
    check_panel,
    check_style,
    equity_chart,
    equity_figure,
    parse_overlays,
    price_chart,
    price_figure,
    render_png,
    series_chart,
    series_figure,
    stablecoin_chart,
    stablecoin_figure,
    watermarks,
)
from tools.clock import FakeClock
from tools.errors import UserInputError
from tools.market.offline import OfflineMarket
from tools.market.series import load_price_series
from tools.market.service import PriceService
from tools.market.symbols import SymbolResolver
from tools.market.types import CoinRef, DataOrigin

NOW = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
BTC = CoinRef("bitcoin", "BTC", "Bitcoin")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[3]


def offline_bars(days: int = 90, interval: str = "1d") -> Bars:
    market = OfflineMarket(seed=7, clock=FakeClock(NOW))
    return Bars.from_history(asyncio.run(market.get_history(BTC, "usd", days, interval)))


@pytest.fixture(scope="module")
def bars90() -> Bars:
    return offline_bars(90)


@pytest.fixture(scope="module")
def bars400() -> Bars:
    return offline_bars(400)


def assert_png(data: bytes, size: tuple[int, int] = (1200, 800)) -> None:
    assert data[:8] == PNG_SIGNATURE
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == size
    pixels = mpimg.imread(io.BytesIO(data), format="png")
    assert pixels.shape[:2] == (size[1], size[0])
    assert float(pixels[..., :3].std()) > 0.05  # something was drawn, not a blank canvas


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.texts]


def legend(fig: Figure) -> list[str]:
    box = fig.axes[0].get_legend()
    assert box is not None
    return [t.get_text() for t in box.get_texts()]


def times(n: int) -> list[datetime]:
    return [NOW - timedelta(days=n - 1 - i) for i in range(n)]


# -- price charts ------------------------------------------------------------------------------


def test_price_chart_is_a_1200_by_800_png(bars90: Bars) -> None:
    assert_png(price_chart(bars90, overlays=("bbands", "sma20"), panel="rsi"))


def test_price_chart_draws_candles_as_two_collections(bars90: Bars) -> None:
    fig = price_figure(bars90, style="candles")
    ax = fig.axes[0]
    bodies = [c for c in ax.collections if isinstance(c, PolyCollection)]
    wicks = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(bodies) == 1 and len(wicks) == 1
    assert len(bodies[0].get_paths()) == len(bars90) == 91
    assert len(wicks[0].get_segments()) == len(bars90)
    # green when close >= open, red otherwise
    colors = np.asarray(bodies[0].get_facecolor())
    up = bars90.close >= bars90.open
    assert np.allclose(colors[up][0][:3], colors[up][-1][:3])
    assert not np.allclose(colors[up][0][:3], colors[~up][0][:3])


def test_many_bars_switch_to_a_line_unless_candles_are_asked_for(bars400: Bars) -> None:
    auto = price_figure(bars400, volume=False)
    ax = auto.axes[0]
    assert not any(isinstance(c, LineCollection) for c in ax.collections)
    assert len(np.asarray(ax.lines[0].get_xdata())) == len(bars400)
    assert "closes" in texts(auto)[0]
    forced = price_figure(bars400, style="candles", volume=False)
    bodies = [c for c in forced.axes[0].collections if isinstance(c, PolyCollection)]
    assert len(bodies[0].get_paths()) == len(bars400)
    assert "candles" in texts(forced)[0]


def test_a_thousand_candles_render() -> None:
    bars = offline_bars(1000)
    assert len(bars) == 1001
    assert_png(price_chart(bars, style="candles", overlays=["sma50"], panel="macd"))


@pytest.mark.parametrize(
    ("panel", "volume", "axes"), [(None, False, 1), (None, True, 2), ("rsi", True, 3),
                                  ("macd", False, 2)]
)  # fmt: skip
def test_panels(bars90: Bars, panel: str | None, volume: bool, axes: int) -> None:
    assert len(price_figure(bars90, panel=panel, volume=volume).axes) == axes


def test_bars_without_volume_get_no_volume_panel(bars90: Bars) -> None:
    silent = replace(bars90, volume=np.zeros(len(bars90)))
    assert len(price_figure(silent, volume=True).axes) == 1


def test_overlays_appear_in_the_legend(bars90: Bars) -> None:
    fig = price_figure(bars90, overlays="bbands, SMA20 ema-50")
    assert legend(fig) == ["Bollinger 20, 2σ", "SMA 20", "EMA 50"]


def test_an_overlay_longer_than_the_chart_is_left_out(bars90: Bars) -> None:
    fig = price_figure(bars90, overlays=["sma200", "sma20"])
    assert legend(fig) == ["SMA 20"]


def test_title_names_symbol_interval_range_and_source(bars90: Bars) -> None:
    title, right, subtitle = texts(price_figure(bars90))[:3]
    assert title == "BTC/USD · 1d candles"
    assert right.startswith(f"{bars90.close[-1]:,.0f} USD")
    assert subtitle == "22 Aug 2025 - 20 Nov 2025 (90 days) · source: offline (SIMULATED)"


def test_simulated_and_replayed_data_are_watermarked(bars90: Bars) -> None:
    assert bars90.origin is DataOrigin.SIMULATED
    assert watermarks(price_figure(bars90)) == ["SIMULATED"]
    replayed = replace(bars90, origin=DataOrigin.REPLAYED)
    assert watermarks(price_figure(replayed)) == ["REPLAYED"]
    live = replace(bars90, origin=DataOrigin.LIVE, source="binance")
    fig = price_figure(live)
    assert watermarks(fig) == []
    assert texts(fig)[2].endswith("· source: binance")


def test_one_bar_is_enough(bars90: Bars) -> None:
    assert_png(price_chart(bars90.tail(1), overlays=["bbands"], panel="macd"))


def test_no_bars_is_a_user_error(bars90: Bars) -> None:
    empty = bars90.tail(1)
    empty = replace(empty, ts=empty.ts[:0], open=empty.open[:0], high=empty.high[:0],
                    low=empty.low[:0], close=empty.close[:0], volume=empty.volume[:0])  # fmt: skip
    with pytest.raises(UserInputError, match="no bars"):
        price_chart(empty)


# -- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (None, []),
        ([], []),
        (["bbands", "BB", "bollinger"], ["bbands"]),
        ("sma20,ema50", ["sma20", "ema50"]),
        (["SMA 200", "ema_9"], ["sma200", "ema9"]),
    ],
)
def test_overlay_names(names: object, expected: list[str]) -> None:
    assert [o.name for o in parse_overlays(names)] == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["vwap"], 'Unknown overlay "vwap". Use bbands, sma<N> or ema<N>'),
        (["sma"], 'Unknown overlay "sma"'),
        (["sma1"], "periods go from 2 to 400"),
        (["ema401"], "periods go from 2 to 400"),
        (["sma5", "sma6", "sma7", "sma8", "sma9", "sma10", "sma11"], "At most 6 overlays"),
    ],
)
def test_bad_overlay_names(names: list[str], message: str) -> None:
    with pytest.raises(UserInputError, match=message.replace("(", r"\(")):
        parse_overlays(names)


def test_panel_and_style_names() -> None:
    assert check_panel("RSI") == "rsi" and check_panel(" macd ") == "macd"
    assert check_panel(None) is None and check_panel("none") is None
    with pytest.raises(UserInputError, match='Unknown panel "stoch". Use rsi or macd'):
        check_panel("stoch")
    assert check_style("Candle") == "candles"
    with pytest.raises(UserInputError, match="Use auto, candles, line"):
        check_style("heikin-ashi")


def test_bad_names_fail_before_drawing(bars90: Bars) -> None:
    with pytest.raises(UserInputError, match="Unknown panel"):
        price_chart(bars90, panel="volume")
    with pytest.raises(UserInputError, match="Unknown overlay"):
        price_chart(bars90, overlays=["ichimoku"])


# -- equity, stablecoin, series ----------------------------------------------------------------


def test_equity_chart(bars90: Bars) -> None:
    equity = 1000 * bars90.close / bars90.close[0]
    drawdown = equity / np.maximum.accumulate(equity) - 1
    data = equity_chart(bars90.ts, equity, drawdown, benchmark=equity * 0.9, title="SMA cross",
                        source="offline", origin=DataOrigin.SIMULATED)  # fmt: skip
    assert_png(data)
    fig = equity_figure(bars90.ts, equity, drawdown, title="SMA cross")
    assert texts(fig)[0] == "SMA cross"
    assert watermarks(fig) == []
    panel = fig.axes[1]
    assert any(f"max {drawdown.min() * 100:.1f}%" in t.get_text() for t in panel.texts)


def test_equity_drawdown_is_computed_when_missing() -> None:
    equity = [100.0, 120.0, 90.0, 110.0]
    fig = equity_figure(times(4), equity, None)
    assert any("max -25.0%" in t.get_text() for t in fig.axes[1].texts)


def test_equity_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="equity has 3 values for 4 times"):
        equity_chart(times(4), [1.0, 2.0, 3.0], None)


def test_stablecoin_chart_marks_the_worst_deviation() -> None:
    prices = [1.0, 0.999, 0.97, 0.9, 0.95, 0.99]
    fig = stablecoin_figure(times(6), prices, thresholds=(0.5, 2, 5), title="USDC/USD",
                            origin=DataOrigin.REPLAYED)  # fmt: skip
    ax = fig.axes[0]
    assert any(t.get_text().startswith("low 0.9000 (-10.00%)") for t in ax.texts)
    assert {t.get_text().strip() for t in ax.texts} >= {"-0.5%", "-2%", "-5%", "+0.5%"}
    assert watermarks(fig) == ["REPLAYED"]
    assert texts(fig)[0] == "USDC/USD · peg 1 USD"
    assert_png(render_png(fig))


@pytest.mark.skipif(not shared_data.USDC_HOURLY.is_file(), reason=shared_data.SKIP_REASON)
def test_stablecoin_chart_of_the_usdc_depeg() -> None:
    series = load_price_series(shared_data.USDC_HOURLY)
    data = stablecoin_chart([t for t, _ in series.points], [p for _, p in series.points],
                            title="USDC/USD")  # fmt: skip
    assert_png(data)
    fig = stablecoin_figure([t for t, _ in series.points], [p for _, p in series.points])
    low = min(p for _, p in series.points)
    assert any(t.get_text().startswith(f"low {low:.4f}") for t in fig.axes[0].texts)


def test_stablecoin_thresholds_must_increase() -> None:
    with pytest.raises(UserInputError, match="three increasing thresholds"):
        stablecoin_chart(times(2), [1.0, 1.0], thresholds=(2, 0.5, 5))
    with pytest.raises(UserInputError, match="positive peg"):
        stablecoin_chart(times(2), [1.0, 1.0], peg=0)


def test_series_chart() -> None:
    values = np.concatenate([np.full(5, np.nan), np.linspace(1, 2, 25)])
    assert_png(series_chart(times(30), values, "sma(close, 5) / close"))


def test_signal_series_is_drawn_as_steps() -> None:
    values = [0, 0, 1, 1, 1, 0, 1, 1]
    fig = series_figure(times(8), values, "rsi(14) < 30", signal=True)
    ax = fig.axes[0]
    assert ax.lines[0].get_drawstyle() == "steps-post"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0 off", "1 on"]
    assert texts(fig)[1] == "on now · on 62% of the time"
    assert_png(render_png(fig))


def test_no_points_is_a_user_error() -> None:
    with pytest.raises(UserInputError, match="no data points"):
        series_chart([], [], "empty")
    with pytest.raises(UserInputError, match="no data points"):
        series_chart(np.array([], dtype=np.int64), np.array([]), "empty")


# -- rendering ---------------------------------------------------------------------------------


def test_rendering_in_threads_gives_identical_images(bars90: Bars) -> None:
    def render(_: int) -> bytes:
        return price_chart(bars90, overlays=["bbands"], panel="rsi")

    with ThreadPoolExecutor(max_workers=4) as pool:
        images = list(pool.map(render, range(8)))
    assert all(image == images[0] for image in images)


def test_unquantized_png_is_also_valid(bars90: Bars) -> None:
    quantized = render_png(price_figure(bars90))
    full = render_png(price_figure(bars90), quantize=False)
    assert_png(full)
    with Image.open(io.BytesIO(quantized)) as image:
        assert image.mode == "P"
    assert len(quantized) < len(full)


def test_importing_charts_does_not_import_matplotlib() -> None:
    code = (
        "import sys, tools.analysis.charts, tools.analysis.history, tools.analysis.text_history;"
        "print('matplotlib' in sys.modules)"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "False"


# -- ChartService ------------------------------------------------------------------------------


def chart_service(market: object | None = None) -> tuple[ChartService, object]:
    clock = FakeClock(NOW)
    source = market or OfflineMarket(seed=7, clock=clock)
    prices = PriceService(source, SymbolResolver(source, clock=clock), clock=clock)  # type: ignore[arg-type]
    return ChartService(prices), source


async def test_chart_service_returns_a_named_png_with_a_caption() -> None:
    svc, _ = chart_service()
    attachment = await svc.price_chart("btc", days=30, interval="1d", overlays=["sma20"],
                                       panel="rsi")  # fmt: skip
    assert attachment.filename == "btc-30d-1d.png"
    assert attachment.content_type == "image/png"
    assert_png(attachment.data)
    first, second = attachment.caption.splitlines()[:2]
    assert first.startswith("BTC/USD, last 30 days (1d bars): $")
    assert first.endswith("%)")
    assert second == "SIMULATED data, not live prices."


async def test_chart_service_says_what_it_could_not_draw() -> None:
    svc, _ = chart_service()
    attachment = await svc.price_chart("eth", days=10, overlays=["sma50"], panel="macd")
    assert attachment.filename == "eth-10d-1d.png"
    assert "Not drawn (11 bars in range): sma50 needs 50 bars, MACD needs 34 bars." in (
        attachment.caption
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"overlays": ["vwap"]}, "Unknown overlay"),
        ({"panel": "stoch"}, "Unknown panel"),
        ({"style": "renko"}, "Unknown chart style"),
        ({"days": 0}, "1 to 3650 days"),
        ({"interval": "3d"}, "Interval must be one of"),
    ],
)
async def test_chart_service_validates_before_fetching(kwargs: dict[str, object],
                                                       message: str) -> None:  # fmt: skip
    market = FakeMarket()
    svc, _ = chart_service(market)
    with pytest.raises(UserInputError, match=message):
        await svc.price_chart("btc", **kwargs)  # type: ignore[arg-type]
    assert market.calls == []
