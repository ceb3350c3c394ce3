"""Apply and inspect Alembic migrations from async code.

Implements Alembic's "programmatic API use (connection sharing) with asyncio" recipe:
an async connection runs ``command.upgrade`` inside ``run_sync`` and hands the sync
connection to ``env.py`` through ``Config.attributes``. It therefore works from inside
a running event loop (no nested ``asyncio.run``). The Alembic ``Config`` is built in code
with ``script_location`` pointing at this package, so no ``alembic.ini`` is needed and it
works from an installed package.

The whole upgrade runs in one transaction. On PostgreSQL it first takes a transaction
advisory lock, so two instances starting together migrate one after the other; on SQLite
``BEGIN IMMEDIATE`` serialises them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import create_engine
from storage.errors import DatabaseUnavailableError, MigrationError, translate_error

logger = logging.getLogger(__name__)

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "downgrade_database",
    "head_revision",
    "upgrade_database",
]

#: The Alembic script directory shipped inside the package.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant identifying CryptoGuard's migration lock (pg_advisory_xact_lock).
_PG_MIGRATION_LOCK_KEY = 0x43_47_4D_49_47  # "CGMIG"


def alembic_config() -> Config:
    """Build the Alembic configuration in code (no ini file).

    Returns:
        A ``Config`` whose ``script_location`` is :data:`MIGRATIONS_DIR`.
    """
    config = Config()
    # ConfigParser interpolates '%': escape it in case the install path contains one.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


def head_revision() -> str:
    """Return the newest revision id shipped with this package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise MigrationError("no migration revisions found")
    return head


def _run_command(connection: Connection, direction: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    if direction == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def _migrate(url_or_engine: str | AsyncEngine, direction: str, revision: str) -> None:
    owned = isinstance(url_or_engine, str)
    engine = create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY}
                )
            await connection.run_sync(_run_command, direction, revision)
    except (CommandError, SQLAlchemyError) as exc:
        logger.error("database %s to %s failed: %s", direction, revision, type(exc).__name__)
        if isinstance(exc, SQLAlchemyError):
            translated = translate_error(exc, f"database {direction}")
            if isinstance(translated, DatabaseUnavailableError):
                raise translated from exc
        raise MigrationError(f"database {direction} to {revision!r} failed") from exc
    except OSError as exc:  # the driver could not connect (refused, DNS, timeout)
        raise DatabaseUnavailableError("the database is unavailable") from exc
    finally:
        if owned:
            await engine.dispose()
    logger.info("database %s to %s done", direction, revision)


async def upgrade_database(url_or_engine: str | AsyncEngine, revision: str = "head") -> None:
    """Migrate the database up to ``revision``.

    Args:
        url_or_engine: A database URL (an engine is created and disposed) or an engine
            (left open).
        revision: Target revision; ``"head"`` for the newest.

    Raises:
        MigrationError: Alembic or the database refused (unknown revision, SQL error).
        DatabaseUnavailableError: The database could not be reached.
    """
    await _migrate(url_or_engine, "upgrade", revision)


async def downgrade_database(url_or_engine: str | AsyncEngine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``"base"`` drops everything).

    Args:
        url_or_engine: A database URL or an engine, as for :func:`upgrade_database`.
        revision: Target revision.

    Raises:
        MigrationError: Alembic or the database refused.
        DatabaseUnavailableError: The database could not be reached.
    """
    await _migrate(url_or_engine, "downgrade", revision)


def _read_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """Return the revision the database is at, or ``None`` if it was never migrated.

    Args:
        engine: The engine to inspect.
    """
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_read_revision)
    except SQLAlchemyError as exc:
        raise MigrationError("could not read the database revision") from exc
    except OSError as exc:
        raise DatabaseUnavailableError("the database is unavailable") from exc
