"""What a gate decision reads, in as few round trips as each database wants.

SQLite runs in-process, so a statement costs microseconds and the reads stay the small, shared
repository queries. On PostgreSQL every statement is a network round trip plus the driver's and
SQLAlchemy's work around it, which was most of a decision's time (bench/README.md): there the
decision takes its locks with the source and thresholds in one statement, then reads everything
else in a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Connection, Date, Integer, String, bindparam
from sqlalchemy import text as sql_text
from sqlalchemy.types import JSON

from adapters.db import statements as sql
from adapters.db.repository import (
    CustomerRepository,
    OrderRepository,
    balance_of,
    order_of,
    overdue_invoice_of,
    parties_of,
    thresholds_of,
)
from adapters.db.types import Money, UTCDateTime
from gating.errors import SourceNotFound
from gating.model import Balance, OverdueSummary, Thresholds
from gating.ports import DecisionView, SourceRecord

# Transaction-scoped advisory locks, customer first, then its group (every decision takes them in
# that order, so two decisions cannot deadlock). The key space is shared with the migration lock
# (adapters.db.schema); hashtextextended's 64 bits make a collision, which would only serialize
# two unrelated decisions, negligible. The group is looked up in the same statement.
_PG_BEGIN = sql_text(
    """
SELECT s.id, s.name, s.kind, s.last_success_at,
       tv.version AS t_version, tv.document AS t_document,
       pg_advisory_xact_lock(hashtextextended('creditgate:customer:' || s.id || ':' || :ref, 0))
           IS NULL AS customer_locked,
       (SELECT pg_advisory_xact_lock(hashtextextended('creditgate:group:' || c.group_id, 0))
               IS NULL
          FROM customers c
         WHERE c.source_id = s.id AND c.external_id = :ref AND c.group_id IS NOT NULL
       ) AS group_locked
  FROM sources s
  LEFT JOIN (SELECT version, document FROM thresholds_versions ORDER BY version DESC LIMIT 1) tv
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
    customer_locked=Boolean,
    group_locked=Boolean,
)

# Run after the locks, so its snapshot sees whatever the previous holder committed. One row per
# balance (customer's, then group's); the position, order and overdue columns repeat on each.
# The overdue predicates repeat the partial index's own (is_open IS true) so it is used.
_PG_VIEW = (
    sql_text(
        """
SELECT c.id, c.name, c.currency, c.credit_limit, c.on_hold, c.hold_reason,
       g.id AS g_id, g.external_id AS g_ref, g.name AS g_name, g.currency AS g_currency,
       g.credit_limit AS g_limit, g.on_hold AS g_on_hold, g.hold_reason AS g_hold_reason,
       o.id AS o_id, o.source_id AS o_source_id, o.external_id AS o_external_id,
       o.customer_ref AS o_customer_ref, o.customer_id AS o_customer_id, o.amount AS o_amount,
       o.currency AS o_currency, o.reserved AS o_reserved, o.invoiced AS o_invoiced,
       o.status AS o_status, o.last_decision_id AS o_last_decision_id,
       o.last_outcome AS o_last_outcome,
       od.number AS od_number, od.due_date AS od_due_date, od.open_amount AS od_open_amount,
       od.currency AS od_currency,
       CASE WHEN od.number IS NULL THEN 0 ELSE (
           SELECT count(*) FROM (
               SELECT 1 FROM invoices i
                WHERE i.customer_id = c.id AND i.is_open IS true
                  AND i.due_date < :due_before AND i.open_amount > :tolerance
                LIMIT :cap) AS capped)
       END AS od_count,
       CASE
         WHEN c.id IS NULL THEN EXISTS (
             SELECT 1 FROM orders x
              WHERE x.source_id = :source_id AND x.customer_ref = :ref
                AND x.customer_id IS NULL AND x.status = 'open' AND x.expires_at < :now)
         WHEN g.id IS NULL THEN EXISTS (
             SELECT 1 FROM orders x
              WHERE x.customer_id = c.id AND x.status = 'open' AND x.expires_at < :now)
         ELSE EXISTS (
             SELECT 1 FROM orders x JOIN customers m ON m.id = x.customer_id
              WHERE m.group_id = g.id AND x.status = 'open' AND x.expires_at < :now)
       END AS lapsed,
       b.owner, b.currency AS b_currency, b.open_invoices, b.unapplied, b.reserved
  FROM (SELECT 1) AS one
  LEFT JOIN customers c ON c.source_id = :source_id AND c.external_id = :ref
  LEFT JOIN groups g ON g.id = c.group_id
  LEFT JOIN orders o ON o.source_id = :source_id AND o.external_id = :order_id
  LEFT JOIN LATERAL (
       SELECT i.number, i.due_date, i.open_amount, i.currency FROM invoices i
        WHERE i.customer_id = c.id AND i.is_open IS true
          AND i.due_date < :due_before AND i.open_amount > :tolerance
        ORDER BY i.due_date LIMIT 1) od ON true
  LEFT JOIN LATERAL (
       SELECT 'c' AS owner, cb.currency, cb.open_invoices, cb.unapplied, cb.reserved
         FROM customer_balances cb WHERE cb.customer_id = c.id
       UNION ALL
       SELECT 'g', gb.currency, gb.open_invoices, gb.unapplied, gb.reserved
         FROM group_balances gb WHERE gb.group_id = g.id) b ON true
 ORDER BY b.owner, b.currency
"""
    )
    .bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("due_before", type_=Date()),
        bindparam("tolerance", type_=Money()),
    )
    .columns(
        credit_limit=Money,
        g_limit=Money,
        o_amount=Money,
        o_reserved=Money,
        o_invoiced=Money,
        od_open_amount=Money,
        open_invoices=Money,
        unapplied=Money,
        reserved=Money,
    )
)


