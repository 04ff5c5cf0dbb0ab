"""Repositories: translate rows to and from gating values for the gate's use cases."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from adapters.db import decision_writes, macs
from adapters.db import statements as sql
from adapters.db.balances import BalanceDeltas
from adapters.db.tables import (
    HELD_ORDER,
    audit_events,
    customers,
    decisions,
    hold_resolutions,
    orders,
    outbox,
    sources,
    thresholds_versions,
)
from gating.errors import OrderNotFound, SourceNotFound
from gating.hold_precedence import Hold, customer_hold
from gating.model import (
    AWAITING_SYNC,
    Balance,
    Money,
    Outcome,
    OverdueInvoice,
    Party,
    Resolution,
    Thresholds,
)
from gating.money import quantize
from gating.policy import thresholds_from_document
from gating.ports import DecisionRecord, OrderRecord, SourceRecord
from gating.push import HoldNotice, notice_document
from gating.reservations import event_change, lapsed_status
from gating.thresholds_versions import ActiveVersion

ZERO = Decimal(0)
log = logging.getLogger(__name__)


class SourceRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, name: str) -> SourceRecord:
        row = self.conn.execute(sql.SOURCE_BY_NAME, {"name": name}).first()
        if row is None:
            raise SourceNotFound(name)
        return SourceRecord(row.id, row.name, row.kind, row.last_success_at)


def balance_of(r: Any, cur: str) -> Balance:
    return Balance(
        cur, quantize(r.open_invoices, cur), quantize(r.unapplied, cur), quantize(r.reserved, cur)
    )


def _limit(amount: Decimal | None, currency: str) -> Decimal | None:
    return None if amount is None else quantize(amount, currency)


def customer_hold_of(row: Any) -> Hold:
    """The customer's own hold (its ERP's or an admin's: gating/hold_precedence.py), from a row
    with the customers table's hold columns."""
    return customer_hold(row.on_hold, row.hold_reason, row.admin_hold, row.admin_hold_reason)


def parties_of(
    row: Any, ref: str, balances: Mapping[str, list[Balance]]
) -> tuple[Party, Party | None]:
    """The customer and its group from a row shaped like `statements.CUSTOMER_POSITION`'s;
    `balances` holds the customer's ("c") and the group's ("g")."""
    on_hold, hold_reason = customer_hold_of(row)
    customer = Party(
        ref=ref,
        name=row.name,
        currency=row.currency,
        credit_limit=_limit(row.credit_limit, row.currency),
        on_hold=on_hold,
        hold_reason=hold_reason,
        balances=tuple(balances["c"]),
        key=row.id,
    )
    group = None
    if row.g_id is not None:
        group = Party(
            ref=row.g_ref,
            name=row.g_name,
            currency=row.g_currency,
            credit_limit=_limit(row.g_limit, row.g_currency),
            on_hold=bool(row.g_on_hold),
            hold_reason=row.g_hold_reason,
            balances=tuple(balances["g"]),
            key=row.g_id,
        )
    return customer, group


class CustomerRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def position(self, source_id: int, ref: str) -> tuple[Party | None, Party | None]:
        row = self.conn.execute(sql.CUSTOMER_POSITION, {"source_id": source_id, "ref": ref}).first()
        if row is None:
            return None, None
        rows = self.conn.execute(sql.BALANCES, {"customer_id": row.id, "group_id": row.g_id})
        balances: dict[str, list[Balance]] = {"c": [], "g": []}
        for r in rows:
            balances[r.owner].append(balance_of(r, r.currency))
        return parties_of(row, ref, balances)

    def overdue_invoices(
        self, customer_key: int, due_before: date, tolerance: Decimal, limit: int
    ) -> list[OverdueInvoice]:
        params = {"customer_id": customer_key, "due_before": due_before, "tolerance": tolerance}
        rows = self.conn.execute(sql.OVERDUE_LIST, {**params, "limit": limit})
        return [overdue_invoice_of(r) for r in rows]

    def set_admin_hold(self, source_id: int, ref: str, reason: str | None) -> bool:
        c = customers.c
        changed = self.conn.execute(
            update(customers)
            .where(c.source_id == source_id, c.external_id == ref)
            .values(admin_hold=reason is not None, admin_hold_reason=reason)
        )
        return bool(changed.rowcount)


