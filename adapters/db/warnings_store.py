"""The warning job's and the push job's store (sync/warnings.py's WarningStore, sync/push.py's
OutboxStore): each customer's standing for the warning ladder, the warning levels and their
history, and the outbox that carries level changes and hold notices to the push targets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, bindparam, func, insert, select, update

from adapters.db.engine import readonly
from adapters.db.repository import customer_hold_of
from adapters.db.tables import (
    customer_balances,
    customers,
    groups,
    invoices,
    outbox,
    sources,
    warning_history,
    warning_levels,
)
from gating.hold_precedence import with_group_hold
from gating.model import Balance, Party
from gating.push import HoldNotice, LevelChange, OutboxItem, WarningChange
from gating.warnings import CustomerStanding

_c, _i = customers.c, invoices.c


def _first_due(source_id: int, where: Any) -> Any:
    """Per customer, the open invoice with the earliest due date among those `where` picks."""
    ranked = (
        select(
            _i.customer_id,
            _i.due_date,
            _i.number,
            func.row_number()
            .over(partition_by=_i.customer_id, order_by=(_i.due_date, _i.id))
            .label("rank"),
        )
        .where(_i.source_id == source_id, _i.is_open.is_(True), where)
        .subquery()
    )
    return select(ranked.c.customer_id, ranked.c.due_date, ranked.c.number).where(
        ranked.c.rank == 1
    )


class DbWarningStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def source_id(self, name: str) -> int | None:
        with readonly(self.engine).connect() as conn:
            found = conn.execute(select(sources.c.id).where(sources.c.name == name)).scalar()
            return None if found is None else int(found)

    def standings(
        self, source_id: int, today: date, tolerance: Decimal
    ) -> Iterator[CustomerStanding]:
        """Every customer of the source with the figures the ladder needs (five set queries)."""
        with readonly(self.engine).connect() as conn:
            balances: dict[int, list[Balance]] = {}
            for b in conn.execute(
                select(customer_balances)
                .join(customers, customers.c.id == customer_balances.c.customer_id)
                .where(_c.source_id == source_id)
            ):
                balances.setdefault(b.customer_id, []).append(
                    Balance(b.currency, b.open_invoices, b.unapplied, b.reserved)
                )
            overdue = {
                r.customer_id: (r.due_date, r.number)
                for r in conn.execute(
                    _first_due(source_id, and_(_i.due_date < today, _i.open_amount > tolerance))
                )
            }
            upcoming = {
                r.customer_id: (r.due_date, r.number)
                for r in conn.execute(_first_due(source_id, _i.due_date >= today))
            }
            levels = {
                r.customer_id: r.level
                for r in conn.execute(
                    select(warning_levels.c.customer_id, warning_levels.c.level)
                    .join(customers, customers.c.id == warning_levels.c.customer_id)
                    .where(_c.source_id == source_id)
                )
            }
            rows = conn.execute(
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
                    groups.c.external_id.label("group_ref"),
                    groups.c.on_hold.label("group_on_hold"),
                    groups.c.hold_reason.label("group_hold_reason"),
                )
                .select_from(customers.outerjoin(groups, groups.c.id == _c.group_id))
                .where(_c.source_id == source_id)
                .order_by(_c.id)
            ).all()
        for r in rows:
            on_hold, hold_reason = with_group_hold(
                customer_hold_of(r), r.group_on_hold, r.group_hold_reason
            )
            party = Party(
                ref=r.external_id,
                name=r.name,
                currency=r.currency,
                credit_limit=r.credit_limit,
                on_hold=on_hold,
                hold_reason=hold_reason,
                balances=tuple(balances.get(r.id, ())),
                key=r.id,
            )
            oldest = overdue.get(r.id, (None, None))
            soon = upcoming.get(r.id, (None, None))
            yield CustomerStanding(
                party, oldest[0], oldest[1], soon[0], soon[1], levels.get(r.id), r.group_ref
            )

    def oldest_overdue(
        self, customer_key: int, today: date, tolerance: Decimal
    ) -> tuple[date, str] | None:
        """One customer's open invoice with the earliest due date before today, of those open
        by more than `tolerance` (for a customer whose override changes the tolerance)."""
        with readonly(self.engine).connect() as conn:
            row = conn.execute(
                select(_i.due_date, _i.number)
                .where(
                    _i.customer_id == customer_key,
                    _i.is_open.is_(True),
                    _i.due_date < today,
                    _i.open_amount > tolerance,
                )
                .order_by(_i.due_date, _i.id)
                .limit(1)
            ).first()
        return None if row is None else (row.due_date, row.number)

    def record(
        self,
        changes: Sequence[LevelChange],
        checked: Sequence[int],
        targets: Sequence[str],
        now: datetime,
        thresholds_version: int,
        first_seen: Sequence[int] = (),
    ) -> None:
        """In one transaction: the new levels, their history, and an outbox row per target;
        `checked` customers keep their level, `first_seen` ones start at "none"."""
        with self.engine.begin() as conn:
            if first_seen:
                conn.execute(
                    insert(warning_levels),
                    [
                        {
                            "customer_id": key,
                            "level": "none",
                            "reasons": [],
                            "since": now,
                            "checked_at": now,
                        }
                        for key in first_seen
                    ],
                )
            if checked:
                conn.execute(
                    update(warning_levels)
                    .where(warning_levels.c.customer_id.in_(list(checked)))
                    .values(checked_at=now)
                )
            # One executemany per statement, however many customers changed.
            new = [ch for ch in changes if ch.previous is None]
            moved = [ch for ch in changes if ch.previous is not None]
            if new:
                conn.execute(
                    insert(warning_levels),
                    [{"customer_id": ch.customer_key, **_level(ch.change, now)} for ch in new],
                )
            if moved:
                conn.execute(
                    update(warning_levels).where(warning_levels.c.customer_id == bindparam("key")),
                    [{"key": ch.customer_key, **_level(ch.change, now)} for ch in moved],
                )
            if changes:
                conn.execute(
                    insert(warning_history),
                    [
                        {
                            "customer_id": ch.customer_key,
                            "change_id": ch.change.change_id,
                            "level": ch.change.level,
                            "previous_level": ch.change.previous_level,
                            "reasons": list(ch.change.reasons),
                            "thresholds_version": thresholds_version,
                            "changed_at": now,
                        }
                        for ch in changes
                    ],
                )
            if changes and targets:
                conn.execute(
                    insert(outbox),
                    [
                        {
                            "target": target,
                            "change_id": ch.change.change_id,
                            "customer_ref": ch.change.customer_ref,
                            "payload": _payload(ch.change),
                            "status": "pending",
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                        }
                        for ch in changes
                        for target in targets
                    ],
                )

    # ---- the outbox -----------------------------------------------------------------------

    def due(self, target: str, now: datetime, limit: int = 500) -> list[OutboxItem]:
        """The target's pending rows, oldest first; empty while the first one must wait."""
        o = outbox.c
        with readonly(self.engine).connect() as conn:
            rows = conn.execute(
                select(outbox)
                .where(o.target == target, o.status == "pending")
                .order_by(o.id)
                .limit(limit)
            ).all()
            # The language the target's people read (its source's `language` setting).
            settings = conn.execute(
                select(sources.c.settings).where(sources.c.name == target)
            ).scalar()
        if rows and rows[0].next_attempt_at > now:
            return []  # the target asked us to wait; its changes go out in order
        language = (settings or {}).get("language") if isinstance(settings, dict) else None
        return [OutboxItem(r.id, r.target, r.attempts, _change(r.payload, language)) for r in rows]

    def delivered(self, item_id: int, now: datetime) -> None:
        self._set(item_id, status="delivered", delivered_at=now, last_error=None, bump=True)

    def failed(self, item_id: int, error: str) -> None:
        self._set(item_id, status="failed", last_error=error[:2000], bump=True)

    def deferred(self, item_id: int, error: str, until: datetime) -> None:
        self._set(item_id, last_error=error[:2000], next_attempt_at=until, bump=True)

    def requeue_failed(self, now: datetime, target: str | None = None) -> int:
        """Put refused changes back in the queue (after fixing what the target refused them
        for: a missing field, a permission); return how many."""
        o = outbox.c
        query = update(outbox).where(o.status == "failed")
        if target is not None:
            query = query.where(o.target == target)
        with self.engine.begin() as conn:
            return conn.execute(query.values(status="pending", next_attempt_at=now)).rowcount

    def _set(self, item_id: int, *, bump: bool, **values: Any) -> None:
        with self.engine.begin() as conn:
            if bump:
                values["attempts"] = outbox.c.attempts + 1
            conn.execute(update(outbox).where(outbox.c.id == item_id).values(**values))

    # ---- reads for the API ----------------------------------------------------------------

    def levels(self, *, level: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        w = warning_levels.c
        query = (
            select(
                sources.c.name.label("source"),
                _c.external_id.label("customer_id"),
                _c.name,
                w.level,
                w.reasons,
                w.since,
                w.checked_at,
            )
            .join(customers, customers.c.id == w.customer_id)
            .join(sources, sources.c.id == _c.source_id)
            .order_by(sources.c.name, _c.external_id)
            .limit(limit)
        )
        if level is not None:
            query = query.where(w.level == level)
        with readonly(self.engine).connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def outbox(
        self, *, status: str | None = None, target: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        o = outbox.c
        query = select(
            o.id,
            o.target,
            o.change_id,
            o.customer_ref,
            o.payload,
            o.status,
            o.attempts,
            o.last_error,
            o.next_attempt_at,
            o.created_at,
            o.delivered_at,
        ).order_by(o.id.desc())
        if status is not None:
            query = query.where(o.status == status)
        if target is not None:
            query = query.where(o.target == target)
        with readonly(self.engine).connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query.limit(limit))]


