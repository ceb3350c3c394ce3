"""Portfolios: named sets of trades owned by a user."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, select

from storage.models import Portfolio, Trade
from storage.repositories._base import Repository, dialect_insert, translating
from storage.types import decimal_text

__all__ = ["DEFAULT_PORTFOLIO_NAME", "PortfolioRepository"]

#: Name of the portfolio created implicitly for a user's first trade.
DEFAULT_PORTFOLIO_NAME = "default"


class PortfolioRepository(Repository):
    """Create, find and configure portfolios."""

    async def set_base_currency(self, portfolio: Portfolio, currency: str) -> None:
        """Change the currency a portfolio's amounts are in (check it holds no trades first)."""
        await self._update(
            portfolio, {"base_currency": currency.upper()}, "setting a portfolio's currency"
        )

    async def get(self, portfolio_id: int) -> Portfolio | None:
        """Return the portfolio with this id, or ``None``."""
        with translating("loading a portfolio"):
            return await self.session.get(Portfolio, portfolio_id)

    async def get_owned(self, portfolio_id: int, owner_id: int) -> Portfolio | None:
        """Return the portfolio only if ``owner_id`` owns it (else ``None``, as if missing)."""
        stmt = select(Portfolio).where(Portfolio.id == portfolio_id, Portfolio.owner_id == owner_id)
        with translating("loading a portfolio"):
            return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get_by_name(self, owner_id: int, name: str) -> Portfolio | None:
        """Return the owner's portfolio called ``name``, or ``None``."""
        stmt = select(Portfolio).where(Portfolio.owner_id == owner_id, Portfolio.name == name)
        with translating("loading a portfolio"):
            return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list_for_owner(self, owner_id: int) -> Sequence[Portfolio]:
        """The owner's portfolios, oldest first."""
        stmt = select(Portfolio).where(Portfolio.owner_id == owner_id).order_by(Portfolio.id)
        with translating("listing portfolios"):
            return (await self.session.scalars(stmt)).all()

    async def list_with_trades(
        self, owner_ids: Sequence[int]
    ) -> Sequence[tuple[Portfolio, Sequence[Trade]]]:
        """The portfolios of these owners (by owner, then id), each with its trades in
        execution order: two queries for any number of owners (bulk loads for digests)."""
        if not owner_ids:
            return []
        stmt = (
            select(Portfolio)
            .where(Portfolio.owner_id.in_(list(owner_ids)))
            .order_by(Portfolio.owner_id, Portfolio.id)
        )
        with translating("listing portfolios"):
            portfolios = (await self.session.scalars(stmt)).all()
            if not portfolios:
                return []
            trades = (
                await self.session.scalars(
                    select(Trade)
                    .where(Trade.portfolio_id.in_([p.id for p in portfolios]))
                    .order_by(Trade.portfolio_id, Trade.executed_at, Trade.id)
                )
            ).all()
        by_portfolio: dict[int, list[Trade]] = {}
        for trade in trades:
            by_portfolio.setdefault(trade.portfolio_id, []).append(trade)
        return [(p, by_portfolio.get(p.id, [])) for p in portfolios]

    async def create(
        self, owner_id: int, name: str, *, base_currency: str = "USD", now: datetime
    ) -> Portfolio:
        """Create a portfolio.

        Raises:
            DuplicateError: The owner already has a portfolio with this name.
            ConstraintError: The owner does not exist.
        """
        portfolio = Portfolio(
            owner_id=owner_id, name=name, base_currency=base_currency, created_at=now
        )
        await self._insert(portfolio, "creating a portfolio")
        return portfolio

    async def get_or_create_default(
        self,
        owner_id: int,
        base_currency: str = "USD",
        *,
        now: datetime,
        name: str = DEFAULT_PORTFOLIO_NAME,
    ) -> Portfolio:
        """Return the owner's default portfolio, creating it if needed (race-safe).

        Args:
            owner_id: The user.
            base_currency: Currency of a newly created portfolio.
            now: Creation time.
            name: Name of the default portfolio.
        """
        portfolio = await self.get_by_name(owner_id, name)
        if portfolio is not None:
            return portfolio
        stmt = (
            dialect_insert(self.session, Portfolio)
            .values(owner_id=owner_id, name=name, base_currency=base_currency, created_at=now)
            .on_conflict_do_nothing(index_elements=["owner_id", "name"])
        )
        with translating("creating a portfolio"):
            await self.session.execute(stmt)
        portfolio = await self.get_by_name(owner_id, name)
        if portfolio is None:  # pragma: no cover - the row exists after the upsert
            raise RuntimeError("portfolio row missing after insert")
        return portfolio

    async def set_targets(
        self, portfolio: Portfolio, targets: Mapping[str, Decimal] | None
    ) -> None:
        """Replace the target allocation (weights by symbol); ``None`` clears it.

        Weights are stored as decimal strings; read them with ``portfolio.targets``.

        Raises:
            TypeError: A weight is a float.
        """
        stored = None
        if targets is not None:
            stored = {symbol: decimal_text(weight) for symbol, weight in targets.items()}
        await self._update(portfolio, {"target_allocation": stored}, "setting targets")

    async def delete(self, portfolio: Portfolio) -> None:
        """Delete the portfolio and its trades."""
        with translating("deleting a portfolio"):
            await self.session.execute(delete(Portfolio).where(Portfolio.id == portfolio.id))
