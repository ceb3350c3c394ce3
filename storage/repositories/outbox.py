"""The transactional outbox: messages are written with the change that caused them and
delivered later by a dispatcher.

Row life cycle::

    pending ──claim_due──▶ sending ──mark_sent──▶ sent
       ▲  ▲                  │  │
       │  └──defer───────────┘  ├──mark_failed──▶ failed ──claim_due──▶ sending ...
       │                        │        (after max_attempts) ──▶ dead
       └─requeue_stale_sending──┤──mark_dead──▶ dead      (permanent: user blocked the bot)
         (lease ran out: crash) └──mark_unknown──▶ unknown (timed out: maybe delivered)

``claim_due`` gives each row to exactly one dispatcher: on PostgreSQL with
``SELECT ... FOR UPDATE SKIP LOCKED``; on SQLite ``BEGIN IMMEDIATE`` already serialises
claimers. A claim is a lease: ``next_attempt_at`` of a ``sending`` row is the time the
lease ends, after which :meth:`OutboxRepository.requeue_stale_sending` makes it pending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Outbox
from storage.repositories._base import MAX_ERROR_CHARS, Repository, dialect_insert, translating

__all__ = ["DEFAULT_MAX_ATTEMPTS", "NewMessage", "OutboxRepository"]

#: Failed attempts after which a row is dead-lettered.
DEFAULT_MAX_ATTEMPTS = 5
_CLAIMABLE = ("pending", "failed")


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to queue in bulk (see :meth:`OutboxRepository.enqueue_many`)."""

    channel: str
    recipient: str
    payload: Mapping[str, Any]
    idempotency_key: str
    user_id: int | None = None


