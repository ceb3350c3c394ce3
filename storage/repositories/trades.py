"""Trades in portfolios (manual entries and imports)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select

from storage.models import Portfolio, Trade
from storage.repositories._base import Repository, dialect_insert, translating

__all__ = ["NewTrade", "TradeRepository"]

# Rows per INSERT statement (PostgreSQL allows at most 32767 parameters per statement).
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class NewTrade:
    """A trade to store.

    Attributes:
        portfolio_id: Portfolio the trade belongs to.
        side: ``"buy"`` or ``"sell"``.
        symbol: Ticker (stored upper-case).
        coin_id: Provider-neutral coin id (``"bitcoin"``).
        quantity: Amount traded, > 0.
        price: Unit price in the portfolio's currency, >= 0.
        executed_at: When the trade happened (aware).
        fee: Fee paid, >= 0.
        fee_currency: Currency of the fee, if not the portfolio's.
        note: Free text from the user.
        source: ``"manual"`` or the importer's name.
        external_id: Id in the imported file/exchange (unique per portfolio).
    """

    portfolio_id: int
    side: str
    symbol: str
    coin_id: str
    quantity: Decimal
    price: Decimal
    executed_at: datetime
    fee: Decimal = Decimal(0)
    fee_currency: str | None = None
    note: str | None = None
    source: str = "manual"
    external_id: str | None = None

    def values(self, now: datetime) -> dict[str, Any]:
        """Column values for an insert."""
        return {**asdict(self), "symbol": self.symbol.upper(), "created_at": now}


class TradeRepository(Repository):
    """Add, list and delete trades."""

    async def add(self, trade: NewTrade, *, now: datetime) -> Trade:
        """Store one trade.

        Raises:
            ConstraintError: Bad side, quantity <= 0, negative price or fee, or no such
                portfolio.
            DuplicateError: The portfolio already has a trade with this ``external_id``.
            TypeError: A float was given for a decimal.
        """
        row = Trade(**trade.values(now))
        await self._insert(row, "adding a trade")
        return row

    async def add_many(self, trades: Sequence[NewTrade], *, now: datetime) -> int:
        """Import trades, skipping those whose ``(portfolio_id, external_id)`` exists.

        All rows are written or none (a constraint violation fails the whole batch).

        Returns:
            The number of trades inserted.
        """
        inserted = 0
        with translating("importing trades"):
            async with self.session.begin_nested():
                for start in range(0, len(trades), _BATCH):
                    stmt = (
                        dialect_insert(self.session, Trade)
                        .values([t.values(now) for t in trades[start : start + _BATCH]])
                        .on_conflict_do_nothing(index_elements=["portfolio_id", "external_id"])
                        .returning(Trade.id)
                    )
                    inserted += len((await self.session.execute(stmt)).all())
        return inserted

    async def get_owned(self, trade_id: int, owner_id: int) -> Trade | None:
        """Return the trade if it is in one of ``owner_id``'s portfolios, else ``None``."""
        stmt = (
            select(Trade)
            .join(Portfolio, Portfolio.id == Trade.portfolio_id)
            .where(Trade.id == trade_id, Portfolio.owner_id == owner_id)
        )
        with translating("loading a trade"):
            return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list_for_portfolio(
        self, portfolio_id: int, *, limit: int = 50, offset: int = 0
    ) -> Sequence[Trade]:
        """A page of the portfolio's trades, newest first."""
        stmt = (
            select(Trade)
            .where(Trade.portfolio_id == portfolio_id)
            .order_by(Trade.executed_at.desc(), Trade.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with translating("listing trades"):
            return (await self.session.scalars(stmt)).all()

    async def list_all(self, portfolio_id: int) -> Sequence[Trade]:
        """Every trade of the portfolio in execution order (oldest first), for P&L."""
        stmt = (
            select(Trade)
            .where(Trade.portfolio_id == portfolio_id)
            .order_by(Trade.executed_at, Trade.id)
        )
        with translating("listing trades"):
            return (await self.session.scalars(stmt)).all()

    async def delete(self, trade: Trade) -> None:
        """Delete a trade (check ownership first with :meth:`get_owned`)."""
        with translating("deleting a trade"):
            await self.session.execute(delete(Trade).where(Trade.id == trade.id))

    async def count(self, portfolio_id: int) -> int:
        """Number of trades in the portfolio."""
        stmt = select(func.count()).select_from(Trade).where(Trade.portfolio_id == portfolio_id)
        with translating("counting trades"):
            return int((await self.session.execute(stmt)).scalar_one())
