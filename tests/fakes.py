"""In-memory fakes of the gating ports: a second, simple implementation of the store; a clock."""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from gating.errors import OrderNotFound, SourceNotFound
from gating.model import (
    AWAITING_SYNC,
    LIVE_STATUSES,
    Balance,
    Money,
    Outcome,
    OverdueInvoice,
    OverdueSummary,
    Party,
    Thresholds,
)
from gating.ports import (
    Audit,
    Customers,
    DecisionRecord,
    Decisions,
    DecisionView,
    OrderRecord,
    Orders,
    SourceRecord,
    Sources,
    ThresholdVersions,
)
from gating.reservations import event_change, lapsed_status, reserved_after_invoices

ZERO = Decimal("0")
COLUMNS = ("open_invoices", "unapplied", "reserved")


class FixedClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime) -> None:
        assert now.tzinfo is not None, "the business clock is timezone-aware"
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


# ---------------------------------------------------------------------------------------------
# Rows: what the fake "database" keeps. Mutable, private to the fake.


@dataclass
class GroupRow:
    key: int
    ref: str
    name: str
    currency: str
    credit_limit: Decimal | None
    on_hold: bool = False
    hold_reason: str | None = None


@dataclass
class CustomerRow:
    key: int
    source_id: int
    ref: str
    name: str
    currency: str
    credit_limit: Decimal | None
    group_key: int | None = None
    on_hold: bool = False
    hold_reason: str | None = None


@dataclass
class InvoiceRow:
    customer_key: int
    number: str
    due_date: date
    currency: str
    open_amount: Decimal

    @property
    def is_open(self) -> bool:
        return self.open_amount > ZERO


@dataclass
class OrderRow:
    source_id: int
    order_id: str
    customer_ref: str
    customer_key: int | None
    amount: Decimal
    currency: str
    reserved: Decimal
    invoiced: Decimal
    status: str
    last_decision_id: str | None
    last_outcome: Outcome | None
    expires_at: datetime | None
    reserved_by: str | None = None

    def as_record(self) -> OrderRecord:
        return OrderRecord(
            source_id=self.source_id,
            order_id=self.order_id,
            customer_ref=self.customer_ref,
            amount=self.amount,
            currency=self.currency,
            reserved=self.reserved,
            status=self.status,
            last_decision_id=self.last_decision_id,
            last_outcome=self.last_outcome,
            customer_key=self.customer_key,
            invoiced=self.invoiced,
            expires_at=self.expires_at,
            reserved_by=self.reserved_by,
        )


@dataclass(frozen=True)
class AuditEvent:
    actor: str
    action: str
    subject: str
    details: Mapping[str, Any]
    at: datetime


@dataclass
class StoreState:
    sources: dict[str, SourceRecord] = field(default_factory=dict)
    groups: dict[int, GroupRow] = field(default_factory=dict)
    customers: dict[int, CustomerRow] = field(default_factory=dict)
    customer_balances: dict[tuple[int, str], dict[str, Decimal]] = field(default_factory=dict)
    group_balances: dict[tuple[int, str], dict[str, Decimal]] = field(default_factory=dict)
    invoices: list[InvoiceRow] = field(default_factory=list)
    orders: dict[tuple[int, str], OrderRow] = field(default_factory=dict)
    decisions: dict[str, DecisionRecord] = field(default_factory=dict)
    thresholds: list[Thresholds] = field(default_factory=list)
    audit: list[AuditEvent] = field(default_factory=list)
    next_key: int = 1

    def new_key(self) -> int:
        key, self.next_key = self.next_key, self.next_key + 1
        return key

    def add_delta(self, customer_key: int, currency: str, column: str, amount: Decimal) -> None:
        """`col = col + amount` on the customer's and its group's row in that currency."""
        if not amount:
            return
        rows = [self.customer_balances.setdefault((customer_key, currency), _zeros())]
        group_key = self.customers[customer_key].group_key
        if group_key is not None:
            rows.append(self.group_balances.setdefault((group_key, currency), _zeros()))
        for row in rows:
            row[column] += amount

    def customer_by_ref(self, source_id: int, ref: str) -> CustomerRow | None:
        for row in self.customers.values():
            if row.source_id == source_id and row.ref == ref:
                return row
        return None


def _zeros() -> dict[str, Decimal]:
    return dict.fromkeys(COLUMNS, ZERO)


def _balances(
    table: Mapping[tuple[int, str], Mapping[str, Decimal]], owner: int
) -> tuple[Balance, ...]:
    return tuple(
        Balance(cur, row["open_invoices"], row["unapplied"], row["reserved"])
        for (key, cur), row in sorted(table.items(), key=lambda item: item[0][1])
        if key == owner
    )