class OutboxRepository(Repository):
    """Enqueue, claim and settle outgoing messages.

    Args:
        session: The unit of work's session.
        max_attempts: Failed attempts before a row goes to ``dead``.
    """

    def __init__(self, session: AsyncSession, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        super().__init__(session)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts

    async def get(self, outbox_id: int) -> Outbox | None:
        """Return the row with this id, or ``None``."""
        with translating("loading an outbox row"):
            return await self.session.get(Outbox, outbox_id)

    async def get_by_key(self, idempotency_key: str) -> Outbox | None:
        """Return the row with this idempotency key, or ``None``."""
        stmt = select(Outbox).where(Outbox.idempotency_key == idempotency_key)
        with translating("loading an outbox row"):
            return (await self.session.execute(stmt)).scalar_one_or_none()

    async def enqueue(
        self,
        channel: str,
        recipient: str,
        payload: Mapping[str, Any],
        idempotency_key: str,
        *,
        user_id: int | None = None,
        now: datetime,
        not_before: datetime | None = None,
    ) -> tuple[Outbox, bool]:
        """Queue a message unless one with the same idempotency key exists.

        Args:
            channel: Delivery channel (``"telegram"``, ``"discord"``, ``"console"``).
            recipient: Chat or user id on that channel, as text.
            payload: What to send (rendered by the channel's sender).
            idempotency_key: Identifies the message (e.g. alert id + firing time).
            user_id: The user the message is for, if any.
            now: Current time.
            not_before: Earliest delivery time (default ``now``).

        Returns:
            ``(row, created)``; on a duplicate key the existing row and ``False``.
        """
        stmt = (
            dialect_insert(self.session, Outbox)
            .values(
                channel=channel,
                recipient=recipient,
                user_id=user_id,
                payload=dict(payload),
                idempotency_key=idempotency_key,
                status="pending",
                attempts=0,
                next_attempt_at=not_before or now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Outbox.id)
        )
        with translating("queueing a message"):
            new_id = (await self.session.execute(stmt)).scalar_one_or_none()
        row = await self.get_by_key(idempotency_key)
        if row is None:  # pragma: no cover - the row exists after the upsert
            raise RuntimeError("outbox row missing after insert")
        return row, new_id is not None

    async def enqueue_many(self, messages: Sequence[NewMessage], *, now: datetime) -> int:
        """Queue many messages in one statement; keys already queued are skipped.

        Returns:
            How many rows were created.
        """
        if not messages:
            return 0
        rows = [
            {
                "channel": m.channel,
                "recipient": m.recipient,
                "user_id": m.user_id,
                "payload": dict(m.payload),
                "idempotency_key": m.idempotency_key,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for m in messages
        ]
        stmt = (
            dialect_insert(self.session, Outbox)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Outbox.id)
        )
        with translating("queueing messages"):
            return len((await self.session.execute(stmt, rows)).all())

    async def claim_due(
        self,
        *,
        limit: int,
        now: datetime,
        lease_seconds: float = 300,
        channels: Sequence[str] | None = None,
    ) -> Sequence[Outbox]:
        """Atomically take up to ``limit`` due rows (``pending``/``failed``) for sending.

        The rows become ``sending`` with a lease until ``now + lease_seconds`` (stored in
        ``next_attempt_at``). Concurrent claimers get disjoint rows. Commit the
        transaction before sending.

        Args:
            limit: Most rows to take.
            now: Current time.
            lease_seconds: How long the claim lasts before another dispatcher may retry.
            channels: Only rows for these channels (those this process can deliver to);
                all channels when ``None``.

        Returns:
            The claimed rows, oldest due first.
        """
        due = select(Outbox.id).where(Outbox.status.in_(_CLAIMABLE), Outbox.next_attempt_at <= now)
        if channels is not None:
            due = due.where(Outbox.channel.in_(list(channels)))
        due = (
            due.order_by(Outbox.next_attempt_at, Outbox.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with translating("claiming messages"):
            ids = list((await self.session.scalars(due)).all())
            if not ids:
                return []
            await self.session.execute(
                update(Outbox)
                .where(Outbox.id.in_(ids))
                .values(status="sending", next_attempt_at=now + timedelta(seconds=lease_seconds))
            )
            rows = await self.session.scalars(
                select(Outbox)
                .where(Outbox.id.in_(ids))
                .order_by(Outbox.id)
                .execution_options(populate_existing=True)
            )
            return rows.all()

    async def mark_sent(self, row: Outbox, *, now: datetime) -> None:
        """The message was delivered."""
        await self._update(
            row, {"status": "sent", "sent_at": now, "last_error": None}, "settling a message"
        )

    async def mark_failed(self, row: Outbox, error: str, next_attempt_at: datetime) -> None:
        """A delivery attempt failed: retry at ``next_attempt_at``, or dead-letter the row
        once it has failed ``max_attempts`` times.

        Args:
            row: The claimed row.
            error: Operator-facing reason (truncated).
            next_attempt_at: When to try again (the caller computes the backoff).
        """
        attempts = row.attempts + 1
        status = "dead" if attempts >= self.max_attempts else "failed"
        await self._update(
            row,
            {
                "status": status,
                "attempts": attempts,
                "last_error": error[:MAX_ERROR_CHARS],
                "next_attempt_at": next_attempt_at,
            },
            "settling a message",
        )

    async def mark_dead(self, row: Outbox, error: str) -> None:
        """Give up at once (permanent error, e.g. the user blocked the bot)."""
        await self._update(
            row,
            {"status": "dead", "attempts": row.attempts + 1, "last_error": error[:MAX_ERROR_CHARS]},
            "settling a message",
        )

    async def mark_unknown(self, row: Outbox, error: str | None = None) -> None:
        """The outcome is unknown (timed out after sending): never resent automatically."""
        await self._update(
            row,
            {
                "status": "unknown",
                "attempts": row.attempts + 1,
                "last_error": error[:MAX_ERROR_CHARS] if error else None,
            },
            "settling a message",
        )

    async def defer(self, row: Outbox, next_attempt_at: datetime) -> None:
        """Put a claimed row back without counting an attempt (e.g. rate limited)."""
        await self._update(
            row, {"status": "pending", "next_attempt_at": next_attempt_at}, "settling a message"
        )

    async def requeue_stale_sending(self, older_than: datetime) -> int:
        """Make ``sending`` rows whose lease ended at or before ``older_than`` pending again.

        Used after a crash between claim and settlement: such messages may or may not
        have gone out; they are sent (again) rather than lost.

        Args:
            older_than: Usually the current time.

        Returns:
            The number of rows requeued.
        """
        stmt = (
            update(Outbox)
            .where(Outbox.status == "sending", Outbox.next_attempt_at <= older_than)
            .values(status="pending", next_attempt_at=older_than)
            .returning(Outbox.id)
        )
        with translating("requeueing messages"):
            return len((await self.session.execute(stmt)).all())

    async def reroute(self, channel: str, old_recipient: str, new_recipient: str) -> int:
        """Point undelivered rows of a recipient at a new one (a Telegram group became a
        supergroup and got a new chat id).

        Returns:
            The number of rows changed.
        """
        stmt = (
            update(Outbox)
            .where(
                Outbox.channel == channel,
                Outbox.recipient == old_recipient,
                Outbox.status.in_(("pending", "failed", "sending")),
            )
            .values(recipient=new_recipient)
            .returning(Outbox.id)
        )
        with translating("rerouting messages"):
            return len((await self.session.execute(stmt)).all())

    async def dead_letter_user(self, user_id: int, reason: str) -> int:
        """Dead-letter every undelivered row for a user who cannot be reached.

        Returns:
            The number of rows dead-lettered.
        """
        stmt = (
            update(Outbox)
            .where(Outbox.user_id == user_id, Outbox.status.in_(_CLAIMABLE))
            .values(status="dead", last_error=reason[:MAX_ERROR_CHARS])
            .returning(Outbox.id)
        )
        with translating("dead-lettering messages"):
            return len((await self.session.execute(stmt)).all())

    async def count_by_status(self) -> dict[str, int]:
        """Row counts per status (for health checks and metrics)."""
        stmt = select(Outbox.status, func.count()).group_by(Outbox.status)
        with translating("counting messages"):
            return {status: int(n) for status, n in (await self.session.execute(stmt)).all()}
