"""The digest sweep: due work derived from the database, exactly once per user per local
day across DST changes, restarts and concurrent sweeps; group chats; failures that leave
the work due for the next run. SQLite and PostgreSQL, offline market, fake clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import tools.digest.service as digest_service
from storage import (
    ChatSubscriptionRepository,
    Database,
    DigestLogRepository,
    OutboxRepository,
    StorageError,
    UserRepository,
)
from storage.models import Outbox
from tools.digest import DigestService
from tools.digest.schedule import chat_schedule, due_date, scheduled_at
from tools.errors import MarketDataUnavailableError
from tools.identity import UserRef

from .test_digest import Env, add_user, buy, make_env

BERLIN = ZoneInfo("Europe/Berlin")
MINUTE = timedelta(minutes=1)
#: Clocks go forward at 01:00 UTC on 30 March 2025 and back at 01:00 UTC on 26 October.
SPRING, AUTUMN = date(2025, 3, 30), date(2025, 10, 26)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A Berlin wall-clock time (first occurrence when ambiguous) as UTC."""
    return scheduled_at(day, time(hour, minute), BERLIN)


async def rows(db: Database) -> list[Outbox]:
    """Every outbox row, oldest first (ids of rolled-back rows may be skipped)."""
    async with db.transaction(readonly=True) as session:
        repo = OutboxRepository(session)
        out, missing, next_id = [], 0, 1
        while missing < 50:
            row = await repo.get(next_id)
            next_id += 1
            missing = 0 if row is not None else missing + 1
            if row is not None:
                out.append(row)
        return out


async def sweep_every_minute(env: Env, start: datetime, end: datetime) -> int:
    """Sweep once per minute from ``start`` to ``end`` (exclusive); total queued."""
    env.clock.set(start)
    queued = 0
    while env.clock.now() < end:
        queued += (await env.digests.sweep()).queued
        env.clock.advance(60)
    return queued


# -- the schedule (pure) ---------------------------------------------------------------------


def test_digest_time_across_dst_changes() -> None:
    at9 = time(9, 0)
    assert scheduled_at(SPRING - timedelta(days=1), at9, BERLIN) == datetime(
        2025, 3, 29, 8, tzinfo=UTC
    )
    assert scheduled_at(SPRING, at9, BERLIN) == datetime(2025, 3, 30, 7, tzinfo=UTC)
    assert scheduled_at(AUTUMN - timedelta(days=1), at9, BERLIN) == datetime(
        2025, 10, 25, 7, tzinfo=UTC
    )
    assert scheduled_at(AUTUMN, at9, BERLIN) == datetime(2025, 10, 26, 8, tzinfo=UTC)
    # 02:30 does not exist on the spring day: reached at 01:30 UTC (03:30 summer time).
    assert scheduled_at(SPRING, time(2, 30), BERLIN) == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    # 02:30 happens twice on the autumn day: the first one (summer time) counts.
    assert scheduled_at(AUTUMN, time(2, 30), BERLIN) == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)


