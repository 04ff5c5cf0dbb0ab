"""A partial index for the hold list: open orders whose last decision was review or blocked.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

HELD = sa.and_(sa.column("status") == "open", sa.column("last_outcome").in_(["review", "blocked"]))


def upgrade() -> None:
    op.create_index(
        "ix_orders_held",
        "orders",
        ["id"],
        sqlite_where=HELD,
        postgresql_where=HELD,
    )


def downgrade() -> None:
    op.drop_index("ix_orders_held", table_name="orders")
