"""The audit log of administrative and security-relevant actions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from storage.models import AuditLog
from storage.repositories._base import Repository, translating

__all__ = ["AuditLogRepository"]


class AuditLogRepository(Repository):
    """Append to and read the audit log."""

    async def record(
        self,
        action: str,
        *,
        user_id: int | None = None,
        details: Mapping[str, Any] | None = None,
        now: datetime,
    ) -> AuditLog:
        """Append an entry.

        Args:
            action: What happened (``"alerts.delete_all"``, ``"admin.broadcast"``...).
            user_id: Who did it, if a user.
            details: Structured, non-secret context.
            now: When it happened.
        """
        row = AuditLog(action=action, user_id=user_id, details=dict(details or {}), created_at=now)
        await self._insert(row, "writing the audit log")
        return row

    async def list_recent(
        self, *, limit: int = 50, user_id: int | None = None
    ) -> Sequence[AuditLog]:
        """The latest entries, newest first, optionally for one user."""
        stmt = select(AuditLog)
        if user_id is not None:
            stmt = stmt.where(AuditLog.user_id == user_id)
        stmt = stmt.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit)
        with translating("reading the audit log"):
            return (await self.session.scalars(stmt)).all()
