"""The whole CryptoGuard schema as SQLAlchemy 2 declarative models.

Conventions:

* Money and quantities use :class:`~storage.types.DecimalType`, times
  :class:`~storage.types.UTCDateTime` (aware UTC), ids :data:`~storage.types.IdType`.
* Status and side columns are short strings guarded by check constraints (no database
  enums: they are painful to migrate). Decimal checks cast, since SQLite stores text.
* Constraint names come from :data:`NAMING_CONVENTION`, so Alembic sees the same names
  on both dialects.
* Relationships are ``lazy="raise"``: sessions use ``expire_on_commit=False`` and code
  must load related rows explicitly (``selectinload``), never by a lazy load after commit.
* JSON columns are replaced, not mutated in place (in-place changes are not tracked).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import DecimalType, IdType, JsonType, UTCDateTime

__all__ = [
    "ALERT_STATUSES",
    "NAMING_CONVENTION",
    "OUTBOX_STATUSES",
    "TRADE_SIDES",
    "Alert",
    "AlertEvent",
    "AuditLog",
    "Base",
    "ChatSubscription",
    "DigestLog",
    "Outbox",
    "MonitorState",
    "Portfolio",
    "PriceCandle",
    "QuoteCache",
    "SavedFormula",
    "Trade",
    "User",
]

#: Deterministic constraint and index names (needed by Alembic on both dialects).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TRADE_SIDES = ("buy", "sell")
ALERT_STATUSES = ("active", "paused", "triggered", "expired", "deleted")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "dead", "unknown")


def _in(column: str, values: tuple[str, ...]) -> str:
    """SQL for ``column IN ('a', 'b')`` over fixed identifiers (no user data)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def utcnow() -> datetime:
    """Current aware UTC time (fallback default; repositories pass an injected clock)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    """A person on one platform (the same human on two platforms is two users).

    ``chat_id`` is BIGINT: Telegram chat ids exceed 32 bits.
    """

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[int | None] = mapped_column(BigInteger(), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    digest_time: Mapped[time] = mapped_column(Time(), default=time(8, 0))
    digest_enabled: Mapped[bool] = mapped_column(Boolean(), default=True)
    base_currency: Mapped[str] = mapped_column(String(10), default="USD")
    depeg_alerts_enabled: Mapped[bool] = mapped_column(Boolean(), default=True)
    #: The user's own depeg alert threshold (percent); ``None`` follows the server's
    #: warning tier (``CRYPTOGUARD_DEPEG__WARN_PCT``).
    depeg_threshold_pct: Mapped[Decimal | None] = mapped_column(
        DecimalType(), nullable=True, default=None
    )
    is_admin: Mapped[bool] = mapped_column(Boolean(), default=False)
    reachable: Mapped[bool] = mapped_column(Boolean(), default=True)
    unreachable_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: Long-term memory the assistant keeps about the user (favourite coins...).
    memory: Mapped[dict[str, Any]] = mapped_column(
        JsonType, default=dict, server_default=text("'{}'")
    )


class ChatSubscription(Base):
    """A group chat or channel subscribed to depeg alerts or digests."""

    __tablename__ = "chat_subscriptions"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "kind"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[int] = mapped_column(BigInteger())
    kind: Mapped[str] = mapped_column(String(32))
    created_by_user_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    params: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Portfolio(Base):
    """A named set of trades owned by one user."""

    __tablename__ = "portfolios"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    base_currency: Mapped[str] = mapped_column(String(10), default="USD")
    target_allocation: Mapped[dict[str, str] | None] = mapped_column(JsonType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def targets(self) -> dict[str, Decimal]:
        """Target weights by symbol as ``Decimal`` (stored as decimal strings in JSON)."""
        return {sym: Decimal(str(w)) for sym, w in (self.target_allocation or {}).items()}


class Trade(Base):
    """One buy or sell in a portfolio."""

    __tablename__ = "trades"
    __table_args__ = (
        CheckConstraint(_in("side", TRADE_SIDES), name="side"),
        CheckConstraint("CAST(quantity AS NUMERIC) > 0", name="quantity_positive"),
        CheckConstraint("CAST(price AS NUMERIC) >= 0", name="price_non_negative"),
        CheckConstraint("CAST(fee AS NUMERIC) >= 0", name="fee_non_negative"),
        UniqueConstraint("portfolio_id", "external_id"),
        Index("ix_trades_portfolio_id_executed_at", "portfolio_id", "executed_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    portfolio_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("portfolios.id", ondelete="CASCADE")
    )
    side: Mapped[str] = mapped_column(String(4))
    symbol: Mapped[str] = mapped_column(String(20))
    coin_id: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[Decimal] = mapped_column(DecimalType())
    price: Mapped[Decimal] = mapped_column(DecimalType())
    fee: Mapped[Decimal] = mapped_column(DecimalType(), default=Decimal(0))
    fee_currency: Mapped[str | None] = mapped_column(String(10), nullable=True)
    executed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text(), nullable=True)
    source: Mapped[str] = mapped_column(String(32), default="manual")
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Alert(Base):
    """A user's alert rule with its evaluation state."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(_in("status", ALERT_STATUSES), name="status"),
        CheckConstraint("cooldown_seconds >= 0", name="cooldown_non_negative"),
        Index("ix_alerts_status", "status"),
        Index("ix_alerts_owner_id_status", "owner_id", "status"),
        Index("ix_alerts_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str | None] = mapped_column(String(20), nullable=True)
    coin_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active")
    recurring: Mapped[bool] = mapped_column(Boolean(), default=False)
    cooldown_seconds: Mapped[int] = mapped_column(Integer(), default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    fire_count: Mapped[int] = mapped_column(Integer(), default=0)
    #: Last change of any column; the scheduler's rule book syncs on it.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    owner: Mapped[User] = relationship(lazy="raise")


class AlertEvent(Base):
    """One firing of an alert."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_fired_at", "fired_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("alerts.id", ondelete="CASCADE"), index=True
    )
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    value: Mapped[Decimal | None] = mapped_column(DecimalType(), nullable=True)
    message: Mapped[str] = mapped_column(Text())
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class Outbox(Base):
    """A message waiting to be delivered (transactional outbox)."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    #: Chat or user id on the channel, or a webhook URL.
    recipient: Mapped[str] = mapped_column(String(2048))
    user_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer(), default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DigestLog(Base):
    """Proof that a user's digest for one local date was sent (one per user per day)."""

    __tablename__ = "digest_log"
    __table_args__ = (UniqueConstraint("user_id", "local_date"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    local_date: Mapped[date] = mapped_column(Date())
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditLog(Base):
    """An administrative or security-relevant action."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SavedFormula(Base):
    """A custom indicator formula a user saved under a short name.

    The formula text is validated by the analysis layer before it is stored; storage
    keeps it verbatim.
    """

    __tablename__ = "saved_formulas"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    formula: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QuoteCache(Base):
    """The last known quote per coin and currency; survives restarts and outages."""

    __tablename__ = "quote_cache"

    coin_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    vs_currency: Mapped[str] = mapped_column(String(10), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(255))
    price: Mapped[Decimal] = mapped_column(DecimalType())
    change_24h_pct: Mapped[Decimal | None] = mapped_column(DecimalType(), nullable=True)
    market_cap: Mapped[Decimal | None] = mapped_column(DecimalType(), nullable=True)
    volume_24h: Mapped[Decimal | None] = mapped_column(DecimalType(), nullable=True)
    last_updated: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    source: Mapped[str] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(16))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PriceCandle(Base):
    """One cached OHLCV bar (``ts`` is the bar's open time)."""

    __tablename__ = "price_history"

    coin_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    vs_currency: Mapped[str] = mapped_column(String(10), primary_key=True)
    interval: Mapped[str] = mapped_column(String(8), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    open: Mapped[Decimal] = mapped_column(DecimalType())
    high: Mapped[Decimal] = mapped_column(DecimalType())
    low: Mapped[Decimal] = mapped_column(DecimalType())
    close: Mapped[Decimal] = mapped_column(DecimalType())
    volume: Mapped[Decimal] = mapped_column(DecimalType())
    source: Mapped[str] = mapped_column(String(32))


class MonitorState(Base):
    """Durable state of a background monitor (the depeg state machines, the scheduler's
    last tick...), one JSON document per key, so restarts neither forget nor repeat."""

    __tablename__ = "monitor_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