def overdue_invoice_of(row: Any) -> OverdueInvoice:
    return OverdueInvoice(
        row.number, row.due_date, quantize(row.open_amount, row.currency), row.currency
    )


def order_of(row: Any) -> OrderRecord:
    return OrderRecord(
        source_id=row.source_id,
        order_id=row.external_id,
        customer_ref=row.customer_ref,
        amount=row.amount,
        currency=row.currency,
        reserved=row.reserved,
        status=row.status,
        last_decision_id=row.last_decision_id,
        last_outcome=Outcome(row.last_outcome) if row.last_outcome else None,
        customer_key=row.customer_id,
        invoiced=row.invoiced,
        key=row.id,
        resolution_id=row.resolution_id,
        expires_at=row.expires_at,
        reserved_by=row.reserved_by,
    )


class OrderRepository:
    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now

    def _row(self, source_id: int, order_id: str, *, for_update: bool = False) -> Any:
        query = sql.ORDER_FOR_UPDATE if for_update else sql.ORDER
        return self.conn.execute(query, {"source_id": source_id, "order_id": order_id}).first()

    def get(self, source_id: int, order_id: str) -> OrderRecord | None:
        row = self._row(source_id, order_id)
        return None if row is None else order_of(row)

    def resolution(self, resolution_id: int) -> Resolution | None:
        """The release or rejection, with the customer and the reasons it was made for (read
        from the decision it made); None for a row without a valid MAC (put there with SQL):
        a forged release never approves an order."""
        r = self.conn.execute(
            select(
                hold_resolutions,
                decisions.c.customer_id.label("customer_ref"),
                decisions.c.snapshot,
            )
            .join(decisions, decisions.c.id == hold_resolutions.c.decision_id)
            .where(hold_resolutions.c.id == resolution_id)
        ).one()
        if not macs.keyring_of(self.conn).check("hold_resolutions", r._mapping):
            log.error("hold resolution %s has no valid MAC (written outside creditgate)", r.id)
            return None
        rules = {v["code"]: v for v in r.snapshot.get("rules", [])}
        over = rules.get("RELEASED_BY", {}).get("figures", {}).get("released_over")
        return Resolution(
            action=r.action,
            actor=r.actor,
            role=r.role,
            reason=r.reason,
            currency=r.currency,
            created_at=r.created_at,
            cap=None if r.cap is None else quantize(r.cap, r.currency),
            expires_at=r.expires_at,
            id=r.id,
            customer_ref=r.customer_ref,
            released_over=tuple(over) if over is not None else (),
        )

    def add_resolution(
        self, order_key: int, resolution: Resolution, held_decision_id: str, decision_id: str
    ) -> int:
        values = {
            "order_id": order_key,
            "action": resolution.action,
            "actor": resolution.actor,
            "role": resolution.role,
            "reason": resolution.reason,
            "cap": resolution.cap,
            "currency": resolution.currency,
            "expires_at": resolution.expires_at,
            "held_decision_id": held_decision_id,
            "decision_id": decision_id,
            "created_at": resolution.created_at,
        }
        new_id = self.conn.execute(
            insert(hold_resolutions).values(macs.signed(self.conn, hold_resolutions, values))
        ).inserted_primary_key[0]  # type: ignore[index]
        self.conn.execute(
            update(orders).where(orders.c.id == order_key).values(resolution_id=new_id)
        )
        return int(new_id)

    def held(self, after_key: int, limit: int) -> list[tuple[int, str, str]]:
        rows = self.conn.execute(
            select(orders.c.id, sources.c.name, orders.c.external_id)
            .join(sources, sources.c.id == orders.c.source_id)
            .where(HELD_ORDER, orders.c.id > after_key)
            .order_by(orders.c.id)
            .limit(limit)
        )
        return [(r.id, r.name, r.external_id) for r in rows]

    def reserved_for_ref(self, source_id: int, customer_ref: str) -> list[Money]:
        rows = self.conn.execute(
            sql.RESERVED_FOR_UNSYNCED, {"source_id": source_id, "ref": customer_ref}
        )
        return [Money(r.reserved, r.currency) for r in rows if r.reserved]

    def expire_reservations(
        self,
        source_id: int,
        customer_ref: str,
        now: datetime,
        customer_key: int | None = None,
        group_key: int | None = None,
    ) -> int:
        """Each lookup is one index range on (customer_id, status, expires_at), or on
        (source_id, customer_ref) for a customer not synced yet: an OR across them would make
        SQLite scan every order of the source."""
        if customer_key is None:
            query, params = sql.LAPSED_OF_UNSYNCED, {"source_id": source_id, "ref": customer_ref}
        elif group_key is None:
            query, params = sql.LAPSED_OF_CUSTOMER, {"customer_id": customer_key}
        else:
            query, params = sql.LAPSED_OF_GROUP, {"group_id": group_key}
        rows = self.conn.execute(query, {**params, "now": now}).all()
        if not rows:
            return 0
        deltas = BalanceDeltas()
        by_status: dict[str, list[int]] = {}
        for r in rows:
            if r.customer_id is not None:
                deltas.add(r.customer_id, r.currency, "reserved", -r.reserved)
            by_status.setdefault(lapsed_status(r.status, r.last_outcome), []).append(r.id)
        for status, ids in by_status.items():
            # An order that stays open or rejected (a held amendment whose earlier approval
            # lapsed) loses its expiry with its reservation, so it is not found lapsed again.
            expiry = {"expires_at": None} if status in ("open", "rejected") else {}
            self.conn.execute(
                update(orders)
                .where(orders.c.id.in_(ids))
                .values(status=status, reserved=ZERO, updated_at=now, **expiry)
            )
        deltas.flush(self.conn)
        return len(rows)

    def record(
        self,
        source_id: int,
        order_id: str,
        customer_ref: str,
        customer_key: int | None,
        amount: Money,
        reserve: Money | None,
        decision: DecisionRecord,
        expires_at: datetime | None,
        *,
        previous: OrderRecord | None,
        group_key: int | None = None,
        status: str = "open",
        standing: bool = False,
    ) -> None:
        # `previous` was read under the customer's lock in this transaction: no second read.
        old = previous
        deltas = BalanceDeltas()
        invoiced = ZERO
        reserved_by = None if reserve is None else decision.id
        if standing:
            # The earlier approval stands: its reservation stays as it is, so no balance moves.
            assert old is not None and old.currency == amount.currency
            invoiced, reserved = old.invoiced, old.reserved
            reserved_by = old.reserved_by or old.last_decision_id
        else:
            if old is not None:
                invoiced = old.invoiced if old.currency == amount.currency else ZERO
                if old.customer_key is not None:
                    same = old.customer_key == customer_key
                    known = {"group_id": group_key} if same else {}
                    deltas.add(old.customer_key, old.currency, "reserved", -old.reserved, **known)
            reserved = ZERO if reserve is None else max(ZERO, reserve.amount - invoiced)
            if customer_key is not None:
                deltas.add(customer_key, amount.currency, "reserved", reserved, group_id=group_key)
        values = {
            "source_id": source_id,
            "external_id": order_id,
            "customer_ref": customer_ref,
            "customer_id": customer_key,
            "amount": amount.amount,
            "currency": amount.currency,
            "reserved": reserved,
            "invoiced": invoiced,
            "status": status,
            "last_decision_id": decision.id,
            "last_outcome": decision.outcome.value,
            "expires_at": expires_at,
            "reserved_by": reserved_by,
            "created_at": self.now,
            "updated_at": self.now,
        }
        key = None if old is None else old.key
        # The MAC is the decision's whole extra cost (bench/mac.py: a few microseconds).
        row = macs.signed(self.conn, decisions, decision_row(decision))
        if self.conn.dialect.name == "postgresql":
            by_customer, by_group = deltas.resolve(self.conn)
            decision_writes.record(self.conn, row, values, key, by_customer, by_group)
            return
        self.conn.execute(sql.INSERT_DECISION, row)
        if key is None:
            self.conn.execute(sql.INSERT_ORDER, values)
        else:
            del values["source_id"], values["external_id"], values["created_at"]
            self.conn.execute(sql.UPDATE_ORDER, {"_id": key, **values})
        deltas.flush(self.conn)

    def add_decision(self, decision: DecisionRecord) -> None:
        self.conn.execute(
            sql.INSERT_DECISION, macs.signed(self.conn, decisions, decision_row(decision))
        )

    def close(
        self, source_id: int, order_id: str, event: str, counted_until: datetime | None = None
    ) -> OrderRecord:
        if self.conn.dialect.name == "postgresql":
            # The gate reads an order under its customer's lock and writes it back from that
            # read: an event must wait for that lock too, or a cancel committed in between is
            # overwritten and its release counted twice. (SQLite has one writer at a time.)
            ref = self.conn.execute(
                select(orders.c.customer_ref).where(
                    orders.c.source_id == source_id, orders.c.external_id == order_id
                )
            ).scalar()
            if ref is not None:
                self.conn.execute(sql.CUSTOMER_LOCK, {"source_id": source_id, "ref": ref})
        row = self._row(source_id, order_id, for_update=True)
        if row is None:
            source = self.conn.execute(
                select(sources.c.name).where(sources.c.id == source_id)
            ).scalar_one()
            raise OrderNotFound(source, order_id)
        before = order_of(row)
        change = event_change(before, event, counted_until)
        if change is None:
            return before
        status, reserved, expires_at = change
        if row.customer_id is not None and reserved != row.reserved:
            deltas = BalanceDeltas()
            deltas.add(row.customer_id, row.currency, "reserved", reserved - row.reserved)
            deltas.flush(self.conn)
        self.conn.execute(
            update(orders)
            .where(orders.c.id == row.id)
            .values(status=status, reserved=reserved, expires_at=expires_at, updated_at=self.now)
        )
        return before

    def awaiting_sync(self, customer_key: int) -> list[OrderRecord]:
        rows = self.conn.execute(
            select(orders)
            .where(orders.c.customer_id == customer_key, orders.c.status == AWAITING_SYNC)
            .order_by(orders.c.expires_at, orders.c.id)
        )
        return [order_of(r) for r in rows]


