"""Use cases: gate an order, apply an order event, read a customer's credit position; `GateDesk`
binds the first two's dependencies once for the API."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from gating.commands import ApplyOrderEvent
from gating.errors import CreditgateError, CustomerNotFound, DecisionNotFound
from gating.languages import DEFAULT_LANGUAGE
from gating.model import (
    AWAITING_SYNC,
    EXPOSURE_COMPONENTS,
    ZERO,
    Decision,
    GateInput,
    Money,
    OrderRequest,
    Outcome,
    Party,
    Resolution,
    Thresholds,
)
from gating.money import Rates, quantize
from gating.ports import (
    Clock,
    DecisionRecord,
    DecisionView,
    OrderRecord,
    SourceRecord,
    UnitOfWork,
)
from gating.reason_texts import reason_message
from gating.rules import REJECTED, RELEASED, days_overdue, decide, exposure_of, overdue_cutoff

ORDER_EVENTS = ("cancelled", "invoiced")


@dataclass(frozen=True)
class GateResult:
    record: DecisionRecord
    replayed: bool
    fail_safe: Outcome | None = None
    """The active version's fail-safe outcome (None: the server's configured one), kept by the
    caller for the answers it must give when the store cannot be read."""


def gate_order(
    order: OrderRequest,
    *,
    uow: UnitOfWork,
    clock: Clock,
    rates: Rates,
    caller: str,
    language: str | None = None,
) -> GateResult:
    """Decide one order, reserve its amount when approved, and record the decision, atomically.
    The reasons' messages are written in `language` (a tag; None: English), as answered.

    :raises SourceNotFound, CurrencyRateMissing: the caller's input cannot be decided.
    """
    now = clock()
    with uow:
        result = decide_locked(uow, order, now, rates, caller, language=language)
        if not result.replayed:
            uow.commit()
        return result


@dataclass(frozen=True)
class Locked:
    """What a decision reads under the customer's lock, before it decides."""

    source: SourceRecord
    stored: Thresholds
    thresholds: Thresholds
    """The version's settings for this customer (its group's and its own overrides applied)."""
    view: DecisionView


Resolve = Callable[[Locked], Resolution | None]
"""Gives the release or rejection a decision applies (None: the rules alone decide)."""


def decide_locked(
    uow: UnitOfWork,
    order: OrderRequest,
    now: datetime,
    rates: Rates,
    caller: str,
    *,
    resolve: Resolve | None = None,
    language: str | None = None,
) -> GateResult:
    """Take the customer's lock, decide the order and record it, inside `uow`'s transaction
    (the caller commits). Without `resolve`, the order's stored release or rejection applies,
    and an approved order asked again on the same terms gets its decision back."""
    locked = _lock_and_read(uow, order, now)
    source, stored, thresholds, view = (
        locked.source,
        locked.stored,
        locked.thresholds,
        locked.view,
    )
    customer, group, existing = view.customer, view.group, view.order
    if resolve is None:
        if existing is not None and _replayable(existing, order):
            assert existing.last_decision_id is not None
            previous = uow.decisions.get(existing.last_decision_id)
            if previous is not None:
                return GateResult(previous, True, stored.fail_safe_outcome)
        resolution = None
        if existing is not None and existing.resolution_id is not None:
            resolution = uow.orders.resolution(existing.resolution_id)
    else:
        resolution = resolve(locked)
    inp = GateInput(
        order=order,
        customer=customer,
        group=group,
        overdue=view.overdue,
        last_synced_at=source.last_success_at,
        previous_reservation=_reserved_for_customer(existing, order.customer_id),
        trial_reserved=_trial_reserved(
            uow, source.id, order, customer, existing, thresholds, rates
        ),
        resolution=resolution,
    )
    decision = decide(inp, thresholds, rates, now)
    standing = _standing(decision, existing)
    record = _record(
        decision,
        order,
        now,
        thresholds,
        caller,
        existing,
        _shadow(stored, inp, rates, now),
        standing,
        language,
    )
    codes = {r.code for r in decision.reasons}
    if standing is not None and _moved(standing, order):
        # The ERP keeps the order at its approved terms, for the customer and in the currency
        # it was approved for: the order stays as stored, and the refusal is on the record.
        uow.orders.add_decision(record)
        return GateResult(record, False, stored.fail_safe_outcome)
    expires: datetime | None = None
    if decision.reserve is not None:
        expires = now + timedelta(days=thresholds.reservation_days)
        if resolution is not None and RELEASED in codes and resolution.expires_at is not None:
            expires = resolution.expires_at  # an unused release lapses with its reservation
    elif standing is not None:
        expires = standing.expires_at  # the earlier approval lapses when it would have
    status = "rejected" if REJECTED in codes else "open"
    if standing is not None and standing.status == AWAITING_SYNC:
        status = AWAITING_SYNC  # invoiced at the ERP: counted until its invoice is here
    uow.orders.record(
        source.id,
        order.order_id,
        order.customer_id,
        customer.key if customer else None,
        Money(order.amount, order.currency),
        decision.reserve,
        record,
        expires,
        previous=existing,
        group_key=_key(group),
        status=status,
        standing=standing is not None,
    )
    return GateResult(record, False, stored.fail_safe_outcome)


