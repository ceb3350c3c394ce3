"""Value types of the market layer: coins, quotes, candles, stablecoins.

Prices in quotes are ``Decimal``; OHLCV candles use ``float`` because they feed
numerical analysis (numpy) and are converted to ``Decimal`` when stored. All times
are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

#: Intervals every market source serves (history bars).
INTERVALS: dict[str, int] = {"1h": 3600, "4h": 4 * 3600, "1d": 86400, "1w": 7 * 86400}


class DataOrigin(StrEnum):
    """Where a number came from; anything not ``LIVE`` is labelled as such to users."""

    LIVE = "live"
    SIMULATED = "simulated"
    REPLAYED = "replayed"


@dataclass(frozen=True, slots=True)
class CoinRef:
    """A resolved coin.

    Attributes:
        id: Provider-neutral coin id (CoinGecko's id, e.g. ``"bitcoin"``).
        symbol: Upper-case ticker (``"BTC"``).
        name: Display name (``"Bitcoin"``).
        market_cap_rank: 1 for the largest coin; ``None`` when unranked.
    """

    id: str
    symbol: str
    name: str
    market_cap_rank: int | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    """Latest market data for one coin in one quote currency.

    Attributes:
        coin: The coin quoted.
        vs_currency: Lower-case quote currency (``"usd"``).
        price: Last price.
        change_24h_pct: 24 h change in percent (``-3.2`` means -3.2 %), ``None`` if unknown.
        market_cap: Market capitalisation in ``vs_currency``.
        volume_24h: 24 h traded volume in ``vs_currency``.
        last_updated: When the provider last updated the price.
        source: Provider name (``"coingecko"``, ``"offline"``...).
        origin: Live, simulated or replayed.
        fetched_at: When CryptoGuard obtained the value from the source.
        cached_age_seconds: Set when the value is served from cache because the source
            failed: how old it is.
        note: Extra provenance for users (e.g. which file is replayed).
    """

    coin: CoinRef
    vs_currency: str
    price: Decimal
    change_24h_pct: Decimal | None
    market_cap: Decimal | None
    volume_24h: Decimal | None
    last_updated: datetime | None
    source: str
    origin: DataOrigin
    fetched_at: datetime
    cached_age_seconds: float | None = None
    note: str | None = None

    def served_from_cache(self, age_seconds: float) -> Quote:
        """Return a copy labelled as a cached value of the given age."""
        return replace(self, cached_age_seconds=age_seconds)


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bar; ``ts`` is the bar's open time (UTC)."""

    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class PriceHistory:
    """OHLCV bars for a coin, oldest first."""

    coin: CoinRef
    vs_currency: str
    interval: str
    candles: list[Candle]
    source: str
    origin: DataOrigin
    fetched_at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Stablecoin:
    """A tracked stablecoin with its peg and supply.

    Attributes:
        symbol: Upper-case ticker (``"USDC"``).
        name: Display name.
        coin_id: CoinGecko id when known (``"usd-coin"``).
        peg_type: DefiLlama peg type (``"peggedUSD"``, ``"peggedEUR"``, ``"peggedVAR"``...).
        peg_currency: ISO code of the peg (``"USD"``, ``"EUR"``), ``None`` for variable pegs.
        peg_mechanism: ``"fiat-backed"``, ``"crypto-backed"`` or ``"algorithmic"``.
        price_usd: Price in USD (median across sources when several answered).
        circulating: Circulating supply in peg units, now / a day ago / a week ago.
        price_sources: Price in USD per source that answered.
        source: Where the list came from.
        origin: Live, simulated or replayed.
        fetched_at: When the list was obtained.
        note: Extra provenance for users.
    """

    symbol: str
    name: str
    coin_id: str | None
    peg_type: str
    peg_currency: str | None
    peg_mechanism: str
    price_usd: Decimal | None
    circulating: Decimal | None
    circulating_prev_day: Decimal | None
    circulating_prev_week: Decimal | None
    source: str
    origin: DataOrigin
    fetched_at: datetime
    price_sources: dict[str, Decimal] = field(default_factory=dict)
    note: str | None = None


def peg_currency_of(peg_type: str) -> str | None:
    """Map a DefiLlama ``pegType`` (``"peggedEUR"``) to an ISO code (``"EUR"``).

    Returns ``None`` for variable pegs (``"peggedVAR"``) or unrecognised values.
    """
    if peg_type.startswith("pegged") and len(peg_type) == len("pegged") + 3:
        code = peg_type[len("pegged") :].upper()
        return None if code == "VAR" else code
    return None
