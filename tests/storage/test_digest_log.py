"""DigestLogRepository: one digest per user and local date, even under races."""

from __future__ import annotations

import asyncio
from datetime import date

from storage import Database, DigestLogRepository
from tests.storage.helpers import NOW, later, make_user

DAY = date(2026, 3, 1)


async def test_try_record_first_caller_only(db: Database) -> None:
    user = await make_user(db)
    other = await make_user(db, "2")
    async with db.transaction() as session:
        repo = DigestLogRepository(session)
        assert await repo.try_record(user.id, DAY, now=NOW) is True
        assert await repo.try_record(user.id, DAY, now=later(5)) is False
        assert await repo.try_record(user.id, date(2026, 3, 2), now=later(86400)) is True
        assert await repo.try_record(other.id, DAY, now=NOW) is True
    async with db.transaction() as session:
        record = await DigestLogRepository(session).get(user.id, DAY)
        assert await DigestLogRepository(session).try_record(user.id, DAY, now=NOW) is False
    assert record is not None and record.sent_at == NOW and record.local_date == DAY


async def test_rolled_back_claim_is_released(db: Database) -> None:
    user = await make_user(db)

    class Crash(Exception):
        pass

    try:
        async with db.transaction() as session:
            assert await DigestLogRepository(session).try_record(user.id, DAY, now=NOW)
            raise Crash
    except Crash:
        pass
    async with db.transaction() as session:
        assert await DigestLogRepository(session).try_record(user.id, DAY, now=NOW) is True


async def test_try_record_concurrently(db: Database) -> None:
    user = await make_user(db)

    async def attempt(i: int) -> bool:
        async with db.transaction() as session:
            return await DigestLogRepository(session).try_record(user.id, DAY, now=later(i))

    results = await asyncio.gather(*(attempt(i) for i in range(12)))
    assert results.count(True) == 1
