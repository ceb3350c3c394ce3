"""One scheduler per database: leader election between processes.

Several ``cryptoguard run`` processes may share one database (front-ends scaled out);
only one of them may run the scheduled jobs (APScheduler 3.x job stores must not be
shared, and two market ticks would fire every alert twice).

* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held on a
  dedicated connection for as long as the process leads. When the process dies, its
  connection closes, PostgreSQL releases the lock, and the next candidate's attempt
  succeeds: takeover needs no timeout.
* SQLite: a lease row in ``monitor_state`` (holder and expiry), renewed by the leader
  and taken over once it expires. ``BEGIN IMMEDIATE`` serialises the candidates.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.engine import Database
from storage.models import utcnow
from storage.repositories.monitor_state import MonitorStateRepository

__all__ = ["LeaderLock", "advisory_key"]

logger = logging.getLogger(__name__)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for ``name``."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class LeaderLock:
    """Leadership for ``name`` among the processes sharing ``db``.

    Args:
        db: The shared database.
        holder: This process's identity (host and pid), shown to operators.
        name: What is being led (one lock per name).
        lease_s: SQLite only: how long a lease lasts without renewal.
    """

    def __init__(
        self, db: Database, *, holder: str, name: str = "scheduler", lease_s: float = 30.0
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self.db = db
        self.holder = holder
        self.name = name
        self.lease_s = lease_s
        self._conn: AsyncConnection | None = None
        self._leading = False

    @property
    def leading(self) -> bool:
        """Whether this process held the lock at the last check."""
        return self._leading

    async def try_acquire(self, now: datetime) -> bool:
        """Take the lock if it is free (or already ours); never waits.

        Returns:
            Whether this process leads now.
        """
        try:
            if self.db.dialect_name == "postgresql":
                self._leading = await self._pg_try_acquire()
            else:
                self._leading = await self._lease(now)
        except SQLAlchemyError as exc:
            logger.warning("leader election for %s failed: %s", self.name, exc)
            await self._drop_connection()
            self._leading = False
        return self._leading

    async def still_leading(self, now: datetime) -> bool:
        """Check (PostgreSQL) or renew (SQLite) the lock; ``False`` once it is lost."""
        if not self._leading:
            return False
        try:
            if self.db.dialect_name == "postgresql":
                conn = self._conn
                if conn is None or conn.closed:
                    self._leading = False
                else:
                    await conn.execute(text("SELECT 1"))
            else:
                self._leading = await self._lease(now)
        except SQLAlchemyError as exc:
            logger.warning("lost the %s leader lock: %s", self.name, exc)
            await self._drop_connection()
            self._leading = False
        return self._leading

    async def release(self) -> None:
        """Give the lock up (clean shutdown), so another process takes over at once."""
        try:
            if self.db.dialect_name == "postgresql":
                if self._conn is not None and not self._conn.closed:
                    await self._conn.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(self.name)}
                    )
            elif self._leading:
                async with self.db.transaction() as session:
                    repo = MonitorStateRepository(session)
                    state = await repo.get(self._lease_key)
                    if state is not None and state.get("holder") == self.holder:
                        await repo.put(
                            self._lease_key, {"holder": None, "expires_at": None}, now=utcnow()
                        )
        except SQLAlchemyError as exc:  # the lease expires (or the connection closes) anyway
            logger.warning("releasing the %s leader lock failed: %s", self.name, exc)
        finally:
            self._leading = False
            await self._drop_connection()

    # -- PostgreSQL ----------------------------------------------------------------------

    async def _pg_try_acquire(self) -> bool:
        if self._leading and self._conn is not None and not self._conn.closed:
            return True
        if self._conn is None or self._conn.closed:
            self._conn = await self.db.engine.connect()
            # autocommit: the lock is per session, and no transaction must stay open
            await self._conn.execution_options(isolation_level="AUTOCOMMIT")
        result = await self._conn.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(self.name)}
        )
        got = bool(result.scalar_one())
        if not got:
            await self._drop_connection()
        return got

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except SQLAlchemyError as exc:
                logger.debug("closing the leader connection: %s", exc)

    # -- SQLite lease ---------------------------------------------------------------------

    @property
    def _lease_key(self) -> str:
        return f"leader:{self.name}"

    async def _lease(self, now: datetime) -> bool:
        async with self.db.transaction() as session:
            repo = MonitorStateRepository(session)
            state: dict[str, Any] = await repo.get(self._lease_key) or {}
            holder, expires = state.get("holder"), state.get("expires_at")
            free = holder is None or expires is None or datetime.fromisoformat(expires) <= now
            if holder != self.holder and not free:
                return False
            until = now + timedelta(seconds=self.lease_s)
            await repo.put(
                self._lease_key, {"holder": self.holder, "expires_at": until.isoformat()}, now=now
            )
            return True
