"""Persistence for CryptoGuard: SQLAlchemy 2 models, engine and sessions, repositories,
Alembic migrations. Works on SQLite (aiosqlite) and PostgreSQL (asyncpg).

This package imports nothing from the rest of the project, and it is the only one that
imports SQLAlchemy, Alembic or the database drivers. Callers use :class:`Database`, the
repositories and the errors in :mod:`storage.errors` (never SQLAlchemy exceptions)::

    db = Database.from_url(settings.resolved_database_url)
    await upgrade_database(db.engine)
    async with db.transaction() as session:
        user, created = await UserRepository(session).get_or_create("telegram", "42", now=now)
"""

from storage import errors, models, repositories
from storage.engine import Database, create_engine, normalize_database_url
from storage.errors import (
    ConstraintError,
    DatabaseUnavailableError,
    DuplicateError,
    MigrationError,
    NotFoundError,
    StorageError,
)
from storage.leader import LeaderLock
from storage.migrate import current_revision, downgrade_database, head_revision, upgrade_database
from storage.repositories import (
    AlertRepository,
    AuditLogRepository,
    CandleRow,
    ChatSubscriptionRepository,
    DigestLogRepository,
    FiringRecord,
    MonitorStateRepository,
    NewAlert,
    NewMessage,
    NewTrade,
    OutboxRepository,
    PortfolioRepository,
    PriceHistoryRepository,
    QuoteCacheRepository,
    QuoteRow,
    SavedFormulaRepository,
    TradeRepository,
    UserRepository,
)

__all__ = [
    "AlertRepository",
    "AuditLogRepository",
    "CandleRow",
    "ChatSubscriptionRepository",
    "ConstraintError",
    "Database",
    "DatabaseUnavailableError",
    "DigestLogRepository",
    "DuplicateError",
    "LeaderLock",
    "MigrationError",
    "MonitorStateRepository",
    "FiringRecord",
    "NewAlert",
    "NewMessage",
    "NewTrade",
    "NotFoundError",
    "OutboxRepository",
    "PortfolioRepository",
    "PriceHistoryRepository",
    "QuoteCacheRepository",
    "QuoteRow",
    "SavedFormulaRepository",
    "StorageError",
    "TradeRepository",
    "UserRepository",
    "create_engine",
    "current_revision",
    "downgrade_database",
    "errors",
    "head_revision",
    "models",
    "normalize_database_url",
    "repositories",
    "upgrade_database",
]
