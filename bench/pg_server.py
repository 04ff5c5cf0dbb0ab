"""The PostgreSQL server the benchmark runs on, and the databases it makes there.

Either the server named by CREDITGATE_BENCH_POSTGRES_URL (a role allowed to create databases),
or a throwaway cluster from the test suite's `tests.databases.start_cluster()` (initdb on a free
loopback port, fsync off), stopped and deleted when the bench ends, whatever way it ends.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

URL_ENV = "CREDITGATE_BENCH_POSTGRES_URL"
# The settings that flatter or hamper a bulk load and a write-heavy gate; printed with the run.
SHOWN = (
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_level",
    "shared_buffers",
    "max_wal_size",
    "work_mem",
)


def _psycopg_url(url: str) -> str:
    """The same URL with SQLAlchemy's psycopg 3 driver (`postgresql://` would pick psycopg2)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"{URL_ENV} must be a postgresql:// URL, not {parsed.drivername}://")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


class PgServer:
    """A server this run may create databases on; `close` drops them (and stops a cluster)."""

    def __init__(self, url: str, cluster: Any = None) -> None:
        self.url = _psycopg_url(url)
        self.cluster = cluster
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.tag = f"cgbench{os.getpid()}"
        self.created: list[str] = []
        deadline = time.monotonic() + 15
        while True:
            try:
                with self.admin.connect() as conn:
                    self.version = str(conn.execute(text("SHOW server_version")).scalar_one())
                    self.settings = {
                        name: str(conn.execute(text(f"SHOW {name}")).scalar_one()) for name in SHOWN
                    }
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def describe(self) -> str:
        where = make_url(self.url).render_as_string(hide_password=True)
        return f"throwaway cluster at {where}" if self.cluster else where

    def settings_line(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.settings.items())

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of one of this run's databases."""
        return make_url(self.url).set(database=database).render_as_string(hide_password=False)

    def conninfo_for(self, database: str) -> str:
        """libpq URL of the same database, for psycopg.connect."""
        url = make_url(self.url).set(drivername="postgresql", database=database)
        return url.render_as_string(hide_password=False)

    def create(self, suffix: str) -> str:
        """A new, empty database for this run; dropped first if a previous run left it."""
        name = f"{self.tag}_{suffix}"
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.created:
            self.created.remove(name)

    def execute(self, database: str, sql: str) -> None:
        """Run one statement outside a transaction (VACUUM needs that)."""
        engine = create_engine(
            self.url_for(database), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        try:
            with engine.connect() as conn:
                conn.execute(text(sql))
        finally:
            engine.dispose()

    def close(self) -> None:
        try:
            if self.cluster is None:  # someone else's server: leave nothing behind
                for name in list(self.created):
                    with contextlib.suppress(Exception):
                        self.drop(name)
            self.admin.dispose()
        finally:
            if self.cluster is not None:
                self.cluster.stop()


@contextlib.contextmanager
def pg_server(log: Any = print) -> Iterator[PgServer]:
    """The server from CREDITGATE_BENCH_POSTGRES_URL, or a throwaway cluster; always cleaned up.

    :raises tests.databases.PostgresUnavailable: when there is no URL and no cluster can start.
    """
    given = os.environ.get(URL_ENV)
    if given:
        server = PgServer(given)
    else:
        from tests.databases import start_cluster  # the test suite's throwaway cluster

        log("  starting a throwaway PostgreSQL cluster (initdb, fsync off) ...")
        cluster = start_cluster()
        try:
            server = PgServer(cluster.url, cluster)
        except BaseException:
            cluster.stop()
            raise
    try:
        yield server
    finally:
        server.close()
