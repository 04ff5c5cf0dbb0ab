"""NAV sources keep the warning fields they were set up with.

Until this revision a nav-soap source always wrote `Credit_Warning` and `Credit_Warning_Note`
(the adapter refused to start without them, so every working NAV source has them); they are now
options of `sources add`, off by default, since no standard Customer page has them. A nav-soap
source made before names them in its settings here, so its pushes go on as they did.

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

BEFORE = {"warning_field": "Credit_Warning", "note_field": "Credit_Warning_Note"}


def upgrade() -> None:
    sources = sa.table(
        "sources", sa.column("id", sa.Integer), sa.column("kind"), sa.column("settings", sa.JSON)
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(sources.c.id, sources.c.settings).where(sources.c.kind == "nav-soap")
    )
    for source_id, settings in rows.all():
        settings = dict(settings or {})
        kept = {key: settings.get(key, value) for key, value in BEFORE.items()}
        if kept.items() <= settings.items():
            continue
        conn.execute(
            sources.update().where(sources.c.id == source_id).values(settings={**settings, **kept})
        )


def downgrade() -> None:
    """Nothing to undo: the settings name what the adapter before this revision wrote anyway."""
