"""The "selling more than held" check under concurrent requests of one user.

Each test starts two conflicting writes at once (``asyncio.gather``); exactly one may
succeed. :class:`Race` makes the dangerous interleaving certain: it holds each racing
write right after it has read the trade history, until the other write has read it too
or is waiting for the lock that serialises them (PostgreSQL: the user row,
``UserRepository.lock``; SQLite: ``BEGIN IMMEDIATE``). Without that lock both writes read
the same history before either stores anything, both pass the check, and these tests
fail on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from storage import Database, TradeRepository, UserRepository
from tools.clock import FakeClock
from tools.errors import UserInputError
from tools.identity import UserRef
from tools.market.factory import MarketConfig, open_market
from tools.market.service import PriceService
from tools.market.symbols import SymbolResolver
from tools.portfolio.imports import import_trades
from tools.portfolio.service import PortfolioService

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
WHO = UserRef("telegram", "5000", "Racer")
Write = Callable[[], Awaitable[object]]
_WRITING: ContextVar[bool] = ContextVar("writing", default=False)


def make(db: Database) -> PortfolioService:
    clock = FakeClock(NOW)
    handle = open_market(MarketConfig(mode="offline"), clock=clock)
    prices = PriceService(handle.market, SymbolResolver(handle.market, clock=clock), clock=clock)
    return PortfolioService(db, prices, clock=clock)


class Race:
    """Runs writes concurrently, each held after its history read (see the module doc).

    A racing write is ``started``, then ``waiting`` once it asks for the serialising
    lock, ``read`` once it has read the history inside its write transaction, and
    ``done``. A write that has read goes on only when every other one is waiting, has
    read, or is done.
    """

    def __init__(self, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
        self._state: dict[asyncio.Task[Any], str] = {}
        self._changed = asyncio.Condition()
        real_transaction = db.transaction
        serialised_at_begin = db.dialect_name == "sqlite"

        @asynccontextmanager
        async def transaction(*, readonly: bool = False) -> AsyncIterator[Any]:
            token = _WRITING.set(not readonly)
            try:
                if serialised_at_begin and not readonly:
                    await self._mark("waiting")
                async with real_transaction(readonly=readonly) as session:
                    yield session
            finally:
                _WRITING.reset(token)

        real_lock = UserRepository.lock

        async def lock(repo: UserRepository, user_id: int) -> Any:
            await self._mark("waiting")
            return await real_lock(repo, user_id)

        real_list_all = TradeRepository.list_all

        async def list_all(repo: TradeRepository, portfolio_id: int) -> Any:
            rows = await real_list_all(repo, portfolio_id)
            if _WRITING.get():
                await self._mark("read")
                await self._hold()
            return rows

        monkeypatch.setattr(db, "transaction", transaction)
        monkeypatch.setattr(UserRepository, "lock", lock)
        monkeypatch.setattr(TradeRepository, "list_all", list_all)

    async def run(self, *writes: Write) -> list[object]:
        """Run ``writes`` at once; their results or exceptions, in order."""

        async def party(write: Write) -> object:
            task = asyncio.current_task()
            assert task is not None
            self._state[task] = "started"
            try:
                return await write()
            finally:
                await self._mark("done")

        try:
            return await asyncio.gather(*(party(w) for w in writes), return_exceptions=True)
        finally:
            self._state.clear()

    async def _mark(self, state: str) -> None:
        task = asyncio.current_task()
        if task in self._state:
            async with self._changed:
                self._state[task] = state
                self._changed.notify_all()

    async def _hold(self) -> None:
        me = asyncio.current_task()
        if me not in self._state:
            return
        async with self._changed:
            await self._changed.wait_for(
                lambda: all(s != "started" for t, s in self._state.items() if t is not me)
            )


@pytest.fixture
def race(db: Database, monkeypatch: pytest.MonkeyPatch) -> Race:
    return Race(db, monkeypatch)


async def exactly_one_succeeds(race: Race, first: Write, second: Write) -> None:
    outcomes = await race.run(first, second)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 1, outcomes
    assert isinstance(failures[0], UserInputError), failures[0]
    assert "held" in failures[0].user_message


async def held_btc(service: PortfolioService) -> Decimal:
    summary = (await service.summary(WHO)).summary
    return sum((p.quantity for p in summary.positions if p.symbol == "BTC"), Decimal(0))


async def test_two_sells_of_the_whole_position(db: Database, race: Race) -> None:
    service = make(db)
    await service.record_trade(WHO, "buy", "BTC", 1, 50000, "2026-03-01")
    await exactly_one_succeeds(
        race,
        lambda: service.record_trade(WHO, "sell", "BTC", 1, 60000, "2026-04-01"),
        lambda: service.record_trade(WHO, "sell", "BTC", 1, 61000, "2026-04-02"),
    )
    assert (await service.list_trades(WHO)).total == 2
    assert await held_btc(service) == 0


async def test_delete_the_buy_while_selling_it(db: Database, race: Race) -> None:
    service = make(db)
    buy = await service.record_trade(WHO, "buy", "BTC", 1, 50000, "2026-03-01")
    await exactly_one_succeeds(
        race,
        lambda: service.delete_trade(WHO, buy.trade.id),
        lambda: service.record_trade(WHO, "sell", "BTC", 1, 60000, "2026-04-01"),
    )
    # either the buy is gone and nothing was sold, or the buy and its sell remain
    assert (await service.list_trades(WHO)).total in (0, 2)
    assert await held_btc(service) == 0


async def test_grow_a_sell_while_selling_the_rest(db: Database, race: Race) -> None:
    service = make(db)
    await service.record_trade(WHO, "buy", "BTC", 1, 50000, "2026-03-01")
    half = await service.record_trade(WHO, "sell", "BTC", "0.5", 60000, "2026-04-01")
    await exactly_one_succeeds(
        race,
        lambda: service.edit_trade(WHO, half.trade.id, quantity=1),
        lambda: service.record_trade(WHO, "sell", "BTC", "0.5", 61000, "2026-04-02"),
    )
    assert await held_btc(service) == 0


async def test_import_a_sell_while_selling(db: Database, race: Race) -> None:
    service = make(db)
    await service.record_trade(WHO, "buy", "BTC", 1, 50000, "2026-03-01")
    sell_file = "date,side,symbol,quantity,price,fee\n2026-04-01,sell,BTC,1,60000,0\n"

    async def imported() -> None:
        result = await import_trades(service, WHO, sell_file, dry_run=False)
        if not result.ok:
            raise UserInputError(result.errors[0].message)

    await exactly_one_succeeds(
        race,
        imported,
        lambda: service.record_trade(WHO, "sell", "BTC", 1, 61000, "2026-04-02"),
    )
    assert await held_btc(service) == 0


async def test_a_switch_between_reading_and_writing_is_caught(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trade prepared for dollars is not stored once the portfolio was switched to
    euros in between: the currency is checked again under the lock."""
    service = make(db)
    await service.set_currency(WHO, "EUR")

    async def stale(_user: UserRef, _name: str) -> str:
        return "USD"  # what was read just before the switch

    monkeypatch.setattr(service, "_currency_for", stale)
    with pytest.raises(UserInputError) as refused:
        await service.record_trade(WHO, "buy", "BTC", 1, 50000, "2026-03-01")
    assert refused.value.user_message == (
        'Portfolio "default" was just switched to EUR; please try again.'
    )
    assert (await service.list_trades(WHO)).total == 0
