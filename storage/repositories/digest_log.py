"""The digest log: at most one daily digest per user and local date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select

from storage.models import DigestLog
from storage.repositories._base import Repository, dialect_insert, translating

__all__ = ["DigestLogRepository"]


class DigestLogRepository(Repository):
    """Record sent digests so restarts and overlapping runs never send twice."""

    async def try_record(self, user_id: int, local_date: date, *, now: datetime) -> bool:
        """Claim the digest of ``user_id`` for ``local_date``.

        Race-safe (``INSERT ... ON CONFLICT DO NOTHING``): of any number of concurrent
        callers exactly one gets ``True``. Record and enqueue the digest in the same
        transaction, so a rollback frees the claim again.

        Returns:
            ``True`` for the first caller, ``False`` if already recorded.
        """
        stmt = (
            dialect_insert(self.session, DigestLog)
            .values(user_id=user_id, local_date=local_date, sent_at=now)
            .on_conflict_do_nothing(index_elements=["user_id", "local_date"])
            .returning(DigestLog.id)
        )
        with translating("recording a digest"):
            return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def try_record_many(
        self, claims: Sequence[tuple[int, date]], *, now: datetime
    ) -> set[tuple[int, date]]:
        """Claim several ``(user_id, local_date)`` digests at once, as :meth:`try_record`.

        Pass the claims sorted (every caller in the same order, so concurrent claimers on
        PostgreSQL wait for each other instead of deadlocking).

        Returns:
            The claims this caller got; the others were already recorded.
        """
        if not claims:
            return set()
        rows = [{"user_id": u, "local_date": d, "sent_at": now} for u, d in claims]
        stmt = (
            dialect_insert(self.session, DigestLog)
            .on_conflict_do_nothing(index_elements=["user_id", "local_date"])
            .returning(DigestLog.user_id, DigestLog.local_date)
        )
        with translating("recording digests"):
            return {(u, d) for u, d in (await self.session.execute(stmt, rows)).all()}

    async def recorded(
        self, user_ids: Sequence[int], local_dates: Sequence[date]
    ) -> set[tuple[int, date]]:
        """The ``(user_id, local_date)`` pairs on record among these users and dates."""
        if not user_ids or not local_dates:
            return set()
        stmt = select(DigestLog.user_id, DigestLog.local_date).where(
            DigestLog.user_id.in_(list(user_ids)), DigestLog.local_date.in_(list(local_dates))
        )
        with translating("loading digest records"):
            return {(u, d) for u, d in (await self.session.execute(stmt)).all()}

    async def get(self, user_id: int, local_date: date) -> DigestLog | None:
        """Return the record for ``user_id`` on ``local_date``, or ``None``."""
        stmt = select(DigestLog).where(
            DigestLog.user_id == user_id, DigestLog.local_date == local_date
        )
        with translating("loading a digest record"):
            return (await self.session.execute(stmt)).scalar_one_or_none()
