"""The warning ladder's levels and history, and the outbox of pushes to ERPs and CRMs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime()


def _fk(column: str, table: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=f"fk_{table}_{column}_{referred}"
    )


def upgrade() -> None:
    op.create_table(
        "warning_levels",
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("since", TIMESTAMP, nullable=False),
        sa.Column("checked_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_warning_levels"),
        _fk("customer_id", "warning_levels", "customers"),
    )
    op.create_table(
        "warning_history",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("change_id", sa.String(36), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("previous_level", sa.String(20), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("thresholds_version", sa.Integer(), nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_warning_history"),
        _fk("customer_id", "warning_history", "customers"),
        sa.UniqueConstraint("change_id", name="uq_warning_history_change_id"),
    )
    op.create_index(
        "ix_warning_history_customer_id_changed_at",
        "warning_history",
        ["customer_id", "changed_at"],
    )
    op.create_table(
        "outbox",
        sa.Column("id", ID, nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("change_id", sa.String(36), nullable=False),
        sa.Column("customer_ref", sa.String(100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("delivered_at", TIMESTAMP),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("target", "change_id", name="uq_outbox_target_change_id"),
    )
    op.create_index("ix_outbox_target_status_id", "outbox", ["target", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_target_status_id", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_warning_history_customer_id_changed_at", table_name="warning_history")
    op.drop_table("warning_history")
    op.drop_table("warning_levels")
