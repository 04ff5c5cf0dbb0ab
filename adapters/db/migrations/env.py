"""Alembic environment: runs on the connection that adapters.db.schema hands over.

There is no alembic.ini: adapters.db.schema builds the Config and passes its open connection in
``config.attributes["connection"]``, so the migration joins that transaction. To draft a new
revision, autogenerate against a database at head::

    from adapters.db.engine import make_engine
    from adapters.db.schema import alembic_config
    from alembic import command

    with make_engine(URL).begin() as conn:
        command.revision(alembic_config(conn), "what changed", autogenerate=True)

then review it, name its indexes and constraints, and copy any DDL it needs into it: a revision
is frozen history and must not import live tables or types.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from adapters.db.tables import metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "creditgate runs its migrations in-process: use `creditgate migrate` "
            "or adapters.db.schema.upgrade(engine)"
        )
    context.configure(
        connection=connection,
        # Only autogenerate reads it; the revisions name every object themselves.
        target_metadata=metadata,
        # SQLite alters a table by copying it; batch mode is how Alembic does that.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
