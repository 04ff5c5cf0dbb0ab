"""Unit of work: one database transaction, rolled back unless committed (cosmicpython)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from adapters.db import decision_reads
from adapters.db.engine import readonly, write_slot
from adapters.db.repository import (
    AuditRepository,
    CustomerRepository,
    DecisionRepository,
    NoticeRepository,
    OrderRepository,
    SourceRepository,
    ThresholdsRepository,
)
from gating.errors import Conflict, GateUnavailable
from gating.model import Thresholds
from gating.ports import DecisionView, SourceRecord

log = logging.getLogger(__name__)


class SqlAlchemyUnitOfWork:
    """Opens a connection and a transaction on enter; commits only when told to."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime], *, read_only: bool = False):
        self.engine = readonly(engine) if read_only else engine
        self.clock = clock
        self.conn: Connection | None = None
        self._slot = None if read_only else write_slot(engine)
        self._holding = False

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        busy_ms = None
        if self._slot is not None:
            slot, timeout = self._slot
            left = slot.acquire(timeout)
            if left is None:
                raise GateUnavailable(f"database busy: no write slot within {timeout:g} s")
            self._holding = True
            # What is left of the gate's time budget is all SQLite may wait for its own lock,
            # so the fail-safe answer comes within the configured timeout, not twice it.
            busy_ms = max(10, int(left * 10) * 100)
        try:
            conn = self.engine.connect()
        except (OperationalError, PoolTimeout, DBAPIError) as exc:
            self._release()
            raise _unavailable(exc) from exc
        try:
            if busy_ms is not None and conn.info.get("busy_ms") != busy_ms:
                # On the driver's connection: through SQLAlchemy it would start a transaction.
                driver = conn.connection.driver_connection
                assert driver is not None
                driver.execute(f"PRAGMA busy_timeout = {busy_ms}")
                conn.info["busy_ms"] = busy_ms
            conn.begin()
        except (OperationalError, DBAPIError) as exc:
            conn.close()
            self._release()
            raise _unavailable(exc) from exc
        except BaseException:
            conn.close()
            self._release()
            raise
        self.conn = conn
        now = self.clock()
        self.sources = SourceRepository(conn)
        self.customers = CustomerRepository(conn)
        self.orders = OrderRepository(conn, now)
        self.decisions = DecisionRepository(conn)
        self.thresholds = ThresholdsRepository(conn)
        self.audit = AuditRepository(conn)
        self.notices = NoticeRepository(conn)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self.conn is not None
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
        except DBAPIError:
            pass  # the connection is already gone; closing it below is all that is left
        finally:
            self.conn.close()
            self.conn = None
            self._release()
        # Translate store failures into domain errors so the web layer needs no SQLAlchemy.
        if isinstance(exc, IntegrityError):
            raise Conflict("a concurrent request changed the same record; retry it") from exc
        if isinstance(exc, OperationalError | PoolTimeout) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated
        ):
            raise _unavailable(exc) from exc

    def _release(self) -> None:
        if self._holding and self._slot is not None:
            self._holding = False
            self._slot[0].release()

    @property
    def connection(self) -> Connection:
        assert self.conn is not None, "use the unit of work in a with block"
        return self.conn

    def begin_decision(self, source: str, customer_ref: str) -> tuple[SourceRecord, Thresholds]:
        """SQLite: the transaction already holds the database's write lock (BEGIN IMMEDIATE).
        PostgreSQL: transaction-scoped advisory locks on the customer, then its group, which
        hold across processes and hosts and also cover customers not synced yet (no row to
        lock)."""
        return decision_reads.begin_decision(self.connection, source, customer_ref)

    def decision_view(
        self,
        source_id: int,
        customer_ref: str,
        order_id: str,
        *,
        now: datetime,
        due_before: date,
        tolerance: Decimal,
        cap: int,
    ) -> DecisionView:
        return decision_reads.decision_view(
            self.connection,
            source_id,
            customer_ref,
            order_id,
            now=now,
            due_before=due_before,
            tolerance=tolerance,
            cap=cap,
        )

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).splitlines()[0][:200]


def _unavailable(exc: BaseException) -> GateUnavailable:
    """The domain error for a database that cannot be reached. The driver's message (hosts,
    ports, file paths) goes to the server log only, never into an answer."""
    log.warning("database unavailable: %s", _short(exc))
    return GateUnavailable("database unavailable")
