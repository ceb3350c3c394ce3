"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg).

SQLite is tuned for many concurrent async writers in one process: WAL journal,
``busy_timeout=30000``, ``foreign_keys=ON``, ``synchronous=NORMAL``, and every
transaction starts with ``BEGIN IMMEDIATE`` (SQLAlchemy's documented recipe: the driver's
own transaction handling is switched off on connect and SQLAlchemy emits BEGIN in the
``begin`` event). Taking the write lock at BEGIN means a read-then-write transaction
never fails half-way with "database is locked": it waits for the lock up front, within
the busy timeout. Read-only transactions (``transaction(readonly=True)``) use a plain
deferred BEGIN and run alongside writers under WAL.

An in-memory SQLite URL shares one connection (SQLAlchemy's ``StaticPool``): fine for a
quick experiment, not for concurrent transactions; use a file.

PostgreSQL engines ping connections before use (``pool_pre_ping``), so a restarted
server does not surface as an error on the first query.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.errors import DatabaseUnavailableError, translate_error

logger = logging.getLogger(__name__)

__all__ = ["Database", "create_engine", "normalize_database_url"]

#: Milliseconds SQLite waits for a lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000
_SQLITE_PRAGMAS = (
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)
# Execution option marking a read-only transaction (plain BEGIN on SQLite).
_READONLY_OPTION = "cryptoguard_readonly"


def normalize_database_url(url: str) -> str:
    """Select the async driver for a database URL.

    ``postgresql://`` and ``postgres://`` become ``postgresql+asyncpg://``;
    ``sqlite://`` becomes ``sqlite+aiosqlite://``. Other URLs are returned unchanged.

    Args:
        url: A database URL as users write it.

    Returns:
        The URL with an async driver.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


def _json_default(value: object) -> str:
    """Serialise the non-JSON values the project uses (``Decimal`` as exact text)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_dumps(value: Any) -> str:
    """JSON serializer for JSON columns (Decimals and datetimes become strings)."""
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    """Disable the driver's implicit BEGIN and apply the connection PRAGMAs."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    """Start write transactions with ``BEGIN IMMEDIATE``, read-only ones with ``BEGIN``."""
    readonly = conn.get_execution_options().get(_READONLY_OPTION, False)
    conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create an async engine for SQLite or PostgreSQL with CryptoGuard's settings.

    For a SQLite file the parent directory is created. See the module docstring for
    the connection settings applied.

    Args:
        url: Database URL (normalised with :func:`normalize_database_url`).
        echo: Log every SQL statement (debugging only).

    Returns:
        The engine; call ``await engine.dispose()`` when done.
    """
    sa_url = make_url(normalize_database_url(url))
    kwargs: dict[str, Any] = {"echo": echo, "json_serializer": json_dumps}
    backend = sa_url.get_backend_name()
    if backend == "sqlite":
        database = sa_url.database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
        if not in_memory and not sa_url.query.get("uri"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    elif backend == "postgresql":
        kwargs["pool_pre_ping"] = True
    engine = _create_async_engine(sa_url, **kwargs)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    return engine


class Database:
    """The shared engine plus a session factory; one instance per process.

    Args:
        engine: An engine from :func:`create_engine`.

    Example::

        db = Database.from_url("sqlite:///data/cryptoguard.db")
        async with db.transaction() as session:
            user, _ = await UserRepository(session).get_or_create("console", "local", now=now)
        await db.dispose()
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        readonly_options: dict[str, Any] = {_READONLY_OPTION: True}
        if self.dialect_name == "postgresql":
            readonly_options["postgresql_readonly"] = True
        self._readonly_sessionmaker = async_sessionmaker(
            engine.execution_options(**readonly_options), expire_on_commit=False
        )

    @classmethod
    def from_url(cls, url: str, *, echo: bool = False) -> Database:
        """Create the engine for ``url`` and wrap it."""
        return cls(create_engine(url, echo=echo))

    @property
    def dialect_name(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[AsyncSession]:
        """Open a session in a transaction: commit on success, roll back on error.

        SQLAlchemy errors raised inside the block or at commit are re-raised as
        :class:`~storage.errors.StorageError` subclasses.

        Args:
            readonly: The block only reads. On SQLite it then does not take the write
                lock; on PostgreSQL the transaction is ``READ ONLY``.

        Yields:
            The session, valid for this unit of work only.
        """
        maker = self._readonly_sessionmaker if readonly else self.sessionmaker
        async with maker() as session:
            try:
                async with session.begin():
                    await self._connect(session)
                    yield session
            except SQLAlchemyError as exc:
                raise translate_error(exc, "transaction") from exc

    async def _connect(self, session: AsyncSession) -> None:
        """Check out a connection and begin now, so connection failures surface here.

        Drivers raise plain ``OSError`` (refused, DNS, timeout) when a connection cannot
        be opened; they become :class:`~storage.errors.DatabaseUnavailableError`.
        """
        try:
            await session.connection()
        except OSError as exc:
            logger.warning("cannot connect to the database: %s", type(exc).__name__)
            raise DatabaseUnavailableError("the database is unavailable") from exc

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.dispose()
