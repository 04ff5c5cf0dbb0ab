"""A MAC column on every row an auditor or the gate relies on, and TRUNCATE refused.

Each append-only table (decisions, audit events, thresholds versions, hold resolutions, the
chain itself) and each table of who may act (API clients, users) gets a `mac` column: an
HMAC-SHA256 over the row's declared columns (adapters/db/macs.py) under a key the database does
not hold. Rows written before this revision keep NULL there; rows the chain sealed before it are
accepted as sealed before MACs (README "Audit trail"). A chain link also records whether its row
had a valid MAC when it was sealed (`forged`).

On PostgreSQL, row triggers do not fire on TRUNCATE: statement-level BEFORE TRUNCATE triggers
refuse it on every append-only table and on the chain. SQLite has no TRUNCATE (its DELETE
without WHERE fires the row triggers).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SIGNED = (
    "decisions",
    "audit_events",
    "thresholds_versions",
    "hold_resolutions",
    "audit_chain",
    "api_clients",
    "users",
)
APPEND_ONLY = SIGNED[:5]  # not api_clients and users, whose rows change


def upgrade() -> None:
    for table in SIGNED:
        op.add_column(table, sa.Column("mac", sa.String(120)))
    op.add_column(
        "audit_chain",
        sa.Column("forged", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION creditgate_append_only()"
            )


def downgrade() -> None:
    # A link sealed as forged hashes its `forged` flag: without the column the chain would read
    # as edited. Refuse rather than make the record unverifiable.
    forged = (
        op.get_bind().execute(sa.text("SELECT count(*) FROM audit_chain WHERE forged")).scalar()
    )
    if forged:
        raise RuntimeError(
            f"{forged} chain links record rows sealed as forged: without revision 0012 the "
            "chain could not be verified. Downgrading is not supported."
        )
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.drop_column("audit_chain", "forged")
    for table in SIGNED:
        op.drop_column(table, "mac")