def test_due_date_respects_local_date_and_signup_time() -> None:
    at8 = time(8, 0)
    tokyo = ZoneInfo("Asia/Tokyo")
    # 23:30 UTC on the 1st is 08:30 on the 2nd in Tokyo.
    assert due_date(datetime(2025, 6, 1, 23, 30, tzinfo=UTC), tokyo, at8) == date(2025, 6, 2)
    assert due_date(datetime(2025, 6, 1, 22, 59, tzinfo=UTC), tokyo, at8) is None
    signed_up = datetime(2025, 6, 2, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo, after the digest
    assert (
        due_date(datetime(2025, 6, 2, 3, 0, tzinfo=UTC), tokyo, at8, created_at=signed_up) is None
    )
    assert due_date(datetime(2025, 6, 2, 23, 0, tzinfo=UTC), tokyo, at8,
                    created_at=signed_up) == date(2025, 6, 3)  # fmt: skip


def test_chat_schedule_defaults_to_eight_utc() -> None:
    assert chat_schedule({}) == chat_schedule(None)
    default = chat_schedule({"time": "later", "timezone": "Mars/Olympus"})
    assert (default.at, default.tz.key) == (time(8, 0), "UTC")
    paris = chat_schedule({"time": "18:15", "timezone": "Europe/Paris"})
    assert (paris.at, paris.tz.key) == (time(18, 15), "Europe/Paris")


# -- exactly once ----------------------------------------------------------------------------


@pytest.mark.parametrize("day", [SPRING, AUTUMN], ids=["march", "october"])
async def test_once_per_local_day_across_a_dst_change(
    db: Database, tmp_path: Path, day: date
) -> None:
    env = make_env(db, tmp_path, start=local(day, 0) - timedelta(days=2))
    nine = await add_user(env, UserRef("telegram", "9"), timezone="Europe/Berlin", at=time(9, 0))
    half_two = await add_user(env, UserRef("telegram", "230"), timezone="Europe/Berlin",
                              at=time(2, 30))  # fmt: skip
    # Every minute of the change day (23 or 25 hours long) and of the day after.
    start = local(day, 0)
    end = local(day + timedelta(days=2), 0)
    assert await sweep_every_minute(env, start, end) == 4
    queued = {(r.user_id, r.idempotency_key): r.created_at for r in await rows(db)}
    assert len(queued) == 4
    for user in (nine, half_two):
        for offset in (0, 1):
            d = day + timedelta(days=offset)
            at = user.digest_time
            assert queued[(user.id, f"digest:{user.id}:{d}")] == scheduled_at(d, at, BERLIN)
    assert queued[(nine.id, f"digest:{nine.id}:{day}")] == (
        datetime(2025, 3, 30, 7, tzinfo=UTC) if day == SPRING
        else datetime(2025, 10, 26, 8, tzinfo=UTC)
    )  # fmt: skip


async def test_restart_after_missed_runs_sends_one_digest(db: Database, tmp_path: Path) -> None:
    env = make_env(db, tmp_path, start=datetime(2025, 11, 10, 6, tzinfo=UTC))
    user = await add_user(env, UserRef("telegram", "1"), timezone="Europe/Berlin", at=time(9, 0))
    # Down from the 10th to the afternoon of the 13th: no runs at all.
    env.clock.set(datetime(2025, 11, 13, 15, tzinfo=UTC))
    first = await env.digests.sweep()
    assert (first.due, first.queued) == (1, 1)
    # A restarted process (new service, empty memory) sends nothing more that day...
    for _ in range(3):
        restarted = make_env(db, tmp_path, start=env.clock.now()).digests
        again = await restarted.sweep()
        assert (again.due, again.queued) == (0, 0)
        env.clock.advance(3600)
    # ...and the next day's digest at its time.
    env.clock.set(local(date(2025, 11, 14), 9))
    assert (await env.digests.sweep()).queued == 1
    assert [r.idempotency_key for r in await rows(db)] == [
        f"digest:{user.id}:2025-11-13",
        f"digest:{user.id}:2025-11-14",
    ]


async def test_concurrent_sweeps_queue_each_user_once(db: Database, tmp_path: Path) -> None:
    env = make_env(db, tmp_path, start=datetime(2025, 11, 20, 12, tzinfo=UTC))
    users = [await add_user(env, UserRef("telegram", str(i))) for i in range(25)]
    for user in users[::3]:
        await buy(env, user, "BTC", "bitcoin", "0.1", "50000")
    sweepers = [make_env(db, tmp_path, start=env.clock.now(), batch_size=4).digests
                for _ in range(3)]  # fmt: skip
    results = await asyncio.gather(*(s.sweep() for s in sweepers))
    assert sum(r.queued for r in results) == 25
    assert sum(r.queued + r.skipped for r in results) <= 75
    keys = [r.idempotency_key for r in await rows(db)]
    assert sorted(keys) == sorted(f"digest:{u.id}:2025-11-20" for u in users)
    for sweeper in sweepers:
        assert (await sweeper.sweep()).queued == 0


async def test_who_gets_a_digest(db: Database, tmp_path: Path) -> None:
    env = make_env(db, tmp_path, start=datetime(2025, 11, 20, 15, tzinfo=UTC))
    day = date(2025, 11, 20)
    on = await add_user(env, UserRef("telegram", "on"), chat_id=777)
    await add_user(env, UserRef("telegram", "off"), digest_enabled=False)
    blocked = await add_user(env, UserRef("discord", "blocked"))
    async with db.transaction() as session:
        await UserRepository(session).mark_unreachable(blocked, "blocked", env.clock.now())
    late = await add_user(env, UserRef("console", "late"), created=env.clock.now() - MINUTE)
    early = await add_user(env, UserRef("console", "early"), at=time(16, 0))
    stats = await env.digests.sweep()
    assert (stats.candidates, stats.due, stats.queued) == (3, 1, 1)
    (row,) = await rows(db)
    assert (row.channel, row.recipient, row.user_id) == ("telegram", "777", on.id)
    assert row.idempotency_key == f"digest:{on.id}:{day}"
    payload = row.payload
    assert payload["kind"] == "digest" and payload["severity"] == "info"
    assert payload["title"] == "CryptoGuard daily digest, Thursday 20 November 2025"
    assert payload["text"].startswith(payload["title"]) and "Your portfolio" in payload["text"]
    assert payload["data"]["local_date"] == "2025-11-20"
    assert payload["attachments"] == []  # chart off in this service
    # The late sign-up gets tomorrow's digest at 08:00; "early" gets today's at 16:00.
    env.clock.set(datetime(2025, 11, 20, 16, tzinfo=UTC))
    assert (await env.digests.sweep()).queued == 1
    env.clock.set(datetime(2025, 11, 21, 8, tzinfo=UTC))
    assert (await env.digests.sweep()).queued == 2
    async with db.transaction(readonly=True) as session:
        log = DigestLogRepository(session)
        assert await log.get(early.id, day) is not None
        assert await log.get(late.id, day) is None
        assert await log.get(late.id, day + timedelta(days=1)) is not None
    assert len(await rows(db)) == 4


async def test_payload_attaches_the_shared_chart_by_path(db: Database, tmp_path: Path) -> None:
    env = make_env(db, tmp_path, chart=True, start=datetime(2025, 11, 20, 9, tzinfo=UTC))
    for i in range(3):
        await add_user(env, UserRef("telegram", str(i)))
    old = env.chart_dir / "digest-20251101-0800.png"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"old")
    assert (await env.digests.sweep()).queued == 3
    attachments = [r.payload["attachments"] for r in await rows(db)]
    assert attachments[0] == attachments[1] == attachments[2]
    (chart,) = attachments[0]
    assert chart["path"] == str(env.chart_dir / "digest-20251120-0900.png")
    assert (chart["filename"], chart["content_type"]) == ("digest-20251120-0900.png", "image/png")
    assert (env.chart_dir / chart["filename"]).read_bytes().startswith(b"\x89PNG")  # noqa: ASYNC240
    assert "BTC" in chart["caption"]
    assert not old.exists()  # charts past their retention are deleted
    assert sorted(p.name for p in env.chart_dir.iterdir()) == ["digest-20251120-0900.png"]


