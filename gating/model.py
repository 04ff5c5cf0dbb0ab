"""Credit domain values: orders, parties, balances, exposure, thresholds and decisions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
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


EXPOSURE_COMPONENTS = ("open_invoices", "unapplied_payments", "reservations")
"""What exposure can add up; a thresholds version may leave out all but open invoices."""

OVERRIDABLE = (
    "overdue_days",
    "overdue_tolerance",
    "review_band",
    "trial_amount",
    "max_data_age_hours",
    "stale_data_outcome",
    "approval_tiers",
    "reservation_days",
    "exposure_components",
    "warnings",
)
"""The settings a group or a customer may have its own value for. The base currency, the
overdue count cap and the fail-safe outcome hold for everyone: the fail-safe answer is given
when the store, and so the customer's group, cannot be read."""


@dataclass(frozen=True)
class Overrides:
    """Per-group and per-customer settings, by the source's own id (the same id in every
    source); each maps setting names (from OVERRIDABLE) to parsed values."""

    groups: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    customers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.groups or self.customers)


@dataclass(frozen=True)
class Shadow:
    """A proposed version run beside the live one until the end of `until`: every decision also
    records what it would have decided, without changing any answer."""

    name: str
    until: date
    thresholds: Thresholds


@dataclass(frozen=True)
class Thresholds:
    """One version of the admin-set rules. Amounts without a currency are in `base_currency`.

    `applied` names the overrides laid over the global values (``group:G-1``,
    ``customer:C-300``); it is empty for the version as stored.
    """

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
    fail_safe_outcome: Outcome | None = None
    exposure_components: frozenset[str] = frozenset(EXPOSURE_COMPONENTS)
    overrides: Overrides = field(default_factory=Overrides)
    shadow: Shadow | None = None
    applied: tuple[str, ...] = ()
    _for_party: dict[tuple[str, str | None], Thresholds] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def for_party(self, customer_ref: str, group_ref: str | None) -> Thresholds:
        """The settings for one customer: its group's overrides over the global values, then its
        own over those. Without overrides that apply, this version itself."""
        if not self.overrides:
            return self
        # Keyed by the layers that apply, so the memo holds one entry per override, not one
        # per customer the gate ever decided for.
        key = (
            customer_ref if customer_ref in self.overrides.customers else "",
            group_ref if group_ref in self.overrides.groups else None,
        )
        if key == ("", None):
            return self
        found = self._for_party.get(key)
        if found is None:
            layers = [
                (f"group:{group_ref}", self.overrides.groups.get(key[1] or "")),
                (f"customer:{customer_ref}", self.overrides.customers.get(key[0])),
            ]
            values: dict[str, Any] = {}
            applied = []
            for name, layer in layers:
                if layer:
                    # A ladder override names only the steps it changes: laid over the ladder
                    # so far (the group's over the global one, the customer's over that).
                    patch = dict(layer)
                    steps = patch.pop("warnings", None)
                    values.update(patch)
                    if steps:
                        values["warnings"] = replace(values.get("warnings", self.warnings), **steps)
                    applied.append(name)
            found = replace(self, applied=tuple(applied), **values) if applied else self
            self._for_party[key] = found
        return found

    def applied_layers(self) -> dict[str, Mapping[str, Any]]:
        """Each applied override's own settings, by its name in `applied`."""
        out = {}
        for name in self.applied:
            kind, _, ref = name.partition(":")
            out[name] = (self.overrides.groups if kind == "group" else self.overrides.customers)[
                ref
            ]
        return out


AWAITING_SYNC = "awaiting_sync"
"""An order's status once the ERP says it is invoiced while its invoice is not loaded here yet:
its reservation still counts until that invoice is synced or imported, or until the data-age
bound (`max_data_age_hours`) after the event passes. Shown as "invoiced_awaiting_sync"."""

LIVE_STATUSES = ("open", "rejected", AWAITING_SYNC)
"""The order statuses that may hold a reservation, and so may lapse: an open order (approved, or
held with an earlier approval standing), a rejected amendment whose approval stands, and an order
invoiced at the ERP awaiting its invoice here. Cancelled, invoiced and expired hold nothing."""


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
    """Exposure in one currency: open invoices − unapplied payments + reservations, each
    counted only when `components` includes it (the thresholds' exposure_components)."""

    currency: str
    open_invoices: Decimal
    unapplied: Decimal
    reservations: Decimal
    components: frozenset[str] = frozenset(EXPOSURE_COMPONENTS)

    @property
    def total(self) -> Decimal:
        total = self.open_invoices
        if "unapplied_payments" in self.components:
            total -= self.unapplied
        if "reservations" in self.components:
            total += self.reservations
        return total


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
    """The customer's oldest open invoice past due, and how many are due before the overdue
    cutoff (0 when the oldest is within it); `count` stops at the store's cap."""

    count: int = 0
    oldest: OverdueInvoice | None = None
    capped: bool = False


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Resolution:
    """A person's answer to a held order: `release` (approve it, up to `cap` in the order's
    currency if given, until `expires_at` if given) or `reject` (block it for good)."""

    action: str
    actor: str
    role: str
    reason: str
    currency: str
    created_at: datetime
    cap: Decimal | None = None
    expires_at: datetime | None = None
    id: int | None = None
    customer_ref: str | None = None
    """The customer the order was released for; an order moved to another is not covered."""
    released_over: tuple[str, ...] | None = None
    """The reasons the release overrode (None while it is being made: whatever trips now). A
    reason that was not among them (a hold put on since) is not overridden."""

    def covers(self, order: OrderRequest, now: datetime) -> str | None:
        """Why this release does not approve `order` now, or None when it does."""
        if self.customer_ref is not None and order.customer_id != self.customer_ref:
            return f"the release by {self.actor} was for customer {self.customer_ref}"
        if self.expires_at is not None and now >= self.expires_at:
            return f"the release by {self.actor} lapsed at {self.expires_at.isoformat()}"
        if order.currency != self.currency:
            return f"the release by {self.actor} was for an order in {self.currency}"
        if self.cap is not None and order.amount > self.cap:
            return f"the order is above the release's cap of {self.cap} {self.currency}"
        return None


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
    resolution: Resolution | None = None


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