def _standing(decision: Decision, existing: OrderRecord | None) -> OrderRecord | None:
    """The order as stored when a refusal leaves its earlier approved reservation standing: the
    ERP keeps the order at its last approved terms until it is cancelled, invoiced, lapses or
    is approved at new ones. A person's rejection too: the ERP still holds the order as approved,
    so only the ERP's cancel (or the lapse) frees it."""
    if decision.reserve is not None or existing is None or existing.reserved <= ZERO:
        return None
    return existing


def _moved(existing: OrderRecord, order: OrderRequest) -> bool:
    """Whether the order is asked for another customer or in another currency than stored."""
    return (existing.customer_ref, existing.currency) != (order.customer_id, order.currency)


def _lock_and_read(uow: UnitOfWork, order: OrderRequest, now: datetime) -> Locked:
    source, stored = uow.begin_decision(order.source, order.customer_id)
    # The group is known only once the view is read: a group's override of what the view
    # reads (the overdue cutoff and tolerance) makes it read again.
    read_with = thresholds = stored.for_party(order.customer_id, None)
    view = _view(uow, source.id, order, now, read_with)
    reread = False
    if view.group is not None:
        thresholds = stored.for_party(order.customer_id, view.group.ref)
        reread = not _same_view_terms(thresholds, read_with)
    # Lapsed reservations go first, so neither a replay nor a decision counts them.
    if (
        view.lapsed
        and _may_hold_reservations(view.customer, view.group)
        and uow.orders.expire_reservations(
            source.id, order.customer_id, now, _key(view.customer), _key(view.group)
        )
    ) or reread:
        view = _view(uow, source.id, order, now, thresholds)
    return Locked(source, stored, thresholds, view)


def _shadow(
    stored: Thresholds, inp: GateInput, rates: Rates, now: datetime
) -> dict[str, Any] | None:
    """What the version's shadow would have decided, while it runs; never the answer."""
    shadow = stored.shadow
    if shadow is None or now.date() > shadow.until:
        return None
    group_ref = inp.group.ref if inp.group else None
    try:
        decision = decide(
            inp, shadow.thresholds.for_party(inp.order.customer_id, group_ref), rates, now
        )
    except CreditgateError as exc:  # e.g. a rate only the shadow needs: recorded, not raised
        return {"name": shadow.name, "error": str(exc)}
    return {
        "name": shadow.name,
        "outcome": decision.outcome.value,
        "reason_codes": [r.code for r in decision.reasons],
    }


def _same_view_terms(a: Thresholds, b: Thresholds) -> bool:
    return (a.overdue_days, a.overdue_tolerance, a.overdue_count_cap) == (
        b.overdue_days,
        b.overdue_tolerance,
        b.overdue_count_cap,
    )


def _may_hold_reservations(customer: Party | None, group: Party | None) -> bool:
    """False only when the running totals show nothing reserved, so nothing can lapse."""
    if customer is None:
        return True  # a customer not synced yet keeps its reservations on its orders only
    holder = group if group is not None else customer
    return any(b.reserved for b in holder.balances)


def _key(party: Party | None) -> int | None:
    return None if party is None else party.key


