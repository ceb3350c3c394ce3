"""LeaderLock: one scheduler per database, takeover when the leader goes away."""

from __future__ import annotations

from sqlalchemy import text

from storage import Database, LeaderLock
from storage.engine import create_engine
from tests.storage.helpers import NOW, later


async def test_only_one_leader_and_takeover_after_release(db: Database) -> None:
    first = LeaderLock(db, holder="host-a:1", lease_s=30)
    second = LeaderLock(db, holder="host-b:2", lease_s=30)
    try:
        assert await first.try_acquire(NOW)
        assert not await second.try_acquire(NOW)
        assert await first.try_acquire(later(1))  # re-acquiring one's own lock is fine
        assert await first.still_leading(later(10))
        assert not await second.try_acquire(later(20))
        await first.release()
        assert not first.leading
        assert await second.try_acquire(later(21))
        assert not await first.try_acquire(later(22))
    finally:
        await first.release()
        await second.release()


async def test_takeover_when_the_leader_dies(database_url: str) -> None:
    """A dead leader: its PostgreSQL session ends (lock released) or its lease expires."""
    leader_db = Database(create_engine(database_url))
    other_db = Database(create_engine(database_url))
    leader = LeaderLock(leader_db, holder="dies:1", lease_s=30)
    other = LeaderLock(other_db, holder="survives:2", lease_s=30)
    try:
        assert await leader.try_acquire(NOW)
        assert not await other.try_acquire(later(5))
        # The leader process dies: no release, its connections drop.
        if leader._conn is not None:
            await leader._conn.invalidate()
        await leader_db.dispose()
        if other_db.dialect_name == "sqlite":
            assert not await other.try_acquire(later(29))  # lease still running
        assert await other.try_acquire(later(31))
        assert await other.still_leading(later(40))
    finally:
        await other.release()
        await other_db.dispose()
        await leader_db.dispose()


async def test_still_leading_is_false_once_the_lock_is_lost(db: Database) -> None:
    a = LeaderLock(db, holder="a", lease_s=10)
    b = LeaderLock(db, holder="b", lease_s=10)
    try:
        assert await a.try_acquire(NOW)
        if db.dialect_name == "postgresql":
            # An operator (or a network cut) ends the leader's session.
            assert a._conn is not None
            pid = (await a._conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                await conn.commit()
        assert await b.try_acquire(later(11))  # a's lease ran out / its session is gone
        assert not await a.still_leading(later(12))
        assert not a.leading
    finally:
        await a.release()
        await b.release()
