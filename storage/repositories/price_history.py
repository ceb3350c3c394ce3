"""The OHLCV cache: candles per coin, quote currency and interval."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from storage.models import PriceCandle
from storage.repositories._base import Repository, dialect_insert, translating

__all__ = ["CandleRow", "PriceHistoryRepository"]

_BATCH = 1000
_KEY = ("coin_id", "vs_currency", "interval", "ts")
_VALUES = ("open", "high", "low", "close", "volume", "source")


@dataclass(frozen=True, slots=True)
class CandleRow:
    """One OHLCV bar to store; ``ts`` is the bar's open time (aware UTC).

    Convert float prices with ``Decimal(str(x))``: decimal columns refuse floats.
    """

    ts: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class PriceHistoryRepository(Repository):
    """Upsert and read cached candles."""

    async def upsert_candles(
        self,
        coin_id: str,
        vs_currency: str,
        interval: str,
        candles: Iterable[CandleRow],
        *,
        source: str,
    ) -> int:
        """Insert or replace candles by open time; the last duplicate wins.

        Returns:
            The number of distinct candles written.
        """
        by_ts: dict[datetime, dict[str, Any]] = {}
        for c in candles:
            by_ts[c.ts] = {
                "coin_id": coin_id,
                "vs_currency": vs_currency,
                "interval": interval,
                "ts": c.ts,
                "open": c.open,
                "high": c.high,
                "low": c.low,
                "close": c.close,
                "volume": c.volume,
                "source": source,
            }
        values = list(by_ts.values())
        with translating("caching candles"):
            for start in range(0, len(values), _BATCH):
                stmt = dialect_insert(self.session, PriceCandle).values(
                    values[start : start + _BATCH]
                )
                await self.session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=list(_KEY),
                        set_={col: stmt.excluded[col] for col in _VALUES},
                    )
                )
        return len(values)

    async def get_range(
        self,
        coin_id: str,
        vs_currency: str,
        interval: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Sequence[PriceCandle]:
        """Candles with ``start <= ts <= end`` (either bound optional), oldest first."""
        stmt = select(PriceCandle).where(
            PriceCandle.coin_id == coin_id,
            PriceCandle.vs_currency == vs_currency,
            PriceCandle.interval == interval,
        )
        if start is not None:
            stmt = stmt.where(PriceCandle.ts >= start)
        if end is not None:
            stmt = stmt.where(PriceCandle.ts <= end)
        stmt = stmt.order_by(PriceCandle.ts).execution_options(populate_existing=True)
        with translating("reading candles"):
            return (await self.session.scalars(stmt)).all()

    async def latest_ts(self, coin_id: str, vs_currency: str, interval: str) -> datetime | None:
        """Open time of the newest cached candle, or ``None`` (for incremental fetches)."""
        stmt = select(func.max(PriceCandle.ts)).where(
            PriceCandle.coin_id == coin_id,
            PriceCandle.vs_currency == vs_currency,
            PriceCandle.interval == interval,
        )
        with translating("reading candles"):
            return (await self.session.execute(stmt)).scalar_one_or_none()
