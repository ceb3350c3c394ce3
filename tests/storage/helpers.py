"""Small builders shared by the storage tests (fixed clock, users, portfolios)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from storage import Database, NewTrade, PortfolioRepository, UserRepository
from storage.models import Portfolio, User

#: The fixed "current time" of the storage tests (no sleeps: time is passed in).
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def later(seconds: float) -> datetime:
    """``NOW`` plus ``seconds``."""
    return NOW + timedelta(seconds=seconds)


async def make_user(db: Database, platform_user_id: str = "1", platform: str = "telegram") -> User:
    """Create (or fetch) a user in its own transaction."""
    async with db.transaction() as session:
        user, _ = await UserRepository(session).get_or_create(platform, platform_user_id, now=NOW)
    return user


async def make_portfolio(db: Database, owner: User) -> Portfolio:
    """The owner's default portfolio, created in its own transaction."""
    async with db.transaction() as session:
        return await PortfolioRepository(session).get_or_create_default(owner.id, now=NOW)


def buy(
    portfolio: Portfolio,
    quantity: str = "1",
    price: str = "100",
    *,
    side: str = "buy",
    fee: str = "0",
    executed_at: datetime = NOW,
    external_id: str | None = None,
) -> NewTrade:
    """A BTC trade in ``portfolio`` (decimal arguments as strings)."""
    return NewTrade(
        portfolio_id=portfolio.id,
        side=side,
        symbol="btc",
        coin_id="bitcoin",
        quantity=Decimal(quantity),
        price=Decimal(price),
        fee=Decimal(fee),
        executed_at=executed_at,
        external_id=external_id,
    )
