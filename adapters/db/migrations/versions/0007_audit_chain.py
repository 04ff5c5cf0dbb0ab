"""The audit trail's hash chain, and append-only triggers on every table it chains.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime()

# decisions and audit_events have been append-only since 0001.
NEWLY_APPEND_ONLY = ("thresholds_versions", "hold_resolutions", "audit_chain")


def _triggers(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action} BEFORE {action.upper()} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END"
            for table in NEWLY_APPEND_ONLY
            for action in ("update", "delete")
        ]
    return [
        f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION creditgate_append_only()"
        for table in NEWLY_APPEND_ONLY
    ]


def upgrade() -> None:
    op.create_table(
        "audit_chain",
        sa.Column("position", ID, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("row_key", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sealed_at", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("kind", "row_key", name="uq_audit_chain_kind_row_key"),
    )
    for statement in _triggers(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in NEWLY_APPEND_ONLY:
        if sqlite:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.drop_table("audit_chain")
