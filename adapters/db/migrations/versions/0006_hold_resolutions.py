"""Releases and rejections of held orders, and holds admins put on customers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(20, 4).with_variant(sa.BigInteger(), "sqlite")
TIMESTAMP = sa.DateTime()


def upgrade() -> None:
    op.create_table(
        "hold_resolutions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("order_id", ID, sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("cap", MONEY),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("expires_at", TIMESTAMP),
        sa.Column("held_decision_id", sa.String(36), nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_hold_resolutions_order_id", "hold_resolutions", ["order_id"])
    # Plain ADD COLUMN on both databases: a batch rebuild on SQLite would drop tables that
    # others reference.
    op.add_column("orders", sa.Column("resolution_id", ID))
    op.add_column(
        "customers",
        sa.Column("admin_hold", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column("customers", sa.Column("admin_hold_reason", sa.Text))


def downgrade() -> None:
    op.drop_column("customers", "admin_hold_reason")
    op.drop_column("customers", "admin_hold")
    op.drop_column("orders", "resolution_id")
    op.drop_index("ix_hold_resolutions_order_id", table_name="hold_resolutions")
    op.drop_table("hold_resolutions")
