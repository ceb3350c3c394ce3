"""LiveMarket routing: cache, batching, failover between providers, stale fallback."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

import pytest

from tools.clock import FakeClock
from tools.errors import MarketDataUnavailableError
from tools.market.auto import OFFLINE_NOTICE, AutoMarket
from tools.market.live import LiveMarket
from tools.market.types import Candle, CoinRef, DataOrigin, PriceHistory, Quote, Stablecoin

from .fakes import BTC, ETH, NOW, FakeMarket, quote, stable


class FakeGecko:
    def __init__(self, quotes: Sequence[Quote]) -> None:
        self.quotes = {q.coin.id: q for q in quotes}
        self.fail = False
        self.requests: list[tuple[str, int]] = []

    def _check(self, name: str, n: int = 0) -> None:
        self.requests.append((name, n))
        if self.fail:
            raise MarketDataUnavailableError(detail="coingecko down")

    async def simple_price(self, coins: Sequence[CoinRef], vs_currency: str) -> dict[str, Quote]:
        self._check("simple_price", len(coins))
        return {c.id: self.quotes[c.id] for c in coins if c.id in self.quotes}

    async def coins_markets(
        self, vs_currency: str, limit: int, *, ids: Sequence[str] | None = None
    ) -> list[Quote]:
        self._check("coins_markets", limit)
        return list(self.quotes.values())[:limit]

    async def market_chart(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        self._check("market_chart")
        return PriceHistory(coin, vs_currency, interval, [], "coingecko", DataOrigin.LIVE, NOW)

    async def search(self, query: str) -> list[CoinRef]:
        self._check("search")
        return []

    async def exchange_rates(self) -> dict[str, Decimal]:
        self._check("exchange_rates")
        return {"EUR": Decimal("1.08")}


class FakeLlama:
    def __init__(self, coins: Sequence[Stablecoin]) -> None:
        self.coins = list(coins)

    async def stablecoins(self) -> list[Stablecoin]:
        return list(self.coins)


class FakeBinance:
    def __init__(self) -> None:
        self.fail = False
        self.calls = 0

    async def klines(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        self.calls += 1
        if self.fail:
            raise MarketDataUnavailableError(detail="binance down")
        bars = [
            Candle(NOW - timedelta(hours=24 - i), 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 10.0)
            for i in range(25)
        ]
        return PriceHistory(coin, vs_currency, interval, bars, "binance", DataOrigin.LIVE, NOW)


def make(quotes: Sequence[Quote] = (), stables: Sequence[Stablecoin] = ()):  # type: ignore[no-untyped-def]
    clock = FakeClock(NOW)
    gecko, binance = FakeGecko(quotes), FakeBinance()
    live = LiveMarket(gecko, FakeLlama(stables), binance, clock=clock, quote_ttl=60)
    return live, gecko, binance, clock


async def test_quotes_are_batched_and_cached() -> None:
    live, gecko, _, clock = make([quote(BTC, "95000"), quote(ETH, "3400")])
    first = await live.get_quotes([BTC, ETH], "usd")
    again = await live.get_quotes([BTC, ETH], "usd")
    assert first == again and set(first) == {"bitcoin", "ethereum"}
    assert gecko.requests == [("simple_price", 2)]
    clock.advance(61)
    await live.get_quotes([BTC, ETH], "usd")
    assert gecko.requests == [("simple_price", 2), ("simple_price", 2)]


async def test_coingecko_outage_falls_back_to_binance() -> None:
    live, gecko, binance, _ = make([quote(BTC, "95000")])
    gecko.fail = True
    quotes = await live.get_quotes([BTC], "usd")
    assert quotes["bitcoin"].source == "binance"
    assert quotes["bitcoin"].price == Decimal("124.5")
    assert quotes["bitcoin"].change_24h_pct == Decimal("24.5")  # 124.5 / 100 - 1
    assert binance.calls == 1


async def test_total_outage_serves_cached_value_labelled_with_age() -> None:
    live, gecko, binance, clock = make([quote(BTC, "95000")])
    await live.get_quotes([BTC], "usd")
    gecko.fail = binance.fail = True
    clock.advance(300)
    served = (await live.get_quotes([BTC], "usd"))["bitcoin"]
    assert served.price == Decimal("95000")
    assert served.cached_age_seconds == 300


async def test_total_outage_without_cache_raises() -> None:
    live, gecko, binance, _ = make([quote(BTC, "95000")])
    gecko.fail = binance.fail = True
    with pytest.raises(MarketDataUnavailableError):
        await live.get_quotes([BTC], "usd")


async def test_history_prefers_binance_then_coingecko() -> None:
    live, gecko, binance, _ = make()
    assert (await live.get_history(BTC, "usd", 2, "1h")).source == "binance"
    binance.fail = True
    assert (await live.get_history(ETH, "usd", 2, "1h")).source == "coingecko"


async def test_stablecoin_prices_are_median_of_sources() -> None:
    usdc = stable(
        "USDC", "0.990", coin_id="usd-coin", price_sources={"defillama": Decimal("0.990")}
    )
    gecko_usdc = quote(CoinRef("usd-coin", "USDC", "USD Coin"), "1.000")
    live, gecko, _, _ = make([gecko_usdc], [usdc])
    [merged] = await live.get_stablecoins()
    assert merged.price_sources == {"defillama": Decimal("0.990"), "coingecko": Decimal("1.000")}
    assert merged.price_usd == Decimal("0.995")
    assert gecko.requests == [("simple_price", 1)]


async def test_auto_market_falls_back_to_offline_with_notice_and_recovers() -> None:
    clock = FakeClock(NOW)
    live = FakeMarket([quote(BTC, "95000")])
    offline = FakeMarket([quote(BTC, "1", origin=DataOrigin.SIMULATED)])
    auto = AutoMarket(live, offline, clock=clock, retry_live_after=60)
    assert (await auto.get_quotes([BTC], "usd"))["bitcoin"].price == Decimal("95000")
    assert auto.notice is None
    live.fail = True
    assert (await auto.get_quotes([BTC], "usd"))["bitcoin"].origin is DataOrigin.SIMULATED
    assert auto.notice == OFFLINE_NOTICE
    # while down, live is not asked again
    await auto.get_quotes([BTC], "usd")
    assert live.calls.count("get_quotes") == 2
    live.fail = False
    clock.advance(61)
    assert (await auto.get_quotes([BTC], "usd"))["bitcoin"].origin is DataOrigin.LIVE
    assert auto.notice is None