def decision_row(record: DecisionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "source": record.source,
        "order_id": record.order_id,
        "customer_id": record.customer_id,
        "outcome": record.outcome.value,
        "reason_codes": ",".join(record.reason_codes),
        "decided_at": record.decided_at,
        "thresholds_version": record.thresholds_version,
        "caller": record.caller,
        "previous_id": record.previous_id,
        # Serialized once, for the MAC and for the database (macs.Serialized).
        "response": macs.Serialized(record.response),
        "snapshot": macs.Serialized(record.snapshot),
    }


class DecisionRepository:
    """Append-only: decisions are written with their order (`OrderRepository.record`); there is
    no update or delete here, and the database refuses them too."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, decision_id: str) -> DecisionRecord | None:
        row = self.conn.execute(sql.DECISION_BY_ID, {"id": decision_id}).first()
        if row is None:
            return None
        return DecisionRecord(
            id=row.id,
            source=row.source,
            order_id=row.order_id,
            customer_id=row.customer_id,
            outcome=Outcome(row.outcome),
            decided_at=row.decided_at,
            thresholds_version=row.thresholds_version,
            caller=row.caller,
            response=row.response,
            snapshot=row.snapshot,
            previous_id=row.previous_id,
            reason_codes=tuple(c for c in row.reason_codes.split(",") if c),
        )


_PARSED: dict[int, tuple[tuple[Any, ...], Thresholds | None]] = {}


def _parsed(conn: Connection, stored: Mapping[Any, Any]) -> Thresholds | None:
    """A stored version parsed, or None when its MAC does not hold (a version inserted with
    SQL). The verdict is kept while the stored row is the same (every column, the MAC
    included), so the gate checks a version's MAC once per process, not once per decision; a
    process serving several databases (tests, tenants) never mixes them up."""
    version = stored["version"]
    key = tuple(stored[c.name] for c in thresholds_versions.c)
    cached = _PARSED.get(version)
    if cached is not None and cached[0] == key:
        return cached[1]
    parsed = None
    if macs.keyring_of(conn).check("thresholds_versions", stored):
        parsed = thresholds_from_document(stored["document"], version, as_stored=True)
    else:
        log.error("thresholds version %s has no valid MAC (written outside creditgate)", version)
    _PARSED[version] = (key, parsed)
    return parsed


def thresholds_of(conn: Connection, stored: Mapping[Any, Any] | None) -> Thresholds:
    """The newest stored version (None or a None version: none stored yet, the defaults), or,
    when its MAC does not hold, the newest one whose MAC does: a version inserted with SQL
    never becomes the rules. Only then does this read more rows."""
    if stored is None or stored["version"] is None:
        return Thresholds()
    parsed = _parsed(conn, stored)
    if parsed is not None:
        return parsed
    older = conn.execute(
        select(thresholds_versions)
        .where(thresholds_versions.c.version < stored["version"])
        .order_by(thresholds_versions.c.version.desc())
    )
    for row in older.mappings():
        parsed = _parsed(conn, row)
        if parsed is not None:
            return parsed
    return Thresholds()


class ThresholdsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def active(self) -> Thresholds:
        """The version the gate decides under: the newest one whose MAC holds (thresholds_of)."""
        row = self.conn.execute(sql.ACTIVE_THRESHOLDS).first()
        return thresholds_of(self.conn, None if row is None else row._mapping)

    def add(
        self,
        document: Mapping[str, Any],
        created_by: str,
        reason: str,
        at: datetime,
        *,
        as_stored: bool = False,
    ) -> int:
        """Store a new version; `as_stored` for a document stored before (read as the gate reads
        stored versions, not with the stricter rules for new ones)."""
        thresholds_from_document(document, as_stored=as_stored)  # refuse what cannot be used
        version = (
            self.conn.execute(select(func.max(thresholds_versions.c.version))).scalar() or 0
        ) + 1
        values = {
            "version": version,
            "created_at": at,
            "created_by": created_by,
            "reason": reason,
            "document": dict(document),
        }
        self.conn.execute(
            insert(thresholds_versions).values(macs.signed(self.conn, thresholds_versions, values))
        )
        return version

    def versions(self, limit: int, version: int | None = None) -> list[dict[str, Any]]:
        """The newest `limit` versions (or only `version`), newest first, each with who made
        it, when and why, and whether it is `genuine` (its MAC holds: not written with SQL)."""
        stmt = select(thresholds_versions).order_by(thresholds_versions.c.version.desc())
        if version is not None:
            stmt = stmt.where(thresholds_versions.c.version == version)
        keyring = macs.keyring_of(self.conn)
        return [
            {**row, "genuine": keyring.check("thresholds_versions", row)}
            for row in self.conn.execute(stmt.limit(limit)).mappings().all()
        ]

    def active_version(self) -> dict[str, Any] | None:
        """The version the gate decides under: the newest genuine one (thresholds_of)."""
        keyring = macs.keyring_of(self.conn)
        rows = self.conn.execute(
            select(thresholds_versions).order_by(thresholds_versions.c.version.desc())
        ).mappings()
        return next((dict(r) for r in rows if keyring.check("thresholds_versions", r)), None)

    def latest_document(self) -> ActiveVersion | None:
        """The active version's number, author and document (a forged newer one is skipped:
        an edit based on the active version is not refused as outdated because of it)."""
        row = self.active_version()
        return (
            None
            if row is None
            else ActiveVersion(row["version"], row["created_by"], row["document"])
        )


class AuditRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record(
        self, actor: str, action: str, subject: str, details: Mapping[str, Any], at: datetime
    ) -> None:
        values = {
            "occurred_at": at,
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": dict(details),
        }
        self.conn.execute(insert(audit_events).values(macs.signed(self.conn, audit_events, values)))


class NoticeRepository:
    """Hold notices go out through the outbox, like warning changes (sync/push.py)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, notice: HoldNotice, targets: Sequence[str], now: datetime) -> None:
        self.conn.execute(
            insert(outbox),
            [
                {
                    "target": target,
                    "change_id": notice.change_id,
                    "customer_ref": notice.customer_ref,
                    "payload": notice_document(notice),
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for target in targets
            ],
        )
