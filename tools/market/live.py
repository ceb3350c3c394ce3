"""The live market: CoinGecko, DefiLlama and Binance behind one ``MarketData``.

Routing and failover:

* quotes: CoinGecko ``/simple/price`` (one batched request); if it fails, Binance
  hourly klines for a handful of coins; then the last cached quote, labelled with its age.
* top-N: CoinGecko ``/coins/markets``; then the cached list, labelled with its age.
* history: Binance klines (true OHLCV), then CoinGecko ``market_chart``; then cache.
* stablecoins: DefiLlama's full list, cross-checked against CoinGecko prices for the
  same coins; the price used is the median across sources, and the sources' spread
  is kept so callers can flag disagreement.

Each provider client retries and trips its own circuit breaker; this module only
decides who to ask next. Nothing here imports httpx.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Protocol

from tools.clock import Clock, SystemClock
from tools.errors import MarketDataUnavailableError, UserInputError
from tools.market.cache import TTLCache
from tools.market.types import INTERVALS, CoinRef, PriceHistory, Quote, Stablecoin

logger = logging.getLogger(__name__)

#: How many coins the Binance quote fallback will fetch one by one.
BINANCE_QUOTE_FALLBACK_MAX = 10


class CoinGeckoLike(Protocol):
    """What the live market needs from a CoinGecko client."""

    async def simple_price(self, coins: Sequence[CoinRef], vs_currency: str) -> dict[str, Quote]:
        """Quotes keyed by coin id."""
        ...

    async def coins_markets(
        self, vs_currency: str, limit: int, *, ids: Sequence[str] | None = None
    ) -> list[Quote]:
        """Largest coins first."""
        ...

    async def market_chart(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        """Resampled OHLCV history."""
        ...

    async def search(self, query: str) -> list[CoinRef]:
        """Coins matching a query."""
        ...

    async def exchange_rates(self) -> dict[str, Decimal]:
        """USD per unit of each fiat currency."""
        ...


class DefiLlamaLike(Protocol):
    """What the live market needs from a DefiLlama client."""

    async def stablecoins(self) -> list[Stablecoin]:
        """Every tracked stablecoin."""
        ...


class BinanceLike(Protocol):
    """What the live market needs from a Binance client."""

    async def klines(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        """OHLCV history."""
        ...


class LiveMarket:
    """``MarketData`` over the live providers, with caching and failover.

    Args:
        coingecko: CoinGecko client.
        defillama: DefiLlama client.
        binance: Binance client (``None`` to disable).
        clock: Time source.
        quote_ttl: Seconds a quote stays fresh.
        top_ttl: Seconds a top-N list stays fresh.
        history_ttl: Seconds a history stays fresh.
        stablecoin_ttl: Seconds the stablecoin list stays fresh.
    """

    name = "live"

    def __init__(
        self,
        coingecko: CoinGeckoLike,
        defillama: DefiLlamaLike,
        binance: BinanceLike | None = None,
        *,
        clock: Clock | None = None,
        quote_ttl: float = 60.0,
        top_ttl: float = 120.0,
        history_ttl: float = 900.0,
        stablecoin_ttl: float = 300.0,
    ) -> None:
        self._cg = coingecko
        self._llama = defillama
        self._binance = binance
        self._clock = clock or SystemClock()
        self.quotes: TTLCache[tuple[str, str], Quote] = TTLCache(quote_ttl, clock=self._clock)
        self._top: TTLCache[str, list[Quote]] = TTLCache(top_ttl, clock=self._clock)
        self._history: TTLCache[tuple[str, str, int, str], PriceHistory] = TTLCache(
            history_ttl, max_entries=500, clock=self._clock
        )
        self._stables: TTLCache[str, list[Stablecoin]] = TTLCache(stablecoin_ttl, clock=self._clock)
        self._fx: TTLCache[str, dict[str, Decimal]] = TTLCache(3600.0, clock=self._clock)

    # -- quotes ---------------------------------------------------------------------------

    async def get_quotes(self, coins: Sequence[CoinRef], vs_currency: str) -> dict[str, Quote]:
        """Return quotes keyed by coin id: cache first, one batched request for the rest."""
        vs = vs_currency.lower()
        result: dict[str, Quote] = {}
        missing: list[CoinRef] = []
        for coin in coins:
            fresh = self.quotes.get_fresh((coin.id, vs))
            if fresh is not None:
                result[coin.id] = fresh
            else:
                missing.append(coin)
        if not missing:
            return result
        try:
            fetched = await self._cg.simple_price(missing, vs)
        except MarketDataUnavailableError as exc:
            logger.warning("CoinGecko quotes failed (%s); trying fallbacks", exc)
            fetched = await self._binance_quotes(missing, vs)
        for coin_id, quote in fetched.items():
            self.quotes.put((coin_id, vs), quote)
            result[coin_id] = quote
        stale = [c for c in missing if c.id not in result]
        for coin in stale:
            hit = self.quotes.get((coin.id, vs))
            if hit is not None:
                result[coin.id] = hit.value.served_from_cache(hit.age_seconds)
        if not result and coins:
            raise MarketDataUnavailableError(detail="no provider answered and nothing is cached")
        return result

    async def _binance_quotes(self, coins: Sequence[CoinRef], vs: str) -> dict[str, Quote]:
        if self._binance is None:
            return {}
        out: dict[str, Quote] = {}
        for coin in list(coins)[:BINANCE_QUOTE_FALLBACK_MAX]:
            try:
                history = await self._binance.klines(coin, vs, 2, "1h")
            except MarketDataUnavailableError as exc:
                logger.info("Binance fallback for %s failed: %s", coin.symbol, exc)
                continue
            quote = quote_from_history(history)
            if quote is not None:
                out[coin.id] = quote
        return out

    def remember_quotes(self, quotes: Sequence[Quote]) -> None:
        """Seed the quote cache (e.g. from the database at start-up), aged by ``fetched_at``."""
        for quote in quotes:
            key = (quote.coin.id, quote.vs_currency)
            self.quotes.put(key, quote, stored_at=quote.fetched_at)

    # -- top --------------------------------------------------------------------------------

    async def get_top(self, limit: int, vs_currency: str) -> list[Quote]:
        """Return the largest coins by market cap (one request serves up to 250)."""
        if not 1 <= limit <= 250:
            raise UserInputError("The top list goes from 1 to 250 coins.")
        vs = vs_currency.lower()
        fetch_n = 250 if limit > 100 else 100
        try:
            rows = await self._top.get_or_load(
                f"{vs}:{fetch_n}", lambda: self._cg.coins_markets(vs, fetch_n)
            )
        except MarketDataUnavailableError:
            hit = self._top.get(f"{vs}:{fetch_n}") or self._top.get(f"{vs}:250")
            if hit is None:
                raise
            rows = [q.served_from_cache(hit.age_seconds) for q in hit.value]
        else:
            for quote in rows:
                self.quotes.put((quote.coin.id, vs), quote)
        return rows[:limit]

    # -- history ----------------------------------------------------------------------------

    async def get_history(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        """Return OHLCV history: Binance first, CoinGecko second, cache last."""
        if interval not in INTERVALS:
            raise UserInputError(f"Interval must be one of {', '.join(INTERVALS)}.")
        if not 1 <= days <= 3650:
            raise UserInputError("History covers 1 to 3650 days.")
        vs = vs_currency.lower()
        key = (coin.id, vs, days, interval)

        async def load() -> PriceHistory:
            errors: list[str] = []
            if self._binance is not None:
                try:
                    return await self._binance.klines(coin, vs, days, interval)
                except MarketDataUnavailableError as exc:
                    errors.append(f"binance: {exc}")
            try:
                return await self._cg.market_chart(coin, vs, days, interval)
            except MarketDataUnavailableError as exc:
                errors.append(f"coingecko: {exc}")
                raise MarketDataUnavailableError(detail="; ".join(errors)) from exc

        try:
            return await self._history.get_or_load(key, load)
        except MarketDataUnavailableError:
            hit = self._history.get(key)
            if hit is None:
                raise
            age_min = int(hit.age_seconds // 60)
            return replace(hit.value, note=f"cached {age_min} min ago; providers unavailable")

    # -- stablecoins ------------------------------------------------------------------------

    async def get_stablecoins(self) -> list[Stablecoin]:
        """Return DefiLlama's stablecoins with prices cross-checked against CoinGecko."""
        try:
            return await self._stables.get_or_load("all", self._load_stablecoins)
        except MarketDataUnavailableError:
            hit = self._stables.get("all")
            if hit is None:
                raise
            note = f"cached {int(hit.age_seconds // 60)} min ago; providers unavailable"
            return [replace(s, note=note) for s in hit.value]

    async def _load_stablecoins(self) -> list[Stablecoin]:
        coins = await self._llama.stablecoins()
        # Cross-check the largest ones (by supply) in one batched CoinGecko request.
        by_supply = sorted(
            (s for s in coins if s.coin_id and s.circulating),
            key=lambda s: s.circulating or Decimal(0),
            reverse=True,
        )
        gecko = [CoinRef(s.coin_id, s.symbol, s.name) for s in by_supply if s.coin_id]
        try:
            cg_quotes = await self._cg.simple_price(gecko[:250], "usd") if gecko else {}
        except MarketDataUnavailableError as exc:
            logger.warning("CoinGecko cross-check of stablecoins failed: %s", exc)
            cg_quotes = {}
        return [merge_stablecoin_prices(s, cg_quotes.get(s.coin_id or "")) for s in coins]

    async def get_fx_usd(self) -> dict[str, Decimal]:
        """Return USD per unit of each fiat currency (CoinGecko exchange rates, 1 h cache)."""
        try:
            return await self._fx.get_or_load("fx", self._cg.exchange_rates)
        except MarketDataUnavailableError:
            hit = self._fx.get("fx")
            if hit is None:
                raise
            return hit.value

    async def search(self, query: str) -> list[CoinRef]:
        """Search CoinGecko's coin list."""
        return await self._cg.search(query)


