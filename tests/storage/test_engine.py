"""Engine creation, URL normalisation, SQLite connection settings and transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import Database, StorageError, UserRepository, create_engine, normalize_database_url
from storage.errors import DatabaseUnavailableError, DuplicateError
from tests.storage.helpers import NOW


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
        ("sqlite:////abs/x.db", "sqlite+aiosqlite:////abs/x.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("mysql+aiomysql://h/db", "mysql+aiomysql://h/db"),
    ],
)
def test_normalize_database_url(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


async def test_sqlite_file_settings(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "cg.db"
    db = Database.from_url(f"sqlite:///{path}")
    try:
        assert path.parent.is_dir()
        assert db.dialect_name == "sqlite"
        async with db.engine.connect() as conn:
            pragmas = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
        assert pragmas == {
            "journal_mode": "wal",
            "busy_timeout": 30000,
            "foreign_keys": 1,
            "synchronous": 1,  # NORMAL
        }
    finally:
        await db.dispose()


async def test_sqlite_transactions_begin_immediate(tmp_path: Path) -> None:
    """A transaction holds the write lock from BEGIN, before it writes anything."""
    path = tmp_path / "lock.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        async with engine.begin() as conn:
            assert (await conn.exec_driver_sql("SELECT count(*) FROM t")).scalar() == 0
            probe = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    probe.execute("BEGIN IMMEDIATE")
            finally:
                probe.close()
        # Read-only transactions use a deferred BEGIN and leave the write lock free.
        async with engine.execution_options(cryptoguard_readonly=True).begin() as conn:
            assert (await conn.exec_driver_sql("SELECT count(*) FROM t")).scalar() == 0
            probe = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            finally:
                probe.close()
    finally:
        await engine.dispose()


async def test_transaction_commits_and_rolls_back(db: Database) -> None:
    async with db.transaction() as session:
        await UserRepository(session).get_or_create("console", "committed", now=NOW)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.transaction() as session:
            await UserRepository(session).get_or_create("console", "rolled-back", now=NOW)
            raise Boom

    async with db.transaction(readonly=True) as session:
        repo = UserRepository(session)
        assert await repo.get_by_platform_id("console", "committed") is not None
        assert await repo.get_by_platform_id("console", "rolled-back") is None


async def test_transaction_translates_sqlalchemy_errors(db: Database) -> None:
    with pytest.raises(DuplicateError):
        async with db.transaction() as session:
            stmt = text(
                "INSERT INTO users (platform, platform_user_id, timezone, digest_time,"
                " digest_enabled, base_currency, depeg_alerts_enabled, depeg_threshold_pct,"
                " is_admin, reachable, created_at) VALUES ('t', :pid, 'UTC', '09:00:00',"
                " false, 'USD', true, '0.5', false, true, CURRENT_TIMESTAMP)"
            )
            await session.execute(stmt, {"pid": "dup"})
            await session.execute(stmt, {"pid": "dup"})
    with pytest.raises(StorageError):
        async with db.transaction() as session:
            await session.execute(text("SELECT * FROM no_such_table"))


async def test_readonly_transaction_reads(db: Database) -> None:
    async with db.transaction(readonly=True) as session:
        assert await UserRepository(session).get(1) is None


async def test_unreachable_postgres_is_database_unavailable() -> None:
    db = Database.from_url("postgresql://nobody:wrong@127.0.0.1:1/none")
    try:
        with pytest.raises(DatabaseUnavailableError):
            async with db.transaction() as session:
                await session.execute(text("SELECT 1"))
    finally:
        await db.dispose()
