"""tools.delivery.Dispatcher on SQLite and PostgreSQL: crashes, retries, dead letters,
unreachable users, grouping, retry-after, rate limits, concurrent dispatchers."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storage import (
    ChatSubscriptionRepository,
    Database,
    OutboxRepository,
    UserRepository,
    create_engine,
)
from storage.models import Outbox, User
from tools.clock import FakeClock
from tools.delivery import Dispatcher, DispatchStats, TokenBucket
from tools.notify import DeliveryResult, DeliveryStatus, OutgoingMessage

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SENT = DeliveryResult(DeliveryStatus.SENT)

Responder = Callable[[str, OutgoingMessage], DeliveryResult | None]


class Crash(BaseException):
    """The process dies here (not an ``Exception``: nothing in the dispatcher catches it)."""


class RecordingNotifier:
    """A notifier that records calls and, like a receiver honouring idempotency keys,
    delivers each outbox key at most once (a resend with a known key is dropped).

    Args:
        channel: Channel served.
        responder: Decides the result per call (``None`` means SENT); may raise.
    """

    def __init__(self, channel: str = "telegram", responder: Responder | None = None) -> None:
        self.channel = channel
        self.responder = responder
        self.calls: list[tuple[str, OutgoingMessage]] = []
        self.delivered: dict[str, str] = {}  # row key -> recipient, first delivery only
        self.duplicates_dropped = 0
        self.arrived = asyncio.Event()

    async def send(self, recipient: str, message: OutgoingMessage) -> DeliveryResult:
        self.calls.append((recipient, message))
        await asyncio.sleep(0)  # let other tasks (a second dispatcher) run
        result = (self.responder(recipient, message) if self.responder else None) or SENT
        if result.status is DeliveryStatus.SENT:
            for key in row_keys(message):
                if key in self.delivered:
                    self.duplicates_dropped += 1
                else:
                    self.delivered[key] = recipient
        self.arrived.set()
        return result

    def calls_to(self, recipient: str) -> int:
        return sum(1 for r, _ in self.calls if r == recipient)


def row_keys(message: OutgoingMessage) -> list[str]:
    """The outbox keys a (possibly merged) message carries."""
    items = message.data.get("items")
    if items:
        return [str(item["key"]) for item in items]
    assert message.key is not None
    return [message.key]


async def add_user(
    db: Database, platform_user_id: str, *, chat_id: int | None = None, platform: str = "telegram"
) -> User:
    async with db.transaction() as session:
        user, _ = await UserRepository(session).get_or_create(
            platform, platform_user_id, chat_id=chat_id, now=NOW
        )
    return user


async def enqueue(
    db: Database,
    key: str,
    recipient: str,
    *,
    user: User | None = None,
    channel: str = "telegram",
    kind: str = "alert",
    text: str | None = None,
    severity: str | None = "warning",
    now: datetime = NOW,
) -> None:
    payload: dict[str, Any] = {
        "kind": kind,
        "text": text or f"message {key}",
        "title": f"title {key}",
        "severity": severity,
    }
    async with db.transaction() as session:
        await OutboxRepository(session).enqueue(
            channel, recipient, payload, key, user_id=user.id if user else None, now=now
        )


async def get_row(db: Database, key: str) -> Outbox:
    async with db.transaction(readonly=True) as session:
        row = await OutboxRepository(session).get_by_key(key)
    assert row is not None
    return row


async def get_user(db: Database, user_id: int) -> User:
    async with db.transaction(readonly=True) as session:
        user = await UserRepository(session).get(user_id)
    assert user is not None
    return user


async def statuses(db: Database) -> dict[str, int]:
    async with db.transaction(readonly=True) as session:
        return await OutboxRepository(session).count_by_status()


def make_dispatcher(
    db: Database, clock: FakeClock, *notifiers: RecordingNotifier, **kwargs: Any
) -> Dispatcher:
    kwargs.setdefault("rng", random.Random(7))
    return Dispatcher(db, {n.channel: n for n in notifiers}, clock=clock, **kwargs)


async def test_delivers_and_marks_sent(db: Database) -> None:
    user = await add_user(db, "1")
    await enqueue(db, "alert:1:t1", "1", user=user)
    clock = FakeClock(NOW)
    notifier = RecordingNotifier()
    stats = await make_dispatcher(db, clock, notifier).run_once()
    assert stats == DispatchStats(claimed=1, messages=1, sent=1)
    ((recipient, message),) = notifier.calls
    assert recipient == "1" and message.key == "alert:1:t1"
    assert message.title == "title alert:1:t1" and message.severity == "warning"
    row = await get_row(db, "alert:1:t1")
    assert (row.status, row.sent_at, row.attempts) == ("sent", NOW, 0)
    # Nothing left: a second pass claims nothing.
    assert await make_dispatcher(db, clock, notifier).run_once() == DispatchStats()


async def test_rows_for_one_recipient_become_one_message(db: Database) -> None:
    alice, bob = await add_user(db, "1"), await add_user(db, "2")
    for i, severity in enumerate(("info", "critical", "warning")):
        await enqueue(db, f"a{i}", "1", user=alice, severity=severity)
    await enqueue(db, "b0", "2", user=bob)
    await enqueue(db, "digest:1:2026-03-01", "1", user=alice, kind="digest", severity=None)
    notifier = RecordingNotifier()
    stats = await make_dispatcher(db, FakeClock(NOW), notifier).run_once()
    assert stats == DispatchStats(claimed=5, messages=3, sent=5)
    by_recipient: dict[str, list[OutgoingMessage]] = {}
    for recipient, message in notifier.calls:
        by_recipient.setdefault(recipient, []).append(message)
    merged, digest = sorted(by_recipient["1"], key=lambda m: m.kind)
    assert merged.title == "3 alerts" and merged.severity == "critical"
    assert merged.text.startswith("3 alerts:\n\n1. [INFO] title a0\nmessage a0")
    assert row_keys(merged) == ["a0", "a1", "a2"]
    assert digest.kind == "digest" and digest.key == "digest:1:2026-03-01"  # never merged
    assert [m.key for m in by_recipient["2"]] == ["b0"]
    assert await statuses(db) == {"sent": 5}


async def test_crash_after_commit_before_send_is_delivered_after_restart(db: Database) -> None:
    """The claim is committed, then the process dies before sending: the lease runs out
    and the next dispatcher delivers the message."""
    user = await add_user(db, "1")
    await enqueue(db, "alert:1:t1", "1", user=user)
    clock = FakeClock(NOW)

    def die(_recipient: str, _message: OutgoingMessage) -> DeliveryResult:
        raise Crash

    with pytest.raises(Crash):
        await make_dispatcher(db, clock, RecordingNotifier(responder=die), lease_s=60).run_once()
    assert (await get_row(db, "alert:1:t1")).status == "sending"

    notifier = RecordingNotifier()
    restarted = make_dispatcher(db, clock, notifier, lease_s=60)
    assert await restarted.run_once() == DispatchStats()  # lease still running
    clock.advance(60)
    stats = await restarted.run_once()
    assert stats == DispatchStats(claimed=1, messages=1, sent=1, requeued=1)
    assert list(notifier.delivered) == ["alert:1:t1"]
    row = await get_row(db, "alert:1:t1")
    assert (row.status, row.attempts) == ("sent", 0)


async def test_crash_after_send_before_mark_gives_no_duplicate(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sent, then the process dies before recording it. After restart the row is sent
    again with the same idempotency key, and the receiver (which deduplicates by key)
    shows exactly one delivery."""
    user = await add_user(db, "1")
    await enqueue(db, "alert:1:t1", "1", user=user)
    clock = FakeClock(NOW)
    receiver = RecordingNotifier()
    original = OutboxRepository.mark_sent
    crashed: list[int] = []

    async def mark_sent_then_crash(self: OutboxRepository, row: Outbox, *, now: datetime) -> None:
        if not crashed:
            crashed.append(row.id)
            raise Crash
        await original(self, row, now=now)

    monkeypatch.setattr(OutboxRepository, "mark_sent", mark_sent_then_crash)
    with pytest.raises(Crash):
        await make_dispatcher(db, clock, receiver, lease_s=60).run_once()
    assert len(receiver.calls) == 1 and (await get_row(db, "alert:1:t1")).status == "sending"

    clock.advance(61)
    stats = await make_dispatcher(db, clock, receiver, lease_s=60).run_once()
    assert stats.sent == 1 and stats.requeued == 1
    assert [m.key for _, m in receiver.calls] == ["alert:1:t1", "alert:1:t1"]
    assert receiver.delivered == {"alert:1:t1": "1"} and receiver.duplicates_dropped == 1
    assert (await get_row(db, "alert:1:t1")).status == "sent"


