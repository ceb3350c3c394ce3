"""Portfolio charts: the allocation donut, the value chart and the attachments for a user."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest
from PIL import Image

from storage import Database
from tools.clock import FakeClock
from tools.errors import UserInputError
from tools.identity import UserRef
from tools.market.factory import MarketConfig, open_market
from tools.market.service import OFFLINE_LABEL, PriceService
from tools.market.symbols import SymbolResolver
from tools.market.types import DataOrigin
from tools.portfolio.charts import (
    ALLOCATION_FILENAME,
    OTHER,
    allocation_donut,
    allocation_figure,
    group_slices,
    portfolio_charts,
    value_chart,
    value_figure,
    watermarks,
)
from tools.portfolio.service import PortfolioService

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
DAY = 86_400
ALICE = UserRef("telegram", "1001", "Alice")
BOB = UserRef("discord", "2002", "Bob")
TEN = [(f"C{i}", Decimal(1000 - 90 * i)) for i in range(10)]


def assert_png(data: bytes, size: tuple[int, int] = (1200, 800)) -> None:
    assert data[:8] == PNG_SIGNATURE
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size == size
        assert float(np.asarray(image.convert("RGB")).std()) > 5  # not a blank canvas


def make(db: Database) -> PortfolioService:
    clock = FakeClock(NOW)
    handle = open_market(MarketConfig(mode="offline"), clock=clock)
    prices = PriceService(handle.market, SymbolResolver(handle.market, clock=clock), clock=clock)
    return PortfolioService(db, prices, clock=clock)


def epoch_days(n: int) -> list[int]:
    end = int(NOW.timestamp())
    return [end - DAY * (n - 1 - i) for i in range(n)]


# -- allocation donut ------------------------------------------------------------------------


def test_donut_is_a_1200_by_800_png() -> None:
    assert_png(allocation_donut([("BTC", Decimal(6000)), ("ETH", Decimal(3000))]))


def test_more_than_eight_holdings_are_grouped_into_other() -> None:
    slices = group_slices(TEN)
    assert [s for s, _ in slices] == [f"C{i}" for i in range(8)] + [OTHER]
    assert slices[-1][1] == pytest.approx(float(TEN[8][1] + TEN[9][1]))
    fig = allocation_figure(TEN, currency="USD")
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(legend) == 9 and legend[-1].startswith(f"{OTHER}  ")
    labels = [t.get_text() for t in fig.axes[0].texts]
    total = sum(v for _, v in TEN)
    assert f"${total:,.2f}" in labels  # the total in the centre
    assert "C0\n" + f"{float(TEN[0][1]) / float(total) * 100:.1f}%" in labels
    assert_png(allocation_donut(TEN))


def test_eight_holdings_have_no_other_and_worthless_ones_are_left_out() -> None:
    eight = TEN[:8] + [("ZERO", Decimal(0)), ("NONE", None)]
    assert [s for s, _ in group_slices(eight)] == [s for s, _ in TEN[:8]]


def test_donut_of_nothing_is_a_user_error() -> None:
    with pytest.raises(UserInputError):
        allocation_donut([("BTC", Decimal(0))])


@pytest.mark.parametrize(
    ("origin", "marks"),
    [
        (DataOrigin.LIVE, []),
        (DataOrigin.SIMULATED, ["SIMULATED"]),
        (DataOrigin.REPLAYED, ["REPLAYED"]),
    ],
)
def test_not_live_data_is_watermarked(origin: DataOrigin, marks: list[str]) -> None:
    assert watermarks(allocation_figure(TEN, origin=origin)) == marks
    fig = value_figure(epoch_days(5), [1, 2, 3, 4, 5], origin=origin, source="offline")
    assert watermarks(fig) == marks
    if origin is DataOrigin.SIMULATED:
        assert any("SIMULATED" in t.get_text() for t in fig.texts if t.get_gid() != "watermark")


# -- value chart -----------------------------------------------------------------------------


def test_value_chart_with_cost_basis() -> None:
    times = np.asarray(epoch_days(90), dtype=np.int64)
    values = 10_000 * np.cumprod(1 + np.random.default_rng(3).normal(0.002, 0.03, 90))
    fig = value_figure(times, values, cost_basis=[9_000.0] * 90, currency="EUR")
    legend = fig.axes[0].get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == ["Value", "Cost basis"]
    assert "(89 days)" in " ".join(t.get_text() for t in fig.texts)
    assert_png(value_chart(times, values, cost_basis=[9_000.0] * 90))
    assert_png(value_chart(epoch_days(3), [Decimal(1), Decimal(2), Decimal(3)]))


def test_value_chart_checks_its_input() -> None:
    with pytest.raises(UserInputError):
        value_chart([], [])
    with pytest.raises(ValueError, match="cost_basis"):
        value_chart(epoch_days(3), [1, 2, 3], cost_basis=[1, 2])


# -- for a user's portfolio ------------------------------------------------------------------


async def test_portfolio_charts(db: Database) -> None:
    service = make(db)
    await service.record_trade(ALICE, "buy", "BTC", "0.5", "60000", "2026-06-01")
    await service.record_trade(ALICE, "buy", "ETH", "4", "3000", "2026-09-15")
    await service.record_trade(ALICE, "sell", "ETH", "1", "3500", "2026-10-20")
    charts = await portfolio_charts(service, ALICE)
    assert [c.filename for c in charts] == [ALLOCATION_FILENAME, "portfolio-value-90d.png"]
    for chart in charts:
        assert chart.content_type == "image/png"
        assert_png(chart.data)
        assert OFFLINE_LABEL in chart.caption
    assert 'portfolio "default"' in charts[0].caption

    times, by_symbol, _, origin = await service.value_history(ALICE, days=90)
    assert origin is DataOrigin.SIMULATED
    assert set(by_symbol) == {"BTC", "ETH"} and len(times) >= 80
    risk = await service.risk(ALICE, days=90)
    assert set(risk.symbols) == set(by_symbol)


async def test_empty_portfolio_has_no_charts(db: Database) -> None:
    service = make(db)
    assert await portfolio_charts(service, BOB) == []
    first = await service.record_trade(BOB, "buy", "BTC", "1", "50000", "2026-06-01")
    await service.record_trade(BOB, "sell", "BTC", "1", "60000", "2026-06-02")
    assert first.trade.id
    assert await portfolio_charts(service, BOB) == []  # everything sold long ago


async def test_only_the_donut_without_enough_history(db: Database) -> None:
    service = make(db)
    await service.record_trade(ALICE, "buy", "BTC", "0.1")  # just now: no daily close yet
    charts = await portfolio_charts(service, ALICE, days=30)
    assert [c.filename for c in charts][0] == ALLOCATION_FILENAME
    assert all(c.filename in (ALLOCATION_FILENAME, "portfolio-value-30d.png") for c in charts)


async def test_bad_days_are_refused(db: Database) -> None:
    with pytest.raises(UserInputError):
        await portfolio_charts(make(db), ALICE, days=1)
