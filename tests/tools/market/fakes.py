"""An in-memory MarketData used to test the services above the market layer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from tools.errors import MarketDataUnavailableError
from tools.market.types import CoinRef, DataOrigin, PriceHistory, Quote, Stablecoin

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BTC = CoinRef("bitcoin", "BTC", "Bitcoin", 1)
ETH = CoinRef("ethereum", "ETH", "Ethereum", 2)
UNI = CoinRef("uniswap", "UNI", "Uniswap", 26)
UNI_CLONE = CoinRef("universe-token", "UNI", "Universe Token", 900)


def quote(coin: CoinRef, price: str, change: str | None = "1.5", **kw: object) -> Quote:
    fields: dict[str, object] = dict(
        coin=coin,
        vs_currency="usd",
        price=Decimal(price),
        change_24h_pct=None if change is None else Decimal(change),
        market_cap=Decimal(price) * 1000,
        volume_24h=Decimal(price) * 10,
        last_updated=NOW,
        source="fake",
        origin=DataOrigin.LIVE,
        fetched_at=NOW,
    )
    fields.update(kw)
    return Quote(**fields)  # type: ignore[arg-type]


def stable(symbol: str, price: str | None, peg: str = "peggedUSD", **kw: object) -> Stablecoin:
    fields: dict[str, object] = dict(
        symbol=symbol,
        name=symbol.title(),
        coin_id=symbol.lower(),
        peg_type=peg,
        peg_currency=peg[-3:].upper() if peg != "peggedVAR" else None,
        peg_mechanism="fiat-backed",
        price_usd=None if price is None else Decimal(price),
        circulating=Decimal("1000000000"),
        circulating_prev_day=Decimal("990000000"),
        circulating_prev_week=Decimal("1100000000"),
        source="fake",
        origin=DataOrigin.LIVE,
        fetched_at=NOW,
    )
    fields.update(kw)
    return Stablecoin(**fields)  # type: ignore[arg-type]


class FakeMarket:
    """MarketData over fixed values, counting calls; ``fail=True`` makes every call fail."""

    name = "fake"

    def __init__(
        self,
        quotes: Sequence[Quote] = (),
        stablecoins: Sequence[Stablecoin] = (),
        searchable: Sequence[CoinRef] = (),
        fx: dict[str, Decimal] | None = None,
    ) -> None:
        self.quotes = {q.coin.id: q for q in quotes}
        self.stablecoins = list(stablecoins)
        self.searchable = list(searchable)
        self.fx = fx or {"USD": Decimal(1), "EUR": Decimal("1.08")}
        self.fail = False
        self.calls: list[str] = []

    def _check(self, name: str) -> None:
        self.calls.append(name)
        if self.fail:
            raise MarketDataUnavailableError(detail="fake outage")

    async def get_quotes(self, coins: Sequence[CoinRef], vs_currency: str) -> dict[str, Quote]:
        self._check("get_quotes")
        return {c.id: self.quotes[c.id] for c in coins if c.id in self.quotes}

    async def get_top(self, limit: int, vs_currency: str) -> list[Quote]:
        self._check("get_top")
        ranked = sorted(self.quotes.values(), key=lambda q: q.market_cap or 0, reverse=True)
        return ranked[:limit]

    async def get_history(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        self._check("get_history")
        return PriceHistory(coin, vs_currency, interval, [], "fake", DataOrigin.LIVE, NOW)

    async def get_stablecoins(self) -> list[Stablecoin]:
        self._check("get_stablecoins")
        return list(self.stablecoins)

    async def get_fx_usd(self) -> dict[str, Decimal]:
        self._check("get_fx_usd")
        return dict(self.fx)

    async def search(self, query: str) -> list[CoinRef]:
        self._check("search")
        q = query.lower()
        return [c for c in self.searchable if q in (c.id, c.symbol.lower(), c.name.lower())]