def _level(c: WarningChange, now: datetime) -> dict[str, Any]:
    return {"level": c.level, "reasons": list(c.reasons), "since": now, "checked_at": now}


def _payload(c: WarningChange) -> dict[str, Any]:
    return {
        "change_id": c.change_id,
        "customer_ref": c.customer_ref,
        "level": c.level,
        "previous_level": c.previous_level,
        "reasons": list(c.reasons),
        "step": c.step,
        "hold": c.hold,
        "decided_at": c.decided_at.isoformat(),
        "texts": {tag: {"reasons": list(r), "step": step} for tag, (r, step) in c.texts.items()},
    }


def _change(p: dict[str, Any], language: str | None = None) -> WarningChange | HoldNotice:
    if p.get("event") == "hold_resolution":
        return HoldNotice(
            change_id=p["change_id"],
            source=p["source"],
            order_id=p["order_id"],
            customer_ref=p["customer_id"],
            action=p["action"],
            outcome=p["outcome"],
            actor=p["actor"],
            reason=p["reason"],
            cap=p["cap"],
            currency=p["currency"],
            expires_at=datetime.fromisoformat(p["expires_at"]) if p["expires_at"] else None,
            decision_id=p["decision_id"],
            decided_at=datetime.fromisoformat(p["decided_at"]),
        )
    return WarningChange(
        change_id=p["change_id"],
        customer_ref=p["customer_ref"],
        level=p["level"],
        previous_level=p["previous_level"],
        reasons=tuple(p["reasons"]),
        step=p["step"],
        hold=bool(p["hold"]),
        decided_at=datetime.fromisoformat(p["decided_at"]),
        texts={tag: (tuple(t["reasons"]), t["step"]) for tag, t in (p.get("texts") or {}).items()},
    ).in_language(language)
