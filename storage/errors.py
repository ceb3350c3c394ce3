"""Errors raised by the storage layer.

Nothing above ``storage`` catches SQLAlchemy or driver exceptions: repositories and
:meth:`storage.engine.Database.transaction` translate them into this small hierarchy,
and services translate these into domain errors. Messages are plain text for operators;
they never contain SQL or the values that were being written.

Hierarchy::

    StorageError                    any failure of the database layer
    ├── DuplicateError              a unique or primary-key constraint was violated
    ├── ConstraintError             a check, foreign-key or not-null constraint was violated,
    │                               or a value does not fit its column
    ├── NotFoundError               a row the caller relied on no longer exists
    ├── DatabaseUnavailableError    the database could not be reached or is busy
    └── MigrationError              the schema could not be migrated

Values a column type refuses while binding (a float for a decimal, a naive datetime)
raise the column type's own ``TypeError`` or ``ValueError``: those are programming errors.
"""

from __future__ import annotations

import logging

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm.exc import StaleDataError

logger = logging.getLogger(__name__)

__all__ = [
    "ConstraintError",
    "DatabaseUnavailableError",
    "DuplicateError",
    "MigrationError",
    "NotFoundError",
    "StorageError",
    "translate_error",
]

# SQLSTATE codes (PostgreSQL) and extended result names (SQLite) of integrity violations.
_PG_UNIQUE = "23505"
_SQLITE_UNIQUE = {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}


class StorageError(Exception):
    """Base of every error raised by the storage layer."""


class DuplicateError(StorageError):
    """A row with the same unique key already exists."""


class ConstraintError(StorageError):
    """A write broke a check, foreign-key or not-null constraint."""


class NotFoundError(StorageError):
    """A row that an operation needs does not exist (any more)."""


class DatabaseUnavailableError(StorageError):
    """The database could not be reached, or stayed locked beyond the busy timeout."""


class MigrationError(StorageError):
    """Alembic could not bring the schema to the requested revision."""


def _is_unique_violation(exc: sa_exc.IntegrityError) -> bool:
    """Tell a unique/primary-key violation from other integrity errors on both dialects."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate is not None:
        return str(sqlstate) == _PG_UNIQUE
    if getattr(orig, "sqlite_errorname", None) in _SQLITE_UNIQUE:
        return True
    text = str(orig).upper()
    return "UNIQUE CONSTRAINT" in text or "DUPLICATE KEY" in text


def translate_error(exc: sa_exc.SQLAlchemyError, action: str = "database operation") -> Exception:
    """Map a SQLAlchemy exception to the exception callers should see.

    Integrity, connectivity and missing-row errors become :class:`StorageError`
    subclasses. A ``TypeError`` or ``ValueError`` raised by a column type while binding
    a parameter (a float for a decimal, a naive datetime) is a programming error and is
    returned unwrapped, so callers see exactly what the column type raised.

    Args:
        exc: The exception raised by SQLAlchemy or the driver.
        action: A short, data-free description of what was attempted (for the message).

    Returns:
        The exception to raise (``raise translate_error(exc, "adding a trade") from exc``).
    """
    if (
        isinstance(exc, sa_exc.StatementError)
        and not isinstance(exc, sa_exc.DBAPIError)
        and isinstance(exc.orig, (TypeError, ValueError))
    ):
        return exc.orig
    if isinstance(exc, sa_exc.IntegrityError):
        if _is_unique_violation(exc):
            return DuplicateError(f"{action}: a row with the same key already exists")
        return ConstraintError(f"{action}: a constraint was violated")
    if isinstance(exc, sa_exc.DataError):  # e.g. text longer than its column (PostgreSQL)
        return ConstraintError(f"{action}: a value does not fit its column")
    if isinstance(exc, (sa_exc.NoResultFound, StaleDataError)):
        return NotFoundError(f"{action}: no such row (deleted or changed concurrently)")
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        logger.warning("%s failed: database unavailable (%s)", action, type(exc).__name__)
        return DatabaseUnavailableError(f"{action}: the database is unavailable")
    return StorageError(f"{action} failed ({type(exc).__name__})")