def _replayable(existing: OrderRecord, order: OrderRequest) -> bool:
    """An approved, still-open order asked again with the same terms gets its decision back."""
    return (
        existing.status == "open"
        and existing.last_outcome is Outcome.APPROVED
        and existing.amount == order.amount
        and existing.currency == order.currency
        and existing.customer_ref == order.customer_id
    )


def _reserved_for_customer(existing: OrderRecord | None, customer_ref: str) -> Money | None:
    """What the order already reserves for this customer (nothing if it was another's)."""
    if existing is None or existing.reserved == ZERO or existing.customer_ref != customer_ref:
        return None
    return Money(existing.reserved, existing.currency)


def _view(
    uow: UnitOfWork, source_id: int, order: OrderRequest, now: datetime, th: Thresholds
) -> DecisionView:
    return uow.decision_view(
        source_id,
        order.customer_id,
        order.order_id,
        now=now,
        due_before=overdue_cutoff(now.date(), th.overdue_days),
        tolerance=th.overdue_tolerance,
        cap=th.overdue_count_cap,
    )


def _trial_reserved(
    uow: UnitOfWork,
    source_id: int,
    order: OrderRequest,
    customer: Party | None,
    existing: OrderRecord | None,
    th: Thresholds,
    rates: Rates,
) -> Decimal:
    """What other approved orders of a not-yet-synced customer already hold of the trial amount."""
    if customer is not None or th.trial_amount is None:
        return ZERO
    held = uow.orders.reserved_for_ref(source_id, order.customer_id)
    total = sum((rates.convert(m.amount, m.currency, th.base_currency) for m in held), ZERO)
    own = _reserved_for_customer(existing, order.customer_id)
    if own is not None and existing is not None and existing.customer_ref == order.customer_id:
        total -= rates.convert(own.amount, own.currency, th.base_currency)
    return total


def _reasons(decision: Decision, language: str | None) -> list[dict[str, str]]:
    if language is None or language == DEFAULT_LANGUAGE:
        return [{"code": r.code, "message": r.message} for r in decision.reasons]
    figures = {v.code: v.figures for v in decision.verdicts if v.tripped}
    return [
        {
            "code": r.code,
            "message": reason_message(
                r.code, figures.get(r.code, {}), r.outcome.value, r.message, language
            ),
        }
        for r in decision.reasons
    ]


def _record(
    decision: Decision,
    order: OrderRequest,
    now: datetime,
    th: Thresholds,
    caller: str,
    existing: OrderRecord | None,
    shadow: dict[str, Any] | None = None,
    standing: OrderRecord | None = None,
    language: str | None = None,
) -> DecisionRecord:
    """The decision as answered and kept. Its response is what the client was told, in the
    language it was told in (the honest record; a replay gives it back unchanged); the snapshot
    keeps every rule's figures, from which a page words the reasons in its reader's language
    (gating/reason_texts.py), and notes the answer's language when it is not English."""
    decision_id = str(uuid.uuid4())
    view = decision.customer
    response: dict[str, Any] = {
        "decision_id": decision_id,
        "order_id": order.order_id,
        "outcome": decision.outcome.value,
        "reasons": _reasons(decision, language),
        "customer": None
        if view is None
        else {
            "id": view.id,
            "currency": view.currency,
            "credit_limit": None if view.credit_limit is None else str(view.credit_limit),
            "exposure": str(view.exposure),
            "available": None if view.available is None else str(view.available),
        },
        "decided_at": now.isoformat(),
    }
    if standing is not None:
        response["standing_reservation"] = standing_reservation(standing, now)
    snapshot: dict[str, Any] = {
        "inputs": dict(decision.inputs),
        "rules": [
            {
                "code": v.code,
                "tripped": v.tripped,
                "outcome": v.outcome.value if v.outcome else None,
                "message": v.message,
                "figures": dict(v.figures),
            }
            for v in decision.verdicts
        ],
        "reserved": None
        if decision.reserve is None
        else {"amount": str(decision.reserve.amount), "currency": decision.reserve.currency},
    }
    if standing is not None:
        snapshot["standing_reservation"] = response["standing_reservation"]
    if shadow is not None:
        snapshot["shadow"] = shadow
    if language is not None and language != DEFAULT_LANGUAGE:
        snapshot["language"] = language
    return DecisionRecord(
        id=decision_id,
        source=order.source,
        order_id=order.order_id,
        customer_id=order.customer_id,
        outcome=decision.outcome,
        decided_at=now,
        thresholds_version=th.version,
        caller=caller,
        response=response,
        snapshot=snapshot,
        previous_id=existing.last_decision_id if existing else None,
        reason_codes=tuple(r.code for r in decision.reasons),
    )


