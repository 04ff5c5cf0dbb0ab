"""A MAC on every source row: where creditgate sends an ERP's credentials is creditgate's word.

A source row says which server gets the credentials its `*_env` settings name and whether
warnings are pushed there; someone who can write the database could point it at their own
server or silence the pushes. Each row now carries an HMAC-SHA256 over its name, kind, url,
settings and creation time (adapters/db/macs.py), and no adapter is built from a row without a
valid one. Rows made before this revision keep NULL here until `creditgate migrate` (or
`init-db`) signs them as they stand, once, at the upgrade (config/wiring.py `migrate`).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("mac", sa.String(120)))


def downgrade() -> None:
    op.drop_column("sources", "mac")
