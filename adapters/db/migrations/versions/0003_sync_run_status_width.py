"""Widen sync_runs.status to 30 characters: "succeeded_with_errors" has 21.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

SQLite never enforced the old length, so only PostgreSQL refused the longer status: a sync or an
import that skipped a bad record could not record its run there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.alter_column(
            "status", existing_type=sa.String(20), type_=sa.String(30), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.alter_column(
            "status", existing_type=sa.String(30), type_=sa.String(20), existing_nullable=False
        )
