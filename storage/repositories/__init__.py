"""Repositories: one per aggregate, each wrapping the ``AsyncSession`` of a unit of work.

Repositories take and return plain values and ORM rows (loaded completely, no lazy loads
after commit), translate database errors into :mod:`storage.errors`, and never commit:
the caller's ``Database.transaction()`` does.
"""

from storage.repositories.alerts import AlertRepository, FiringRecord, NewAlert
from storage.repositories.audit_log import AuditLogRepository
from storage.repositories.chat_subscriptions import ChatSubscriptionRepository
from storage.repositories.digest_log import DigestLogRepository
from storage.repositories.monitor_state import MonitorStateRepository
from storage.repositories.outbox import DEFAULT_MAX_ATTEMPTS, NewMessage, OutboxRepository
from storage.repositories.portfolios import DEFAULT_PORTFOLIO_NAME, PortfolioRepository
from storage.repositories.price_history import CandleRow, PriceHistoryRepository
from storage.repositories.quote_cache import QuoteCacheRepository, QuoteRow
from storage.repositories.saved_formulas import SavedFormulaRepository
from storage.repositories.trades import NewTrade, TradeRepository
from storage.repositories.users import UPDATABLE_USER_FIELDS, UserRepository

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_PORTFOLIO_NAME",
    "UPDATABLE_USER_FIELDS",
    "AlertRepository",
    "AuditLogRepository",
    "CandleRow",
    "ChatSubscriptionRepository",
    "DigestLogRepository",
    "MonitorStateRepository",
    "FiringRecord",
    "NewAlert",
    "NewMessage",
    "NewTrade",
    "OutboxRepository",
    "PortfolioRepository",
    "PriceHistoryRepository",
    "QuoteCacheRepository",
    "QuoteRow",
    "SavedFormulaRepository",
    "TradeRepository",
    "UserRepository",
]
