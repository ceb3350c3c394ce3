"""Alembic environment for the CryptoGuard schema.

Two ways in:

* Programmatic (``storage.migrate``): the caller opens a connection inside
  ``AsyncConnection.run_sync`` and passes it as ``config.attributes["connection"]``
  (Alembic's "connection sharing with asyncio" recipe); the migration runs in the
  caller's transaction and this module creates no engine and touches no logging.
* The ``alembic`` command line (root ``alembic.ini``): the URL comes from
  ``CRYPTOGUARD_DATABASE_URL``, else ``sqlalchemy.url`` in the ini file, else the
  default SQLite file; an engine is created with ``storage.engine.create_engine``.

Autogenerate renders batch operations on SQLite (``render_as_batch``), which cannot
ALTER most things in place. A future batch migration that recreates a table with
foreign keys must switch ``PRAGMA foreign_keys`` off around it (outside a transaction).
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from storage.engine import create_engine, normalize_database_url
from storage.models import Base

URL_ENV = "CRYPTOGUARD_DATABASE_URL"
DEFAULT_URL = "sqlite+aiosqlite:///./data/cryptoguard.db"

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    """The URL for command-line use: environment, then ini file, then the default."""
    url = os.environ.get(URL_ENV) or config.get_main_option("sqlalchemy.url") or DEFAULT_URL
    return normalize_database_url(url)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def do_run_migrations(connection: Connection) -> None:
    """Run the migrations on a synchronous connection (called via ``run_sync``)."""
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    """Create an engine from the URL and migrate in one transaction."""
    engine = create_engine(_database_url())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of executing it (``alembic upgrade --sql``)."""
    url = _database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Use the shared connection if one was passed, else open our own."""
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
