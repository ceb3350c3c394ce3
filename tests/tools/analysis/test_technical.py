"""TechnicalService: values equal TA-Lib's, readings on crafted series, stance, aliases,
short history, provenance."""

from __future__ import annotations

import numpy as np
import pytest
import talib

from tools.analysis.fetch import SETTLE_BARS, days_for
from tools.analysis.technical import (
    IndicatorReading,
    IndicatorRequest,
    Stance,
    TechnicalService,
    parse_indicators,
)
from tools.analysis.technical_readings import bars_needed, overall_stance, read_indicator
from tools.errors import MarketDataUnavailableError, UserInputError
from tools.market.service import OFFLINE_LABEL, REPLAY_LABEL
from tools.market.types import DataOrigin

from .ta_data import NOW, SeriesMarket, bars_of, offline_prices, series_prices, trending


def path(steps: list[float], start: float = 100.0) -> list[float]:
    """Closes compounding the given per-bar returns."""
    closes = [start]
    for step in steps:
        closes.append(closes[-1] * (1 + step))
    return closes


def service(closes: list[float], **kw: object) -> tuple[TechnicalService, SeriesMarket]:
    market = SeriesMarket(closes, **kw)  # type: ignore[arg-type]
    return TechnicalService(series_prices(market)), market


def reading(readings: list[IndicatorReading], name: str) -> IndicatorReading:
    return next(r for r in readings if r.name == name)


# -- values -----------------------------------------------------------------------------------


async def test_latest_values_equal_talib() -> None:
    closes = list(trending(400, 0.001, noise=0.02))
    svc, _ = service(closes)
    report = await svc.analyse("btc")
    bars = bars_of(closes)
    c, h, lo = bars.close, bars.high, bars.low
    got = {r.name: r.values for r in report.indicators}
    assert got["RSI"]["RSI 14"] == pytest.approx(talib.RSI(c, 14)[-1], abs=1e-9)
    line, sig, hist = talib.MACD(c, 12, 26, 9)
    assert got["MACD"] == pytest.approx(
        {"MACD": line[-1], "Signal": sig[-1], "Histogram": hist[-1]}, abs=1e-9
    )
    up, mid, low = talib.BBANDS(c, 20, 2, 2, 0)
    assert got["BBANDS"]["Upper"] == pytest.approx(up[-1], abs=1e-9)
    assert got["BBANDS"]["%B"] == pytest.approx((c[-1] - low[-1]) / (up[-1] - low[-1]), abs=1e-9)
    for n in (20, 50, 200):
        assert got["SMA"][f"SMA {n}"] == pytest.approx(talib.SMA(c, n)[-1], abs=1e-9)
    for n in (12, 26, 50):
        assert got["EMA"][f"EMA {n}"] == pytest.approx(talib.EMA(c, n)[-1], abs=1e-9)
    atr = talib.ATR(h, lo, c, 14)[-1]
    assert got["ATR"] == pytest.approx({"ATR 14": atr, "ATR %": atr / c[-1] * 100}, abs=1e-9)
    k, d = talib.STOCH(h, lo, c, 14, 3, 0, 3, 0)
    assert got["STOCH"] == pytest.approx({"%K": k[-1], "%D": d[-1]}, abs=1e-9)
    assert report.last_close == c[-1]
    assert report.bars_available == 400


async def test_enough_history_is_requested_for_the_interval() -> None:
    svc, market = service(list(trending(50, 0.001)))
    await svc.analyse("btc", ["SMA 200"], interval="1w")
    await svc.analyse("btc", ["rsi"], interval="4h")
    sma_bars = 200 + 20 + SETTLE_BARS
    assert market.requests == [
        (days_for(sma_bars, "1w"), "1w"),
        (days_for(15 + SETTLE_BARS, "4h"), "4h"),
    ]
    assert market.requests[0][0] >= sma_bars * 7


# -- readings on crafted series ----------------------------------------------------------------


async def test_rising_series_is_overbought_and_bullish() -> None:
    svc, _ = service(list(trending(300, 0.01, noise=0.006)))
    report = await svc.analyse("btc")
    rsi = reading(report.indicators, "RSI")
    assert rsi.values["RSI 14"] > 70 and rsi.reading.startswith("Overbought")
    assert reading(report.indicators, "SMA").reading.endswith("(uptrend).")
    assert report.stance is Stance.BULLISH
    assert any("overbought" in r for r in report.reasons)
    assert any("SMA 50 and SMA 200 (uptrend)" in r for r in report.reasons)


async def test_falling_series_is_oversold_and_bearish() -> None:
    svc, _ = service(list(trending(300, -0.01, noise=0.006)))
    report = await svc.analyse("btc")
    rsi = reading(report.indicators, "RSI")
    assert rsi.values["RSI 14"] < 30 and rsi.reading.startswith("Oversold")
    assert report.stance is Stance.BEARISH
    assert any("(downtrend)" in r for r in report.reasons)


