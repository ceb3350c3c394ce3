"""The persistent last-known-quote cache (survives restarts and provider outages)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from storage.models import QuoteCache
from storage.repositories._base import Repository, dialect_insert, translating

__all__ = ["QuoteCacheRepository", "QuoteRow"]

_BATCH = 500
_KEY = ("coin_id", "vs_currency")


@dataclass(frozen=True, slots=True)
class QuoteRow:
    """One quote to cache (mirrors the market layer's ``Quote``).

    Attributes:
        coin_id: Coin id (``"bitcoin"``).
        vs_currency: Quote currency as the market layer spells it (``"usd"``).
        symbol: Upper-case ticker.
        name: Display name.
        price: Last price.
        change_24h_pct: 24 h change in percent.
        market_cap: Market capitalisation.
        volume_24h: 24 h volume.
        last_updated: Provider's timestamp of the price.
        source: Provider name.
        origin: ``"live"``, ``"simulated"`` or ``"replayed"``.
        fetched_at: When the value was obtained.
    """

    coin_id: str
    vs_currency: str
    symbol: str
    name: str
    price: Decimal
    change_24h_pct: Decimal | None
    market_cap: Decimal | None
    volume_24h: Decimal | None
    last_updated: datetime | None
    source: str
    origin: str
    fetched_at: datetime


class QuoteCacheRepository(Repository):
    """Upsert and read cached quotes."""

    async def upsert_many(self, rows: Iterable[QuoteRow]) -> int:
        """Insert or replace quotes by ``(coin_id, vs_currency)``; the last duplicate wins.

        Returns:
            The number of distinct quotes written.
        """
        unique = {(r.coin_id, r.vs_currency): asdict(r) for r in rows}
        values = list(unique.values())
        with translating("caching quotes"):
            for start in range(0, len(values), _BATCH):
                stmt = dialect_insert(self.session, QuoteCache).values(
                    values[start : start + _BATCH]
                )
                updates = {col: stmt.excluded[col] for col in values[0] if col not in _KEY}
                await self.session.execute(
                    stmt.on_conflict_do_update(index_elements=list(_KEY), set_=updates)
                )
        return len(values)

    async def get_many(self, coin_ids: Sequence[str], vs_currency: str) -> dict[str, QuoteCache]:
        """Cached quotes for ``coin_ids`` in ``vs_currency``, keyed by coin id (missing ones
        are absent)."""
        if not coin_ids:
            return {}
        stmt = (
            select(QuoteCache)
            .where(QuoteCache.coin_id.in_(list(coin_ids)), QuoteCache.vs_currency == vs_currency)
            .execution_options(populate_existing=True)
        )
        with translating("reading cached quotes"):
            return {row.coin_id: row for row in (await self.session.scalars(stmt)).all()}
