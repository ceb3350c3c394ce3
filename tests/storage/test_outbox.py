"""OutboxRepository: idempotent enqueue, claiming, settlement, dead letters, leases."""

from __future__ import annotations

import asyncio

import pytest

from storage import Database, OutboxRepository
from storage.models import User
from tests.storage.helpers import NOW, later, make_user


async def enqueue_many(db: Database, count: int, *, prefix: str = "k") -> None:
    async with db.transaction() as session:
        repo = OutboxRepository(session)
        for i in range(count):
            await repo.enqueue("telegram", str(i), {"text": f"m{i}"}, f"{prefix}{i}", now=NOW)


async def test_enqueue_is_idempotent(db: Database) -> None:
    user = await make_user(db)
    async with db.transaction() as session:
        repo = OutboxRepository(session)
        row, created = await repo.enqueue(
            "telegram", "42", {"text": "hi"}, "alert:1:2026-03-01T12:00", user_id=user.id, now=NOW
        )
        again, created_again = await repo.enqueue(
            "telegram", "42", {"text": "other"}, "alert:1:2026-03-01T12:00", now=later(1)
        )
    assert created and not created_again and again.id == row.id
    assert again.payload == {"text": "hi"}  # the first message wins
    async with db.transaction() as session:
        repo = OutboxRepository(session)
        assert await repo.count_by_status() == {"pending": 1}
        stored = await repo.get(row.id)
    assert stored is not None
    assert (stored.status, stored.attempts, stored.user_id) == ("pending", 0, user.id)
    assert stored.next_attempt_at == NOW and stored.created_at == NOW


async def test_enqueue_in_separate_transactions_is_idempotent(db: Database) -> None:
    for _ in range(2):
        async with db.transaction() as session:
            await OutboxRepository(session).enqueue("discord", "9", {}, "same-key", now=NOW)
    async with db.transaction() as session:
        assert await OutboxRepository(session).count_by_status() == {"pending": 1}


async def test_claim_respects_due_time_and_limit(db: Database) -> None:
    async with db.transaction() as session:
        repo = OutboxRepository(session)
        now_row, _ = await repo.enqueue("telegram", "1", {}, "now", now=NOW)
        later_row, _ = await repo.enqueue(
            "telegram", "1", {}, "later", now=NOW, not_before=later(60)
        )
    async with db.transaction() as session:
        claimed = await OutboxRepository(session).claim_due(limit=10, now=NOW, lease_seconds=30)
    assert [r.id for r in claimed] == [now_row.id]
    assert claimed[0].status == "sending" and claimed[0].next_attempt_at == later(30)
    async with db.transaction() as session:
        assert await OutboxRepository(session).claim_due(limit=10, now=later(59)) == []
        claimed = await OutboxRepository(session).claim_due(limit=10, now=later(60))
    assert [r.id for r in claimed] == [later_row.id]


async def test_settlement_paths(db: Database) -> None:
    await enqueue_many(db, 5)
    async with db.transaction() as session:
        rows = await OutboxRepository(session).claim_due(limit=5, now=NOW)
    sent, unknown, deferred, dead, failing = rows
    async with db.transaction() as session:
        repo = OutboxRepository(session, max_attempts=3)
        await repo.mark_sent(sent, now=later(1))
        await repo.mark_unknown(unknown, "TimedOut")
        await repo.defer(deferred, later(30))
        await repo.mark_dead(dead, "Forbidden: bot was blocked by the user")
        await repo.mark_failed(failing, "400 Bad Request", later(10))
    assert sent.status == "sent" and sent.sent_at == later(1)
    assert failing.attempts == 1 and failing.status == "failed"
    async with db.transaction() as session:
        repo = OutboxRepository(session)
        assert await repo.count_by_status() == {
            "sent": 1,
            "unknown": 1,
            "pending": 1,
            "dead": 1,
            "failed": 1,
        }
        stored = await repo.get(deferred.id)
        assert stored is not None and stored.attempts == 0 and stored.next_attempt_at == later(30)
        # Unknown, sent and dead rows are never claimed again.
        claimed = await repo.claim_due(limit=10, now=later(3600))
    assert sorted(r.id for r in claimed) == sorted([deferred.id, failing.id])


