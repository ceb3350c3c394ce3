"""Saved formulas: custom indicator formulas a user keeps under a short name.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Column types are spelled out as in 0001 (``BIGINT`` ids on PostgreSQL, ``INTEGER``
autoincrementing rowids on SQLite; aware timestamps).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``saved_formulas``."""
    op.create_table(
        "saved_formulas",
        sa.Column("id", _id(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("owner_id", _id(), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("formula", sa.String(200), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_saved_formulas_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_formulas")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_saved_formulas_owner_id_name")),
    )


def downgrade() -> None:
    """Drop ``saved_formulas``."""
    op.drop_table("saved_formulas")
