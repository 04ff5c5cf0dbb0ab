"""The auditor's reads: recorded decisions and audit events, filtered, newest first in pages
(keyset on the row's sequence, so page 1,000 costs what page 1 costs), or every match oldest
first as a stream for exports (rows fetched in batches, so a year exports in constant memory)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Select, literal, select

from adapters.db.engine import readonly
from adapters.db.tables import audit_events, decisions
from gating.audit import DecisionQuery, EventQuery

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
EVENT_COLUMNS = (_e.id, _e.occurred_at, _e.actor, _e.action, _e.subject, _e.details)
_STREAM_BATCH = 1000


def _decisions(query: DecisionQuery, zone: ZoneInfo) -> Select[Any]:
    stmt = select(*DECISION_COLUMNS)
    for column, value in (
        (_d.source, query.source),
        (_d.customer_id, query.customer_id),
        (_d.order_id, query.order_id),
        (_d.outcome, query.outcome),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.reason is not None:
        # reason_codes is "CODE,CODE": match a whole code, never a part of one.
        codes = literal(",") + _d.reason_codes + literal(",")
        stmt = stmt.where(codes.contains(f",{query.reason},", autoescape=True))
    since, until = query.period.bounds(zone)
    if since is not None:
        stmt = stmt.where(_d.decided_at >= since)
    if until is not None:
        stmt = stmt.where(_d.decided_at < until)
    return stmt


def _events(query: EventQuery, zone: ZoneInfo) -> Select[Any]:
    stmt = select(*EVENT_COLUMNS)
    for column, value in (
        (_e.action, query.action),
        (_e.actor, query.actor),
        (_e.subject, query.subject),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    since, until = query.period.bounds(zone)
    if since is not None:
        stmt = stmt.where(_e.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(_e.occurred_at < until)
    return stmt


def _page(engine: Engine, stmt: Select[Any], key: Any, limit: int, before: int | None) -> Any:
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
    return _page(engine, _decisions(query, zone), _d.seq, limit, before)  # type: ignore[no-any-return]


def event_page(
    engine: Engine, query: EventQuery, zone: ZoneInfo, limit: int, before: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    return _page(engine, _events(query, zone), _e.id, limit, before)  # type: ignore[no-any-return]


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
