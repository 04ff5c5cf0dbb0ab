"""What-if: recorded decisions decided again, on their own recorded numbers, under other rules.

Each recorded decision keeps the numbers it used (the snapshot): the order, the customer's and
group's limits, balances and holds, the oldest invoice past due, the data's age, the rates, any
release. Replaying one rebuilds that input and runs the same rules under a proposed thresholds
version, so "what would have changed" is answered by the gate's own code, not by a model of it.

Each decision is replayed on its own: an order the proposal would have approved (or refused)
does not change the reservations later decisions saw. Snapshots made before the oldest past-due
invoice was recorded whatever its age (December 2026) cannot show an invoice the old rules did
not count; those decisions are replayed as they stand and counted as `approximate`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from gating.errors import CreditgateError
from gating.model import (
    Balance,
    GateInput,
    Money,
    OrderRequest,
    OverdueInvoice,
    OverdueSummary,
    Party,
    Resolution,
    Thresholds,
)
from gating.money import Rates
from gating.rules import OVERDUE, RELEASED, decide

MAX_LISTED = 500
MAX_REPLAYED = 200_000
"""At most this many decisions are replayed in one request (a few seconds' work); a longer
period is reported as truncated: ask for a shorter one."""


@dataclass(frozen=True)
class Recorded:
    """One recorded decision as the store hands it over."""

    decision_id: str
    source: str
    order_id: str
    customer_id: str
    outcome: str
    reason_codes: tuple[str, ...]
    decided_at: datetime
    snapshot: Mapping[str, Any]


@dataclass
class WhatIf:
    """How a proposed version would have decided a period's decisions."""

    decisions: int = 0
    changed: int = 0
    approximate: int = 0
    transitions: Counter[str] = field(default_factory=Counter)
    """"approved → blocked": how many."""
    reasons_added: Counter[str] = field(default_factory=Counter)
    reasons_removed: Counter[str] = field(default_factory=Counter)
    amounts: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    """Per transition, the orders' amounts by currency."""
    orders: list[dict[str, Any]] = field(default_factory=list)
    """The changed decisions (the first MAX_LISTED)."""
    skipped: list[str] = field(default_factory=list)
    truncated: bool = False
    """More than MAX_REPLAYED decisions: only the oldest of them were replayed."""


def replay(recorded: Iterable[Recorded], proposed: Thresholds) -> WhatIf:
    """Decide each recorded decision again under `proposed` and count what changes."""
    result = WhatIf()
    for rec in recorded:
        if result.decisions + len(result.skipped) >= MAX_REPLAYED:
            result.truncated = True
            break
        try:
            inp, now, rates, exact = rebuild(rec.snapshot)
        except (KeyError, TypeError, ValueError, CreditgateError) as exc:
            result.skipped.append(f"{rec.decision_id}: snapshot cannot be replayed ({exc})")
            continue
        group_ref = inp.group.ref if inp.group else None
        rules = proposed.for_party(inp.order.customer_id, group_ref)
        try:
            decision = decide(inp, rules, rates, now)
        except CreditgateError as exc:
            result.skipped.append(f"{rec.decision_id}: {exc}")
            continue
        result.decisions += 1
        result.approximate += 0 if exact else 1
        codes = tuple(r.code for r in decision.reasons)
        _count(result, rec, decision.outcome.value, codes, inp.order.amount, inp.order.currency)
    return result


def shadowed(recorded: Iterable[Recorded]) -> WhatIf:
    """Compare the recorded decisions with what their version's shadow decided beside them
    (decisions made while no shadow ran are left out)."""
    result = WhatIf()
    for rec in recorded:
        shadow = rec.snapshot.get("shadow")
        if shadow is None:
            continue
        if "error" in shadow:
            result.skipped.append(f"{rec.decision_id}: {shadow['error']}")
            continue
        order = rec.snapshot["inputs"]["order"]
        result.decisions += 1
        codes = tuple(shadow["reason_codes"])
        _count(result, rec, shadow["outcome"], codes, Decimal(order["amount"]), order["currency"])
    return result


def _count(
    result: WhatIf,
    rec: Recorded,
    after: str,
    codes: tuple[str, ...],
    amount: Decimal,
    currency: str,
) -> None:
    before = rec.outcome
    if before == after and set(codes) == set(rec.reason_codes):
        return
    result.changed += 1
    move = f"{before} → {after}"
    result.transitions[move] += 1
    result.reasons_added.update(set(codes) - set(rec.reason_codes))
    result.reasons_removed.update(set(rec.reason_codes) - set(codes))
    by_currency = result.amounts.setdefault(move, {})
    by_currency[currency] = by_currency.get(currency, Decimal(0)) + amount
    if len(result.orders) < MAX_LISTED:
        result.orders.append(
            {
                "decision_id": rec.decision_id,
                "source": rec.source,
                "order_id": rec.order_id,
                "customer_id": rec.customer_id,
                "decided_at": rec.decided_at,
                "amount": amount,
                "currency": currency,
                "outcome": before,
                "would_be": after,
                "reasons": list(rec.reason_codes),
                "would_have": list(codes),
            }
        )


def rebuild(snapshot: Mapping[str, Any]) -> tuple[GateInput, datetime, Rates, bool]:
    """The decision's input, its time and rates from a snapshot; and whether the snapshot
    holds everything a changed overdue rule needs (see the module's docstring)."""
    inputs = snapshot["inputs"]
    rules = {r["code"]: r for r in snapshot["rules"]}
    o = inputs["order"]
    order = OrderRequest(
        o["source"],
        o["order_id"],
        o["customer_id"],
        Decimal(o["amount"]),
        o["currency"],
        date.fromisoformat(o["order_date"]) if o.get("order_date") else None,
    )
    customer = _party(inputs["customer"]) if "customer" in inputs else None
    group = _party(inputs["group"]) if "group" in inputs else None
    overdue, exact = _overdue(rules.get(OVERDUE), customer is not None)
    prev = inputs.get("previous_reservation")
    raw_rates = dict(inputs["rates"])
    reference = raw_rates.pop("reference")
    inp = GateInput(
        order=order,
        customer=customer,
        group=group,
        overdue=overdue,
        last_synced_at=_time(inputs.get("last_synced_at")),
        previous_reservation=Money(Decimal(prev["amount"]), prev["currency"]) if prev else None,
        trial_reserved=Decimal(inputs.get("trial_reserved", "0")),
        resolution=_resolution(rules.get(RELEASED) or rules.get("REJECTED_BY")),
    )
    rates = Rates(reference, {k: Decimal(v) for k, v in raw_rates.items()})
    now = datetime.fromisoformat(inputs["now"])
    return inp, now, rates, exact


def _time(raw: str | None) -> datetime | None:
    return None if raw is None else datetime.fromisoformat(raw)


def _party(raw: Mapping[str, Any]) -> Party:
    return Party(
        ref=raw["id"],
        name=raw["name"],
        currency=raw["currency"],
        credit_limit=None if raw["credit_limit"] is None else Decimal(raw["credit_limit"]),
        on_hold=bool(raw["on_hold"]),
        hold_reason=raw.get("hold_reason"),
        balances=tuple(
            Balance(
                b["currency"],
                Decimal(b["open_invoices"]),
                Decimal(b["unapplied"]),
                Decimal(b["reserved"]),
            )
            for b in raw["balances"]
        ),
    )


def _overdue(rule: Mapping[str, Any] | None, known: bool) -> tuple[OverdueSummary, bool]:
    if rule is None or not known:
        return OverdueSummary(), True
    figures = rule["figures"]
    if "oldest_number" not in figures:
        # Nothing past due, or a snapshot from before the oldest was always recorded: only a
        # tripped rule carried it then.
        return OverdueSummary(), "tolerance" in figures
    oldest = OverdueInvoice(
        figures["oldest_number"],
        date.fromisoformat(figures["oldest_due_date"]),
        Decimal(figures["oldest_open_amount"]),
        figures["oldest_currency"],
    )
    count = int(figures.get("count", 1))
    return OverdueSummary(count, oldest, bool(figures.get("count_capped", False))), True


def _resolution(rule: Mapping[str, Any] | None) -> Resolution | None:
    if rule is None:
        return None
    f = rule["figures"]
    cap = f.get("cap")
    return Resolution(
        action="reject" if rule["code"] == "REJECTED_BY" else "release",
        actor=f["actor"],
        role=f["role"],
        reason=f["reason"],
        currency=f.get("currency", ""),
        created_at=datetime.fromisoformat(f["created_at"]),
        cap=None if cap is None else Decimal(cap),
        expires_at=_time(f.get("expires_at")),
        id=f.get("resolution_id"),
    )
