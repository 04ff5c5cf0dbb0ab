"""A sync run's lease: renewed with every page stored, so a run whose process was killed can be
told from one still working, and marked failed.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Runs left `running` before this revision have no lease; the store takes them for dead
    # once they started longer ago than a lease lasts.
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime()))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("lease_expires_at")
