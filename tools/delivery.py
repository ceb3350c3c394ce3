"""The outbox dispatcher: delivers due outbox rows through each channel's notifier.

One :meth:`Dispatcher.run_once` pass:

1. **Claim** (one short transaction, committed before anything is sent): rows left in
   ``sending`` by a dispatcher that died (lease ran out) become pending again; up to
   ``batch_size`` due rows are claimed with a lease of ``lease_s`` seconds
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several dispatchers get disjoint rows);
   rows whose user is already marked unreachable are dead-lettered right away
   ("skipped"), without calling a notifier.
2. **Group**: the claimed rows are grouped by (channel, recipient) and each group becomes
   ONE message (:func:`tools.notify.merge_messages`: "3 alerts:" then each). Digests are
   complete documents with their own chart and are sent on their own.
3. **Plan**: a group is deferred, without counting an attempt, when its channel has no
   notifier here, its recipient asked us to wait (an earlier ``RETRY_AFTER``), or the
   channel's token bucket is empty (per-channel rate limit, messages per second).
4. **Send and settle**: each remaining group is sent (a few at a time) and its rows are
   settled in one transaction right after its send:

   ============  ==================================================================
   SENT          ``sent``
   RETRY_AFTER   deferred to now + ``retry_after_s`` (capped at ``backoff_max_s``),
                 no attempt counted; the recipient's later rows wait as well
   TRANSIENT     ``failed``, retried after an exponential backoff with jitter;
                 dead-lettered after ``max_attempts``
   PERMANENT     the same as TRANSIENT: the platform refused the message (a 400), which
                 a later attempt rarely fixes, so the row is retried a few times with
                 backoff and then dead-lettered while the rest of the queue keeps moving.
                 Cases that are certainly final (blocked, gone) are UNREACHABLE instead.
   UNREACHABLE   ``dead`` at once; if the address is the user's own (their private chat
                 or platform user id on that platform) the user is marked unreachable,
                 so their later rows are skipped. A group chat or webhook that is gone
                 dead-letters only its own rows.
   UNKNOWN       ``unknown``: maybe delivered; never resent automatically
   ============  ==================================================================

   A notifier that raises is logged with the row ids and treated as TRANSIENT; it never
   stops the loop. A ``new_recipient`` in a result (a Telegram group became a
   supergroup) updates the user's ``chat_id`` and the chat's subscriptions, and this
   dispatcher sends the recipient's later rows to the new address.

Exactly-once where it can be known: the idempotency key of the row (or, for a merged
message, a key derived from all its rows' keys) travels with the message, so a receiver
that deduplicates (the webhook's ``Idempotency-Key``) drops the resend that follows a
crash between sending and settling. Platforms without such keys (Telegram) report a
timed-out send as UNKNOWN and the row is never resent.

Rows of a channel without a notifier in this process are deferred by
``unknown_channel_defer_s`` (10 minutes by default) with one warning per channel,
rather than dead-lettered: the channel may be configured again after a restart, and
messages are not lost meanwhile.

``lease_s`` must exceed the longest send (notifier timeouts); groups whose lease is
half used up before their turn are put back untouched instead of being sent late, so
another dispatcher cannot reclaim a row that is still being sent.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from storage import (
    ChatSubscriptionRepository,
    Database,
    OutboxRepository,
    UserRepository,
)
from storage.models import Outbox, User
from storage.repositories.outbox import DEFAULT_MAX_ATTEMPTS
from tools.clock import Clock, SystemClock
from tools.notify import (
    DeliveryResult,
    DeliveryStatus,
    Notifier,
    OutgoingMessage,
    merge_messages,
    message_from_payload,
)

logger = logging.getLogger(__name__)

__all__ = ["SOLO_KINDS", "DispatchStats", "Dispatcher", "TokenBucket"]

#: Message kinds never merged with others (complete documents with their own chart).
SOLO_KINDS = frozenset({"digest"})
#: How far a row of a channel without a notifier is pushed back.
DEFAULT_UNKNOWN_CHANNEL_DEFER_S = 600.0
_STATUSES = frozenset(DeliveryStatus)


@dataclass(frozen=True, slots=True)
class DispatchStats:
    """What one :meth:`Dispatcher.run_once` pass did (counts of outbox rows).

    Attributes:
        claimed: Rows claimed for this pass.
        messages: Notifier calls made (one per group).
        sent: Rows delivered.
        failed: Rows that failed and will be retried.
        dead: Rows dead-lettered (attempts used up, or unreachable).
        deferred: Rows put back without counting an attempt (rate limit, retry-after,
            no notifier for the channel, lease running out, stopping).
        unknown: Rows whose outcome is unknown (never resent).
        skipped: Rows dead-lettered unsent because their user is unreachable.
        requeued: Rows whose lease had expired (a crashed dispatcher), made pending again.
        errors: Rows whose outcome could not be recorded (database error); their lease
            expires and they are retried.
    """

    claimed: int = 0
    messages: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0
    unknown: int = 0
    skipped: int = 0
    requeued: int = 0
    errors: int = 0


class TokenBucket:
    """A token bucket: ``rate`` tokens per second, holding at most ``burst``.

    Messages over budget are not dropped: :meth:`next_slot` hands out return times
    spaced ``1/rate`` apart, so deferred messages come back one by one instead of all at
    once (and those deferred by a later pass queue up behind them).

    Args:
        rate: Messages per second (positive).
        burst: Bucket size (default ``max(1, rate)``: one second's worth).

    Raises:
        ValueError: A rate or burst that is not a positive finite number.
    """

    def __init__(self, rate: float, *, burst: float | None = None) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate limit must be a positive number of messages/s, not {rate}")
        capacity = max(1.0, rate) if burst is None else burst
        if not (math.isfinite(capacity) and capacity >= 1):
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._updated: datetime | None = None
        self._horizon: datetime | None = None

    def _refill(self, now: datetime) -> None:
        if self._updated is not None and now > self._updated:
            elapsed = (now - self._updated).total_seconds()
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        if self._updated is None or now > self._updated:
            self._updated = now

    def try_take(self, now: datetime) -> bool:
        """Take one token if there is one."""
        self._refill(now)
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def wait_s(self, now: datetime, needed: float = 1.0) -> float:
        """Seconds until ``needed`` tokens are available (without taking any)."""
        self._refill(now)
        return max(0.0, (needed - self._tokens) / self.rate)

    def next_slot(self, now: datetime) -> datetime:
        """When a message refused now should come back (each call gets a later slot)."""
        slot = now + timedelta(seconds=self.wait_s(now))
        if self._horizon is not None and self._horizon > slot:
            slot = self._horizon
        self._horizon = slot + timedelta(seconds=1 / self.rate)
        return slot


@dataclass(slots=True)
class _Group:
    """Claimed rows that go out as one message."""

    channel: str
    recipient: str
    rows: list[Outbox] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [row.id for row in self.rows]


def _is_personal(user: User, channel: str, recipient: str) -> bool:
    """Whether ``recipient`` on ``channel`` is the user's own address (not a group chat)."""
    if user.platform != channel:
        return False
    own = {user.platform_user_id}
    if user.chat_id is not None:
        own.add(str(user.chat_id))
    return recipient in own


def _as_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _payload(row: Outbox) -> Mapping[str, Any]:
    payload = row.payload
    if isinstance(payload, Mapping):
        return payload
    return {"text": "" if payload is None else str(payload)}


class Dispatcher:
    """Delivers the outbox (see the module docstring for one pass in detail).

    Args:
        db: The database.
        notifiers: One notifier per channel name (``"console"``, ``"webhook"``...).
        clock: Time source.
        batch_size: Rows claimed per pass.
        lease_s: How long a claim lasts; must exceed the longest send.
        max_attempts: Failed attempts before a row is dead-lettered.
        backoff_base_s: Backoff after the first failure (doubles each time).
        backoff_max_s: Longest backoff, and the cap on a ``Retry-After`` wait.
        rate_limits: Messages per second per channel (token bucket); unlimited if absent.
        concurrency: Messages sent at the same time.
        unknown_channel_defer_s: How far rows of a channel without a notifier are pushed
            back.
        rng: Random source for the backoff jitter (seed it in tests).
    """

    def __init__(
        self,
        db: Database,
        notifiers: Mapping[str, Notifier],
        *,
        clock: Clock | None = None,
        batch_size: int = 100,
        lease_s: float = 120.0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_base_s: float = 5.0,
        backoff_max_s: float = 3600.0,
        rate_limits: Mapping[str, float] | None = None,
        concurrency: int = 4,
        unknown_channel_defer_s: float = DEFAULT_UNKNOWN_CHANNEL_DEFER_S,
        rng: random.Random | None = None,
    ) -> None:
        if batch_size < 1 or concurrency < 1 or max_attempts < 1:
            raise ValueError("batch_size, concurrency and max_attempts must be at least 1")
        if not (lease_s > 0 and backoff_base_s >= 0 and backoff_max_s >= backoff_base_s):
            raise ValueError("lease_s must be positive and 0 <= backoff_base_s <= backoff_max_s")
        self._db = db
        self._notifiers = dict(notifiers)
        self._clock = clock or SystemClock()
        self._batch_size = batch_size
        self._lease_s = lease_s
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._buckets = {ch: TokenBucket(rate) for ch, rate in (rate_limits or {}).items()}
        self._unknown_channel_defer_s = unknown_channel_defer_s
        # Jitter only spreads retries out; it is not a security feature.
        self._rng = rng or random.Random()  # noqa: S311
        self._semaphore = asyncio.Semaphore(concurrency)
        self._run_lock = asyncio.Lock()
        self._wake_event = asyncio.Event()
        self._stop: asyncio.Event | None = None
        self._paused: dict[tuple[str, str], datetime] = {}
        self._redirects: dict[tuple[str, str], str] = {}
        self._warned_channels: set[str] = set()

    # ----------------------------------------------------------------------- running

    def wake(self) -> None:
        """Ask :meth:`run_forever` for a pass now (e.g. right after a market tick)."""
        self._wake_event.set()

    async def run_forever(self, stop: asyncio.Event, interval_s: float = 5.0) -> None:
        """Run passes until ``stop`` is set: when woken, or every ``interval_s`` seconds.

        A full batch is followed by another pass at once. Errors of a pass (database
        down) are logged and the loop goes on. When ``stop`` is set during a pass, groups
        not yet sent are put back untouched and the loop ends after the pass.

        Args:
            stop: Set it to end the loop (SIGTERM).
            interval_s: Longest pause between passes.
        """
        self._stop = stop
        try:
            while not stop.is_set():
                self._wake_event.clear()
                try:
                    stats = await self.run_once()
                except Exception:
                    logger.exception("outbox dispatch pass failed; next try in %.0f s", interval_s)
                    stats = None
                if stop.is_set():
                    break
                if stats is not None and stats.claimed >= self._batch_size:
                    continue
                await self._wait(stop, interval_s)
        finally:
            self._stop = None

    async def _wait(self, stop: asyncio.Event, interval_s: float) -> None:
        waiters = [
            asyncio.ensure_future(self._wake_event.wait()),
            asyncio.ensure_future(stop.wait()),
        ]
        try:
            await asyncio.wait(waiters, timeout=interval_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def run_once(self) -> DispatchStats:
        """Claim due rows, send one message per recipient, settle every row.

        Returns:
            Counts of what happened.

        Raises:
            StorageError: The claim transaction failed (nothing was sent).
        """
        async with self._run_lock:
            counts: Counter[str] = Counter()
            claimed_at = self._clock.now()
            self._paused = {k: t for k, t in self._paused.items() if t > claimed_at}
            async with self._db.transaction() as session:
                outbox = self._outbox(session)
                requeued = await outbox.requeue_stale_sending(claimed_at)
                rows = list(
                    await outbox.claim_due(
                        limit=self._batch_size,
                        now=claimed_at,
                        lease_seconds=self._lease_s,
                        channels=list(self._notifiers),
                    )
                )
                kept, skipped = await self._skip_unreachable(session, outbox, rows)
            counts.update(requeued=requeued, claimed=len(rows), skipped=skipped)
            if requeued:
                logger.warning(
                    "requeued %d outbox rows whose lease ran out (a dispatcher stopped "
                    "mid-delivery); they are sent again",
                    requeued,
                )
            to_send, deferrals = self._plan(self._group(kept), claimed_at)
            if deferrals:
                counts.update(await self._defer(deferrals))
            if to_send:
                results = await asyncio.gather(
                    *(self._deliver(group, claimed_at) for group in to_send)
                )
                for result in results:
                    counts.update(result)
            stats = DispatchStats(**{f.name: counts[f.name] for f in fields(DispatchStats)})
            if stats.claimed or stats.requeued:
                logger.info("outbox pass: %s", stats)
            return stats

    # ------------------------------------------------------------------ claim & plan

    def _outbox(self, session: Any) -> OutboxRepository:
        return OutboxRepository(session, max_attempts=self._max_attempts)

    async def _skip_unreachable(
        self, session: Any, outbox: OutboxRepository, rows: list[Outbox]
    ) -> tuple[list[Outbox], int]:
        """Dead-letter rows addressed to users already marked unreachable."""
        users_repo = UserRepository(session)
        users: dict[int, User] = {}
        for user_id in sorted({r.user_id for r in rows if r.user_id is not None}):
            user = await users_repo.get(user_id)
            if user is not None:
                users[user_id] = user
        kept: list[Outbox] = []
        skipped = 0
        for row in rows:
            user = users.get(row.user_id) if row.user_id is not None else None
            if (
                user is not None
                and not user.reachable
                and _is_personal(user, row.channel, row.recipient)
            ):
                reason = user.unreachable_reason or "no reason recorded"
                await outbox.mark_dead(row, f"skipped: recipient unreachable ({reason})")
                skipped += 1
            else:
                kept.append(row)
        if skipped:
            logger.info("skipped %d outbox rows of unreachable users", skipped)
        return kept, skipped

    def _resolve(self, channel: str, recipient: str) -> str:
        """Follow recipient moves learnt from ``new_recipient`` results."""
        for _ in range(8):
            moved = self._redirects.get((channel, recipient))
            if moved is None:
                break
            recipient = moved
        return recipient

    def _group(self, rows: Sequence[Outbox]) -> list[_Group]:
        groups: dict[tuple[str, str, int], _Group] = {}
        for row in rows:
            recipient = self._resolve(row.channel, row.recipient)
            solo = row.id if _payload(row).get("kind") in SOLO_KINDS else 0
            group = groups.setdefault(
                (row.channel, recipient, solo), _Group(row.channel, recipient)
            )
            group.rows.append(row)
        return list(groups.values())

    def _plan(
        self, groups: list[_Group], now: datetime
    ) -> tuple[list[_Group], list[tuple[_Group, datetime]]]:
        """Split groups into those to send now and those to put back (and until when)."""
        to_send: list[_Group] = []
        deferrals: list[tuple[_Group, datetime]] = []
        for group in groups:
            if group.channel not in self._notifiers:
                if group.channel not in self._warned_channels:
                    self._warned_channels.add(group.channel)
                    logger.warning(
                        "no notifier for channel %r: its messages wait in the outbox "
                        "(retried every %.0f s)",
                        group.channel,
                        self._unknown_channel_defer_s,
                    )
                until = now + timedelta(seconds=self._unknown_channel_defer_s)
                deferrals.append((group, until))
                continue
            paused_until = self._paused.get((group.channel, group.recipient))
            if paused_until is not None and paused_until > now:
                deferrals.append((group, paused_until))
                continue
            bucket = self._buckets.get(group.channel)
            if bucket is not None and not bucket.try_take(now):
                deferrals.append((group, bucket.next_slot(now)))
                continue
            to_send.append(group)
        return to_send, deferrals

    async def _defer(self, deferrals: list[tuple[_Group, datetime]]) -> Counter[str]:
        """Put rows back without counting an attempt, in one transaction."""
        async with self._db.transaction() as session:
            outbox = self._outbox(session)
            for group, until in deferrals:
                for row in group.rows:
                    await outbox.defer(row, until)
        return Counter(deferred=sum(len(group.rows) for group, _ in deferrals))

    # ----------------------------------------------------------------- send & settle

    @staticmethod
    def _build_message(rows: list[Outbox]) -> OutgoingMessage:
        return merge_messages(
            [message_from_payload(_payload(row), key=row.idempotency_key) for row in rows]
        )

    async def _deliver(self, group: _Group, claimed_at: datetime) -> Counter[str]:
        async with self._semaphore:
            now = self._clock.now()
            half_lease = claimed_at + timedelta(seconds=self._lease_s / 2)
            if self._stopping() or now >= half_lease:
                if not self._stopping():
                    logger.warning(
                        "lease of outbox rows %s half used before sending; put back", group.ids
                    )
                return await self._defer([(group, now)])
            notifier = self._notifiers[group.channel]
            message = await asyncio.to_thread(self._build_message, group.rows)
            try:
                result = await notifier.send(group.recipient, message)
            except Exception as exc:
                logger.exception(
                    "notifier %r raised while delivering outbox rows %s", group.channel, group.ids
                )
                result = DeliveryResult(
                    DeliveryStatus.TRANSIENT, f"notifier raised {type(exc).__name__}"
                )
            if not isinstance(result, DeliveryResult) or result.status not in _STATUSES:
                logger.error(
                    "notifier %r returned %r for outbox rows %s", group.channel, result, group.ids
                )
                result = DeliveryResult(DeliveryStatus.TRANSIENT, "notifier returned no result")
            counts: Counter[str] = Counter(messages=1)
            try:
                counts.update(await self._settle(group, result))
            except Exception:
                logger.exception(
                    "could not record outcome %s of outbox rows %s; retried after the lease",
                    result.status,
                    group.ids,
                )
                counts["errors"] += len(group.rows)
            return counts

    def _backoff_s(self, attempts_before: int) -> float:
        """Equal-jitter exponential backoff: half the ceiling fixed, half random."""
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2 ** min(attempts_before, 40))
        return ceiling / 2 + self._rng.uniform(0.0, ceiling / 2)

    def _retry_after_s(self, value: float | None) -> float:
        if value is None or not math.isfinite(value) or value < 0:
            return self._backoff_base_s
        return min(value, self._backoff_max_s)

    async def _settle(self, group: _Group, result: DeliveryResult) -> Counter[str]:
        """Record the outcome of one send for all rows of its group, in one transaction."""
        now = self._clock.now()
        status = DeliveryStatus(result.status)
        detail = result.detail or status.value
        counts: Counter[str] = Counter()
        async with self._db.transaction() as session:
            outbox = self._outbox(session)
            if status is DeliveryStatus.SENT:
                for row in group.rows:
                    await outbox.mark_sent(row, now=now)
                counts["sent"] += len(group.rows)
            elif status is DeliveryStatus.RETRY_AFTER:
                until = now + timedelta(seconds=self._retry_after_s(result.retry_after_s))
                self._paused[(group.channel, group.recipient)] = until
                for row in group.rows:
                    await outbox.defer(row, until)
                counts["deferred"] += len(group.rows)
                logger.info(
                    "%s asked to wait until %s; outbox rows %s deferred",
                    group.channel,
                    until.isoformat(),
                    group.ids,
                )
            elif status is DeliveryStatus.UNKNOWN:
                for row in group.rows:
                    await outbox.mark_unknown(row, detail)
                counts["unknown"] += len(group.rows)
                logger.warning(
                    "outcome of outbox rows %s unknown (%s): not resent", group.ids, detail
                )
            elif status is DeliveryStatus.UNREACHABLE:
                for row in group.rows:
                    await outbox.mark_dead(row, detail)
                counts["dead"] += len(group.rows)
                marked = await self._mark_unreachable(session, group, detail, now)
                logger.warning(
                    "recipient on %s unreachable (%s): outbox rows %s dead-lettered%s",
                    group.channel,
                    detail,
                    group.ids,
                    f", users {marked} marked unreachable" if marked else "",
                )
            else:  # TRANSIENT, PERMANENT
                for row in group.rows:
                    retry_at = now + timedelta(seconds=self._backoff_s(row.attempts))
                    await outbox.mark_failed(row, detail, retry_at)
                    counts["dead" if row.status == "dead" else "failed"] += 1
                logger.warning(
                    "delivery of outbox rows %s failed (%s, %s)%s",
                    group.ids,
                    status.value,
                    detail,
                    f"; {counts['dead']} dead-lettered" if counts["dead"] else "",
                )
            if result.new_recipient and result.new_recipient != group.recipient:
                await self._move_recipient(session, group, result.new_recipient)
        return counts

    async def _mark_unreachable(
        self, session: Any, group: _Group, reason: str, now: datetime
    ) -> list[int]:
        """Mark the users whose own address the group went to as unreachable."""
        users = UserRepository(session)
        marked: list[int] = []
        for user_id in sorted({r.user_id for r in group.rows if r.user_id is not None}):
            user = await users.get(user_id)
            if user is None:
                continue
            addresses = {group.recipient} | {r.recipient for r in group.rows}
            if any(_is_personal(user, group.channel, a) for a in addresses):
                await users.mark_unreachable(user, reason, now)
                marked.append(user_id)
        return marked

    async def _move_recipient(self, session: Any, group: _Group, new: str) -> None:
        """Record that ``group.recipient`` moved to ``new`` (chat migrated)."""
        old = group.recipient
        self._redirects[(group.channel, old)] = new
        old_id, new_id = _as_int(old), _as_int(new)
        if old_id is not None and new_id is not None:
            users = UserRepository(session)
            for user_id in sorted({r.user_id for r in group.rows if r.user_id is not None}):
                user = await users.get(user_id)
                if user is not None and user.platform == group.channel and user.chat_id == old_id:
                    await users.update(user, chat_id=new_id)
            await ChatSubscriptionRepository(session).migrate_chat(group.channel, old_id, new_id)
        # Undelivered rows follow the new address (also after a restart); rows claimed by
        # another dispatcher right now are redirected in memory (``_resolve``).
        await OutboxRepository(session).reroute(group.channel, old, new)
        logger.info("a %s recipient moved; later messages go to the new address", group.channel)
