"""Last known quotes survive a restart and serve an outage right after it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from storage import Database
from tools.clock import FakeClock
from tools.errors import MarketDataUnavailableError
from tools.market.persist import QuoteStore
from tools.market.types import DataOrigin

from .fakes import BTC, ETH, NOW, quote
from .test_live_routing import FakeBinance, FakeGecko, FakeLlama


async def test_live_quotes_round_trip_exactly(db: Database) -> None:
    store = QuoteStore(db)
    btc = quote(BTC, "95123.456789012345678901", "-1.25")
    simulated = quote(ETH, "3400", origin=DataOrigin.SIMULATED)
    assert await store.save([btc, simulated]) == 1
    [loaded] = await store.load(["bitcoin", "ethereum"])
    assert loaded.price == Decimal("95123.456789012345678901")
    assert loaded.change_24h_pct == Decimal("-1.25")
    assert loaded.fetched_at == NOW and loaded.origin is DataOrigin.LIVE


async def test_outage_after_restart_serves_stored_price_with_age(db: Database) -> None:
    from tools.market.live import LiveMarket

    await QuoteStore(db).save([quote(BTC, "95000")])
    clock = FakeClock(NOW + timedelta(minutes=30))  # "restarted" half an hour later
    gecko, binance = FakeGecko([]), FakeBinance()
    gecko.fail = binance.fail = True
    live = LiveMarket(gecko, FakeLlama([]), binance, clock=clock)
    with pytest.raises(MarketDataUnavailableError):
        await live.get_quotes([ETH], "usd")
    live.remember_quotes(await QuoteStore(db).load(["bitcoin"]))
    served = (await live.get_quotes([BTC], "usd"))["bitcoin"]
    assert served.price == Decimal("95000") and served.cached_age_seconds == 1800
