"""Many concurrent writers on one database (RELIABILITY.md, Storage)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from storage import Database, PortfolioRepository, TradeRepository, UserRepository
from storage.models import Portfolio, Trade, User
from tests.storage.helpers import buy, later

WRITERS = 50
USERS = 7  # several writers share a user, so get_or_create races too


async def test_fifty_concurrent_writers(db: Database) -> None:
    """50 tasks, each in its own transaction: read-then-write (get_or_create user and
    portfolio) followed by a trade insert. SQLite must never report "database is locked";
    PostgreSQL must not raise either."""

    async def writer(i: int) -> int:
        async with db.transaction() as session:
            user, _ = await UserRepository(session).get_or_create(
                "telegram", f"writer-{i % USERS}", now=later(i)
            )
            portfolio = await PortfolioRepository(session).get_or_create_default(
                user.id, now=later(i)
            )
            trade = await TradeRepository(session).add(
                buy(portfolio, quantity=f"0.{i + 1:03d}", price="100"), now=later(i)
            )
            return trade.id

    results = await asyncio.gather(*(writer(i) for i in range(WRITERS)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert len(set(results)) == WRITERS
    async with db.transaction(readonly=True) as session:
        counts = [
            await session.scalar(select(func.count()).select_from(model))
            for model in (User, Portfolio, Trade)
        ]
    assert counts == [USERS, USERS, WRITERS]
