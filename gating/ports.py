"""Ports: what the credit services need from a store and a clock, as Protocols."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from gating.model import (
    Money,
    Outcome,
    OverdueInvoice,
    OverdueSummary,
    Party,
    Resolution,
    Thresholds,
)
from gating.push import HoldNotice

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware, in the business time zone."""


@dataclass(frozen=True)
class SourceRecord:
    id: int
    name: str
    kind: str
    last_success_at: datetime | None = None


@dataclass(frozen=True)
class OrderRecord:
    source_id: int
    order_id: str
    customer_ref: str
    amount: Decimal
    currency: str
    reserved: Decimal
    status: str
    last_decision_id: str | None
    last_outcome: Outcome | None
    customer_key: int | None = None
    invoiced: Decimal = Decimal("0")
    key: int | None = None
    resolution_id: int | None = None
    expires_at: datetime | None = None
    reserved_by: str | None = None
    """The approving decision whose reservation the order holds (`reserved` > 0): the order's
    last decision, or an earlier approval that a refused amendment left standing."""


@dataclass(frozen=True)
class DecisionRecord:
    """One recorded gate decision: the answer given and everything it was based on."""

    id: str
    source: str
    order_id: str
    customer_id: str
    outcome: Outcome
    decided_at: datetime
    thresholds_version: int
    caller: str
    response: Mapping[str, Any]
    snapshot: Mapping[str, Any]
    previous_id: str | None = None
    reason_codes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class DecisionView:
    """What a decision reads about one customer and one order, under the customer's lock."""

    customer: Party | None
    group: Party | None
    order: OrderRecord | None
    overdue: OverdueSummary
    lapsed: bool  # an open reservation of this customer (or of its group) is past its expiry


class Sources(Protocol):
    def get(self, name: str) -> SourceRecord: ...


class Customers(Protocol):
    def position(self, source_id: int, ref: str) -> tuple[Party | None, Party | None]:
        """The customer and its group (None each when not synced). The customer's hold is its
        own, its ERP's or an admin's (gating/hold_precedence.customer_hold: the admin's wins);
        the group's is the group's alone (the rules weigh the two apart)."""
        ...

    def overdue_invoices(
        self, customer_key: int, due_before: date, tolerance: Decimal, limit: int
    ) -> list[OverdueInvoice]:
        """Open invoices due before `due_before`, oldest first, at most `limit`."""
        ...

    def set_admin_hold(self, source_id: int, ref: str, reason: str | None) -> bool:
        """Put the customer on an admin's hold (`reason`), or take it off (None); False when
        there is no such customer. The ERP's own hold is another column, kept by the sync."""
        ...


class Orders(Protocol):
    def get(self, source_id: int, order_id: str) -> OrderRecord | None: ...

    def resolution(self, resolution_id: int) -> Resolution | None:
        """The release or rejection; None when the store cannot vouch for it (a row written
        outside creditgate): the rules alone decide then."""
        ...

    def add_resolution(
        self, order_key: int, resolution: Resolution, held_decision_id: str, decision_id: str
    ) -> int:
        """Store a release or rejection and make it the order's latest; return its id."""
        ...

    def held(self, after_key: int, limit: int) -> list[tuple[int, str, str]]:
        """Held orders (open, last decided review or blocked) after `after_key`, oldest first:
        (key, source name, order id)."""
        ...

    def reserved_for_ref(self, source_id: int, customer_ref: str) -> list[Money]: ...

    def expire_reservations(
        self,
        source_id: int,
        customer_ref: str,
        now: datetime,
        customer_key: int | None = None,
        group_key: int | None = None,
    ) -> int:
        """Release lapsed reservations of this customer (synced or not) and of its group."""
        ...

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
        """Record the decision and store the order at its terms; `previous` is the order as read
        in this transaction (None if it is new), whose reservation is replaced by `reserve`.
        With `standing` (a refused amendment, same customer and currency), `previous`'s
        reservation stays as it is: its amount, its approving decision and `expires_at`."""
        ...

    def add_decision(self, decision: DecisionRecord) -> None:
        """Record a decision that leaves its order as stored (a refused move of an approved
        order to another customer or currency: the order keeps its approved terms)."""
        ...

    def close(
        self, source_id: int, order_id: str, event: str, counted_until: datetime | None = None
    ) -> OrderRecord:
        """Apply the ERP's `cancelled` or `invoiced` event (idempotent); return the order as it
        was before. `cancelled` releases the reservation. `invoiced` keeps it counted, as
        AWAITING_SYNC, until an invoice for the order is loaded or `counted_until` passes (no
        later than its own expiry); an order reserving nothing becomes `invoiced` at once.

        :raises OrderNotFound:
        """
        ...

    def awaiting_sync(self, customer_key: int) -> list[OrderRecord]:
        """The customer's orders invoiced at the ERP whose invoice is not loaded yet, oldest
        expiry first."""
        ...


class Decisions(Protocol):
    def get(self, decision_id: str) -> DecisionRecord | None: ...


class ThresholdVersions(Protocol):
    def active(self) -> Thresholds: ...


class Audit(Protocol):
    def record(
        self, actor: str, action: str, subject: str, details: Mapping[str, Any], at: datetime
    ) -> None: ...


class Notices(Protocol):
    def add(self, notice: HoldNotice, targets: Sequence[str], now: datetime) -> None:
        """Queue the notice for each target, in this transaction (the outbox)."""
        ...


class UnitOfWork(Protocol):
    # Read-only in the protocol, so a store's own repository classes satisfy it.
    @property
    def sources(self) -> Sources: ...

    @property
    def customers(self) -> Customers: ...

    @property
    def orders(self) -> Orders: ...

    @property
    def decisions(self) -> Decisions: ...

    @property
    def thresholds(self) -> ThresholdVersions: ...

    @property
    def audit(self) -> Audit: ...

    @property
    def notices(self) -> Notices: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None: ...

    def begin_decision(self, source: str, customer_ref: str) -> tuple[SourceRecord, Thresholds]:
        """The source and the active thresholds; from here until commit or rollback, decisions
        for this customer and its group are serialized, across processes and hosts.

        :raises SourceNotFound:
        """
        ...

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
        """The customer, its group, the order as stored, and its open invoices of more than
        `tolerance`: the oldest one past due (before today), and how many are due before
        `due_before` (counted up to `cap`; 0 when the oldest is not)."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...
