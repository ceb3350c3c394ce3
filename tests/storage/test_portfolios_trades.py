"""PortfolioRepository and TradeRepository: CRUD, ownership, constraints, cascades."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from storage import (
    ConstraintError,
    Database,
    DuplicateError,
    NewTrade,
    PortfolioRepository,
    TradeRepository,
)
from storage.models import Trade, User
from tests.storage.helpers import NOW, buy, later, make_portfolio, make_user


async def test_portfolio_crud(db: Database) -> None:
    owner = await make_user(db)
    other = await make_user(db, "2")
    async with db.transaction() as session:
        repo = PortfolioRepository(session)
        default = await repo.get_or_create_default(owner.id, "EUR", now=NOW)
        assert (default.name, default.base_currency) == ("default", "EUR")
        assert (await repo.get_or_create_default(owner.id, now=NOW)).id == default.id
        long_term = await repo.create(owner.id, "long term", now=NOW)
        assert [p.name for p in await repo.list_for_owner(owner.id)] == ["default", "long term"]
        assert await repo.list_for_owner(other.id) == []
        found = await repo.get_by_name(owner.id, "long term")
        assert found is not None and found.id == long_term.id
        assert await repo.get_owned(long_term.id, other.id) is None
        assert await repo.get_owned(long_term.id, owner.id) is not None
        assert await repo.get(long_term.id) is not None


async def test_duplicate_portfolio_name_keeps_transaction_usable(db: Database) -> None:
    owner = await make_user(db)
    async with db.transaction() as session:
        repo = PortfolioRepository(session)
        await repo.create(owner.id, "main", now=NOW)
        with pytest.raises(DuplicateError):
            await repo.create(owner.id, "main", now=NOW)
        await repo.create(owner.id, "second", now=NOW)  # same transaction still works
    async with db.transaction() as session:
        assert len(await PortfolioRepository(session).list_for_owner(owner.id)) == 2


async def test_portfolio_for_missing_owner_is_constraint_error(db: Database) -> None:
    with pytest.raises(ConstraintError):
        async with db.transaction() as session:
            await PortfolioRepository(session).create(999_999, "ghost", now=NOW)


async def test_targets_roundtrip_as_decimal(db: Database) -> None:
    portfolio = await make_portfolio(db, await make_user(db))
    async with db.transaction() as session:
        await PortfolioRepository(session).set_targets(
            portfolio, {"BTC": Decimal("0.6"), "ETH": Decimal("0.400")}
        )
    async with db.transaction() as session:
        stored = await PortfolioRepository(session).get(portfolio.id)
    assert stored is not None
    assert stored.targets == {"BTC": Decimal("0.6"), "ETH": Decimal("0.4")}
    with pytest.raises(TypeError):
        async with db.transaction() as session:
            await PortfolioRepository(session).set_targets(portfolio, {"BTC": 0.5})  # type: ignore[dict-item]
    async with db.transaction() as session:
        await PortfolioRepository(session).set_targets(portfolio, None)
        assert portfolio.targets == {}


async def test_trade_crud_and_ownership(db: Database) -> None:
    owner = await make_user(db)
    stranger = await make_user(db, "2")
    portfolio = await make_portfolio(db, owner)
    async with db.transaction() as session:
        repo = TradeRepository(session)
        first = await repo.add(buy(portfolio, "0.5", "60000.12", executed_at=later(10)), now=NOW)
        second = await repo.add(
            buy(portfolio, "0.2", "61000", side="sell", fee="1.5", executed_at=later(20)),
            now=NOW,
        )
        third = await repo.add(buy(portfolio, "1", "59000", executed_at=later(5)), now=NOW)
    assert first.symbol == "BTC"  # tickers are stored upper-case
    async with db.transaction() as session:
        repo = TradeRepository(session)
        assert await repo.count(portfolio.id) == 3
        newest = await repo.list_for_portfolio(portfolio.id, limit=2)
        assert [t.id for t in newest] == [second.id, first.id]
        page2 = await repo.list_for_portfolio(portfolio.id, limit=2, offset=2)
        assert [t.id for t in page2] == [third.id]
        assert [t.id for t in await repo.list_all(portfolio.id)] == [third.id, first.id, second.id]
        mine = await repo.get_owned(second.id, owner.id)
        assert mine is not None
        assert (mine.side, mine.quantity, mine.price, mine.fee) == (
            "sell",
            Decimal("0.2"),
            Decimal("61000"),
            Decimal("1.5"),
        )
        assert mine.executed_at == later(20) and mine.source == "manual"
        assert await repo.get_owned(second.id, stranger.id) is None
        await repo.delete(mine)
        assert await repo.count(portfolio.id) == 2
        assert await repo.get_owned(second.id, owner.id) is None


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"quantity": "-1"}, ConstraintError),
        ({"quantity": "0"}, ConstraintError),
        ({"price": "-0.01"}, ConstraintError),
        ({"fee": "-1"}, ConstraintError),
        ({"side": "hold"}, ConstraintError),
    ],
    ids=["negative-qty", "zero-qty", "negative-price", "negative-fee", "bad-side"],
)
async def test_trade_constraints(db: Database, overrides: dict[str, str], error: type) -> None:
    portfolio = await make_portfolio(db, await make_user(db))
    trade = buy(
        portfolio,
        overrides.get("quantity", "1"),
        overrides.get("price", "1"),
        side=overrides.get("side", "buy"),
        fee=overrides.get("fee", "0"),
    )
    async with db.transaction() as session:
        with pytest.raises(error):
            await TradeRepository(session).add(trade, now=NOW)
        # The failed insert was rolled back to its savepoint; the transaction goes on.
        await TradeRepository(session).add(buy(portfolio), now=NOW)
    async with db.transaction() as session:
        assert await TradeRepository(session).count(portfolio.id) == 1


async def test_trade_zero_price_allowed_and_float_rejected(db: Database) -> None:
    portfolio = await make_portfolio(db, await make_user(db))
    async with db.transaction() as session:
        await TradeRepository(session).add(buy(portfolio, price="0"), now=NOW)  # an airdrop
    with pytest.raises(TypeError):
        async with db.transaction() as session:
            await TradeRepository(session).add(
                NewTrade(
                    portfolio_id=portfolio.id,
                    side="buy",
                    symbol="BTC",
                    coin_id="bitcoin",
                    quantity=0.1,  # type: ignore[arg-type]
                    price=Decimal(1),
                    executed_at=NOW,
                ),
                now=NOW,
            )


async def test_trade_in_missing_portfolio_is_constraint_error(db: Database) -> None:
    with pytest.raises(ConstraintError):
        async with db.transaction() as session:
            trade = NewTrade(
                portfolio_id=424242,
                side="buy",
                symbol="BTC",
                coin_id="bitcoin",
                quantity=Decimal(1),
                price=Decimal(1),
                executed_at=NOW,
            )
            await TradeRepository(session).add(trade, now=NOW)


async def test_import_skips_known_external_ids(db: Database) -> None:
    portfolio = await make_portfolio(db, await make_user(db))
    batch = [buy(portfolio, external_id=f"ex-{i}") for i in range(3)]
    async with db.transaction() as session:
        assert await TradeRepository(session).add_many(batch, now=NOW) == 3
    again = [*batch, buy(portfolio, external_id="ex-3"), buy(portfolio)]
    async with db.transaction() as session:
        assert await TradeRepository(session).add_many(again, now=NOW) == 2
        assert await TradeRepository(session).add_many([], now=NOW) == 0
    with pytest.raises(DuplicateError):
        async with db.transaction() as session:
            await TradeRepository(session).add(buy(portfolio, external_id="ex-0"), now=NOW)
    async with db.transaction() as session:
        assert await TradeRepository(session).count(portfolio.id) == 5


async def test_deleting_user_cascades_to_portfolios_and_trades(db: Database) -> None:
    owner = await make_user(db)
    portfolio = await make_portfolio(db, owner)
    async with db.transaction() as session:
        await TradeRepository(session).add(buy(portfolio), now=NOW)
    async with db.transaction() as session:
        await session.delete(await session.get(User, owner.id))
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Trade)) == 0
        assert await PortfolioRepository(session).get(portfolio.id) is None


async def test_concurrent_default_portfolio(db: Database) -> None:
    owner = await make_user(db)

    async def one() -> int:
        async with db.transaction() as session:
            return (await PortfolioRepository(session).get_or_create_default(owner.id, now=NOW)).id

    ids = await asyncio.gather(*(one() for _ in range(10)))
    assert len(set(ids)) == 1