def standing_reservation(order: OrderRecord, now: datetime) -> dict[str, Any]:
    """What a refused amendment's answer says of the earlier approval that still stands."""
    expires = order.expires_at
    return {
        "amount": str(quantize(order.reserved, order.currency)),
        "currency": order.currency,
        "customer_id": order.customer_ref,
        "decision_id": order.reserved_by or order.last_decision_id,
        "expires_at": None if expires is None else expires.astimezone(now.tzinfo).isoformat(),
    }


SHOWN_STATUS = {AWAITING_SYNC: "invoiced_awaiting_sync"}
"""An order's status as the ERP and people are told it, where it differs from the stored one."""


@dataclass(frozen=True)
class OrderEventAnswer:
    before: OrderRecord
    status: str
    """The order's status after the event, as shown (see SHOWN_STATUS)."""
    released: Decimal
    """What the event released: the reservation on `cancelled`; nothing on `invoiced`."""
    counted_until: datetime | None
    """While the order awaits its invoice here: when its amount stops counting at the latest."""


def apply_order_event(
    source_name: str, order_id: str, event: str, *, uow: UnitOfWork, clock: Clock, caller: str
) -> OrderEventAnswer:
    """Apply the ERP's event to an order (idempotent). `cancelled` releases its reservation.
    `invoiced` keeps the amount counted until an invoice carrying the order's reference is
    synced or imported (which reduces the reservation by what it invoices), or until the
    customer's `max_data_age_hours` after the event pass (then it lapses): the invoice is not
    counted here before the next sync, so releasing the order now would count the credit nowhere.

    :raises OrderNotFound: if the order was never gated.
    """
    if event not in ORDER_EVENTS:
        raise ValueError(f"unknown order event {event!r}")
    now = clock()
    with uow:
        source = uow.sources.get(source_name)
        counted_until = None
        if event == "invoiced":
            counted_until = _counted_until(uow, source.id, order_id, now)
        before = uow.orders.close(source.id, order_id, event, counted_until)
        after = uow.orders.get(source.id, order_id)
        assert after is not None
        released = quantize(before.reserved - after.reserved, before.currency)
        status = SHOWN_STATUS.get(after.status, after.status)
        until = after.expires_at if after.status == AWAITING_SYNC else None
        uow.audit.record(
            caller,
            f"order_{event}",
            f"order:{source_name}/{order_id}",
            {
                "released": str(released),
                "currency": before.currency,
                "status": status,
                "counted_until": None if until is None else until.isoformat(),
            },
            now,
        )
        uow.commit()
    return OrderEventAnswer(
        before, status, released, None if until is None else until.astimezone(now.tzinfo)
    )


def _counted_until(
    uow: UnitOfWork, source_id: int, order_id: str, now: datetime
) -> datetime | None:
    """When an invoiced order's amount stops counting if its invoice is never loaded: the
    customer's data-age bound after the event (None: no bound, its own expiry)."""
    order = uow.orders.get(source_id, order_id)
    if order is None:
        return None  # close() says the order does not exist
    _, group = uow.customers.position(source_id, order.customer_ref)
    th = uow.thresholds.active().for_party(order.customer_ref, group.ref if group else None)
    if th.max_data_age_hours is None:
        return None
    return now + timedelta(hours=th.max_data_age_hours)


def get_decision(decision_id: str, *, uow: UnitOfWork) -> DecisionRecord:
    """:raises DecisionNotFound:"""
    with uow:
        record = uow.decisions.get(decision_id)
    if record is None:
        raise DecisionNotFound(decision_id)
    return record


