"""What a gate decision reads, in two statements.

Every statement costs SQLAlchemy's and the driver's work and, on PostgreSQL, a round trip, which
together were most of a decision's time (bench/README.md). So a decision takes its locks with the
source and the thresholds in one statement, then reads everything else in a second one.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Connection, Integer, String
from sqlalchemy import text as sql_text
from sqlalchemy.types import JSON

from adapters.db import deadline
from adapters.db import statements as sql
from adapters.db.driver import DriverStatement
from adapters.db.repository import (
    balance_of,
    order_of,
    overdue_invoice_of,
    parties_of,
    thresholds_of,
)
from adapters.db.tables import thresholds_versions
from adapters.db.types import UTCDateTime
from gating.errors import SourceNotFound
from gating.model import Balance, OverdueSummary, Thresholds
from gating.ports import DecisionView, SourceRecord

THRESHOLDS_COLUMNS = tuple(c.name for c in thresholds_versions.c)

# Transaction-scoped advisory locks, customer first, then its group (every decision takes them in
# that order, so two decisions cannot deadlock). The key space is shared with the migration lock
# (adapters.db.schema); hashtextextended's 64 bits make a collision, which would only serialize
# two unrelated decisions, negligible. The group is looked up in the same statement.
_PG_BEGIN = sql_text(
    """
SELECT s.id, s.name, s.kind, s.last_success_at,
       tv.version AS t_version, tv.document AS t_document, tv.created_at AS t_created_at,
       tv.created_by AS t_created_by, tv.reason AS t_reason, tv.mac AS t_mac,
       set_config('lock_timeout', COALESCE(:time_left, current_setting('lock_timeout')), true)
           AS lock_timeout,
       set_config('statement_timeout', COALESCE(:time_left,
                  current_setting('statement_timeout')), true) AS statement_timeout,
       pg_advisory_xact_lock(hashtextextended('creditgate:customer:' || s.id || ':' || :ref, 0))
           IS NULL AS customer_locked,
       (SELECT pg_advisory_xact_lock(hashtextextended('creditgate:group:' || c.group_id, 0))
               IS NULL
          FROM customers c
         WHERE c.source_id = s.id AND c.external_id = :ref AND c.group_id IS NOT NULL
       ) AS group_locked
  FROM sources s
  LEFT JOIN (SELECT * FROM thresholds_versions ORDER BY version DESC LIMIT 1) tv
         ON true
 WHERE s.name = :name
"""
).columns(
    id=BigInteger,
    name=String,
    kind=String,
    last_success_at=UTCDateTime,
    t_version=Integer,
    t_document=JSON,
    t_created_at=UTCDateTime,
    t_created_by=String,
    t_reason=String,
    t_mac=String,
    lock_timeout=String,
    statement_timeout=String,
    customer_locked=Boolean,
    group_locked=Boolean,
)
_PG_BEGIN_RUN = DriverStatement(_PG_BEGIN, "Begin")
_SOURCE_AND_THRESHOLDS = DriverStatement(sql.SOURCE_AND_THRESHOLDS, "Begin")
_VIEW = DriverStatement(sql.DECISION_VIEW, "View")
_OVERDUE_COUNT = DriverStatement(sql.OVERDUE_COUNT, "Count")


def begin_decision(
    conn: Connection, source_name: str, customer_ref: str
) -> tuple[SourceRecord, Thresholds]:
    """:raises SourceNotFound:"""
    if conn.dialect.name == "postgresql":
        # Under the call's deadline, the transaction's lock_timeout and statement_timeout are
        # what is left of it: the server gives up on a lock or a statement the caller is about
        # to give up on, with a clean error. set_config() comes before the locks in the select
        # list, so this statement's own lock waits are bounded too.
        bound = deadline.current()
        left = None if bound is None else f"{bound.server_ms()}ms"
        params = {"name": source_name, "ref": customer_ref, "time_left": left}
        row = _PG_BEGIN_RUN.first(conn, params)
    else:  # SQLite: BEGIN IMMEDIATE already holds the database's write lock
        row = _SOURCE_AND_THRESHOLDS.first(conn, {"name": source_name})
    if row is None:
        raise SourceNotFound(source_name)
    source = SourceRecord(row.id, row.name, row.kind, row.last_success_at)
    stored = {name: getattr(row, f"t_{name}") for name in THRESHOLDS_COLUMNS}
    return source, thresholds_of(conn, stored)


def decision_view(
    conn: Connection,
    source_id: int,
    customer_ref: str,
    order_id: str,
    *,
    now: datetime,
    due_before: date,
    tolerance: Decimal,
    cap: int,
) -> DecisionView:
    """One statement; a second one counts the invoices due before `due_before` when there is
    one at all. Run after the locks, so its snapshot sees whatever the previous holder
    committed."""
    params = {
        "source_id": source_id,
        "ref": customer_ref,
        "order_id": order_id,
        "now": now,
        # The oldest invoice past due at all, so the snapshot has it even when it is within
        # the overdue days (what-if replays it under other days); counted only beyond them.
        "due_before": now.date(),
        "tolerance": tolerance,
    }
    rows = _VIEW.rows(conn, params)
    first = rows[0]  # the outer joins on (SELECT 1) always yield a row
    balances: dict[str, list[Balance]] = {"c": [], "g": []}
    for owner in ("c", "g"):
        seen = set()
        for r in rows:
            row = _Prefixed(r, f"{owner}b_")
            if row.currency is not None and row.currency not in seen:
                seen.add(row.currency)
                balances[owner].append(balance_of(row, row.currency))
    customer, group = None, None
    if first.id is not None:
        customer, group = parties_of(first, customer_ref, balances)
    order = None if first.o_id is None else order_of(_Prefixed(first, "o_"))
    overdue = OverdueSummary()
    if first.od_number is not None and first.od_due_date >= due_before:
        overdue = OverdueSummary(oldest=overdue_invoice_of(_Prefixed(first, "od_")))
    elif first.od_number is not None:
        counted = _OVERDUE_COUNT.scalar(
            conn,
            {
                "customer_id": first.id,
                "due_before": due_before,
                "tolerance": tolerance,
                "cap": cap + 1,
            },
        )
        overdue = OverdueSummary(
            count=min(counted, cap),
            oldest=overdue_invoice_of(_Prefixed(first, "od_")),
            capped=counted > cap,
        )
    return DecisionView(customer, group, order, overdue, bool(first.lapsed))


class _Prefixed:
    """A row's columns with one prefix (`o_id`, `o_amount`...), read without it."""

    def __init__(self, row: Any, prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, self._prefix + name)