# ---------------------------------------------------------------------------------------------
# Repositories: each reads and writes the unit of work's working copy.


class FakeSources:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def get(self, name: str) -> SourceRecord:
        try:
            return self._uow.state.sources[name]
        except KeyError:
            raise SourceNotFound(name) from None


class FakeCustomers:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def position(self, source_id: int, ref: str) -> tuple[Party | None, Party | None]:
        state = self._uow.state
        row = state.customer_by_ref(source_id, ref)
        if row is None:
            return None, None
        customer = Party(
            ref=row.ref,
            name=row.name,
            currency=row.currency,
            credit_limit=row.credit_limit,
            on_hold=row.on_hold,
            hold_reason=row.hold_reason,
            balances=_balances(state.customer_balances, row.key),
            key=row.key,
        )
        if row.group_key is None:
            return customer, None
        g = state.groups[row.group_key]
        group = Party(
            ref=g.ref,
            name=g.name,
            currency=g.currency,
            credit_limit=g.credit_limit,
            on_hold=g.on_hold,
            hold_reason=g.hold_reason,
            balances=_balances(state.group_balances, g.key),
            key=g.key,
        )
        return customer, group

    def _overdue(self, customer_key: int, due_before: date, tolerance: Decimal) -> list[InvoiceRow]:
        found = [
            inv
            for inv in self._uow.state.invoices
            if inv.customer_key == customer_key
            and inv.is_open
            and inv.due_date < due_before
            and inv.open_amount > tolerance
        ]
        return sorted(found, key=lambda inv: inv.due_date)  # stable: ties keep insertion order

    def overdue(
        self, customer_key: int, due_before: date, tolerance: Decimal, cap: int
    ) -> OverdueSummary:
        found = self._overdue(customer_key, due_before, tolerance)
        if not found:
            return OverdueSummary()
        return OverdueSummary(
            count=min(len(found), cap), oldest=_overdue_invoice(found[0]), capped=len(found) > cap
        )

    def overdue_invoices(
        self, customer_key: int, due_before: date, tolerance: Decimal, limit: int
    ) -> list[OverdueInvoice]:
        found = self._overdue(customer_key, due_before, tolerance)
        return [_overdue_invoice(inv) for inv in found[:limit]]


def _overdue_invoice(inv: InvoiceRow) -> OverdueInvoice:
    return OverdueInvoice(inv.number, inv.due_date, inv.open_amount, inv.currency)