def merge_stablecoin_prices(coin: Stablecoin, cg_quote: Quote | None) -> Stablecoin:
    """Add CoinGecko's price to a stablecoin's sources and use the median of all sources."""
    sources = dict(coin.price_sources)
    if coin.price_usd is not None and not sources:
        sources[coin.source] = coin.price_usd
    if cg_quote is not None and cg_quote.cached_age_seconds is None:
        sources["coingecko"] = cg_quote.price
    if not sources:
        return coin
    median = Decimal(statistics.median(sources.values()))
    return replace(coin, price_usd=median, price_sources=sources)


def quote_from_history(history: PriceHistory) -> Quote | None:
    """Build a quote from the last 24 h of hourly bars (used when quote endpoints fail)."""
    bars = history.candles
    if not bars:
        return None
    last = bars[-1]
    day_ago = bars[-25] if len(bars) >= 25 else bars[0]
    price = Decimal(str(last.close))
    change = None
    if day_ago.open > 0:
        change = (Decimal(str(last.close)) / Decimal(str(day_ago.open)) - 1) * 100
    volume = sum((Decimal(str(b.volume * b.close)) for b in bars[-24:]), Decimal(0))
    return Quote(
        coin=history.coin,
        vs_currency=history.vs_currency,
        price=price,
        change_24h_pct=change,
        market_cap=None,
        volume_24h=volume,
        last_updated=last.ts,
        source=history.source,
        origin=history.origin,
        fetched_at=history.fetched_at,
        note=history.note,
    )
