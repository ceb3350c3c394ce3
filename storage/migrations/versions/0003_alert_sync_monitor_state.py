"""Alert rule-book sync, monitor state, fired-alert lookups by time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

* ``alerts.updated_at`` (indexed): the scheduler's in-memory rule book picks up rules
  changed by any process since its last sync. Existing rows take their creation time.
* ``alert_events.fired_at`` index: "alerts fired in the last 24 hours" for digests.
* ``monitor_state``: durable JSON state of background monitors (depeg state machines).
* ``outbox.recipient`` widened to 2048 characters (webhook URLs).
* ``users.depeg_threshold_pct`` nullable: ``NULL`` follows the server's warning tier;
  rows still at the old built-in default (0.5) become ``NULL``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _decimal() -> sa.types.TypeEngine[Decimal]:
    return sa.Numeric(38, 18).with_variant(sa.String(48), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add ``alerts.updated_at``, the events time index and ``monitor_state``."""
    op.add_column("alerts", sa.Column("updated_at", _ts(), nullable=True))
    op.execute("UPDATE alerts SET updated_at = created_at")
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("updated_at", existing_type=_ts(), nullable=False)
    op.create_index(op.f("ix_alerts_updated_at"), "alerts", ["updated_at"])
    op.create_index(op.f("ix_alert_events_fired_at"), "alert_events", ["fired_at"])
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column(
            "recipient", existing_type=sa.String(64), type_=sa.String(2048), nullable=False
        )
    with op.batch_alter_table("users") as batch:
        batch.alter_column("depeg_threshold_pct", existing_type=_decimal(), nullable=True)
    op.execute(
        "UPDATE users SET depeg_threshold_pct = NULL "
        "WHERE CAST(depeg_threshold_pct AS NUMERIC) = 0.5"
    )
    op.create_table(
        "monitor_state",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("state", _json(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_monitor_state")),
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_table("monitor_state")
    op.execute("UPDATE users SET depeg_threshold_pct = '0.5' WHERE depeg_threshold_pct IS NULL")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("depeg_threshold_pct", existing_type=_decimal(), nullable=False)
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column(
            "recipient", existing_type=sa.String(2048), type_=sa.String(64), nullable=False
        )
    op.drop_index(op.f("ix_alert_events_fired_at"), table_name="alert_events")
    op.drop_index(op.f("ix_alerts_updated_at"), table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("updated_at")