def credit_position(
    source_name: str,
    customer_ref: str,
    *,
    uow: UnitOfWork,
    clock: Clock,
    rates: Rates,
    overdue_limit: int = 100,
) -> Mapping[str, Any]:
    """The customer's limit, exposure breakdown, available credit, overdue invoices and hold state.

    :raises CustomerNotFound, SourceNotFound:
    """
    now = clock()
    today = now.date()
    with uow:
        source = uow.sources.get(source_name)
        stored = uow.thresholds.active()
        customer, group = uow.customers.position(source.id, customer_ref)
        if customer is None or customer.key is None:
            raise CustomerNotFound(source_name, customer_ref)
        thresholds = stored.for_party(customer_ref, group.ref if group else None)
        cutoff = overdue_cutoff(today, thresholds.overdue_days)
        overdue = uow.customers.overdue_invoices(
            customer.key, today, thresholds.overdue_tolerance, overdue_limit
        )
        awaiting = uow.orders.awaiting_sync(customer.key)
    components = thresholds.exposure_components
    exposure = exposure_of(customer, rates, components=components)
    limit = customer.credit_limit
    return {
        "customer": {"id": customer.ref, "name": customer.name, "source": source_name},
        "currency": customer.currency,
        "credit_limit": limit,
        "exposure": {
            "open_invoices": exposure.open_invoices,
            "unapplied_payments": exposure.unapplied,
            "reservations": exposure.reservations,
            "total": exposure.total,
            "components": [n for n in EXPOSURE_COMPONENTS if n in components],
        },
        "available": None if limit is None else limit - exposure.total,
        "overdue_invoices": [
            {
                "number": inv.number,
                "due_date": inv.due_date,
                "days_overdue": days_overdue(inv.due_date, today),
                "open_amount": inv.open_amount,
                "currency": inv.currency,
                "blocking": inv.due_date < cutoff,
            }
            for inv in overdue
        ],
        "invoiced_awaiting_sync": [
            {
                "order_id": o.order_id,
                "amount": quantize(o.reserved, o.currency),
                "currency": o.currency,
                "counted_until": None
                if o.expires_at is None
                else o.expires_at.astimezone(now.tzinfo),
            }
            for o in awaiting
        ],
        "overdue_days": thresholds.overdue_days,
        "on_hold": customer.on_hold,
        "hold_reason": customer.hold_reason,
        "group": None
        if group is None
        else {
            "id": group.ref,
            "name": group.name,
            "currency": group.currency,
            "credit_limit": group.credit_limit,
            "exposure": exposure_of(group, rates, components=components).total,
            "on_hold": group.on_hold,
        },
        "last_synced_at": source.last_success_at,
        "thresholds_version": thresholds.version,
        "thresholds_overrides": list(thresholds.applied),
    }


class GateDesk:
    """The ERP's calls, with their dependencies bound once (config/wiring.py): the gate's hot
    path adds one method call to `gate_order` and allocates nothing of its own."""

    def __init__(
        self, uow: Callable[[], UnitOfWork], clock: Clock, rates: Rates, fail_safe: str
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._rates = rates
        self._fail_safe = fail_safe
        self.fail_safe_seen: Outcome | None = None
        """The active thresholds' fail-safe outcome as this process last read it."""

    @property
    def fail_safe_outcome(self) -> str:
        """What the gate answers when it cannot decide: the thresholds' setting once this process
        has read it, the server's CREDITGATE_FAIL_SAFE_OUTCOME until then (or when unset)."""
        if self.fail_safe_seen is not None:
            return self.fail_safe_seen.value
        return self._fail_safe

    def decide(self, order: OrderRequest, caller: str, language: str | None = None) -> GateResult:
        """`gate_order`; then keeps the version's fail-safe outcome for the answers given when
        the store cannot be read.

        :raises GateUnavailable, SourceNotFound, CurrencyRateMissing:
        """
        result = gate_order(
            order,
            uow=self._uow(),
            clock=self._clock,
            rates=self._rates,
            caller=caller,
            language=language,
        )
        self.fail_safe_seen = result.fail_safe
        return result

    def order_event(self, event: ApplyOrderEvent) -> OrderEventAnswer:
        """`apply_order_event`. :raises OrderNotFound, SourceNotFound:"""
        return apply_order_event(
            event.source,
            event.order_id,
            event.event,
            uow=self._uow(),
            clock=self._clock,
            caller=event.caller,
        )