async def test_failed_rows_are_dead_lettered_after_max_attempts(db: Database) -> None:
    await enqueue_many(db, 1)
    clock = NOW
    for attempt in range(1, 4):
        async with db.transaction() as session:
            repo = OutboxRepository(session, max_attempts=3)
            (row,) = await repo.claim_due(limit=1, now=clock)
            clock = later(attempt * 100)
            await repo.mark_failed(row, f"error {attempt}", clock)
    assert (row.status, row.attempts, row.last_error) == ("dead", 3, "error 3")
    async with db.transaction() as session:
        assert await OutboxRepository(session).claim_due(limit=1, now=later(10**6)) == []
    with pytest.raises(ValueError):
        OutboxRepository(session, max_attempts=0)


async def test_requeue_stale_sending(db: Database) -> None:
    await enqueue_many(db, 2)
    async with db.transaction() as session:
        await OutboxRepository(session).claim_due(limit=2, now=NOW, lease_seconds=60)
    async with db.transaction() as session:
        repo = OutboxRepository(session)
        assert await repo.requeue_stale_sending(later(59)) == 0  # leases still running
        assert await repo.requeue_stale_sending(later(60)) == 2
    async with db.transaction() as session:
        claimed = await OutboxRepository(session).claim_due(limit=5, now=later(60))
    assert len(claimed) == 2


async def test_concurrent_claimers_get_disjoint_rows(db: Database) -> None:
    await enqueue_many(db, 30)

    async def claimer() -> list[int]:
        got: list[int] = []
        while True:
            async with db.transaction() as session:
                rows = await OutboxRepository(session).claim_due(limit=4, now=NOW)
            if not rows:
                return got
            got.extend(r.id for r in rows)

    results = await asyncio.gather(*(claimer() for _ in range(4)))
    claimed = [i for ids in results for i in ids]
    assert len(claimed) == 30 and len(set(claimed)) == 30


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_skip_locked_while_first_claimer_is_open(db: Database) -> None:
    """Claimer B runs while A's transaction still holds its rows: B skips them."""
    await enqueue_many(db, 6)
    a_claimed = asyncio.Event()
    b_done = asyncio.Event()

    async def claimer_a() -> list[int]:
        async with db.transaction() as session:
            rows = await OutboxRepository(session).claim_due(limit=3, now=NOW)
            a_claimed.set()
            await b_done.wait()  # keep the row locks until B has claimed
        return [r.id for r in rows]

    async def claimer_b() -> list[int]:
        await a_claimed.wait()
        async with db.transaction() as session:
            rows = await OutboxRepository(session).claim_due(limit=10, now=NOW)
        b_done.set()
        return [r.id for r in rows]

    a_ids, b_ids = await asyncio.gather(claimer_a(), claimer_b())
    assert len(a_ids) == 3 and len(b_ids) == 3
    assert not set(a_ids) & set(b_ids)


async def test_deleting_user_keeps_outbox_row(db: Database) -> None:
    user = await make_user(db)
    async with db.transaction() as session:
        row, _ = await OutboxRepository(session).enqueue(
            "telegram", "1", {}, "k", user_id=user.id, now=NOW
        )
    async with db.transaction() as session:
        await session.delete(await session.get(User, user.id))
    async with db.transaction() as session:
        stored = await OutboxRepository(session).get(row.id)
    assert stored is not None and stored.user_id is None


async def test_claim_only_the_channels_asked_for(db: Database) -> None:
    async with db.transaction() as session:
        repo = OutboxRepository(session)
        tg, _ = await repo.enqueue("telegram", "1", {}, "tg", now=NOW)
        dc, _ = await repo.enqueue("discord", "2", {}, "dc", now=NOW)
    async with db.transaction() as session:
        claimed = await OutboxRepository(session).claim_due(
            limit=10, now=NOW, channels=["discord", "console"]
        )
    assert [r.id for r in claimed] == [dc.id]
    async with db.transaction() as session:
        assert await OutboxRepository(session).claim_due(limit=10, now=NOW, channels=[]) == []
        rest = await OutboxRepository(session).claim_due(limit=10, now=NOW)
    assert [r.id for r in rest] == [tg.id]