async def test_unknown_outcome_is_never_resent(db: Database) -> None:
    """A timed-out send (Telegram ``TimedOut``) may have arrived: no blind resend."""
    user = await add_user(db, "1")
    await enqueue(db, "alert:1:t1", "1", user=user)
    clock = FakeClock(NOW)
    notifier = RecordingNotifier(
        responder=lambda r, m: DeliveryResult(DeliveryStatus.UNKNOWN, "TimedOut")
    )
    dispatcher = make_dispatcher(db, clock, notifier)
    assert (await dispatcher.run_once()).unknown == 1
    clock.advance(86_400)
    assert await dispatcher.run_once() == DispatchStats()
    assert len(notifier.calls) == 1
    row = await get_row(db, "alert:1:t1")
    assert (row.status, row.attempts, row.last_error) == ("unknown", 1, "TimedOut")


async def test_permanent_errors_dead_lettered_while_queue_keeps_moving(db: Database) -> None:
    alice, bob = await add_user(db, "1"), await add_user(db, "2")
    await enqueue(db, "bad", "1", user=alice)
    clock = FakeClock(NOW)

    def refuse_alice(recipient: str, _m: OutgoingMessage) -> DeliveryResult | None:
        if recipient == "1":
            return DeliveryResult(DeliveryStatus.PERMANENT, "400 Bad Request: can't parse")
        return None

    notifier = RecordingNotifier(responder=refuse_alice)
    dispatcher = make_dispatcher(
        db, clock, notifier, max_attempts=3, backoff_base_s=10, backoff_max_s=10
    )
    results = []
    for i in range(4):
        await enqueue(db, f"good{i}", "2", user=bob, now=clock.now())
        results.append(await dispatcher.run_once())
        clock.advance(10)
    assert [(s.failed, s.dead, s.sent) for s in results] == [
        (1, 0, 1),
        (1, 0, 1),
        (0, 1, 1),
        (0, 0, 1),
    ]
    bad = await get_row(db, "bad")
    assert (bad.status, bad.attempts) == ("dead", 3)
    assert bad.last_error == "400 Bad Request: can't parse"
    assert notifier.calls_to("1") == 3
    assert sorted(k for k, r in notifier.delivered.items() if r == "2") == [
        f"good{i}" for i in range(4)
    ]
    assert await statuses(db) == {"dead": 1, "sent": 4}


