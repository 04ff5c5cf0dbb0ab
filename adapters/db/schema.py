"""The database schema's life: Alembic migrations (adapters/db/migrations), run in-process."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, column, inspect, select, table, text

from adapters.db.engine import readonly
from adapters.db.tables import metadata

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
VERSION_TABLE = "alembic_version"
TRIGGER_FUNCTION = "creditgate_append_only"
_VERSIONS = table(VERSION_TABLE, column("version_num"))

# Taken for the length of a migration so two processes starting at once do not both run it.
# SQLite needs none: the engine opens every writing transaction with BEGIN IMMEDIATE.
_PG_MIGRATION_LOCK = 0x63726564_67617465  # "credgate"


# The revision that added row MACs (adapters/db/macs.py): an upgrade across it adopts the rows
# recorded before it (admin.adopt_unsigned_rows).
MAC_REVISION = "0012"
# The revision that added source rows' MACs: an upgrade across it signs the sources as they stand
# (adapters/db/sync_store.adopt_unsigned_sources).
SOURCE_MAC_REVISION = "0016"


@dataclass(frozen=True)
class Migrated:
    """Where an upgrade found the database and where it left it (None: no schema yet)."""

    before: str | None
    after: str | None

    def crossed(self, revision: str) -> bool:
        """Whether this upgrade ran `revision` on a database that existed before it."""
        if self.before is None or self.after is None or self.before == self.after:
            return False
        ran = _scripts().iterate_revisions(self.after, self.before)
        return any(script.revision == revision for script in ran)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config for our migrations; env.py runs them on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, f"no migrations under {MIGRATIONS}"
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None for an empty database or one made before migrations."""
    with readonly(engine).connect() as conn:
        return _revision(conn)


def not_current(engine: Engine) -> str | None:
    """Why the database's schema is not the one this code needs, saying what to run; None when
    it is at head. Reads only: nothing is migrated."""
    head = head_revision()
    with readonly(engine).connect() as conn:
        current = _revision(conn)
        made_before_migrations = current is None and inspect(conn).has_table("sources")
    if current == head:
        return None
    where = engine.url.render_as_string(hide_password=True)
    if made_before_migrations:
        return (
            f"the database at {where} was made before migrations (no revision) and this "
            f"creditgate needs revision {head}: run `creditgate migrate` first"
        )
    if current is None:
        return f"the database at {where} has no schema yet: run `creditgate init-db` first"
    try:
        _scripts().get_revision(current)
    except CommandError:
        return (
            f"the database at {where} is at revision {current}, which this creditgate does not "
            f"know (a newer version migrated it; its latest is {head}): use that version"
        )
    return (
        f"the database at {where} is at revision {current} and this creditgate needs revision "
        f"{head}: run `creditgate migrate` first"
    )


def upgrade(engine: Engine, revision: str = "head") -> Migrated:
    """Migrate the database up to `revision`, first stamping a database made before migrations.

    :raises alembic.util.CommandError: for a revision this code does not know (a database
        migrated by a newer creditgate, or a bad argument).
    """
    target = _scripts().get_revision(revision)
    target_id = target.revision if target else None
    # The common case, a database already there, costs one read and takes no write lock.
    before = current_revision(engine)
    if before == target_id:
        return Migrated(before, before)
    with engine.begin() as conn:
        _serialize(conn)
        before = _revision(conn) or _stamp_pre_alembic(conn, engine)
        if before != target_id:
            command.upgrade(alembic_config(conn), revision)
        after = _revision(conn)
    return Migrated(before, after)


def downgrade(engine: Engine, revision: str) -> Migrated:
    """Migrate the database down to `revision` ("base" removes every table)."""
    with engine.begin() as conn:
        _serialize(conn)
        before = _revision(conn)
        command.downgrade(alembic_config(conn), revision)
        return Migrated(before, _revision(conn))


def drop_schema(engine: Engine) -> None:
    """Drop our tables, the version table and the PostgreSQL trigger function (demo and tests)."""
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"DROP FUNCTION IF EXISTS {TRIGGER_FUNCTION}()"))


def _revision(conn: Connection) -> str | None:
    # What MigrationContext.get_current_revision() reads, without a context to set up (and two
    # INFO lines logged) before every command the CLI runs.
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    revisions = conn.execute(select(_VERSIONS.c.version_num)).scalars().all()
    if len(revisions) > 1:
        raise RuntimeError(f"{VERSION_TABLE} holds several revisions: {revisions}")
    return revisions[0] if revisions else None


def _serialize(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})


def _stamp_pre_alembic(conn: Connection, engine: Engine) -> str | None:
    """Stamp a database that `metadata.create_all` made before there were migrations.

    Such a database has our tables and no version table. Two schemas were shipped that way:
    revision 0001's, and 0002's (create_all on an empty database after the invoices' indexes
    became partial; create_all never changed the indexes of an existing table). The name of
    the open-invoices index tells them apart.
    """
    found = inspect(conn)
    if not found.has_table("sources"):
        return None
    indexes = {index["name"] for index in found.get_indexes("invoices")}
    revision = "0002" if "ix_invoices_open_customer_id_due_date" in indexes else "0001"
    log.warning(
        "%s has creditgate's tables but no %s: it was made before migrations; "
        "stamping it as revision %s before upgrading",
        engine.url.render_as_string(hide_password=True),
        VERSION_TABLE,
        revision,
    )
    command.stamp(alembic_config(conn), revision)
    return revision
