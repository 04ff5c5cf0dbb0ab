"""Invoices in several instalments: one receivable row per instalment, and their count.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

A nullable column, so adding it rewrites no row (SQLite and PostgreSQL both add it in place)
and an invoice with one due date stores nothing more. See adapters/db/loader.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invoices", sa.Column("instalments", sa.SmallInteger()))


def downgrade() -> None:
    # Before this revision an invoice is one row: the rows of its later instalments ("<id>#2",
    # ...) would be counted besides a first row that the old loader rewrites with the whole
    # invoice, twice in exposure. Refuse rather than count money twice.
    split = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM invoices WHERE instalments IS NOT NULL"))
        .scalar()
    )
    if split:
        raise RuntimeError(
            f"{split} invoice rows are instalments: the code before revision 0010 would count "
            "them twice. Downgrading is not supported once instalments were synced."
        )
    # Plain DROP COLUMN on both (SQLite 3.35+): a batch copy of the table would lose its
    # partial indexes' conditions.
    op.execute("ALTER TABLE invoices DROP COLUMN instalments")