async def test_transient_failures_back_off_exponentially_with_jitter(db: Database) -> None:
    user = await add_user(db, "1")
    await enqueue(db, "k", "1", user=user)
    clock = FakeClock(NOW)
    notifier = RecordingNotifier(
        responder=lambda r, m: DeliveryResult(DeliveryStatus.TRANSIENT, "HTTP 502")
    )
    dispatcher = make_dispatcher(db, clock, notifier, backoff_base_s=5, max_attempts=5)
    delays = []
    for _ in range(4):
        assert (await dispatcher.run_once()).failed == 1
        row = await get_row(db, "k")
        delay = (row.next_attempt_at - clock.now()).total_seconds()
        delays.append(delay)
        clock.advance(delay - 0.001)
        assert await dispatcher.run_once() == DispatchStats()  # not due yet
        clock.advance(0.001)
    for attempt, delay in enumerate(delays):
        ceiling = 5 * 2**attempt
        assert ceiling / 2 <= delay <= ceiling
    assert (await dispatcher.run_once()).dead == 1
    row = await get_row(db, "k")
    assert (row.status, row.attempts) == ("dead", 5)


async def test_blocked_user_marked_unreachable_and_skipped(db: Database) -> None:
    alice, bob = await add_user(db, "1"), await add_user(db, "2")
    await enqueue(db, "a1", "1", user=alice)
    await enqueue(db, "a2", "1", user=alice)
    await enqueue(db, "b1", "2", user=bob)
    clock = FakeClock(NOW)

    def alice_blocked(recipient: str, _m: OutgoingMessage) -> DeliveryResult | None:
        if recipient == "1":
            return DeliveryResult(
                DeliveryStatus.UNREACHABLE, "Forbidden: bot was blocked by the user"
            )
        return None

    notifier = RecordingNotifier(responder=alice_blocked)
    dispatcher = make_dispatcher(db, clock, notifier)
    assert await dispatcher.run_once() == DispatchStats(claimed=3, messages=2, sent=1, dead=2)
    stored = await get_user(db, alice.id)
    assert not stored.reachable and stored.unreachable_since == NOW
    assert stored.unreachable_reason == "Forbidden: bot was blocked by the user"
    assert (await get_user(db, bob.id)).reachable

    # Later messages for Alice are skipped without calling the notifier; Bob's flow.
    clock.advance(60)
    await enqueue(db, "a3", "1", user=alice, now=clock.now())
    await enqueue(db, "b2", "2", user=bob, now=clock.now())
    assert await dispatcher.run_once() == DispatchStats(claimed=2, messages=1, sent=1, skipped=1)
    assert notifier.calls_to("1") == 1
    skipped = await get_row(db, "a3")
    assert skipped.status == "dead"
    assert skipped.last_error == (
        "skipped: recipient unreachable (Forbidden: bot was blocked by the user)"
    )
    assert set(notifier.delivered) == {"b1", "b2"}


