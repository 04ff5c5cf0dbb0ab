"""Make the invoices' two indexes partial: open invoices only; invoices with an order ref only.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Most synced invoices are paid and carry no order reference; full indexes cost a random leaf
write per synced row (bench/README.md). The predicates are the ones in tables.py, which the
gate's and the sync's queries repeat so the planner can use the indexes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OPEN_INVOICE = sa.column("is_open").is_(True)
WITH_ORDER_REF = sa.column("order_ref").is_not(None)


def upgrade() -> None:
    op.drop_index("ix_invoices_customer_id_is_open_due_date", table_name="invoices")
    # The new order-ref index keeps the old one's name, so the old one goes first.
    op.drop_index("ix_invoices_source_id_order_ref", table_name="invoices")
    op.create_index(
        "ix_invoices_open_customer_id_due_date",
        "invoices",
        ["customer_id", "due_date"],
        sqlite_where=OPEN_INVOICE,
        postgresql_where=OPEN_INVOICE,
    )
    op.create_index(
        "ix_invoices_source_id_order_ref",
        "invoices",
        ["source_id", "order_ref"],
        sqlite_where=WITH_ORDER_REF,
        postgresql_where=WITH_ORDER_REF,
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_source_id_order_ref", table_name="invoices")
    op.drop_index("ix_invoices_open_customer_id_due_date", table_name="invoices")
    op.create_index(
        "ix_invoices_customer_id_is_open_due_date",
        "invoices",
        ["customer_id", "is_open", "due_date"],
    )
    op.create_index("ix_invoices_source_id_order_ref", "invoices", ["source_id", "order_ref"])