async def test_macd_bullish_crossover_on_the_last_bar() -> None:
    closes = path([0.005] * 100 + [-0.01] * 40 + [0.015] * 2)
    bars = bars_of(closes)
    line, sig, _ = talib.MACD(bars.close, 12, 26, 9)
    assert line[-2] <= sig[-2] and line[-1] > sig[-1]  # the construction crosses here
    svc, _ = service(closes)
    macd = reading((await svc.analyse("btc", ["macd"])).indicators, "MACD")
    assert macd.reading.startswith("Bullish crossover on the last bar")
    assert "histogram rising" in macd.reading
    assert [s.direction for s in macd.signals] == [1]
    assert "bullish crossover on the last bar" in macd.signals[0].text


async def test_macd_bearish_crossover_a_few_bars_ago() -> None:
    closes = path([-0.005] * 100 + [0.01] * 40 + [-0.015] * 5)
    svc, _ = service(closes)
    macd = reading((await svc.analyse("btc", ["MACD"])).indicators, "MACD")
    assert macd.reading.startswith("Bearish crossover 2 bars ago")
    assert macd.signals[0].direction == -1


async def test_golden_cross_is_reported_recently() -> None:
    closes = path([-0.003] * 259 + [0.01] * 52)
    c = np.asarray(closes)
    s50, s200 = talib.SMA(c, 50), talib.SMA(c, 200)
    crossed = [
        i for i in range(len(c) - 20, len(c)) if s50[i - 1] <= s200[i - 1] and s50[i] > s200[i]
    ]
    assert len(crossed) == 1
    svc, _ = service(closes)
    sma = reading((await svc.analyse("btc", ["sma"])).indicators, "SMA")
    ago = len(c) - 1 - crossed[0]
    assert f"golden cross {ago} bars ago" in sma.reading
    assert any(s.direction == 1 and s.text.startswith("Golden cross") for s in sma.signals)


async def test_bollinger_squeeze_and_band_break() -> None:
    quiet = list(trending(200, 0.0, noise=0.03)) + list(
        np.full(30, 100.0) * (1 + 0.0005 * np.sin(np.arange(30)))
    )
    svc, _ = service(quiet)
    bb = reading((await svc.analyse("btc", ["bollinger"])).indicators, "BBANDS")
    assert "squeeze" in bb.reading and "no squeeze" not in bb.reading
    jump = quiet + [quiet[-1] * 1.2]
    svc, _ = service(jump)
    bb = reading((await svc.analyse("btc", ["bb"])).indicators, "BBANDS")
    assert bb.reading.startswith("Price is above the upper band")
    assert bb.values["%B"] > 1


async def test_stochastic_overbought_and_atr_volatility() -> None:
    calm_then_wild = list(trending(200, 0.0, noise=0.005)) + list(
        trending(20, 0.0, seed=9, noise=0.08) * 0.9
    )
    svc, _ = service(calm_then_wild)
    report = await svc.analyse("btc", ["atr", "stochastic"])
    atr = reading(report.indicators, "ATR")
    assert atr.reading.startswith("Elevated volatility")
    rising = list(trending(100, 0.01, noise=0.002))
    svc, _ = service(rising)
    stoch = reading((await svc.analyse("btc", ["stoch"])).indicators, "STOCH")
    assert stoch.values["%K"] > 80 and stoch.reading.startswith("Overbought")
    assert stoch.signals and stoch.signals[0].direction == 0  # a caution, not a vote


def test_mixed_votes_give_neutral_and_a_single_vote_decides() -> None:
    up = bars_of(list(trending(300, 0.01, noise=0.006)))
    only_rsi = [read_indicator(up, IndicatorRequest("RSI", (14,)))]
    assert overall_stance(only_rsi)[0] is Stance.BULLISH
    down = bars_of(list(trending(300, -0.01, noise=0.006)))
    mixed = only_rsi + [read_indicator(down, IndicatorRequest("SMA", (50, 200)))]
    stance, reasons = overall_stance(mixed)
    assert stance is Stance.NEUTRAL and reasons[0] == "Signals are mixed."
    assert overall_stance([])[0] is Stance.NEUTRAL


# -- short history ----------------------------------------------------------------------------


async def test_short_history_says_what_is_missing_and_reports_the_rest() -> None:
    svc, _ = service(list(trending(120, 0.002, noise=0.01)))
    report = await svc.analyse("btc")
    sma = reading(report.indicators, "SMA")
    assert sma.unavailable == ["SMA 200 needs 200 daily bars; only 120 are available."]
    assert set(sma.values) == {"SMA 20", "SMA 50"}
    bb = reading(report.indicators, "BBANDS")
    assert bb.available
    assert bb.unavailable == ["The squeeze check needs 139 daily bars; only 120 are available."]
    assert all(reading(report.indicators, n).available for n in ("RSI", "MACD", "ATR", "STOCH"))


