"""The hold list: open orders whose last decision held them (review or blocked), newest first."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, Select, and_, func, literal, literal_column, or_, select

from adapters.db.audit_reads import keyset_page, narrowed
from adapters.db.engine import readonly
from adapters.db.tables import (
    HELD_ORDER,
    OPEN_INVOICE,
    customers,
    decisions,
    invoices,
    orders,
    sources,
)
from gating.holdlist import HoldQuery

_o, _d = orders.c, decisions.c
HELD = (
    select(
        _o.id.label("key"),
        sources.c.name.label("source"),
        _o.external_id.label("order_id"),
        _o.customer_ref.label("customer_id"),
        _o.amount,
        _o.currency,
        _o.last_outcome.label("outcome"),
        _d.id.label("decision_id"),
        _d.decided_at,
        _d.reason_codes,
        _d.response,
    )
    .join(sources, sources.c.id == _o.source_id)
    .join(decisions, _d.id == _o.last_decision_id)
    .where(HELD_ORDER)  # the partial index's own predicate, so the planner can use it
)


def held_page(
    engine: Engine,
    *,
    source: str | None,
    customer_id: str | None,
    outcome: str | None,
    limit: int,
    before: int | None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `limit` held orders, newest first, and the next page's cursor (None after the last)."""
    equal = ((sources.c.name, source), (_o.customer_ref, customer_id), (_o.last_outcome, outcome))
    return keyset_page(engine, narrowed(HELD, equal), _o.id, limit, before)


# -- the hold list page: filters, sorts, an offset page, the count and the totals -------------

_c, _i = customers.c, invoices.c
_earlier = decisions.alias("earlier")
_approved = decisions.alias("approved")
_e, _a = _earlier.c, _approved.c
_HELD_OUTCOMES: list[Any] = [literal_column("'review'"), literal_column("'blocked'")]
_SAME_ORDER = (sources.c.name, _o.external_id)

# The first held decision of the order's current hold: the earliest review or blocked decision
# after its last approval (a release is an approval, so a hold after it is a new one). One seek
# on decisions (source, order_id) per order; only the page's rows pay it unless a filter or a
# sort needs the age.
_last_approval = (
    select(func.max(_a.seq))
    .where(_a.source == sources.c.name, _a.order_id == _o.external_id, _a.outcome == "approved")
    .correlate_except(_approved)  # two levels down: the order is the outer query's
    .scalar_subquery()
)
HELD_SINCE = (
    select(func.min(_e.decided_at))
    .where(
        _e.source == sources.c.name,
        _e.order_id == _o.external_id,
        _e.outcome.in_(_HELD_OUTCOMES),
        _e.seq > func.coalesce(_last_approval, 0),
    )
    .correlate_except(_earlier)
    .scalar_subquery()
)
# The customer's oldest open invoice's due date: one seek on the open-invoices partial index.
_OLDEST_DUE = (
    select(func.min(_i.due_date))
    .where(_i.customer_id == _c.id, OPEN_INVOICE, _i.open_amount > 0)
    .scalar_subquery()
)
_ORDER = (
    select(
        _o.id.label("key"),
        sources.c.name.label("source"),
        _o.external_id.label("order_id"),
        _o.customer_ref.label("customer_id"),
        _o.amount,
        _o.currency,
        _o.last_outcome.label("outcome"),
        _d.id.label("decision_id"),
        _d.decided_at,
        _d.reason_codes,
        _d.response,
        # The rules' figures, to word the reasons in the reader's language (not the snapshot).
        _d.snapshot["rules"].label("rules"),
        _c.name.label("customer_name"),
        _c.id.label("customer_key"),
        HELD_SINCE.label("held_since"),
        _OLDEST_DUE.label("oldest_due"),
    )
    .join(sources, sources.c.id == _o.source_id)
    .join(decisions, _d.id == _o.last_decision_id)
    .outerjoin(customers, and_(_c.source_id == _o.source_id, _c.external_id == _o.customer_ref))
)
_LISTED = _ORDER.where(HELD_ORDER)
# What filters and sorts need, without the per-row subqueries (but the age, when asked for).
_KEYS = (
    select(_o.id)
    .join(sources, sources.c.id == _o.source_id)
    .join(decisions, _d.id == _o.last_decision_id)
    .outerjoin(customers, and_(_c.source_id == _o.source_id, _c.external_id == _o.customer_ref))
    .where(HELD_ORDER)
)
_SORTS: dict[str, tuple[Any, ...]] = {
    "newest": (_o.id.desc(),),
    "oldest": (_o.id.asc(),),
    "held_longest": (HELD_SINCE.asc(), _o.id.desc()),
    "held_shortest": (HELD_SINCE.desc(), _o.id.desc()),
    "amount_high": (_o.amount.desc(), _o.id.desc()),
    "amount_low": (_o.amount.asc(), _o.id.desc()),
    "customer": (func.coalesce(_c.name, _o.customer_ref).asc(), _o.id.desc()),
}


