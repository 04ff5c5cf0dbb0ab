"""Credit domain values: orders, parties, balances, exposure, thresholds and decisions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from gating.warnings import DEFAULT_LADDER, Ladder

ZERO = Decimal("0")


class Outcome(StrEnum):
    APPROVED = "approved"
    REVIEW = "review"
    BLOCKED = "blocked"

    @property
    def severity(self) -> int:
        return {"approved": 0, "review": 1, "blocked": 2}[self.value]


@dataclass(frozen=True)
class ApprovalTier:
    """Orders above `amount` (in the thresholds' base currency) need `role` to be released."""

    amount: Decimal
    role: str


@dataclass(frozen=True)
class Thresholds:
    """One version of the admin-set rules. Amounts without a currency are in `base_currency`."""

    version: int = 0
    base_currency: str = "USD"
    overdue_days: int = 30
    overdue_tolerance: Decimal = Decimal("0.00")
    review_band: Decimal = Decimal("0")
    trial_amount: Decimal | None = None
    max_data_age_hours: int | None = 48
    stale_data_outcome: Outcome = Outcome.REVIEW
    approval_tiers: tuple[ApprovalTier, ...] = ()
    reservation_days: int = 60
    overdue_count_cap: int = 1000
    warnings: Ladder = DEFAULT_LADDER


@dataclass(frozen=True)
class OrderRequest:
    source: str
    order_id: str
    customer_id: str
    amount: Decimal
    currency: str
    order_date: date | None = None


@dataclass(frozen=True)
class Balance:
    """Running totals for one customer or group in one currency, kept current by the store."""

    currency: str
    open_invoices: Decimal = ZERO
    unapplied: Decimal = ZERO
    reserved: Decimal = ZERO


@dataclass(frozen=True)
class Exposure:
    """Exposure in one currency: open invoices − unapplied payments + reservations."""

    currency: str
    open_invoices: Decimal
    unapplied: Decimal
    reservations: Decimal

    @property
    def total(self) -> Decimal:
        return self.open_invoices - self.unapplied + self.reservations


@dataclass(frozen=True)
class Party:
    """A customer or a group as the gate sees it. `key` is the store's own id, opaque here."""

    ref: str
    name: str
    currency: str
    credit_limit: Decimal | None
    on_hold: bool = False
    hold_reason: str | None = None
    balances: tuple[Balance, ...] = ()
    key: int | None = None


@dataclass(frozen=True)
class OverdueInvoice:
    number: str
    due_date: date
    open_amount: Decimal
    currency: str


@dataclass(frozen=True)
class OverdueSummary:
    """The customer's open invoices due before a cutoff; `count` stops at the store's cap."""

    count: int = 0
    oldest: OverdueInvoice | None = None
    capped: bool = False


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class GateInput:
    """Everything one decision reads, gathered by the service in one locked transaction."""

    order: OrderRequest
    customer: Party | None
    group: Party | None
    overdue: OverdueSummary
    last_synced_at: datetime | None
    previous_reservation: Money | None = None
    trial_reserved: Decimal = ZERO


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    outcome: Outcome


@dataclass(frozen=True)
class RuleVerdict:
    """One rule's view of one order: whether it tripped, what it asks for, and its figures."""

    code: str
    tripped: bool
    outcome: Outcome | None
    message: str
    figures: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CreditView:
    """The customer's position as the response shows it, after the decision."""

    id: str
    currency: str
    credit_limit: Decimal | None
    exposure: Decimal
    available: Decimal | None


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    verdicts: tuple[RuleVerdict, ...]
    customer: CreditView | None
    reserve: Money | None
    inputs: Mapping[str, Any]


def combine(reasons: Iterable[Reason]) -> Outcome:
    """Blocked if any reason asks for it, else review if any does, else approved."""
    worst = Outcome.APPROVED
    for reason in reasons:
        if reason.outcome.severity > worst.severity:
            worst = reason.outcome
    return worst
