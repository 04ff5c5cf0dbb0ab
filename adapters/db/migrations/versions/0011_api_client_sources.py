"""An API client's grant for more sources than its own.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The names of the sources an `erp` key may act for besides its own (`source_id`); NULL, as
    # every key made before this revision has, means its own source only.
    with op.batch_alter_table("api_clients") as batch:
        batch.add_column(sa.Column("granted_sources", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("api_clients") as batch:
        batch.drop_column("granted_sources")