async def test_far_too_short_history_invents_nothing() -> None:
    svc, _ = service(list(trending(10, 0.002)))
    report = await svc.analyse("btc", ["RSI(14)", "MACD", "SMA 200"], interval="4h")
    rsi, macd, sma = report.indicators
    assert not rsi.available and rsi.values == {}
    assert rsi.unavailable == ["RSI 14 needs 15 4-hour bars; only 10 are available."]
    assert macd.unavailable == ["MACD 12/26/9 needs 34 4-hour bars; only 10 are available."]
    assert sma.unavailable == ["SMA 200 needs 200 4-hour bars; only 10 are available."]
    assert report.stance is Stance.NEUTRAL


async def test_empty_history_is_unavailable() -> None:
    svc, _ = service([])
    with pytest.raises(MarketDataUnavailableError, match="No daily price history"):
        await svc.analyse("btc")


# -- names and periods ------------------------------------------------------------------------


def test_aliases_and_periods() -> None:
    got = parse_indicators(
        ["Bollinger", "stochastic", "moving average", "RSI(7)", "EMA 50", "sma 20/50", "MA200",
         "bb(20, 2.5)", "MACD(8, 21)", "Stochastic 5"]
    )  # fmt: skip
    assert got == [
        IndicatorRequest("BBANDS", (20,)),
        IndicatorRequest("STOCH", (14, 3, 3)),
        IndicatorRequest("SMA", (20, 50, 200)),
        IndicatorRequest("RSI", (7,)),
        IndicatorRequest("EMA", (50,)),
        IndicatorRequest("BBANDS", (20,), 2.5),
        IndicatorRequest("MACD", (8, 21, 9)),
        IndicatorRequest("STOCH", (5, 3, 3)),
    ]
    assert parse_indicators(["bb", "BBANDS", "Bollinger Bands"]) == [
        IndicatorRequest("BBANDS", (20,))
    ]
    assert [r.name for r in parse_indicators(None)] == [
        "RSI", "MACD", "BBANDS", "SMA", "EMA", "ATR", "STOCH"
    ]  # fmt: skip
    assert parse_indicators([" ", ""]) == parse_indicators(None)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("rsx", 'Unknown indicator "rsx". Did you mean RSI?'),
        ("ichimoku", 'Unknown indicator "ichimoku". Choose from: RSI, MACD, BBANDS'),
        ("RSI 0", 'Periods are whole numbers from 2 to 5000; got "0" in "RSI 0".'),
        ("RSI(1)", 'got "1" in "RSI(1)"'),
        ("EMA 5001", 'got "5001"'),
        ("RSI 2.5", 'got "2.5"'),
        ("RSI 14 28", 'Too many numbers in "RSI 14 28". For example: RSI 14.'),
        ("MACD 26 12", "the fast period must be shorter than the slow one"),
        ("bb 20 0", "The Bollinger width is a number above 0 and at most 10"),
        ("x" * 60, "Unknown indicator"),
    ],
)
def test_bad_indicator_entries(entry: str, message: str) -> None:
    with pytest.raises(UserInputError) as caught:
        parse_indicators([entry])
    assert message in caught.value.user_message
    if "Unknown" in message:
        assert "Choose from: RSI, MACD, BBANDS (Bollinger), SMA, EMA, ATR, STOCH" in (
            caught.value.user_message
        )


def test_too_many_entries() -> None:
    with pytest.raises(UserInputError, match="at most 12"):
        parse_indicators(["rsi"] * 13)


async def test_bad_interval_and_aliases() -> None:
    svc, market = service(list(trending(60, 0.001)))
    with pytest.raises(UserInputError, match="Use one of: 1h, 4h, 1d, 1w"):
        await svc.analyse("btc", ["rsi"], interval="2h")
    report = await svc.analyse("btc", ["rsi"], interval="Daily")
    assert report.interval == "1d" and market.requests[-1][1] == "1d"


def test_bars_needed_covers_the_full_reading() -> None:
    assert bars_needed(IndicatorRequest("SMA", (20, 50, 200))) == 200 + 20
    assert bars_needed(IndicatorRequest("BBANDS", (20,))) == 20 + 120
    assert bars_needed(IndicatorRequest("RSI", (14,))) == 15


# -- provenance -------------------------------------------------------------------------------


async def test_offline_report_is_labelled_simulated() -> None:
    report = await TechnicalService(offline_prices()).analyse("ETH", ["rsi", "sma 200"])
    assert report.origin is DataOrigin.SIMULATED and report.notice == OFFLINE_LABEL
    assert report.source == "offline" and report.symbol == "ETH"
    assert report.last_bar_time.date() == NOW.date() and report.last_bar_partial
    assert all(r.available for r in report.indicators)


async def test_replayed_and_provider_notes_are_kept() -> None:
    svc, _ = service(
        list(trending(80, 0.001)), origin=DataOrigin.REPLAYED, note="replaying depeg.csv"
    )
    report = await svc.analyse("btc", ["rsi"])
    assert report.notice == REPLAY_LABEL
    assert report.notes == ["BTC: replaying depeg.csv."]
    assert report.source == "testfeed"
