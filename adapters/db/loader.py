"""Bulk upserts of source records, keeping balances and reservations current as rows change."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any

from sqlalchemy import ARRAY, Connection, Table, bindparam, delete, func, select, true, update

from adapters.db.balances import BalanceDeltas, move_group
from adapters.db.bulk import insert_batches, insert_tuples
from adapters.db.repository import order_of
from adapters.db.statements import CUSTOMER_LOCK, INVOICED_FOR_ORDER
from adapters.db.tables import customers, groups, invoices, orders, payments
from gating.records import CustomerData, GroupData, InvoiceData, PaymentData, RecordError
from gating.reservations import reserved_after_invoices

# An invoice in several instalments is stored as one receivable row per instalment: the first
# under the invoice's own id, instalment k (2, 3, ...) under "<id>#<k>". Every other table and
# query (the overdue view, the warnings, the aging, the balances) then sees each instalment as
# an ordinary open invoice with its own due date and open amount. Only sources whose invoice
# ids never contain "#" may send instalments (Tryton's and NAV's ids are numbers).
INSTALMENT_SEPARATOR = "#"


def instalment_ref(ref: str, k: int) -> str:
    """The row id of instalment `k` (1-based) of invoice `ref`."""
    return ref if k == 1 else f"{ref}{INSTALMENT_SEPARATOR}{k}"


_INSTALMENTS = attrgetter("instalments")


def _receivables(records: Sequence[InvoiceData]) -> tuple[Sequence[InvoiceData], dict[str, int]]:
    """The rows to write for `records`: an invoice with instalments becomes one row per
    instalment (its number, dates and order; the instalment's due date, share and open
    amount). Also returns, by row id, how many instalments the row's invoice has.
    Invoices without instalments pass through as they are, and cost one attribute test."""
    if not any(map(_INSTALMENTS, records)):
        return records, {}
    rows: list[InvoiceData] = []
    counts: dict[str, int] = {}
    for r in records:
        if not r.instalments:
            rows.append(r)
            continue
        n = len(r.instalments)
        for k, part in enumerate(r.instalments, 1):
            ref = instalment_ref(r.ref, k)
            counts[ref] = n
            rows.append(
                replace(
                    r,
                    ref=ref,
                    due_date=part.due_date,
                    total=part.amount,
                    open_amount=part.open_amount,
                    instalments=(),
                )
            )
    return rows, counts


CHUNK = 2000
ZERO = Decimal(0)
# What the loader makes of a chunk of records: new rows (tuples of the table's insert columns),
# changed rows (dicts with the row's id as `_id`), how many count as written, and extra data.
_Chunk = tuple[list[tuple[Any, ...]], list[dict[str, Any]], int, Any]


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
    conn: Connection,
    table: Table,
    new: list[tuple[Any, ...]],
    changed: list[dict[str, Any]],
    columns: tuple[str, ...],
) -> None:
    """Insert the `new` rows (values of `columns`, in that order) and update the `changed` ones
    (dicts of the new values, with the row's id as `_id`)."""
    if new:
        insert_tuples(conn, table, columns, new)
    if changed:
        cols = [k for k in changed[0] if k != "_id"]
        stmt = (
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values({c: bindparam(c) for c in cols})
        )
        conn.execute(stmt, changed)


_ANY_ROW: dict[str, Any] = {}


def _has_rows(conn: Connection, table: Table, source_id: int) -> bool:
    """Whether `table` holds any row of the source yet (one seek of its unique key's prefix)."""
    stmt = _ANY_ROW.get(table.name)
    if stmt is None:
        stmt = _ANY_ROW[table.name] = (
            select(table.c.id).where(table.c.source_id == bindparam("source_id")).limit(1)
        )
    return conn.execute(stmt, {"source_id": source_id}).first() is not None


# The columns the loader inserts, in each table's order (what `insert_tuples` expects).
GROUP_COLUMNS = (
    "source_id",
    "external_id",
    "name",
    "credit_limit",
    "currency",
    "on_hold",
    "updated_at",
)
CUSTOMER_COLUMNS = (
    "source_id",
    "external_id",
    "name",
    "credit_limit",
    "currency",
    "group_id",
    "on_hold",
    "hold_reason",
    "updated_at",
)
INVOICE_COLUMNS = (
    "source_id",
    "external_id",
    "customer_id",
    "number",
    "issue_date",
    "due_date",
    "currency",
    "total",
    "open_amount",
    "is_open",
    "cancelled",
    "order_ref",
    "updated_at",
    "instalments",
)
PAYMENT_COLUMNS = (
    "source_id",
    "external_id",
    "customer_id",
    "date",
    "currency",
    "amount",
    "unapplied_amount",
    "updated_at",
)


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

    def _fresh(self, table: Table, records: Sequence[Any]) -> bool:
        """Whether none of the records can exist in `table`, before or while they are written.

        True when the source has no row in the table yet and the records' refs are all
        distinct: then no chunk needs looking up (in a first import that saves one index probe
        per record), and all the rows can go through one bulk statement.
        """
        return bool(
            records
            and not _has_rows(self.conn, table, self.source_id)
            and len({r.ref for r in records}) == len(records)
        )

    def _write_all(
        self,
        table: Table,
        columns: tuple[str, ...],
        records: Sequence[Any],
        rows_of: Callable[[Sequence[Any], dict[str, Any]], _Chunk],
        after: Callable[[_Chunk], None] | None = None,
    ) -> int:
        """Write `records` chunk by chunk; return how many count as written.

        `rows_of(chunk, existing)` turns a chunk into its new rows (values of `columns`), its
        changed rows (dicts with `_id`), its count and anything `after` needs; `after` runs once
        a chunk is written. For fresh records (see `_fresh`) every chunk's new rows stream into
        one bulk insert, and `after` runs for each chunk once all are in: while the insert
        streams, the connection can run nothing else.
        """
        written = 0
        if self._fresh(table, records):
            done: list[_Chunk] = []

            def batches() -> Iterator[list[tuple[Any, ...]]]:
                nonlocal written
                for chunk in _chunks(records):
                    result = rows_of(chunk, {})
                    written += result[2]
                    if after is not None:
                        done.append(result)
                    yield result[0]

            insert_batches(self.conn, table, columns, batches())
            if after is not None:
                for result in done:
                    after(result)
            return written
        for chunk in _chunks(records):
            existing = _existing(self.conn, table, self.source_id, [r.ref for r in chunk])
            result = rows_of(chunk, existing)
            written += result[2]
            _write(self.conn, table, result[0], result[1], columns)
            if after is not None:
                after(result)
        return written

    def groups(self, records: Sequence[GroupData]) -> None:
        source_id, now = self.source_id, self.now

        def rows_of(chunk: Sequence[GroupData], existing: dict[str, Any]) -> _Chunk:
            new, changed = [], []
            for r in chunk:
                old = existing.get(r.ref)
                if old is None:
                    new.append((source_id, r.ref, r.name, r.credit_limit, r.currency, False, now))
                    continue
                values = {
                    "name": r.name,
                    "credit_limit": r.credit_limit,
                    "currency": r.currency,
                    "updated_at": now,
                }
                if _differs(old, values):
                    changed.append({"_id": old.id, **values})
            return new, changed, len(chunk), None

        self.report.written["groups"] = self._write_all(groups, GROUP_COLUMNS, records, rows_of)

    def customers(self, records: Sequence[CustomerData]) -> None:
        source_id, now = self.source_id, self.now
        group_ids = _ids(
            self.conn, groups, source_id, [r.group_ref for r in records if r.group_ref]
        )

        def rows_of(chunk: Sequence[CustomerData], existing: dict[str, Any]) -> _Chunk:
            new, changed, moves, written = [], [], [], 0
            for r in chunk:
                group_id = None
                if r.group_ref is not None:
                    group_id = group_ids.get(r.group_ref)
                    if group_id is None:
                        self._skip("customer", r.ref, f"group {r.group_ref!r} does not exist")
                        continue
                written += 1
                old = existing.get(r.ref)
                if old is None:
                    new.append(
                        (
                            source_id,
                            r.ref,
                            r.name,
                            r.credit_limit,
                            r.currency,
                            group_id,
                            r.on_hold,
                            r.hold_reason,
                            now,
                        )
                    )
                    continue
                values = {
                    "name": r.name,
                    "credit_limit": r.credit_limit,
                    "currency": r.currency,
                    "group_id": group_id,
                    "on_hold": r.on_hold,
                    "hold_reason": r.hold_reason,
                    "updated_at": now,
                }
                if _differs(old, values):
                    changed.append({"_id": old.id, **values})
                    if old.group_id != group_id:
                        moves.append((old.id, old.group_id, group_id))
            return new, changed, written, moves

        added: list[str] = []

        def after(result: _Chunk) -> None:
            new, _, _, moves = result
            for customer_id, old_group, new_group in moves:
                move_group(self.conn, customer_id, old_group, new_group)
            added.extend(row[1] for row in new)

        self.report.written["customers"] = self._write_all(
            customers, CUSTOMER_COLUMNS, records, rows_of, after
        )
        # Once every customer is in (adopting touches only orders and the balance deltas,
        # which nothing above reads), and only when some order waits for a customer at all.
        if added and self._orders_waiting():
            for chunk in _chunks(added):
                self._adopt_orders(chunk)

    def _orders_waiting(self) -> bool:
        """Whether any order of the source was gated before its customer was known."""
        o = orders.c
        stmt = select(o.id).where(o.source_id == self.source_id, o.customer_id.is_(None))
        return self.conn.execute(stmt.limit(1)).first() is not None

    def _adopt_orders(self, refs: Sequence[str]) -> None:
        """Orders gated before their customer was synced now count in its exposure."""
        o = orders.c
        rows = self.conn.execute(
            select(o.id, o.customer_ref, o.currency, o.reserved).where(
                o.source_id == self.source_id, o.customer_id.is_(None), o.customer_ref.in_(refs)
            )
        ).all()
        if not rows:  # the common case: no order waits for these customers
            return
        ids = _ids(self.conn, customers, self.source_id, refs)
        for r in rows:
            customer_id = ids[r.customer_ref]
            self.conn.execute(update(orders).where(o.id == r.id).values(customer_id=customer_id))
            self.deltas.add(customer_id, r.currency, "reserved", r.reserved)

    def invoices(self, records: Sequence[InvoiceData]) -> None:
        source_id, now, add = self.source_id, self.now, self.deltas.add
        customer_ids = self._customer_ids({r.customer_ref for r in records})
        touched_orders: set[str] = set()
        rows, counts = _receivables(records)
        # Instalment rows an invoice no longer has (it was rescheduled into fewer), to delete.
        gone: list[str] = []

        def rows_of(chunk: Sequence[InvoiceData], existing: dict[str, Any]) -> _Chunk:
            new, changed, written = [], [], 0
            for r in chunk:
                instalments = counts.get(r.ref) if counts else None
                # An invoice counts (and is reported) once, whatever its instalments.
                first = instalments is None or INSTALMENT_SEPARATOR not in r.ref
                customer_id = customer_ids.get(r.customer_ref)
                if customer_id is None:
                    if first:
                        self._skip("invoice", r.ref, f"customer {r.customer_ref!r} does not exist")
                    continue
                written += first
                open_amount = ZERO if r.cancelled else r.open_amount
                old = existing.get(r.ref)
                if old is None:
                    new.append(
                        (
                            source_id,
                            r.ref,
                            customer_id,
                            r.number,
                            r.issue_date,
                            r.due_date,
                            r.currency,
                            r.total,
                            open_amount,
                            open_amount > 0,
                            r.cancelled,
                            r.order_ref,
                            now,
                            instalments,
                        )
                    )
                else:
                    if first and (old.instalments or 1) > (instalments or 1):
                        gone.extend(
                            instalment_ref(r.ref, k)
                            for k in range((instalments or 1) + 1, old.instalments + 1)
                        )
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
                        "instalments": instalments,
                        "updated_at": now,
                    }
                    if not _differs(old, values):
                        continue
                    changed.append({"_id": old.id, **values})
                    add(old.customer_id, old.currency, "open_invoices", -old.open_amount)
                    if old.order_ref:
                        touched_orders.add(old.order_ref)
                if open_amount:  # add() ignores a zero; most invoices are paid
                    add(customer_id, r.currency, "open_invoices", open_amount)
                if r.order_ref:
                    touched_orders.add(r.order_ref)
            return new, changed, written, None

        self.report.written["invoices"] = self._write_all(invoices, INVOICE_COLUMNS, rows, rows_of)
        if gone:
            touched_orders.update(self._delete_invoice_rows(gone))
        self._reduce_reservations(touched_orders)

    def _delete_invoice_rows(self, refs: Sequence[str]) -> set[str]:
        """Delete the rows of instalments that no longer exist, taking their open amounts off
        the balances; return the orders they were invoiced against."""
        orders_touched: set[str] = set()
        for chunk in _chunks(sorted(set(refs))):
            found = _existing(self.conn, invoices, self.source_id, chunk)
            for row in found.values():
                self.deltas.add(row.customer_id, row.currency, "open_invoices", -row.open_amount)
                if row.order_ref:
                    orders_touched.add(row.order_ref)
            if found:
                self.conn.execute(
                    delete(invoices).where(invoices.c.id.in_([r.id for r in found.values()]))
                )
        return orders_touched

    def _lock_customers_of(self, order_refs: Sequence[str]) -> None:
        """Take the decision locks of these orders' customers (in one order, so two loaders
        never deadlock): the gate writes an order back from what it read under its customer's
        lock, so a reduction committed in between would be overwritten. PostgreSQL only; SQLite
        has one writer at a time."""
        o = orders.c
        customers = self.conn.execute(
            select(o.customer_ref)
            .where(o.source_id == self.source_id, o.external_id.in_(order_refs))
            .distinct()
            .order_by(o.customer_ref)
        ).scalars()
        for ref in customers:
            self.conn.execute(CUSTOMER_LOCK, {"source_id": self.source_id, "ref": ref})

    def _reduce_reservations(self, order_refs: Iterable[str]) -> None:
        """An order reserves what is not invoiced yet: amount − Σ its invoices' totals."""
        refs = sorted(order_refs)
        o = orders.c
        for chunk in _chunks(refs):
            if self.conn.dialect.name == "postgresql":
                self._lock_customers_of(chunk)
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
                after = reserved_after_invoices(order_of(row), invoiced)
                if after is not None:
                    values["status"], values["reserved"] = after
                    if not after[1] and after[0] in ("open", "rejected"):
                        values["expires_at"] = None  # nothing left to lapse
                    if row.customer_id is not None:
                        self.deltas.add(
                            row.customer_id, row.currency, "reserved", after[1] - row.reserved
                        )
                self.conn.execute(update(orders).where(o.id == row.id).values(**values))

    def payments(self, records: Sequence[PaymentData]) -> None:
        source_id, now, add = self.source_id, self.now, self.deltas.add
        customer_ids = self._customer_ids({r.customer_ref for r in records})

        def rows_of(chunk: Sequence[PaymentData], existing: dict[str, Any]) -> _Chunk:
            new, changed, written = [], [], 0
            for r in chunk:
                customer_id = customer_ids.get(r.customer_ref)
                if customer_id is None:
                    self._skip("payment", r.ref, f"customer {r.customer_ref!r} does not exist")
                    continue
                written += 1
                old = existing.get(r.ref)
                if old is None:
                    new.append(
                        (
                            source_id,
                            r.ref,
                            customer_id,
                            r.date,
                            r.currency,
                            r.amount,
                            r.unapplied,
                            now,
                        )
                    )
                else:
                    values = {
                        "customer_id": customer_id,
                        "date": r.date,
                        "currency": r.currency,
                        "amount": r.amount,
                        "unapplied_amount": r.unapplied,
                        "updated_at": now,
                    }
                    if not _differs(old, values):
                        continue
                    changed.append({"_id": old.id, **values})
                    add(old.customer_id, old.currency, "unapplied", -old.unapplied_amount)
                if r.unapplied:  # add() ignores a zero
                    add(customer_id, r.currency, "unapplied", r.unapplied)
            return new, changed, written, None

        self.report.written["payments"] = self._write_all(
            payments, PAYMENT_COLUMNS, records, rows_of
        )

    def finish(self) -> LoadReport:
        self.deltas.flush(self.conn)
        return self.report
