"""What the web pages show: receivables, aging, sales, holds, warning levels, customers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, case, func, literal, or_, select

from adapters.db.engine import readonly
from adapters.db.repository import customer_hold_of
from adapters.db.tables import (
    HELD_ORDER,
    OPEN_INVOICE,
    customer_balances,
    customers,
    decisions,
    groups,
    invoices,
    orders,
    sources,
    warning_history,
    warning_levels,
)
from gating.model import Balance, Party
from gating.reports import BUCKETS

_c, _i, _cb = customers.c, invoices.c, customer_balances.c


def _bucket(today: date) -> Any:
    """The aging bucket of an open invoice, by days past due (BUCKETS' labels)."""
    return case(
        (_i.due_date >= today, literal(BUCKETS[0])),
        (_i.due_date >= today - timedelta(days=30), literal(BUCKETS[1])),
        (_i.due_date >= today - timedelta(days=60), literal(BUCKETS[2])),
        (_i.due_date >= today - timedelta(days=90), literal(BUCKETS[3])),
        else_=literal(BUCKETS[4]),
    )


def aging(
    engine: Engine, today: date, customer_key: int | None = None
) -> dict[str, dict[str, Decimal]]:
    """Open invoice amounts by currency and aging bucket (all customers, or one)."""
    bucket = _bucket(today).label("bucket")
    query = (
        select(_i.currency, bucket, func.sum(_i.open_amount).label("amount"))
        .where(OPEN_INVOICE, _i.open_amount > 0)
        .group_by(_i.currency, bucket)
    )
    if customer_key is not None:
        query = query.where(_i.customer_id == customer_key)
    found: dict[str, dict[str, Decimal]] = {}
    with readonly(engine).connect() as conn:
        for r in conn.execute(query):
            found.setdefault(r.currency, dict.fromkeys(BUCKETS, Decimal(0)))[r.bucket] = r.amount
    return found


def sales_since(engine: Engine, since: date) -> dict[str, Decimal]:
    """Invoiced (credit sales) since `since`, by currency; credit notes count negative."""
    query = (
        select(_i.currency, func.sum(_i.total).label("total"))
        .where(_i.issue_date >= since, _i.cancelled.is_(False))
        .group_by(_i.currency)
    )
    with readonly(engine).connect() as conn:
        return {r.currency: r.total for r in conn.execute(query)}


def balances(engine: Engine) -> dict[str, dict[str, Decimal]]:
    """Open invoices, unapplied payments and reservations of every customer, by currency."""
    query = select(
        _cb.currency,
        func.sum(_cb.open_invoices).label("open_invoices"),
        func.sum(_cb.unapplied).label("unapplied"),
        func.sum(_cb.reserved).label("reserved"),
    ).group_by(_cb.currency)
    with readonly(engine).connect() as conn:
        return {
            r.currency: {
                "open_invoices": r.open_invoices,
                "unapplied": r.unapplied,
                "reserved": r.reserved,
            }
            for r in conn.execute(query)
        }


def counts(engine: Engine) -> dict[str, Any]:
    """Held orders, customers, and customers per warning level."""
    with readonly(engine).connect() as conn:
        held = conn.execute(select(func.count()).select_from(orders).where(HELD_ORDER)).scalar()
        people = conn.execute(select(func.count()).select_from(customers)).scalar()
        levels = {
            r.level: r.n
            for r in conn.execute(
                select(warning_levels.c.level, func.count().label("n")).group_by(
                    warning_levels.c.level
                )
            )
        }
    return {"held": held or 0, "customers": people or 0, "levels": levels}


def customer_page(
    engine: Engine, search: str | None, limit: int, offset: int
) -> tuple[list[tuple[str, Party, str | None, str | None]], int]:
    """Customers whose id or name contains `search`, by id: (source, party, warning level,
    group id), and how many match in all."""
    where: list[Any] = []
    if search:
        pattern = f"%{search.lower()}%"
        where.append(
            or_(func.lower(_c.external_id).like(pattern), func.lower(_c.name).like(pattern))
        )
    base = (
        select(
            _c.id,
            _c.external_id,
            _c.name,
            _c.currency,
            _c.credit_limit,
            _c.on_hold,
            _c.hold_reason,
            _c.admin_hold,
            _c.admin_hold_reason,
            sources.c.name.label("source"),
            warning_levels.c.level,
            groups.c.external_id.label("group_ref"),
        )
        .join(sources, sources.c.id == _c.source_id)
        .outerjoin(groups, groups.c.id == _c.group_id)
        .outerjoin(warning_levels, warning_levels.c.customer_id == _c.id)
        .where(*where)
    )
    with readonly(engine).connect() as conn:
        total = conn.execute(select(func.count()).select_from(base.subquery())).scalar() or 0
        rows = conn.execute(base.order_by(_c.external_id, _c.id).limit(limit).offset(offset)).all()
        keys = [r.id for r in rows]
        found: dict[int, list[Balance]] = {}
        if keys:
            for b in conn.execute(select(customer_balances).where(_cb.customer_id.in_(keys))):
                found.setdefault(b.customer_id, []).append(
                    Balance(b.currency, b.open_invoices, b.unapplied, b.reserved)
                )
    out = []
    for r in rows:
        on_hold, reason = customer_hold_of(r)
        party = Party(
            r.external_id,
            r.name,
            r.currency,
            r.credit_limit,
            on_hold,
            reason,
            tuple(found.get(r.id, ())),
            r.id,
        )
        out.append((r.source, party, r.level, r.group_ref))
    return out, total


def customer_key(engine: Engine, source: str, ref: str) -> int | None:
    with readonly(engine).connect() as conn:
        found = conn.execute(
            select(_c.id)
            .join(sources, sources.c.id == _c.source_id)
            .where(sources.c.name == source, _c.external_id == ref)
        ).scalar()
    return None if found is None else int(found)


def open_invoices(engine: Engine, customer: int, limit: int = 200) -> list[Mapping[str, Any]]:
    query = (
        select(_i.number, _i.issue_date, _i.due_date, _i.currency, _i.total, _i.open_amount)
        .where(OPEN_INVOICE, _i.customer_id == customer)
        .order_by(_i.due_date, _i.id)
        .limit(limit)
    )
    with readonly(engine).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def warning_changes(engine: Engine, customer: int, limit: int = 50) -> list[Mapping[str, Any]]:
    h = warning_history.c
    query = (
        select(h.changed_at, h.previous_level, h.level, h.reasons, h.thresholds_version)
        .where(h.customer_id == customer)
        .order_by(h.changed_at.desc(), h.id.desc())
        .limit(limit)
    )
    with readonly(engine).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def decided_today(engine: Engine, since: Any) -> dict[str, int]:
    """Decisions since `since`, by outcome."""
    with readonly(engine).connect() as conn:
        return {
            r.outcome: r.n
            for r in conn.execute(
                select(decisions.c.outcome, func.count().label("n"))
                .where(decisions.c.decided_at >= since)
                .group_by(decisions.c.outcome)
            )
        }
