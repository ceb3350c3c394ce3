"""The March 2023 USDC depeg replayed through the offline market and PriceService."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.shared_data import SKIP_REASON, USDC_HOURLY
from tools.clock import FakeClock
from tools.market.factory import MarketConfig, open_market
from tools.market.service import PriceService
from tools.market.stablecoins import PegSeverity
from tools.market.symbols import SymbolResolver

USDC_CSV = USDC_HOURLY

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.skipif(not USDC_CSV.exists(), reason=SKIP_REASON)
@pytest.mark.parametrize(
    ("seconds", "price", "severity"),
    [
        (0, "0.99996381", PegSeverity.OK),
        (49.5, "0.98778232", PegSeverity.WARNING),
        (51.5, "0.94594839", PegSeverity.CRITICAL),
        (55.5, "0.88330000", PegSeverity.CRITICAL),
    ],
)
async def test_usdc_depeg_replay(seconds: float, price: str, severity: PegSeverity) -> None:
    clock = FakeClock(START)
    handle = open_market(
        MarketConfig(mode="offline", replays={"USDC": USDC_CSV}, replay_speed=3600), clock=clock
    )
    service = PriceService(handle.market, SymbolResolver(handle.market, clock=clock), clock=clock)
    clock.advance(seconds)
    report = await service.get_stablecoin_status(["usdc"])
    [row] = report.rows
    assert row.price_in_peg == Decimal(price)
    assert row.severity is severity
    assert any("replayed from usdc_usd_chainlink_hourly" in n for n in report.notes)
    assert report.notice is not None
