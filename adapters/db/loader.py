"""Bulk upserts of source records, keeping balances and reservations current as rows change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, Connection, Table, bindparam, func, select, true, update

from adapters.db.balances import BalanceDeltas, move_group
from adapters.db.bulk import insert_rows
from adapters.db.statements import INVOICED_FOR_ORDER
from adapters.db.tables import customers, groups, invoices, orders, payments
from gating.records import CustomerData, GroupData, InvoiceData, PaymentData, RecordError

CHUNK = 2000
ZERO = Decimal(0)


@dataclass
class LoadReport:
    written: dict[str, int] = field(default_factory=dict)
    errors: list[RecordError] = field(default_factory=list)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_BY_REFS: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def _by_refs(conn: Connection, table: Table, names: tuple[str, ...]) -> Any:
    """SELECT `names` of the rows of `table` with `:source_id` and an external_id in `:refs`.

    SQLite: `external_id IN (...)`. PostgreSQL: one probe of the (source_id, external_id) unique
    key per ref, `unnest(:refs)` joined LATERAL to `... LIMIT 1`. PostgreSQL plans the IN list
    from statistics, and rows written earlier in the same transaction have none: in a first
    import it then read every row of the source for each chunk, matching each against 2,000 refs,
    so the load slowed quadratically (a chunk took ~10 s once 200,000 invoices were in). An
    equality on the whole unique key is at most one row whatever the statistics say, so each
    probe stays one index seek. One array parameter also keeps the statement text fixed, where
    an expanding IN renders a new 2,000-placeholder query each chunk. Built once per table.
    """
    key = (conn.dialect.name, table.name, names)
    found = _BY_REFS.get(key)
    if found is not None:
        return found
    columns = [table.c[name] for name in names]
    if conn.dialect.name == "postgresql":
        refs = bindparam("refs", type_=ARRAY(table.c.external_id.type))
        wanted = func.unnest(refs).table_valued("ref").render_derived()
        probe = (
            select(*columns)
            .where(table.c.source_id == bindparam("source_id"))
            .where(table.c.external_id == wanted.c.ref)
            .limit(1)
            .lateral()
        )
        stmt: Any = select(probe).select_from(wanted).join(probe, true())
    else:
        stmt = select(*columns).where(
            table.c.source_id == bindparam("source_id"),
            table.c.external_id.in_(bindparam("refs", expanding=True)),
        )
    _BY_REFS[key] = stmt
    return stmt


def _existing(
    conn: Connection, table: Table, source_id: int, refs: Sequence[str]
) -> dict[str, Any]:
    stmt = _by_refs(conn, table, tuple(table.c.keys()))
    rows = conn.execute(stmt, {"source_id": source_id, "refs": list(refs)})
    return {r.external_id: r for r in rows}


def _ids(conn: Connection, table: Table, source_id: int, refs: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(refs))
    found: dict[str, int] = {}
    stmt = _by_refs(conn, table, ("external_id", "id"))
    for chunk in _chunks(wanted):
        rows = conn.execute(stmt, {"source_id": source_id, "refs": list(chunk)})
        found.update({r.external_id: r.id for r in rows})
    return found


def _write(
    conn: Connection, table: Table, new: list[dict[str, Any]], changed: list[dict[str, Any]]
) -> None:
    if new:
        insert_rows(conn, table, new)
    if changed:
        cols = [k for k in changed[0] if k != "_id"]
        stmt = (
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values({c: bindparam(c) for c in cols})
        )
        conn.execute(stmt, changed)


def _differs(row: Any, values: dict[str, Any]) -> bool:
    return any(getattr(row, k) != v for k, v in values.items() if k != "updated_at")


class Loader:
    """Writes one source's records inside the caller's transaction."""

    def __init__(
        self,
        conn: Connection,
        source_id: int,
        now: datetime,
        customer_ids: dict[str, int] | None = None,
    ) -> None:
        self.conn, self.source_id, self.now = conn, source_id, now
        self.deltas = BalanceDeltas()
        self.report = LoadReport()
        # external id -> row id of customers, shared across the pages of one sync (ids never
        # change once a row exists), so each page does not look up its customers again.
        self.customer_ids = {} if customer_ids is None else customer_ids

    def _customer_ids(self, refs: Iterable[str]) -> dict[str, int]:
        known = self.customer_ids
        missing = {r for r in refs if r not in known}
        if missing:
            known.update(_ids(self.conn, customers, self.source_id, missing))
        return known

    def _skip(self, entity: str, ref: str, reason: str) -> None:
        self.report.errors.append(RecordError(entity, ref, reason))

    def groups(self, records: Sequence[GroupData]) -> None:
        written = 0
        for chunk in _chunks(records):
            existing = _existing(self.conn, groups, self.source_id, [r.ref for r in chunk])
            new, changed = [], []
            for r in chunk:
                values = {
                    "name": r.name,
                    "credit_limit": r.credit_limit,
                    "currency": r.currency,
                    "updated_at": self.now,
                }
                old = existing.get(r.ref)
                if old is None:
                    new.append(
                        {
                            "source_id": self.source_id,
                            "external_id": r.ref,
                            "on_hold": False,
                            **values,
                        }
                    )
                elif _differs(old, values):
                    changed.append({"_id": old.id, **values})
                written += 1
            _write(self.conn, groups, new, changed)
        self.report.written["groups"] = written

    def customers(self, records: Sequence[CustomerData]) -> None:
        group_ids = _ids(
            self.conn, groups, self.source_id, [r.group_ref for r in records if r.group_ref]
        )
        written = 0
        for chunk in _chunks(records):
            existing = _existing(self.conn, customers, self.source_id, [r.ref for r in chunk])
            new, changed, moves = [], [], []
            for r in chunk:
                group_id = None
                if r.group_ref is not None:
                    group_id = group_ids.get(r.group_ref)
                    if group_id is None:
                        self._skip("customer", r.ref, f"group {r.group_ref!r} does not exist")
                        continue
                values = {
                    "name": r.name,
                    "credit_limit": r.credit_limit,
                    "currency": r.currency,
                    "group_id": group_id,
                    "on_hold": r.on_hold,
                    "hold_reason": r.hold_reason,
                    "updated_at": self.now,
                }
                old = existing.get(r.ref)
                if old is None:
                    new.append({"source_id": self.source_id, "external_id": r.ref, **values})
                elif _differs(old, values):
                    changed.append({"_id": old.id, **values})
                    if old.group_id != group_id:
                        moves.append((old.id, old.group_id, group_id))
                written += 1
            _write(self.conn, customers, new, changed)
            for customer_id, old_group, new_group in moves:
                move_group(self.conn, customer_id, old_group, new_group)
            if new:
                self._adopt_orders([row["external_id"] for row in new])
        self.report.written["customers"] = written

    def _adopt_orders(self, refs: Sequence[str]) -> None:
        """Orders gated before their customer was synced now count in its exposure."""
        ids = _ids(self.conn, customers, self.source_id, refs)
        o = orders.c
        rows = self.conn.execute(
            select(o.id, o.customer_ref, o.currency, o.reserved).where(
                o.source_id == self.source_id, o.customer_id.is_(None), o.customer_ref.in_(refs)
            )
        ).all()
        for r in rows:
            customer_id = ids[r.customer_ref]
            self.conn.execute(update(orders).where(o.id == r.id).values(customer_id=customer_id))
            self.deltas.add(customer_id, r.currency, "reserved", r.reserved)

    def invoices(self, records: Sequence[InvoiceData]) -> None:
        customer_ids = self._customer_ids(r.customer_ref for r in records)
        touched_orders: set[str] = set()
        written = 0
        for chunk in _chunks(records):
            existing = _existing(self.conn, invoices, self.source_id, [r.ref for r in chunk])
            new, changed = [], []
            for r in chunk:
                customer_id = customer_ids.get(r.customer_ref)
                if customer_id is None:
                    self._skip("invoice", r.ref, f"customer {r.customer_ref!r} does not exist")
                    continue
                open_amount = Decimal(0) if r.cancelled else r.open_amount
                values = {
                    "customer_id": customer_id,
                    "number": r.number,
                    "issue_date": r.issue_date,
                    "due_date": r.due_date,
                    "currency": r.currency,
                    "total": r.total,
                    "open_amount": open_amount,
                    "is_open": open_amount > 0,
                    "cancelled": r.cancelled,
                    "order_ref": r.order_ref,
                    "updated_at": self.now,
                }
                old = existing.get(r.ref)
                if old is None:
                    new.append({"source_id": self.source_id, "external_id": r.ref, **values})
                elif _differs(old, values):
                    changed.append({"_id": old.id, **values})
                    self.deltas.add(
                        old.customer_id, old.currency, "open_invoices", -old.open_amount
                    )
                    if old.order_ref:
                        touched_orders.add(old.order_ref)
                else:
                    written += 1
                    continue
                self.deltas.add(customer_id, r.currency, "open_invoices", open_amount)
                if r.order_ref:
                    touched_orders.add(r.order_ref)
                written += 1
            _write(self.conn, invoices, new, changed)
        self.report.written["invoices"] = written
        self._reduce_reservations(touched_orders)

    def _reduce_reservations(self, order_refs: Iterable[str]) -> None:
        """An order reserves what is not invoiced yet: amount − Σ its invoices' totals."""
        refs = sorted(order_refs)
        o = orders.c
        for chunk in _chunks(refs):
            rows = self.conn.execute(
                select(orders).where(o.source_id == self.source_id, o.external_id.in_(chunk))
            ).all()
            for row in rows:
                invoiced = self.conn.execute(
                    INVOICED_FOR_ORDER,
                    {
                        "source_id": self.source_id,
                        "order_ref": row.external_id,
                        "currency": row.currency,
                    },
                ).scalar_one()
                invoiced = Decimal(invoiced) if invoiced else ZERO
                values: dict[str, Any] = {"invoiced": invoiced, "updated_at": self.now}
                if row.status == "open" and row.last_outcome == "approved":
                    reserved = max(ZERO, row.amount - invoiced)
                    values["reserved"] = reserved
                    if reserved == ZERO:
                        values["status"] = "invoiced"
                    if row.customer_id is not None:
                        self.deltas.add(
                            row.customer_id, row.currency, "reserved", reserved - row.reserved
                        )
                self.conn.execute(update(orders).where(o.id == row.id).values(**values))

    def payments(self, records: Sequence[PaymentData]) -> None:
        customer_ids = self._customer_ids(r.customer_ref for r in records)
        written = 0
        for chunk in _chunks(records):
            existing = _existing(self.conn, payments, self.source_id, [r.ref for r in chunk])
            new, changed = [], []
            for r in chunk:
                customer_id = customer_ids.get(r.customer_ref)
                if customer_id is None:
                    self._skip("payment", r.ref, f"customer {r.customer_ref!r} does not exist")
                    continue
                values = {
                    "customer_id": customer_id,
                    "date": r.date,
                    "currency": r.currency,
                    "amount": r.amount,
                    "unapplied_amount": r.unapplied,
                    "updated_at": self.now,
                }
                old = existing.get(r.ref)
                written += 1
                if old is None:
                    new.append({"source_id": self.source_id, "external_id": r.ref, **values})
                elif _differs(old, values):
                    changed.append({"_id": old.id, **values})
                    self.deltas.add(
                        old.customer_id, old.currency, "unapplied", -old.unapplied_amount
                    )
                else:
                    continue
                self.deltas.add(customer_id, r.currency, "unapplied", r.unapplied)
            _write(self.conn, payments, new, changed)
        self.report.written["payments"] = written

    def finish(self) -> LoadReport:
        self.deltas.flush(self.conn)
        return self.report
