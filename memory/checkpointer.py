"""LangGraph checkpointers: conversation memory on SQLite or PostgreSQL.

SQLite deployments keep checkpoints in their own file next to the main database
(``data/cryptoguard.db`` -> ``data/cryptoguard-checkpoints.db``), so LangGraph's
connection never contends with the application's write transactions. PostgreSQL
deployments use the same database through a psycopg pool (autocommit, as
``AsyncPostgresSaver.setup()`` requires).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver


def checkpoint_location(database_url: str) -> tuple[str, str]:
    """``("postgres", libpq URL)`` or ``("sqlite", file path or ":memory:")`` for a DB URL."""
    scheme, _, rest = database_url.partition("://")
    driver = scheme.split("+", 1)[0]
    if driver in ("postgresql", "postgres"):
        return "postgres", f"postgresql://{rest}"
    if driver == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if path in ("", ":memory:"):
            return "sqlite", ":memory:"
        db = Path(path.split("?", 1)[0])
        return "sqlite", str(db.with_name(f"{db.stem}-checkpoints{db.suffix or '.db'}"))
    raise ValueError(f"no checkpointer for database scheme {scheme!r}")


#: Advisory lock serialising the checkpoint tables' set-up between processes
#: (an arbitrary constant; Alembic's migrations use their own).
SETUP_LOCK_KEY = 0x43475F434B5054  # "CG_CKPT"


async def _lock_setup(conn: Any) -> None:
    """Take the set-up lock, polling (see the comment where it is used)."""
    while True:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (SETUP_LOCK_KEY,))
        row = await cursor.fetchone()
        if row["ok"] if isinstance(row, dict) else row[0]:
            return
        await asyncio.sleep(0.2)


@asynccontextmanager
async def open_checkpointer(database_url: str) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """Open the checkpointer that belongs with ``database_url``; closed on exit."""
    kind, where = checkpoint_location(database_url)
    if kind == "postgres":
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        pool: AsyncConnectionPool = AsyncConnectionPool(
            where,
            min_size=1,
            max_size=5,
            open=False,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        await pool.open()
        try:
            saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
            # Processes starting together must not race to create the checkpoint
            # tables (concurrent CREATE TABLE IF NOT EXISTS can fail in PostgreSQL):
            # one sets them up while the others wait on a session advisory lock.
            # The waiters poll pg_try_advisory_lock instead of blocking in
            # pg_advisory_lock: the set-up runs CREATE INDEX CONCURRENTLY, which waits for
            # every open transaction, including a blocked lock request (a deadlock).
            async with pool.connection() as lock:
                await _lock_setup(lock)
                try:
                    await saver.setup()
                finally:
                    await lock.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))
            yield saver
        finally:
            await pool.close()
        return
    if where == ":memory:":
        yield InMemorySaver()
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    Path(where).parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(where) as sqlite_saver:
        await _setup_sqlite(sqlite_saver)
        yield sqlite_saver


async def _setup_sqlite(saver: Any, attempts: int = 8) -> None:
    """Create the SQLite checkpoint tables, retrying while another process does the same
    (switching the file to WAL needs a moment of exclusive access and does not wait for
    it: two processes starting together get "database is locked")."""
    import sqlite3

    delay = 0.05
    for attempt in range(attempts):
        try:
            await saver.setup()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            await saver.conn.rollback()  # an interrupted script may leave one open
            await asyncio.sleep(delay)
            delay *= 2