class FakeOrders:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def get(self, source_id: int, order_id: str) -> OrderRecord | None:
        row = self._uow.state.orders.get((source_id, order_id))
        return None if row is None else row.as_record()

    def reserved_for_ref(self, source_id: int, customer_ref: str) -> list[Money]:
        totals: dict[str, Decimal] = {}
        for row in self._uow.state.orders.values():
            if (
                row.source_id == source_id
                and row.customer_ref == customer_ref
                and row.customer_key is None
                and row.status in LIVE_STATUSES
            ):
                totals[row.currency] = totals.get(row.currency, ZERO) + row.reserved
        return [Money(amount, cur) for cur, amount in sorted(totals.items()) if amount]

    def lapsed(self, source_id: int, customer_ref: str, now: datetime) -> list[OrderRow]:
        """Live orders of this customer or its group past their expiry."""
        state = self._uow.state
        me = state.customer_by_ref(source_id, customer_ref)
        group_key = me.group_key if me is not None else None
        siblings = {
            c.key for c in state.customers.values() if group_key and c.group_key == group_key
        }
        return [
            row
            for row in state.orders.values()
            if row.source_id == source_id
            and (row.customer_ref == customer_ref or row.customer_key in siblings)
            and row.status in LIVE_STATUSES
            and row.expires_at is not None
            and row.expires_at < now
        ]

    def expire_reservations(
        self,
        source_id: int,
        customer_ref: str,
        now: datetime,
        customer_key: int | None = None,
        group_key: int | None = None,
    ) -> int:
        expired = self.lapsed(source_id, customer_ref, now)
        for row in expired:
            if row.customer_key is not None:
                self._uow.state.add_delta(row.customer_key, row.currency, "reserved", -row.reserved)
            row.status, row.reserved = lapsed_status(row.status, row.last_outcome), ZERO
            if row.status in ("open", "rejected"):
                row.expires_at = None
        return len(expired)

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
        state = self._uow.state
        self.add_decision(decision)
        old = state.orders.get((source_id, order_id))
        assert (old is None) == (previous is None), "previous must be the order as stored"
        invoiced = ZERO
        reserved_by = None if reserve is None else decision.id
        if standing:
            assert old is not None and old.currency == amount.currency
            invoiced, reserved = old.invoiced, old.reserved
            reserved_by = old.reserved_by or old.last_decision_id
        else:
            if old is not None:
                invoiced = old.invoiced if old.currency == amount.currency else ZERO
                if old.customer_key is not None:
                    state.add_delta(old.customer_key, old.currency, "reserved", -old.reserved)
            reserved = ZERO if reserve is None else max(ZERO, reserve.amount - invoiced)
            if customer_key is not None:
                state.add_delta(customer_key, amount.currency, "reserved", reserved)
        state.orders[(source_id, order_id)] = OrderRow(
            source_id=source_id,
            order_id=order_id,
            customer_ref=customer_ref,
            customer_key=customer_key,
            amount=amount.amount,
            currency=amount.currency,
            reserved=reserved,
            invoiced=invoiced,
            status=status,
            last_decision_id=decision.id,
            last_outcome=decision.outcome,
            expires_at=expires_at,
            reserved_by=reserved_by,
        )

    def add_decision(self, decision: DecisionRecord) -> None:
        state = self._uow.state
        assert decision.id not in state.decisions, "decisions are append-only"
        state.decisions[decision.id] = decision

    def close(
        self, source_id: int, order_id: str, event: str, counted_until: datetime | None = None
    ) -> OrderRecord:
        state = self._uow.state
        row = state.orders.get((source_id, order_id))
        if row is None:
            name = next(s.name for s in state.sources.values() if s.id == source_id)
            raise OrderNotFound(name, order_id)
        before = row.as_record()
        change = event_change(before, event, counted_until)
        if change is None:
            return before
        status, reserved, expires_at = change
        if row.customer_key is not None:
            state.add_delta(row.customer_key, row.currency, "reserved", reserved - row.reserved)
        row.status, row.reserved, row.expires_at = status, reserved, expires_at
        return before

    def awaiting_sync(self, customer_key: int) -> list[OrderRecord]:
        rows = [
            r
            for r in self._uow.state.orders.values()
            if r.customer_key == customer_key and r.status == AWAITING_SYNC
        ]
        return [
            r.as_record() for r in sorted(rows, key=lambda r: (r.expires_at is None, r.expires_at))
        ]


class FakeDecisions:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def get(self, decision_id: str) -> DecisionRecord | None:
        return self._uow.state.decisions.get(decision_id)


class FakeThresholds:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def active(self) -> Thresholds:
        versions = self._uow.state.thresholds
        return versions[-1] if versions else Thresholds()


class FakeAudit:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def record(
        self, actor: str, action: str, subject: str, details: Mapping[str, Any], at: datetime
    ) -> None:
        self._uow.state.audit.append(AuditEvent(actor, action, subject, dict(details), at))


# ---------------------------------------------------------------------------------------------
# The store (committed state, plus set-up helpers standing in for the sync) and the unit of work.