async def test_unreachable_group_chat_does_not_mark_the_user(db: Database) -> None:
    user = await add_user(db, "1", chat_id=1)
    await enqueue(db, "group", "-555", user=user)
    notifier = RecordingNotifier(
        responder=lambda r, m: DeliveryResult(DeliveryStatus.UNREACHABLE, "bot was kicked")
    )
    assert (await make_dispatcher(db, FakeClock(NOW), notifier).run_once()).dead == 1
    assert (await get_user(db, user.id)).reachable


async def test_retry_after_defers_without_counting_attempts(db: Database) -> None:
    user = await add_user(db, "1")
    await enqueue(db, "k1", "1", user=user)
    clock = FakeClock(NOW)
    answers = [DeliveryResult(DeliveryStatus.RETRY_AFTER, "429", retry_after_s=30)]
    notifier = RecordingNotifier(responder=lambda r, m: answers.pop() if answers else None)
    dispatcher = make_dispatcher(db, clock, notifier)
    assert await dispatcher.run_once() == DispatchStats(claimed=1, messages=1, deferred=1)
    row = await get_row(db, "k1")
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending",
        0,
        NOW + timedelta(seconds=30),
    )

    # A new message for the same chat during the wait is held back too, unsent.
    clock.advance(10)
    await enqueue(db, "k2", "1", user=user, now=clock.now())
    assert await dispatcher.run_once() == DispatchStats(claimed=1, deferred=1)
    assert len(notifier.calls) == 1
    assert (await get_row(db, "k2")).next_attempt_at == NOW + timedelta(seconds=30)

    clock.set(NOW + timedelta(seconds=30))
    assert await dispatcher.run_once() == DispatchStats(claimed=2, messages=1, sent=2)
    assert row_keys(notifier.calls[-1][1]) == ["k1", "k2"]
    assert [(await get_row(db, k)).attempts for k in ("k1", "k2")] == [0, 0]


async def test_retry_after_is_capped(db: Database) -> None:
    await enqueue(db, "k", "1")
    notifier = RecordingNotifier(
        responder=lambda r, m: DeliveryResult(DeliveryStatus.RETRY_AFTER, retry_after_s=1e9)
    )
    await make_dispatcher(db, FakeClock(NOW), notifier, backoff_max_s=600).run_once()
    assert (await get_row(db, "k")).next_attempt_at == NOW + timedelta(seconds=600)


