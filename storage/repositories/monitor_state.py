"""Durable JSON state of background monitors, one document per key."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from storage.models import MonitorState
from storage.repositories._base import Repository, dialect_insert, translating

__all__ = ["MonitorStateRepository"]


class MonitorStateRepository(Repository):
    """Read and replace monitor state documents (e.g. ``depeg:0.5``)."""

    async def get(self, key: str) -> dict[str, Any] | None:
        """The state stored under ``key``, or ``None``."""
        stmt = select(MonitorState.state).where(MonitorState.key == key)
        with translating("loading monitor state"):
            state = (await self.session.execute(stmt)).scalar_one_or_none()
        return dict(state) if state is not None else None

    async def get_many(self, prefix: str) -> dict[str, dict[str, Any]]:
        """Every state whose key starts with ``prefix``, by key."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = select(MonitorState.key, MonitorState.state).where(
            MonitorState.key.like(f"{escaped}%", escape="\\")
        )
        with translating("loading monitor state"):
            rows = (await self.session.execute(stmt)).all()
        return {key: dict(state) for key, state in rows}

    async def put(self, key: str, state: Mapping[str, Any], *, now: datetime) -> None:
        """Store ``state`` under ``key``, replacing what was there."""
        insert = dialect_insert(self.session, MonitorState).values(
            key=key, state=dict(state), updated_at=now
        )
        stmt = insert.on_conflict_do_update(
            index_elements=["key"], set_={"state": insert.excluded.state, "updated_at": now}
        )
        with translating("saving monitor state"):
            await self.session.execute(stmt)