class FakeStore:
    """The committed state. Set-up helpers write to it directly, as a committed sync would.

    Transactions run side by side, as on PostgreSQL: each works on its own copy and commit
    applies what it changed (balances by their deltas, rows as written). Only the locks that
    `begin_decision` takes, the customer's and then its group's until the transaction ends,
    keep two decisions apart, so a use case that reads before it locks can lose a race here.
    """

    def __init__(self) -> None:
        self.state = StoreState()
        self.commits = 0
        self._mutex = threading.Lock()  # guards `state` while it is copied or merged, no longer
        self._locks: dict[tuple[str, int | str, str], threading.Lock] = {}
        self._rendezvous: threading.Barrier | None = None

    def meet_after_reading(self, parties: int, timeout: float = 0.5) -> None:
        """Make transactions wait, after a decision's read, until `parties` of them have read
        (or `timeout` passed): without a lock between them they then all decide on the same
        numbers; with one, the holder waits out the timeout alone and the others read after it."""
        self._rendezvous = threading.Barrier(parties, timeout=timeout)

    def _after_read(self) -> None:
        if self._rendezvous is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                self._rendezvous.wait()

    def _lock(self, key: tuple[str, int | str, str]) -> threading.Lock:
        with self._mutex:
            return self._locks.setdefault(key, threading.Lock())

    def _group_of(self, source_id: int, customer_ref: str) -> int | None:
        with self._mutex:
            row = self.state.customer_by_ref(source_id, customer_ref)
            return None if row is None else row.group_key

    def _snapshot(self) -> StoreState:
        with self._mutex:
            return copy.deepcopy(self.state)

    def _publish(self, base: StoreState, work: StoreState) -> None:
        with self._mutex:
            _merge(self.state, base, work)

    # -- set-up ---------------------------------------------------------------------------

    def add_source(
        self, name: str, last_success_at: datetime | None = None, kind: str = "tryton"
    ) -> SourceRecord:
        record = SourceRecord(self.state.new_key(), name, kind, last_success_at)
        self.state.sources[name] = record
        return record

    def add_group(
        self, ref: str, *, currency: str, credit_limit: str | None, name: str = ""
    ) -> int:
        key = self.state.new_key()
        limit = None if credit_limit is None else Decimal(credit_limit)
        self.state.groups[key] = GroupRow(key, ref, name or ref, currency, limit)
        return key

    def add_customer(
        self,
        source: str,
        ref: str,
        *,
        currency: str,
        credit_limit: str | None,
        group: str | None = None,
        name: str = "",
    ) -> int:
        key = self.state.new_key()
        self.state.customers[key] = CustomerRow(
            key=key,
            source_id=self.state.sources[source].id,
            ref=ref,
            name=name or ref,
            currency=currency,
            credit_limit=None if credit_limit is None else Decimal(credit_limit),
            group_key=None if group is None else self._group(group).key,
        )
        return key

    def add_invoice(
        self, source: str, customer: str, number: str, *, due: str, open_amount: str, currency: str
    ) -> None:
        row = self._customer(source, customer)
        amount = Decimal(open_amount)
        self.state.invoices.append(
            InvoiceRow(row.key, number, date.fromisoformat(due), currency, amount)
        )
        self.state.add_delta(row.key, currency, "open_invoices", amount)

    def add_unapplied_payment(
        self, source: str, customer: str, *, amount: str, currency: str
    ) -> None:
        row = self._customer(source, customer)
        self.state.add_delta(row.key, currency, "unapplied", Decimal(amount))

    def set_credit_limit(self, source: str, customer: str, credit_limit: str | None) -> None:
        row = self._customer(source, customer)
        row.credit_limit = None if credit_limit is None else Decimal(credit_limit)

    def put_on_hold(self, source: str, customer: str, reason: str) -> None:
        row = self._customer(source, customer)
        row.on_hold, row.hold_reason = True, reason

    def set_thresholds(self, thresholds: Thresholds) -> None:
        self.state.thresholds.append(thresholds)

    def invoice_order(self, source: str, order_id: str, invoiced: str) -> None:
        """As a sync loading invoices that carry the order's reference, totalling `invoiced`."""
        row = self.state.orders[(self.state.sources[source].id, order_id)]
        after = reserved_after_invoices(row.as_record(), Decimal(invoiced))
        row.invoiced = Decimal(invoiced)
        if after is None:
            return
        if row.customer_key is not None:
            self.state.add_delta(
                row.customer_key, row.currency, "reserved", after[1] - row.reserved
            )
        row.status, row.reserved = after

    def mark_synced(self, source: str, at: datetime) -> None:
        old = self.state.sources[source]
        self.state.sources[source] = SourceRecord(old.id, old.name, old.kind, at)

    # -- inspection -----------------------------------------------------------------------

    def customer_balance(self, source: str, customer: str, currency: str) -> Balance:
        row = self._customer(source, customer)
        return _balance(self.state.customer_balances, row.key, currency)

    def group_balance(self, group: str, currency: str) -> Balance:
        return _balance(self.state.group_balances, self._group(group).key, currency)

    def order(self, source: str, order_id: str) -> OrderRecord | None:
        row = self.state.orders.get((self.state.sources[source].id, order_id))
        return None if row is None else row.as_record()

    def order_expires_at(self, source: str, order_id: str) -> datetime | None:
        return self.state.orders[(self.state.sources[source].id, order_id)].expires_at

    @property
    def decisions(self) -> list[DecisionRecord]:
        return list(self.state.decisions.values())

    @property
    def audit(self) -> list[AuditEvent]:
        return list(self.state.audit)

    def _customer(self, source: str, ref: str) -> CustomerRow:
        row = self.state.customer_by_ref(self.state.sources[source].id, ref)
        assert row is not None, f"no customer {ref} in {source}"
        return row

    def _group(self, ref: str) -> GroupRow:
        return next(g for g in self.state.groups.values() if g.ref == ref)


