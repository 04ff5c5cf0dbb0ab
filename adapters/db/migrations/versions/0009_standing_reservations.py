"""Orders name the approval whose reservation they hold (a refused amendment leaves it standing).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

Until now a refused amendment dropped the order's reservation; from here an earlier approval
stands behind it, and the order says which decision made it. Orders reserving something now were
reserved by their last decision, which is what the backfill writes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: a batch rebuild on SQLite would drop tables that
    # others reference.
    op.add_column("orders", sa.Column("reserved_by", sa.String(36)))
    op.execute("UPDATE orders SET reserved_by = last_decision_id WHERE reserved > 0")


def downgrade() -> None:
    # The code before this revision releases only open orders: an order awaiting its invoice's
    # sync, or a rejected one still holding its approval, would count for good under it.
    held = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT count(*) FROM orders WHERE reserved > 0 "
                "AND status IN ('awaiting_sync', 'rejected')"
            )
        )
        .scalar()
    )
    if held:
        raise RuntimeError(
            f"{held} orders await their invoice's sync or hold a standing approval: the code "
            "before revision 0009 would never release them. Cancel them (or let them lapse) "
            "before downgrading."
        )
    op.drop_column("orders", "reserved_by")
