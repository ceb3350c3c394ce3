"""The ``MarketData`` interface every market source implements (live composite, offline)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

from tools.market.types import CoinRef, PriceHistory, Quote, Stablecoin


@runtime_checkable
class MarketData(Protocol):
    """A source of quotes, rankings, history and stablecoin data.

    Implementations raise :class:`tools.errors.MarketDataUnavailableError` when they
    cannot answer; they never leak third-party exceptions.
    """

    name: str

    async def get_quotes(self, coins: Sequence[CoinRef], vs_currency: str) -> dict[str, Quote]:
        """Return quotes keyed by coin id, in one upstream request where possible.

        Coins the source does not know are omitted from the result.
        """
        ...

    async def get_top(self, limit: int, vs_currency: str) -> list[Quote]:
        """Return the ``limit`` largest coins by market cap, largest first."""
        ...

    async def get_history(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        """Return OHLCV bars covering the last ``days`` days at ``interval`` (oldest first)."""
        ...

    async def get_stablecoins(self) -> list[Stablecoin]:
        """Return every tracked stablecoin with peg, price and circulating supply."""
        ...

    async def get_fx_usd(self) -> dict[str, Decimal]:
        """Return the USD value of one unit of each fiat currency (``{"EUR": 1.08, ...}``)."""
        ...

    async def search(self, query: str) -> list[CoinRef]:
        """Return coins matching a free-text query, best match first."""
        ...