def _balance(
    table: Mapping[tuple[int, str], Mapping[str, Decimal]], key: int, currency: str
) -> Balance:
    row = table.get((key, currency), _zeros())
    return Balance(currency, row["open_invoices"], row["unapplied"], row["reserved"])


def _merge(committed: StoreState, base: StoreState, work: StoreState) -> None:
    """Apply to `committed` what a transaction changed from its `base` to its `work`, the way
    SQL statements apply: balances by their deltas (`col = col + x`), rows it wrote as it wrote
    them (the last writer wins), new decisions and appended rows added."""
    for table in ("customer_balances", "group_balances"):
        before, after = getattr(base, table), getattr(work, table)
        target = getattr(committed, table)
        for key, row in after.items():
            old = before.get(key, _zeros())
            into = target.setdefault(key, _zeros())
            for column in COLUMNS:
                into[column] += row[column] - old[column]
    for table in ("sources", "groups", "customers", "orders", "decisions"):
        before, after = getattr(base, table), getattr(work, table)
        for key, row in after.items():
            if before.get(key) != row:
                getattr(committed, table)[key] = copy.deepcopy(row)
    for table in ("invoices", "thresholds", "audit"):
        getattr(committed, table).extend(getattr(work, table)[len(getattr(base, table)) :])


class FakeUnitOfWork:
    """One transaction over a FakeStore: works on a private copy, published only by commit()."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self._state: StoreState | None = None
        self._base: StoreState | None = None  # what `_state` started from
        self._held: list[threading.Lock] = []
        # Typed as the ports, so mypy checks this fake against gating.ports.UnitOfWork.
        self.sources: Sources = FakeSources(self)
        self.customers: Customers = FakeCustomers(self)
        self.orders: Orders = FakeOrders(self)
        self.decisions: Decisions = FakeDecisions(self)
        self.thresholds: ThresholdVersions = FakeThresholds(self)
        self.audit: Audit = FakeAudit(self)
        self.committed = False

    @property
    def state(self) -> StoreState:
        assert self._state is not None, "use the unit of work in a with block"
        return self._state

    def __enter__(self) -> FakeUnitOfWork:
        assert self._state is None, "the fake unit of work does not nest"
        self._begin()
        self.committed = False
        return self

    def __exit__(self, *exc: object) -> None:
        self._state = self._base = None  # whatever was not committed is rolled back
        while self._held:
            self._held.pop().release()

    def _begin(self) -> None:
        self._base = self.store._snapshot()
        self._state = copy.deepcopy(self._base)

    def begin_decision(self, source: str, customer_ref: str) -> tuple[SourceRecord, Thresholds]:
        assert self._state is not None, "locks are taken inside a transaction"
        assert self._state == self._base, "the fake locks before anything is written"
        record = self.sources.get(source)
        # The customer's lock, then its group's (found in what is committed), as the real store
        # takes them; held until the transaction ends.
        keys: list[tuple[str, int | str, str]] = [("customer", record.id, customer_ref)]
        group_key = self.store._group_of(record.id, customer_ref)
        if group_key is not None:
            keys.append(("group", group_key, ""))
        for key in keys:
            lock = self.store._lock(key)
            lock.acquire()
            self._held.append(lock)
        self._begin()  # read committed: what the previous holder committed is seen from here
        return record, self.thresholds.active()

    def decision_view(
        self,
        source_id: int,
        customer_ref: str,
        order_id: str,
        *,
        now: datetime,
        due_before: date,
        tolerance: Decimal,
        cap: int,
    ) -> DecisionView:
        customers, orders = self.customers, self.orders
        assert isinstance(customers, FakeCustomers) and isinstance(orders, FakeOrders)
        customer, group = customers.position(source_id, customer_ref)
        overdue = OverdueSummary()
        if customer is not None and customer.key is not None:
            overdue = customers.overdue(customer.key, due_before, tolerance, cap)
            past_due = customers._overdue(customer.key, now.date(), tolerance)
            if not overdue.count and past_due:  # the oldest past due, within the days
                overdue = OverdueSummary(oldest=_overdue_invoice(past_due[0]))
        view = DecisionView(
            customer=customer,
            group=group,
            order=orders.get(source_id, order_id),
            overdue=overdue,
            lapsed=bool(orders.lapsed(source_id, customer_ref, now)),
        )
        self.store._after_read()
        return view

    def commit(self) -> None:
        assert self._base is not None, "use the unit of work in a with block"
        self.store._publish(self._base, self.state)
        self.store.commits += 1
        self.committed = True
        self._begin()

    def rollback(self) -> None:
        self._state = copy.deepcopy(self._base)
