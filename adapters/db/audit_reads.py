"""The auditor's reads: recorded decisions and audit events, filtered, newest first in pages
(keyset on the row's sequence, so page 1,000 costs what page 1 costs), or every match oldest
first as a stream for exports (rows fetched in batches, so a year exports in constant memory)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Select, literal, select

from adapters.db.engine import readonly
from adapters.db.tables import audit_events, decisions
from gating.audit import DecisionQuery, EventQuery, Period
from gating.whatif import Recorded

_d, _e = decisions.c, audit_events.c
DECISION_COLUMNS = (
    _d.seq,
    _d.id,
    _d.source,
    _d.order_id,
    _d.customer_id,
    _d.outcome,
    _d.reason_codes,
    _d.decided_at,
    _d.thresholds_version,
    _d.caller,
    _d.previous_id,
)
# What each decision was about, from its JSON: the order's amount and currency (the snapshot's
# input) and the customer's figures after it, in the customer's credit currency (the answer; none
# for an unknown customer). Read by the database, so a page or an export reads no whole snapshot.
AMOUNT_COLUMNS = (
    _d.snapshot[("inputs", "order", "amount")].as_string().label("amount"),
    _d.snapshot[("inputs", "order", "currency")].as_string().label("currency"),
    _d.response[("customer", "currency")].as_string().label("credit_currency"),
    _d.response[("customer", "credit_limit")].as_string().label("credit_limit"),
    _d.response[("customer", "exposure")].as_string().label("exposure"),
    _d.response[("customer", "available")].as_string().label("available"),
)
EVENT_COLUMNS = (_e.id, _e.occurred_at, _e.actor, _e.action, _e.subject, _e.details)
_STREAM_BATCH = 1000


def narrowed(stmt: Select[Any], equal: Iterable[tuple[Any, str | None]]) -> Select[Any]:
    """`stmt` keeping the rows whose columns equal the given values (None: any value)."""
    for column, value in equal:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def _filtered(
    stmt: Select[Any],
    equal: Iterable[tuple[Any, str | None]],
    at: Any,
    period: Period,
    zone: ZoneInfo,
) -> Select[Any]:
    """`narrowed`, and the time column `at` within `period`."""
    stmt = narrowed(stmt, equal)
    since, until = period.bounds(zone)
    if since is not None:
        stmt = stmt.where(at >= since)
    if until is not None:
        stmt = stmt.where(at < until)
    return stmt


def _decisions(query: DecisionQuery, zone: ZoneInfo) -> Select[Any]:
    stmt = select(*DECISION_COLUMNS, *AMOUNT_COLUMNS)
    if query.reason is not None:
        # reason_codes is "CODE,CODE": match a whole code, never a part of one.
        codes = literal(",") + _d.reason_codes + literal(",")
        stmt = stmt.where(codes.contains(f",{query.reason},", autoescape=True))
    equal = (
        (_d.source, query.source),
        (_d.customer_id, query.customer_id),
        (_d.order_id, query.order_id),
        (_d.outcome, query.outcome),
    )
    return _filtered(stmt, equal, _d.decided_at, query.period, zone)


def _events(query: EventQuery, zone: ZoneInfo) -> Select[Any]:
    equal = ((_e.action, query.action), (_e.actor, query.actor), (_e.subject, query.subject))
    return _filtered(select(*EVENT_COLUMNS), equal, _e.occurred_at, query.period, zone)


def keyset_page(
    engine: Engine, stmt: Select[Any], key: Any, limit: int, before: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `limit` rows of `stmt`, highest `key` first, below `before` when given, and the
    `before` of the next page (None after the last). `key` must be the first selected column."""
    if before is not None:
        stmt = stmt.where(key < before)
    with readonly(engine).connect() as conn:
        rows = conn.execute(stmt.order_by(key.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [dict(r._mapping) for r in rows], (rows[-1][0] if more else None)


def decision_page(
    engine: Engine, query: DecisionQuery, zone: ZoneInfo, limit: int, before: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `limit` matching decisions, newest first, and the cursor of the next page (None
    after the last): pass it back as `before`."""
    return keyset_page(engine, _decisions(query, zone), _d.seq, limit, before)


def event_page(
    engine: Engine, query: EventQuery, zone: ZoneInfo, limit: int, before: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    return keyset_page(engine, _events(query, zone), _e.id, limit, before)


def _stream(engine: Engine, stmt: Select[Any]) -> Iterator[dict[str, Any]]:
    with readonly(engine).connect() as conn:
        result = conn.execution_options(yield_per=_STREAM_BATCH).execute(stmt)
        for row in result:
            yield dict(row._mapping)


def stream_decisions(
    engine: Engine, query: DecisionQuery, zone: ZoneInfo
) -> Iterator[dict[str, Any]]:
    """Every matching decision, oldest first, fetched in batches."""
    return _stream(engine, _decisions(query, zone).order_by(_d.seq))


def stream_events(engine: Engine, query: EventQuery, zone: ZoneInfo) -> Iterator[dict[str, Any]]:
    return _stream(engine, _events(query, zone).order_by(_e.id))


def latest_decisions(engine: Engine, period: Period, zone: ZoneInfo) -> Iterator[Recorded]:
    """Each order's last decision within `period`, with its snapshot, oldest first; fetched in
    batches so a month of decisions replays in constant memory."""
    later = decisions.alias("later")
    since, until = period.bounds(zone)
    newer = select(later.c.seq).where(
        later.c.source == _d.source, later.c.order_id == _d.order_id, later.c.seq > _d.seq
    )
    stmt = select(*DECISION_COLUMNS, _d.snapshot)
    if since is not None:
        stmt = stmt.where(_d.decided_at >= since)
        newer = newer.where(later.c.decided_at >= since)
    if until is not None:
        stmt = stmt.where(_d.decided_at < until)
        newer = newer.where(later.c.decided_at < until)
    stmt = stmt.where(~newer.exists())
    after = 0
    with readonly(engine).connect() as conn:
        while True:
            rows = conn.execute(
                stmt.where(_d.seq > after).order_by(_d.seq).limit(_STREAM_BATCH)
            ).all()
            if not rows:
                return
            after = rows[-1].seq
            for r in rows:
                yield Recorded(
                    r.id,
                    r.source,
                    r.order_id,
                    r.customer_id,
                    r.outcome,
                    tuple(c for c in r.reason_codes.split(",") if c),
                    r.decided_at,
                    r.snapshot,
                )