# -- group chats -----------------------------------------------------------------------------


async def test_group_chats_get_the_market_digest_once_a_day(db: Database, tmp_path: Path) -> None:
    env = make_env(db, tmp_path, start=datetime(2025, 11, 20, 7, tzinfo=UTC))
    async with db.transaction() as session:
        repo = ChatSubscriptionRepository(session)
        created = env.clock.now() - timedelta(days=2)
        await repo.subscribe("telegram", -100123, "digest", now=created)
        await repo.subscribe("discord", 555, "digest",
                             params={"time": "18:00", "timezone": "Europe/Paris"},
                             now=created)  # fmt: skip
        await repo.subscribe("telegram", -100999, "depeg", now=created)
    assert (await env.digests.sweep()).chats_queued == 0
    env.clock.set(datetime(2025, 11, 20, 8, tzinfo=UTC))
    assert (await env.digests.sweep()).chats_queued == 1
    assert (await make_env(db, tmp_path, start=env.clock.now()).digests.sweep()).chats_queued == 0
    env.clock.set(datetime(2025, 11, 20, 17, tzinfo=UTC))  # 18:00 in Paris
    assert (await env.digests.sweep()).chats_queued == 1
    group, paris = await rows(db)
    assert (group.channel, group.recipient, group.user_id) == ("telegram", "-100123", None)
    assert group.idempotency_key == "digest-chat:telegram:-100123:2025-11-20"
    assert paris.idempotency_key == "digest-chat:discord:555:2025-11-20"
    assert "Market\nBTC" in group.payload["text"]
    assert "Your portfolio" not in group.payload["text"]
    assert "Your alerts" not in group.payload["text"]
    assert group.payload["data"]["scope"] == "chat"


# -- failures --------------------------------------------------------------------------------


async def test_a_failed_batch_rolls_back_and_is_retried(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(db, tmp_path, start=datetime(2025, 11, 20, 9, tzinfo=UTC), batch_size=2)
    for i in range(5):
        await add_user(env, UserRef("telegram", str(i)))
    real = digest_service.enqueue_all
    calls = 0

    async def flaky(session: Any, messages: Any, *, now: datetime) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            await real(session, messages, now=now)
            raise StorageError("connection lost")
        return await real(session, messages, now=now)

    monkeypatch.setattr(digest_service, "enqueue_all", flaky)
    stats = await env.digests.sweep()
    assert (stats.due, stats.queued, stats.failed) == (5, 3, 2)
    assert len(await rows(db)) == 3  # the failed batch's claims and messages rolled back
    env.clock.advance(60)
    retry = await env.digests.sweep()
    assert (retry.due, retry.queued, retry.failed) == (2, 2, 0)
    assert len({r.idempotency_key for r in await rows(db)}) == 5


async def test_no_market_data_postpones_the_sweep(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(db, tmp_path, start=datetime(2025, 11, 20, 9, tzinfo=UTC))
    await add_user(env, UserRef("telegram", "1"))

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise MarketDataUnavailableError("all providers down")

    with monkeypatch.context() as patch:
        patch.setattr(env.prices, "get_quotes", down)
        patch.setattr(env.prices, "get_top", down)
        stats = await env.digests.sweep()
    assert (stats.due, stats.queued, stats.failed) == (1, 0, 1)
    assert stats.error == "No market prices are available for the digest."
    assert await rows(db) == []
    env.clock.advance(60)
    assert (await env.digests.sweep()).queued == 1


def test_service_rejects_a_zero_batch(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        DigestService(None, None, clock=None, chart_dir=tmp_path, batch_size=0)  # type: ignore[arg-type]
