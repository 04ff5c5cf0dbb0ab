"""Engines: SQLite tuned for the gate (WAL, busy timeout, locking writes) or PostgreSQL."""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from adapters.db import deadline
from adapters.db.macs import to_json
from adapters.db.write_slot import WriteSlot

READONLY = "creditgate_readonly"


def make_engine(url: str, *, timeout: float = 2.0, **kwargs: Any) -> Engine:
    """Create an engine; `timeout` bounds how long a call waits for a lock or a connection."""
    parsed = make_url(url)
    kwargs.setdefault("json_serializer", to_json)  # json.dumps, reusing texts made for MACs
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, timeout, **kwargs)
    connect_args: dict[str, Any] = {"connect_timeout": max(1, int(timeout))}
    if parsed.get_driver_name() == "psycopg":
        connect_args["options"] = f"-c lock_timeout={int(timeout * 1000)}"
        # A host that vanished (power, network) stops acknowledging: tcp_user_timeout drops a
        # connection whose sent data stays unacknowledged this long, and keepalives find one
        # resting in the pool dead within about 16 s. Neither helps against a frozen server
        # whose kernel still ACKs: the gate's deadline (adapters/db/deadline.py) bounds that.
        connect_args.update(
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=2,
            keepalives_count=3,
            tcp_user_timeout=int(timeout * 1000),
        )
    # No pool_pre_ping: it costs a round trip on every checkout, ~10% of a gate decision. After a
    # server restart, the first use of each stale connection fails instead (the gate answers its
    # fail-safe 503), and SQLAlchemy then discards the whole pool, so recovery takes one request
    # per process (tests/production/test_database_outage.py).
    engine = create_engine(url, pool_timeout=timeout, connect_args=connect_args, **kwargs)
    deadline.install(engine)
    return engine


_WRITE_SLOTS: weakref.WeakKeyDictionary[Engine, tuple[WriteSlot, float]] = (
    weakref.WeakKeyDictionary()
)


def write_slot(engine: Engine) -> tuple[WriteSlot, float] | None:
    """The queue a SQLite engine's gate writers take turns on, and how long they may wait."""
    return _WRITE_SLOTS.get(engine)


def _sqlite_engine(url: str, timeout: float, **kwargs: Any) -> Engine:
    engine = create_engine(url, connect_args={"timeout": timeout}, **kwargs)
    database = make_url(url).database or ""
    on_disk = database not in ("", ":memory:") and not database.startswith("file:")
    _WRITE_SLOTS[engine] = (WriteSlot(f"{database}-gatelock" if on_disk else None), timeout)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred and late).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writing transaction takes SQLite's write lock up front: two gate decisions can then
        # never read the same balance and both reserve the last credit. Readers stay concurrent.
        readonly = conn.get_execution_options().get(READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def readonly(engine: Engine) -> Engine:
    """The same pool, for transactions that only read (no write lock on SQLite)."""
    return engine.execution_options(**{READONLY: True})


def ping(engine: Engine) -> None:
    """:raises sqlalchemy.exc.SQLAlchemyError: if the database does not answer."""
    with readonly(engine).connect() as conn:
        conn.execute(text("SELECT 1"))
