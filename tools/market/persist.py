"""Keeping the last known quotes in the database so they survive restarts and outages.

The scheduler's market refresh writes the quotes it fetched; at start-up the live
market's cache is seeded from them, so a provider outage right after a restart still
shows the last real price, labelled with its age, instead of nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage import Database, QuoteCacheRepository, QuoteRow
from tools.market.types import CoinRef, DataOrigin, Quote


class QuoteStore:
    """Reads and writes the ``quote_cache`` table.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, quotes: Sequence[Quote]) -> int:
        """Persist live quotes (simulated or cached ones are not written); returns the count."""
        rows = [
            QuoteRow(
                coin_id=q.coin.id,
                vs_currency=q.vs_currency,
                symbol=q.coin.symbol,
                name=q.coin.name,
                price=q.price,
                change_24h_pct=q.change_24h_pct,
                market_cap=q.market_cap,
                volume_24h=q.volume_24h,
                last_updated=q.last_updated,
                source=q.source,
                origin=q.origin.value,
                fetched_at=q.fetched_at,
            )
            for q in quotes
            if q.origin is DataOrigin.LIVE and q.cached_age_seconds is None
        ]
        if not rows:
            return 0
        async with self._db.transaction() as session:
            return await QuoteCacheRepository(session).upsert_many(rows)

    async def load(self, coin_ids: Sequence[str], vs_currency: str = "usd") -> list[Quote]:
        """The stored quotes for ``coin_ids`` (oldest data included; callers label the age)."""
        async with self._db.transaction(readonly=True) as session:
            rows = await QuoteCacheRepository(session).get_many(list(coin_ids), vs_currency)
        return [
            Quote(
                coin=CoinRef(r.coin_id, r.symbol, r.name),
                vs_currency=r.vs_currency,
                price=r.price,
                change_24h_pct=r.change_24h_pct,
                market_cap=r.market_cap,
                volume_24h=r.volume_24h,
                last_updated=r.last_updated,
                source=r.source,
                origin=DataOrigin(r.origin),
                fetched_at=r.fetched_at,
            )
            for r in rows.values()
        ]
