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
    # Plain DROP COLUMN on both (SQLite 3.35+): a batch copy of the table would lose its
    # partial indexes' conditions.
    op.execute("ALTER TABLE invoices DROP COLUMN instalments")
