"""The language a person or an API client reads creditgate in: `users.language` (set on the
profile page; NULL: the browser's Accept-Language decides) and `api_clients.language`
(`apikey create --language`; NULL: English unless the request sends Accept-Language). A
language tag such as `zh-CN` or `en`. Neither is covered by a MAC: it decides how a text reads,
not what is decided or who may act.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.String(10)))
    op.add_column("api_clients", sa.Column("language", sa.String(10)))


def downgrade() -> None:
    op.drop_column("api_clients", "language")
    op.drop_column("users", "language")