def _like(text: str) -> str:
    """`text` as a LIKE pattern matching any string that holds it."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _matching(stmt: Select[Any], query: HoldQuery, now: datetime) -> Select[Any]:
    stmt = narrowed(
        stmt,
        (
            (sources.c.name, query.source),
            (_o.last_outcome, query.outcome),
            (_o.currency, query.currency),
        ),
    )
    if query.customer is not None:
        named = func.lower(_c.name).like(_like(query.customer), escape="\\")
        stmt = stmt.where(or_(_o.customer_ref == query.customer, named))
    if query.reason is not None:
        # reason_codes is "CODE,CODE": match a whole code, never a part of one.
        codes = literal(",") + _d.reason_codes + literal(",")
        stmt = stmt.where(codes.contains(f",{query.reason},", autoescape=True))
    if query.amount_min is not None:
        stmt = stmt.where(_o.amount >= query.amount_min)
    if query.amount_max is not None:
        stmt = stmt.where(_o.amount <= query.amount_max)
    since = HELD_SINCE
    if query.held_days_min is not None:
        stmt = stmt.where(since <= now - timedelta(days=query.held_days_min))
    if query.held_days_max is not None:
        stmt = stmt.where(since > now - timedelta(days=query.held_days_max + 1))
    return stmt


def hold_list(
    engine: Engine, query: HoldQuery, now: datetime, page: int, size: int
) -> tuple[list[dict[str, Any]], int, dict[str, Decimal]]:
    """Page `page` (from 1) of `size` matching held orders in the query's sort; how many match;
    and their held amount per currency. The count and totals, then the page's keys, then
    their rows: the correlated subqueries (age, days overdue) run for the page's rows only,
    not for every row an OFFSET skips or a sort reads (in one statement, page 200 of 10,000
    by amount took 280 ms on SQLite; bench/holds.py)."""
    keys_stmt = (
        _matching(_KEYS, query, now)
        .order_by(*_SORTS[query.sort])
        .limit(size)
        .offset((page - 1) * size)
    )
    counted = _matching(
        _KEYS.with_only_columns(
            _o.currency, func.count().label("n"), func.sum(_o.amount).label("amount")
        ),
        query,
        now,
    ).group_by(_o.currency)
    with readonly(engine).connect() as conn:
        sums = conn.execute(counted.order_by(_o.currency)).all()
        total = sum(int(r.n) for r in sums)
        keys = list(conn.execute(keys_stmt).scalars()) if total else []
        found = conn.execute(_LISTED.where(_o.id.in_(keys))).all() if keys else []
    by_key = {r.key: dict(r._mapping) for r in found}
    totals = {r.currency: Decimal(r.amount) for r in sums}
    return [by_key[k] for k in keys if k in by_key], total, totals


def order_view(engine: Engine, source: str, order_id: str) -> dict[str, Any] | None:
    """One gated order as the hold list shows it, held or not, with its status and its last
    decision's snapshot; None when no order has this id at this source."""
    stmt = _ORDER.add_columns(_o.status, _d.snapshot, _d.outcome.label("decision_outcome")).where(
        sources.c.name == source, _o.external_id == order_id
    )
    with readonly(engine).connect() as conn:
        row = conn.execute(stmt).first()
    return None if row is None else dict(row._mapping)
