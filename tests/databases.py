"""The databases the suite runs on: SQLite always, PostgreSQL whenever one can be had.

Every test that asks for the `backend` fixture (through `database_url`, `settings`,
`services`, ...) runs twice, `[sqlite]` and `[postgresql]`. The PostgreSQL server is, in order:

1. the server named by CREDITGATE_TEST_POSTGRES_URL (a URL of a role allowed to create
   databases, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``);
2. a throwaway cluster: ``initdb`` into a temporary folder, ``postgres`` on a free loopback port
   with fsync off, stopped and deleted at the end of the session. The binaries are found on the
   PATH (``pg_ctl``) or in Debian's /usr/lib/postgresql/<version>/bin. As root, the cluster runs
   as the ``postgres`` user, since PostgreSQL refuses to run as root;
3. none: the ``[postgresql]`` tests are skipped, and the run says so at the top and the bottom.
   With CREDITGATE_REQUIRE_POSTGRES=1 (CI sets it) they fail instead.

Each test gets a database of its own. On PostgreSQL it is ``CREATE DATABASE ... TEMPLATE`` of a
template migrated once per session; on SQLite a copy of a migrated template file.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

URL_ENV = "CREDITGATE_TEST_POSTGRES_URL"
REQUIRE_ENV = "CREDITGATE_REQUIRE_POSTGRES"
BACKENDS = ("sqlite", "postgresql")


class PostgresUnavailable(RuntimeError):
    pass


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(versions[0]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster owned by this test session."""

    bin: Path
    root: Path
    port: int
    user: str | None  # run as this OS user (when we are root), else as ourselves

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    def start(self) -> None:
        """Start the server, making the cluster first if needed (and again after `crash`)."""
        data = self.root / "data"
        if not data.exists():
            initdb = str(self.bin / "initdb")
            done = self._run(initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
            if done.returncode:
                raise PostgresUnavailable(f"initdb failed: {done.stderr.strip() or done.stdout}")
        # fsync off: nothing here must survive the machine, only the server. Commits still
        # wait for their WAL write, so a killed server (`crash`) keeps what it acknowledged.
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        log = self.root / "postgres.log"
        pg_ctl = str(self.bin / "pg_ctl")
        done = self._run(pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
        if done.returncode:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {done.stderr.strip()}\n{tail}")

    def crash(self) -> None:
        """Stop the server the hard way (`-m immediate`: no checkpoint, sessions cut off)."""
        pg_ctl = str(self.bin / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")

    def processes(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        pid_file = self.root / "data" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def freeze(self) -> list[int]:
        """Stop every server process (SIGSTOP): up, its kernel still ACKs TCP, but it answers
        nothing. Return the processes frozen, for `thaw`."""
        frozen = self.processes()
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        return frozen

    def thaw(self, frozen: list[int]) -> None:
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server and delete the cluster."""
        self.crash()
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    """:raises PostgresUnavailable: saying why, when no cluster can be started."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        raise PostgresUnavailable(
            f"no PostgreSQL server: set {URL_ENV} or put pg_ctl on the PATH "
            "(Debian: apt-get install postgresql)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise PostgresUnavailable("psycopg is not installed: pip install -e '.[test]'") from exc
    user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable(
                "running as root and there is no 'postgres' user to run the cluster as"
            ) from exc
        user = "postgres"
    root = Path(tempfile.mkdtemp(prefix="creditgate-pg-"))
    if user:
        shutil.chown(root, user)
    cluster = Cluster(bin_dir, root, _free_port(), user)
    try:
        cluster.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


class Postgres:
    """A server the suite may create databases on, and the per-session migrated template."""

    def __init__(self, url: str, cluster: Cluster | None = None) -> None:
        self.url = url
        self.cluster = cluster
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.tag = f"cgt{os.getpid()}"
        self.template: str | None = None
        self._names = itertools.count(1)
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 15
        while True:
            try:
                with self.engine.connect() as conn:
                    self.version = conn.execute(text("SHOW server_version")).scalar_one()
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable(
                        f"cannot connect to {self.describe()}: {exc}"
                    ) from exc
                time.sleep(0.2)

    def describe(self) -> str:
        where = make_url(self.url).render_as_string(hide_password=True)
        return f"throwaway cluster at {where}" if self.cluster else where

    def url_for(self, database: str) -> str:
        return make_url(self.url).set(database=database).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        name = f"{self.tag}_{next(self._names)}"
        clause = f" TEMPLATE {template}" if template else ""
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return name

    def drop(self, name: str) -> None:
        with self.engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        with contextlib.suppress(Exception), self.engine.connect() as conn:
            names = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": f"{self.tag}_%"},
            ).scalars()
            for name in list(names):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.engine.dispose()
        if self.cluster:
            self.cluster.stop()


_state: dict[str, object] = {}


def postgres() -> Postgres:
    """The session's server, started on first use. :raises PostgresUnavailable:"""
    found = _state.get("postgres")
    if isinstance(found, Postgres):
        return found
    failed = _state.get("failure")
    if isinstance(failed, PostgresUnavailable):
        raise failed
    try:
        given = os.environ.get(URL_ENV)
        server = Postgres(given) if given else _from_cluster()
    except PostgresUnavailable as exc:
        _state["failure"] = exc
        raise
    _state["postgres"] = server
    return server


def _from_cluster() -> Postgres:
    cluster = start_cluster()
    try:
        return Postgres(cluster.url, cluster)
    except BaseException:
        cluster.stop()
        raise


def availability() -> str:
    """One line for the report: which server the [postgresql] leg uses, or why it is skipped."""
    given = os.environ.get(URL_ENV)
    if given:
        return f"postgresql leg: {make_url(given).render_as_string(hide_password=True)}"
    bin_dir = _pg_bin()
    if bin_dir is None:
        required = " (REQUIRED: these tests will fail)" if os.environ.get(REQUIRE_ENV) else ""
        return (
            f"postgresql leg: SKIPPED{required}: no server; set {URL_ENV} or put pg_ctl on the "
            "PATH (Debian: apt-get install postgresql)"
        )
    return f"postgresql leg: a throwaway cluster with {bin_dir}"


def need_postgres() -> Postgres:
    """The server, or skip (fail, when required) with the reason."""
    try:
        return postgres()
    except PostgresUnavailable as exc:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"PostgreSQL is required ({REQUIRE_ENV}=1) but unavailable: {exc}")
        pytest.skip(f"PostgreSQL leg skipped: {exc}")


def shutdown() -> None:
    """Drop the session's databases, stop a throwaway cluster, delete the SQLite template."""
    server = _state.pop("postgres", None)
    if isinstance(server, Postgres):
        server.close()
    found = _state.pop("sqlite_template", None)
    if isinstance(found, Path):
        shutil.rmtree(found.parent, ignore_errors=True)


def summary(outcomes: dict[str, int]) -> str:
    """The closing line: what the [postgresql] leg did, and why it was skipped if it was."""
    done = ", ".join(f"{n} {what}" for what, n in outcomes.items() if n) or "no tests"
    failure = _state.get("failure")
    where = _state.get("postgres")
    if isinstance(where, Postgres):
        return f"postgresql leg: {done} on PostgreSQL {where.version} ({where.describe()})"
    if failure is not None:
        return f"postgresql leg: {done}; PostgreSQL was unavailable: {failure}"
    return f"postgresql leg: {done}"


@contextlib.contextmanager
def fresh_database(backend: str, tmp_path: Path, *, migrated: bool) -> Iterator[str]:
    """A database for one test: empty, or migrated to the current schema (from a template)."""
    if backend == "sqlite":
        path = tmp_path / "cg.db"
        if migrated:
            shutil.copyfile(_sqlite_template(), path)
        yield f"sqlite:///{path}"
        return
    server = need_postgres()
    template = _pg_template(server) if migrated else None
    name = server.create(template)
    try:
        yield server.url_for(name)
    finally:
        server.drop(name)


def _migrate(url: str) -> None:
    from adapters.db import schema
    from adapters.db.engine import make_engine

    engine = make_engine(url)
    try:
        schema.upgrade(engine)
    finally:
        engine.dispose()


def _sqlite_template() -> Path:
    found = _state.get("sqlite_template")
    if isinstance(found, Path):
        return found
    folder = Path(tempfile.mkdtemp(prefix="creditgate-sqlite-"))
    path = folder / "template.db"
    _migrate(f"sqlite:///{path}")
    _state["sqlite_template"] = path
    return path


def _pg_template(server: Postgres) -> str:
    if server.template is None:
        name = server.create()
        _migrate(server.url_for(name))
        server.template = name
    return server.template
