"""A client-side time bound on PostgreSQL work that holds even when the server is frozen.

A stopped server (SIGSTOP, a hung host kernel that still ACKs, a storage stall) answers
nothing, yet its kernel keeps acknowledging TCP: `statement_timeout` never fires (the backend
does not run), TCP keepalives are answered and `tcp_user_timeout` sees no unacknowledged data.
psycopg then waits for the reply for ever. So the gate's calls run under a `Deadline`: a
watchdog thread (one per process) shuts down the socket of every connection still checked out
when the deadline passes. The blocked call returns at once with an OperationalError, which the
unit of work turns into GateUnavailable (the fail-safe 503); SQLAlchemy sees a broken
connection and discards the pool, so the next request connects afresh.

A connection opened under a deadline is opened in a helper thread and waited for no longer than
the time left (libpq's own `connect_timeout` has a floor of two whole seconds).

SQLite has no socket and its own busy timeout: a deadline there costs nothing and does nothing.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

SERVER_MARGIN = 0.1  # seconds; a loopback or LAN round trip is well under it


class Deadline:
    """The moment by which the work of one call must be done, and the sockets it holds."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.at = clock() + seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._held: dict[int, Any] = {}  # id -> the DBAPI connections checked out under it
        self.expired = False

    def remaining(self) -> float:
        return self.at - self._clock()

    def server_ms(self) -> int:
        """What is left, in whole milliseconds, less `SERVER_MARGIN`: for the server's own
        lock_timeout and statement_timeout, so that a live server's clean error (the connection
        kept) comes before the watchdog would cut the connection."""
        return max(1, int((self.remaining() - SERVER_MARGIN) * 1000))

    def attach(self, dbapi_connection: Any) -> None:
        with self._lock:
            if self.expired:
                _cut(dbapi_connection)
            else:
                self._held[id(dbapi_connection)] = dbapi_connection

    def detach(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._held.pop(id(dbapi_connection), None)

    def expire(self) -> None:
        """Cut every connection still checked out under this deadline. Under the lock, so a
        connection returned to the pool or closed meanwhile (detached) is never touched."""
        with self._lock:
            self.expired = True
            held, self._held = list(self._held.values()), {}
            cut = sum(_cut(connection) for connection in held)
        if cut:
            log.warning("the database did not answer in time: %d connection(s) cut", cut)


_KEY = "creditgate_deadline"
_current: ContextVar[Deadline | None] = ContextVar("creditgate_deadline", default=None)


def current() -> Deadline | None:
    return _current.get()


@contextlib.contextmanager
def bounded(seconds: float) -> Iterator[Deadline]:
    """Run the block's database work under a deadline `seconds` from now. Nested blocks keep
    the outer deadline (the whole call shares one budget)."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    deadline = Deadline(seconds)
    token = _current.set(deadline)
    _WATCHDOG.watch(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)
        _WATCHDOG.forget(deadline)


def install(engine: Engine) -> None:
    """Make `engine`'s PostgreSQL connections honour the current deadline."""
    if engine.dialect.name != "postgresql":
        return

    def _release(dbapi_connection: Any, record: Any, *_: Any) -> None:
        # Returned, invalidated or closed (whatever thread does it): never cut it afterwards.
        deadline = record.info.pop(_KEY, None) if record is not None else None
        if deadline is not None and dbapi_connection is not None:
            deadline.detach(dbapi_connection)

    for name in ("checkin", "invalidate", "soft_invalidate", "close"):
        event.listen(engine, name, _release)

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        _release(dbapi_connection, record)  # only ever the deadline of this checkout
        deadline = _current.get()
        if deadline is not None:
            record.info[_KEY] = deadline
            deadline.attach(dbapi_connection)

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        deadline = _current.get()
        if deadline is None:
            return None  # the default connect
        return _connect_within(
            lambda: dialect.connect(*cargs, **cparams), deadline, dialect.loaded_dbapi
        )


def _connect_within(connect: Callable[[], Any], deadline: Deadline, dbapi: Any) -> Any:
    left = deadline.remaining()
    if left <= 0:
        raise dbapi.OperationalError("no time left to connect within the gate timeout")
    box: dict[str, Any] = {}
    lock = threading.Lock()

    def run() -> None:
        try:
            connection = connect()
        except BaseException as exc:
            box["error"] = exc
            return
        with lock:
            if box.get("abandoned"):
                connection.close()  # the caller gave up on it
            else:
                box["value"] = connection

    worker = threading.Thread(target=run, name="creditgate-connect", daemon=True)
    worker.start()
    worker.join(left)
    with lock:
        if "value" in box:
            return box["value"]
        if "error" in box:
            raise box["error"]
        box["abandoned"] = True
    raise dbapi.OperationalError(f"no connection within {max(left, 0):.2f} s")


class _Watchdog:
    """One daemon thread per process that expires deadlines in order."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._live: set[int] = set()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def watch(self, deadline: Deadline) -> None:
        with self._cond:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                # First use in this process (a forked worker does not inherit the thread).
                self._heap, self._live, self._pid = [], set(), os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="creditgate-deadline", daemon=True
                )
                self._thread.start()
            self._live.add(id(deadline))
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._heap[0][2] is deadline:
                self._cond.notify()

    def forget(self, deadline: Deadline) -> None:
        with self._cond:
            self._live.discard(id(deadline))

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and id(self._heap[0][2]) not in self._live:
                    heapq.heappop(self._heap)  # finished in time
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][2].remaining()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _, _, due = heapq.heappop(self._heap)
                self._live.discard(id(due))
            due.expire()


_WATCHDOG = _Watchdog()


def _cut(dbapi_connection: Any) -> bool:
    """Shut the connection's socket down under libpq's feet: its pending read returns at once.
    The socket is read now, not at checkout: libpq closes it on some errors, and its number may
    since belong to another connection. The fd stays libpq's to close (`fromfd` duplicates it).
    """
    try:
        fd = int(dbapi_connection.pgconn.socket)  # raises once libpq has dropped the socket
        with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)
    except Exception as exc:  # already closed: nothing to cut
        log.debug("no database socket to cut: %s", exc)
        return False
    return True
