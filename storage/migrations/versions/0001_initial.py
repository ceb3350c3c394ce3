"""Initial schema: users, chats, portfolios, trades, alerts, outbox, logs and market cache.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Column types are spelled out here rather than imported from ``storage.types`` so this
revision keeps creating the same schema if those types change later:

* decimals: ``NUMERIC(38, 18)`` on PostgreSQL, ``VARCHAR(48)`` (exact decimal text) on SQLite;
* ids: ``BIGINT`` on PostgreSQL, ``INTEGER`` (autoincrementing rowid) on SQLite;
* JSON: ``JSONB`` on PostgreSQL, JSON text on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decimal() -> sa.types.TypeEngine[Decimal]:
    return sa.Numeric(38, 18).with_variant(sa.String(48), "sqlite")


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _pk() -> sa.Column[int]:
    return sa.Column("id", _id(), primary_key=True, autoincrement=True, nullable=False)


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "users",
        _pk(),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("platform_user_id", sa.String(64), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("digest_time", sa.Time(), nullable=False),
        sa.Column("digest_enabled", sa.Boolean(), nullable=False),
        sa.Column("base_currency", sa.String(10), nullable=False),
        sa.Column("depeg_alerts_enabled", sa.Boolean(), nullable=False),
        sa.Column("depeg_threshold_pct", _decimal(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("unreachable_reason", sa.String(255), nullable=True),
        sa.Column("unreachable_since", _ts(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("last_seen_at", _ts(), nullable=True),
        sa.Column("memory", _json(), nullable=False, server_default=sa.text("'{}'")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint(
            "platform", "platform_user_id", name=op.f("uq_users_platform_platform_user_id")
        ),
    )
    op.create_table(
        "chat_subscriptions",
        _pk(),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_by_user_id", _id(), nullable=True),
        sa.Column("params", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_chat_subscriptions_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_subscriptions")),
        sa.UniqueConstraint(
            "platform", "chat_id", "kind", name=op.f("uq_chat_subscriptions_platform_chat_id_kind")
        ),
    )
    op.create_table(
        "portfolios",
        _pk(),
        sa.Column("owner_id", _id(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("base_currency", sa.String(10), nullable=False),
        sa.Column("target_allocation", _json(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_portfolios_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolios")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_portfolios_owner_id_name")),
    )
    op.create_table(
        "trades",
        _pk(),
        sa.Column("portfolio_id", _id(), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("coin_id", sa.String(100), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("price", _decimal(), nullable=False),
        sa.Column("fee", _decimal(), nullable=False),
        sa.Column("fee_currency", sa.String(10), nullable=True),
        sa.Column("executed_at", _ts(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=True),
        sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f("ck_trades_side")),
        sa.CheckConstraint(
            "CAST(quantity AS NUMERIC) > 0", name=op.f("ck_trades_quantity_positive")
        ),
        sa.CheckConstraint(
            "CAST(price AS NUMERIC) >= 0", name=op.f("ck_trades_price_non_negative")
        ),
        sa.CheckConstraint("CAST(fee AS NUMERIC) >= 0", name=op.f("ck_trades_fee_non_negative")),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolios.id"],
            name=op.f("fk_trades_portfolio_id_portfolios"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
        sa.UniqueConstraint(
            "portfolio_id", "external_id", name=op.f("uq_trades_portfolio_id_external_id")
        ),
    )
    op.create_index("ix_trades_portfolio_id_executed_at", "trades", ["portfolio_id", "executed_at"])
    op.create_table(
        "alerts",
        _pk(),
        sa.Column("owner_id", _id(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(20), nullable=True),
        sa.Column("coin_id", sa.String(100), nullable=True),
        sa.Column("params", _json(), nullable=False),
        sa.Column("state", _json(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("recurring", sa.Boolean(), nullable=False),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("last_fired_at", _ts(), nullable=True),
        sa.Column("expires_at", _ts(), nullable=True),
        sa.Column("fire_count", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'triggered', 'expired', 'deleted')",
            name=op.f("ck_alerts_status"),
        ),
        sa.CheckConstraint("cooldown_seconds >= 0", name=op.f("ck_alerts_cooldown_non_negative")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_alerts_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_status", "alerts", ["status"])
    op.create_index("ix_alerts_owner_id_status", "alerts", ["owner_id", "status"])
    op.create_table(
        "alert_events",
        _pk(),
        sa.Column("alert_id", _id(), nullable=False),
        sa.Column("fired_at", _ts(), nullable=False),
        sa.Column("value", _decimal(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_events_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    op.create_index("ix_alert_events_alert_id", "alert_events", ["alert_id"])
    op.create_table(
        "outbox",
        _pk(),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("user_id", _id(), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _ts(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("sent_at", _ts(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'dead', 'unknown')",
            name=op.f("ck_outbox_status"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_outbox_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "digest_log",
        _pk(),
        sa.Column("user_id", _id(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("sent_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_digest_log_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_log")),
        sa.UniqueConstraint("user_id", "local_date", name=op.f("uq_digest_log_user_id_local_date")),
    )
    op.create_table(
        "audit_log",
        _pk(),
        sa.Column("user_id", _id(), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("details", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_audit_log_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_user_id", "audit_log", ["user_id"])
    op.create_table(
        "quote_cache",
        sa.Column("coin_id", sa.String(100), nullable=False),
        sa.Column("vs_currency", sa.String(10), nullable=False),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("price", _decimal(), nullable=False),
        sa.Column("change_24h_pct", _decimal(), nullable=True),
        sa.Column("market_cap", _decimal(), nullable=True),
        sa.Column("volume_24h", _decimal(), nullable=True),
        sa.Column("last_updated", _ts(), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("fetched_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("coin_id", "vs_currency", name=op.f("pk_quote_cache")),
    )
    op.create_table(
        "price_history",
        sa.Column("coin_id", sa.String(100), nullable=False),
        sa.Column("vs_currency", sa.String(10), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("ts", _ts(), nullable=False),
        sa.Column("open", _decimal(), nullable=False),
        sa.Column("high", _decimal(), nullable=False),
        sa.Column("low", _decimal(), nullable=False),
        sa.Column("close", _decimal(), nullable=False),
        sa.Column("volume", _decimal(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint(
            "coin_id", "vs_currency", "interval", "ts", name=op.f("pk_price_history")
        ),
    )


def downgrade() -> None:
    """Drop every table (children first)."""
    op.drop_table("price_history")
    op.drop_table("quote_cache")
    op.drop_index("ix_audit_log_user_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("digest_log")
    op.drop_index("ix_outbox_status_next_attempt_at", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_alert_events_alert_id", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_index("ix_alerts_owner_id_status", table_name="alerts")
    op.drop_index("ix_alerts_status", table_name="alerts")
    op.drop_table("alerts")
    op.drop_index("ix_trades_portfolio_id_executed_at", table_name="trades")
    op.drop_table("trades")
    op.drop_table("portfolios")
    op.drop_table("chat_subscriptions")
    op.drop_table("users")