def begin_decision(
    conn: Connection, source_name: str, customer_ref: str
) -> tuple[SourceRecord, Thresholds]:
    """:raises SourceNotFound:"""
    if conn.dialect.name == "postgresql":
        row = conn.execute(_PG_BEGIN, {"name": source_name, "ref": customer_ref}).first()
    else:  # SQLite: BEGIN IMMEDIATE already holds the database's write lock
        row = conn.execute(sql.SOURCE_AND_THRESHOLDS, {"name": source_name}).first()
    if row is None:
        raise SourceNotFound(source_name)
    source = SourceRecord(row.id, row.name, row.kind, row.last_success_at)
    return source, thresholds_of(row.t_version, row.t_document)


def decision_view(
    conn: Connection,
    customers: CustomerRepository,
    orders: OrderRepository,
    source_id: int,
    customer_ref: str,
    order_id: str,
    *,
    now: datetime,
    due_before: date,
    tolerance: Decimal,
    cap: int,
) -> DecisionView:
    if conn.dialect.name == "postgresql":
        params = {
            "source_id": source_id,
            "ref": customer_ref,
            "order_id": order_id,
            "now": now,
            "due_before": due_before,
            "tolerance": tolerance,
            "cap": cap + 1,
        }
        return _from_rows(conn.execute(_PG_VIEW, params).all(), customer_ref, cap)
    customer, group = customers.position(source_id, customer_ref)
    overdue = OverdueSummary()
    if customer is not None and customer.key is not None:
        overdue = customers.overdue(customer.key, due_before, tolerance, cap)
    # A synced customer's running totals say whether anything is reserved; if nothing is,
    # nothing can have lapsed and the lookup is skipped.
    holder = group or customer
    lapsed = (holder is None or any(b.reserved for b in holder.balances)) and orders.has_lapsed(
        source_id,
        customer_ref,
        now,
        None if customer is None else customer.key,
        None if group is None else group.key,
    )
    return DecisionView(customer, group, orders.get(source_id, order_id), overdue, lapsed)


def _from_rows(rows: Sequence[Any], customer_ref: str, cap: int) -> DecisionView:
    first = rows[0]  # the outer join on (SELECT 1) always yields a row
    balances: dict[str, list[Balance]] = {"c": [], "g": []}
    for r in rows:
        if r.owner is not None:
            balances[r.owner].append(balance_of(r, r.b_currency))
    customer, group = None, None
    if first.id is not None:
        customer, group = parties_of(first, customer_ref, balances)
    order = None if first.o_id is None else order_of(_Prefixed(first, "o_"))
    overdue = OverdueSummary()
    if first.od_number is not None:
        counted = int(first.od_count)
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