async def test_two_dispatchers_deliver_each_row_exactly_once(
    db: Database, database_url: str
) -> None:
    """Two dispatchers with their own engines and sessions drain one outbox at the same
    time (``FOR UPDATE SKIP LOCKED`` on PostgreSQL): every row is sent exactly once."""
    keys = [f"k{i}" for i in range(40)]
    for i, key in enumerate(keys):
        await enqueue(db, key, str(i))
    other_db = Database(create_engine(database_url))
    clock = FakeClock(NOW)
    first, second = RecordingNotifier(), RecordingNotifier()
    dispatchers = [
        make_dispatcher(db, clock, first, batch_size=3),
        make_dispatcher(other_db, clock, second, batch_size=3),
    ]

    async def drain(dispatcher: Dispatcher) -> int:
        sent = 0
        while (stats := await dispatcher.run_once()).claimed:
            sent += stats.sent
        return sent

    try:
        sent = await asyncio.gather(*(drain(d) for d in dispatchers))
    finally:
        await other_db.dispose()
    all_keys = [k for n in (first, second) for _, m in n.calls for k in row_keys(m)]
    assert sorted(all_keys) == sorted(keys)  # no row sent twice, none missing
    assert sum(sent) == 40 and all(n > 0 for n in sent)
    assert await statuses(db) == {"sent": 40}


async def test_rate_limit_defers_over_budget_rows(db: Database) -> None:
    for i in range(5):
        await enqueue(db, f"k{i}", str(i))
    clock = FakeClock(NOW)
    notifier = RecordingNotifier()
    dispatcher = make_dispatcher(db, clock, notifier, rate_limits={"telegram": 2.0})
    assert await dispatcher.run_once() == DispatchStats(claimed=5, messages=2, sent=2, deferred=3)
    waits = [(await get_row(db, f"k{i}")).next_attempt_at - NOW for i in range(2, 5)]
    assert waits == [timedelta(seconds=s) for s in (0.5, 1.0, 1.5)]
    assert [(await get_row(db, f"k{i}")).attempts for i in range(2, 5)] == [0, 0, 0]
    # Rows refused by a later pass queue up behind those already waiting.
    clock.advance(0.1)
    for i in (5, 6):
        await enqueue(db, f"k{i}", str(i), now=clock.now())
    assert await dispatcher.run_once() == DispatchStats(claimed=2, deferred=2)
    waits = [(await get_row(db, f"k{i}")).next_attempt_at - NOW for i in (5, 6)]
    assert waits == [timedelta(seconds=s) for s in (2.0, 2.5)]
    clock.set(NOW + timedelta(seconds=1.0))
    assert (await dispatcher.run_once()).sent == 2
    clock.set(NOW + timedelta(seconds=1.5))
    assert (await dispatcher.run_once()).sent == 1
    clock.set(NOW + timedelta(seconds=2.5))
    assert (await dispatcher.run_once()).sent == 2
    assert await statuses(db) == {"sent": 7}
    assert len(notifier.calls) == 7


def test_token_bucket() -> None:
    bucket = TokenBucket(0.5)  # one message every 2 s, burst 1
    assert bucket.try_take(NOW) and not bucket.try_take(NOW)
    assert bucket.wait_s(NOW) == 2.0 and bucket.wait_s(NOW, 2) == 4.0
    assert bucket.try_take(NOW + timedelta(seconds=2))
    later = NOW + timedelta(seconds=2)
    slots = [bucket.next_slot(later) for _ in range(3)]
    assert slots == [later + timedelta(seconds=s) for s in (2, 4, 6)]
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(float("nan"))


async def test_invalid_result_is_transient(db: Database) -> None:
    await enqueue(db, "k", "1")

    class Broken(RecordingNotifier):
        async def send(self, recipient: str, message: OutgoingMessage) -> DeliveryResult:
            return DeliveryResult("delivered?")  # type: ignore[arg-type]

    stats = await make_dispatcher(db, FakeClock(NOW), Broken()).run_once()
    assert stats.failed == 1
    assert (await get_row(db, "k")).last_error == "notifier returned no result"


async def test_raising_notifier_is_transient_and_logged(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await enqueue(db, "k", "1")
    row_id = (await get_row(db, "k")).id

    def boom(_r: str, _m: OutgoingMessage) -> DeliveryResult:
        raise RuntimeError("library bug")

    with caplog.at_level(logging.ERROR, logger="tools.delivery"):
        stats = await make_dispatcher(
            db, FakeClock(NOW), RecordingNotifier(responder=boom)
        ).run_once()
    assert stats == DispatchStats(claimed=1, messages=1, failed=1)
    row = await get_row(db, "k")
    assert (row.status, row.attempts, row.last_error) == (
        "failed",
        1,
        "notifier raised RuntimeError",
    )
    assert any(f"[{row_id}]" in r.getMessage() for r in caplog.records)


async def test_channels_without_a_notifier_are_left_to_other_processes(db: Database) -> None:
    """A process delivers only on its own channels; rows of other channels stay pending,
    untouched, for the process that serves them (no claim, no deferral, no attempt)."""
    await enqueue(db, "d", "42", channel="discord")
    await enqueue(db, "t", "1")
    clock = FakeClock(NOW)
    dispatcher = make_dispatcher(db, clock, RecordingNotifier())
    assert await dispatcher.run_once() == DispatchStats(claimed=1, messages=1, sent=1)
    row = await get_row(db, "d")
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, NOW)


