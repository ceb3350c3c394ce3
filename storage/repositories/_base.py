"""Helpers shared by the repositories: error translation, upserts, updates of loaded rows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, inspect, update
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage.errors import NotFoundError, translate_error
from storage.models import Base

#: Longest error text kept in a row (driver messages can be long).
MAX_ERROR_CHARS = 2000


@contextmanager
def translating(action: str) -> Iterator[None]:
    """Re-raise SQLAlchemy errors inside the block as storage errors.

    Args:
        action: Data-free description of the operation, used in the message.
    """
    try:
        yield
    except SQLAlchemyError as exc:
        raise translate_error(exc, action) from exc


def dialect_insert(session: AsyncSession, entity: type[Base]) -> PgInsert | SqliteInsert:
    """Return an ``INSERT`` supporting ``ON CONFLICT`` for the session's dialect.

    Args:
        session: The session the statement will run in.
        entity: The mapped class to insert into.
    """
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(entity)
    return sqlite_insert(entity)


class Repository:
    """Base of the repositories: holds the session of the current unit of work.

    Args:
        session: An ``AsyncSession`` inside a transaction (``Database.transaction()``).
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect_name(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.session.get_bind().dialect.name

    async def _insert(self, obj: Base, action: str) -> None:
        """Insert ``obj`` inside a savepoint.

        A constraint violation raises a storage error but leaves the caller's
        transaction usable (only the savepoint is rolled back).
        """
        with translating(action):
            async with self.session.begin_nested():
                self.session.add(obj)

    async def _update(self, obj: Base, values: Mapping[str, Any], action: str) -> None:
        """Write ``values`` to the row of ``obj`` by primary key and mirror them on ``obj``.

        Works whether ``obj`` was loaded in this session or in an earlier (closed) one;
        ``obj`` is not attached to the session.

        Raises:
            NotFoundError: The row no longer exists.
        """
        if not values:
            return
        mapper = inspect(type(obj))
        state = inspect(obj)
        identity = state.identity
        if identity is None:
            raise NotFoundError(f"{action}: the object was never stored")
        condition = [col == val for col, val in zip(mapper.primary_key, identity, strict=True)]
        stmt = update(type(obj)).where(*condition).values(**values)
        with translating(action):
            async with self.session.begin_nested():
                result = cast(CursorResult[Any], await self.session.execute(stmt))
        if result.rowcount == 0:
            raise NotFoundError(f"{action}: no such row")
        for key, value in values.items():
            set_committed_value(obj, key, value)