async def test_migrated_chat_gets_new_recipient(db: Database) -> None:
    """Telegram: a group became a supergroup; the notifier resent to the new id and
    reports it. The user's chat id and the chat's subscriptions move, and later
    messages for the old id go to the new one."""
    user = await add_user(db, "7", chat_id=-100)
    async with db.transaction() as session:
        await ChatSubscriptionRepository(session).subscribe(
            "telegram", -100, "depeg", created_by_user_id=user.id, now=NOW
        )
    await enqueue(db, "k1", "-100", user=user)

    def migrated(recipient: str, _m: OutgoingMessage) -> DeliveryResult | None:
        if recipient == "-100":
            return DeliveryResult(DeliveryStatus.SENT, "migrated", new_recipient="-100999")
        return None

    clock = FakeClock(NOW)
    notifier = RecordingNotifier(responder=migrated)
    dispatcher = make_dispatcher(db, clock, notifier)
    assert (await dispatcher.run_once()).sent == 1
    assert (await get_user(db, user.id)).chat_id == -100999
    async with db.transaction(readonly=True) as session:
        repo = ChatSubscriptionRepository(session)
        assert await repo.get("telegram", -100, "depeg") is None
        assert await repo.get("telegram", -100999, "depeg") is not None

    await enqueue(db, "k2", "-100", user=user, now=clock.now())
    assert (await dispatcher.run_once()).sent == 1
    assert notifier.calls[-1][0] == "-100999"


async def test_group_waiting_past_half_its_lease_is_put_back(db: Database) -> None:
    await enqueue(db, "slow", "1")
    await enqueue(db, "next", "2")
    clock = FakeClock(NOW)

    def slow(recipient: str, _m: OutgoingMessage) -> DeliveryResult | None:
        clock.advance(70)  # the first send takes longer than half of the 120 s lease
        return None

    notifier = RecordingNotifier(responder=slow)
    dispatcher = make_dispatcher(db, clock, notifier, concurrency=1, lease_s=120)
    assert await dispatcher.run_once() == DispatchStats(claimed=2, messages=1, sent=1, deferred=1)
    waiting = await get_row(db, "next")
    assert (waiting.status, waiting.attempts) == ("pending", 0)
    assert (await dispatcher.run_once()).sent == 1


async def test_run_forever_runs_when_woken_and_stops(db: Database) -> None:
    clock = FakeClock(NOW)
    notifier = RecordingNotifier()
    dispatcher = make_dispatcher(db, clock, notifier)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run_forever(stop, interval_s=3600))
    await enqueue(db, "k", "1")
    dispatcher.wake()
    await asyncio.wait_for(notifier.arrived.wait(), timeout=30)
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    assert (await get_row(db, "k")).status == "sent"


async def test_stop_puts_unsent_groups_back(db: Database) -> None:
    await enqueue(db, "first", "1")
    await enqueue(db, "second", "2")
    clock = FakeClock(NOW)
    stop = asyncio.Event()

    def stop_after_first(_r: str, _m: OutgoingMessage) -> DeliveryResult | None:
        stop.set()  # SIGTERM arrives during the first send
        return None

    notifier = RecordingNotifier(responder=stop_after_first)
    dispatcher = make_dispatcher(db, clock, notifier, concurrency=1)
    await asyncio.wait_for(dispatcher.run_forever(stop, interval_s=3600), timeout=30)
    assert len(notifier.calls) == 1
    assert (await get_row(db, "first")).status == "sent"
    second = await get_row(db, "second")
    assert (second.status, second.attempts, second.next_attempt_at) == ("pending", 0, NOW)
