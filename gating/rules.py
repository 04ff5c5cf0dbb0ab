"""The gate rules: pure functions from a GateInput to rule verdicts and one Decision."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

from gating.model import (
    EXPOSURE_COMPONENTS,
    ZERO,
    CreditView,
    Decision,
    Exposure,
    GateInput,
    Money,
    OrderRequest,
    Outcome,
    Party,
    Reason,
    Resolution,
    RuleVerdict,
    Thresholds,
    combine,
)
from gating.money import Rates, quantize
from gating.policy import settings_document

ON_HOLD = "CUSTOMER_ON_HOLD"
OVERDUE = "OVERDUE_INVOICES"
CREDIT_LIMIT = "CREDIT_LIMIT_EXCEEDED"
GROUP_LIMIT = "GROUP_LIMIT_EXCEEDED"
UNKNOWN = "UNKNOWN_CUSTOMER"
NO_LIMIT = "NO_CREDIT_LIMIT"
STALE = "STALE_DATA"
APPROVAL = "APPROVAL_REQUIRED"
RELEASED = "RELEASED_BY"
REJECTED = "REJECTED_BY"


def overdue_cutoff(today: date, overdue_days: int) -> date:
    """Invoices due strictly before this date are overdue by more than `overdue_days`."""
    return today - timedelta(days=overdue_days)


def days_overdue(due_date: date, today: date) -> int:
    return (today - due_date).days


def exposure_of(
    party: Party,
    rates: Rates,
    *,
    excluding: Money | None = None,
    components: frozenset[str] = frozenset(EXPOSURE_COMPONENTS),
) -> Exposure:
    """Sum the party's balances in its credit currency, less the reservation `excluding` holds;
    the total counts only `components` (the thresholds' exposure_components).

    :raises CurrencyRateMissing: when a balance's currency has no configured rate.
    """
    cur = party.currency
    open_invoices = unapplied = reserved = ZERO
    for b in party.balances:
        open_invoices += rates.convert(b.open_invoices, b.currency, cur)
        unapplied += rates.convert(b.unapplied, b.currency, cur)
        reserved += rates.convert(b.reserved, b.currency, cur)
    if excluding is not None:
        reserved -= rates.convert(excluding.amount, excluding.currency, cur)
    return Exposure(cur, open_invoices, unapplied, reserved, components)


def _fmt(amount: Decimal, currency: str) -> str:
    return f"{quantize(amount, currency):,} {currency}"


def _ok(code: str, message: str, **figures: object) -> RuleVerdict:
    return RuleVerdict(code, False, None, message, figures)


def _trip(code: str, outcome: Outcome, message: str, **figures: object) -> RuleVerdict:
    return RuleVerdict(code, True, outcome, message, figures)


def _not_evaluated(code: str) -> RuleVerdict:
    return _ok(code, "not evaluated: the customer is unknown")


class _Context:
    """Figures shared by several rules, computed once per decision."""

    def __init__(self, inp: GateInput, th: Thresholds, rates: Rates, now: datetime) -> None:
        self.inp, self.th, self.rates, self.now = inp, th, rates, now
        self.today = now.date()
        order = inp.order
        self._order_base: Decimal | None = None
        self.customer = inp.customer
        self.exposure: Exposure | None = None
        self.order_in_credit: Decimal | None = None
        if inp.customer is not None:
            self.exposure = exposure_of(
                inp.customer,
                rates,
                excluding=inp.previous_reservation,
                components=th.exposure_components,
            )
            self.order_in_credit = rates.convert(
                order.amount, order.currency, inp.customer.currency
            )

    @property
    def order_base(self) -> Decimal:
        """The order in the thresholds' base currency, converted only when a rule needs it, so
        a gate without tiers or trial amounts needs no rate for it."""
        if self._order_base is None:
            o = self.inp.order
            self._order_base = self.rates.convert(o.amount, o.currency, self.th.base_currency)
        return self._order_base


def check_hold(ctx: _Context) -> RuleVerdict:
    c, g = ctx.inp.customer, ctx.inp.group
    if c is None:
        return _not_evaluated(ON_HOLD)
    if c.on_hold:
        why = f": {c.hold_reason}" if c.hold_reason else ""
        message = f"customer {c.ref} is on hold{why}"
        return _trip(
            ON_HOLD, Outcome.BLOCKED, message, party="customer", ref=c.ref, reason=c.hold_reason
        )
    if g is not None and g.on_hold:
        why = f": {g.hold_reason}" if g.hold_reason else ""
        message = f"group {g.ref} ({g.name}) is on hold{why}"
        figures = {"party": "group", "ref": g.ref, "name": g.name, "reason": g.hold_reason}
        return _trip(ON_HOLD, Outcome.BLOCKED, message, **figures)
    return _ok(ON_HOLD, "not on hold")


def check_overdue(ctx: _Context) -> RuleVerdict:
    if ctx.customer is None:
        return _not_evaluated(OVERDUE)
    summary, days = ctx.inp.overdue, ctx.th.overdue_days
    oldest = summary.oldest
    if oldest is None:
        return _ok(
            OVERDUE,
            f"no invoice overdue more than {days} days",
            overdue_days=days,
            tolerance=str(ctx.th.overdue_tolerance),
        )
    age = days_overdue(oldest.due_date, ctx.today)
    if age <= days:
        return _ok(
            OVERDUE,
            f"no invoice overdue more than {days} days",
            overdue_days=days,
            tolerance=str(ctx.th.overdue_tolerance),
            oldest_number=oldest.number,
            oldest_due_date=oldest.due_date.isoformat(),
            oldest_days_overdue=age,
            oldest_open_amount=str(oldest.open_amount),
            oldest_currency=oldest.currency,
        )
    count = f"{summary.count}+" if summary.capped else str(summary.count)
    noun = "invoice" if summary.count == 1 and not summary.capped else "invoices"
    message = f"{count} {noun} overdue more than {days} days (oldest {oldest.number}, {age} days)"
    return _trip(
        OVERDUE,
        Outcome.BLOCKED,
        message,
        overdue_days=days,
        tolerance=str(ctx.th.overdue_tolerance),
        count=summary.count,
        count_capped=summary.capped,
        oldest_number=oldest.number,
        oldest_due_date=oldest.due_date.isoformat(),
        oldest_days_overdue=age,
        oldest_open_amount=str(oldest.open_amount),
        oldest_currency=oldest.currency,
    )


def check_credit_limit(ctx: _Context) -> RuleVerdict:
    c, exposure, order = ctx.customer, ctx.exposure, ctx.order_in_credit
    if c is None or exposure is None or order is None:
        return _not_evaluated(CREDIT_LIMIT)
    if c.credit_limit is None:
        return _ok(CREDIT_LIMIT, "no credit limit set (see NO_CREDIT_LIMIT)")
    after = exposure.total + order
    limit, cur = c.credit_limit, c.currency
    figures = {
        "exposure": str(exposure.total),
        "order": str(order),
        "after": str(after),
        "limit": str(limit),
        "review_band": str(ctx.th.review_band),
        "currency": cur,
    }
    if after <= limit:
        return _ok(
            CREDIT_LIMIT, f"{_fmt(after, cur)} within the limit {_fmt(limit, cur)}", **figures
        )
    band_top = limit + quantize(limit * ctx.th.review_band, cur)
    outcome = Outcome.REVIEW if after <= band_top else Outcome.BLOCKED
    band = " (within the review band)" if outcome is Outcome.REVIEW else ""
    message = (
        f"exposure {_fmt(exposure.total, cur)} + order {_fmt(order, cur)} exceeds "
        f"the credit limit {_fmt(limit, cur)} by {_fmt(after - limit, cur)}{band}"
    )
    return _trip(CREDIT_LIMIT, outcome, message, **figures)


def check_group_limit(ctx: _Context) -> RuleVerdict:
    g, inp = ctx.inp.group, ctx.inp
    if ctx.customer is None:
        return _not_evaluated(GROUP_LIMIT)
    if g is None or g.credit_limit is None:
        return _ok(GROUP_LIMIT, "no group limit applies")
    exposure = exposure_of(
        g, ctx.rates, excluding=inp.previous_reservation, components=ctx.th.exposure_components
    )
    order = ctx.rates.convert(inp.order.amount, inp.order.currency, g.currency)
    after, limit, cur = exposure.total + order, g.credit_limit, g.currency
    figures = {
        "group": g.ref,
        "group_name": g.name,
        "exposure": str(exposure.total),
        "order": str(order),
        "after": str(after),
        "limit": str(limit),
        "currency": cur,
    }
    if after <= limit:
        return _ok(GROUP_LIMIT, f"group {g.ref} within its limit {_fmt(limit, cur)}", **figures)
    message = (
        f"group {g.ref} ({g.name}) exposure {_fmt(exposure.total, cur)} + order "
        f"{_fmt(order, cur)} exceeds the group limit {_fmt(limit, cur)} "
        f"by {_fmt(after - limit, cur)}"
    )
    return _trip(GROUP_LIMIT, Outcome.BLOCKED, message, **figures)


def check_unknown(ctx: _Context) -> RuleVerdict:
    if ctx.customer is not None:
        return _ok(UNKNOWN, "customer known")
    th, base = ctx.th, ctx.th.base_currency
    ref = ctx.inp.order.customer_id
    if th.trial_amount is None:
        message = f"customer {ref} has not been synced yet"
        return _trip(UNKNOWN, Outcome.REVIEW, message, customer=ref)
    used = ctx.inp.trial_reserved
    after = used + ctx.order_base
    figures = {
        "trial_amount": str(th.trial_amount),
        "reserved": str(used),
        "after": str(after),
        "customer": ref,
        "base_currency": base,
    }
    if after <= th.trial_amount:
        message = (
            f"customer {ref} has not been synced yet; approved within the trial amount "
            f"{_fmt(th.trial_amount, base)} ({_fmt(after, base)} used)"
        )
        return _trip(UNKNOWN, Outcome.APPROVED, message, **figures)
    message = (
        f"customer {ref} has not been synced yet and {_fmt(after, base)} exceeds the trial "
        f"amount {_fmt(th.trial_amount, base)}"
    )
    return _trip(UNKNOWN, Outcome.REVIEW, message, **figures)


def check_no_limit(ctx: _Context) -> RuleVerdict:
    c = ctx.customer
    if c is None:
        return _not_evaluated(NO_LIMIT)
    if c.credit_limit is None:
        message = f"customer {c.ref} has no credit limit set"
        return _trip(NO_LIMIT, Outcome.REVIEW, message, customer=c.ref)
    return _ok(NO_LIMIT, "credit limit set")


def check_stale(ctx: _Context) -> RuleVerdict:
    hours, last = ctx.th.max_data_age_hours, ctx.inp.last_synced_at
    if hours is None:
        return _ok(STALE, "data age not checked")
    figures: dict[str, object] = {
        "max_data_age_hours": hours,
        "last_synced_at": last.isoformat() if last else None,
        "source": ctx.inp.order.source,
    }
    if last is None:
        message = f"source {ctx.inp.order.source} has never synced successfully"
        return _trip(STALE, ctx.th.stale_data_outcome, message, **figures)
    age = ctx.now - last
    if age > timedelta(hours=hours):
        figures["hours_since"] = f"{age.total_seconds() / 3600:.1f}"
        message = (
            f"source {ctx.inp.order.source} last synced {age.total_seconds() / 3600:.1f} hours "
            f"ago (more than {hours})"
        )
        return _trip(STALE, ctx.th.stale_data_outcome, message, **figures)
    return _ok(STALE, "data fresh", **figures)


def check_approval_tiers(ctx: _Context) -> RuleVerdict:
    if not ctx.th.approval_tiers:
        return _ok(APPROVAL, "no approval tiers configured")
    exceeded = [t for t in ctx.th.approval_tiers if ctx.order_base > t.amount]
    base = ctx.th.base_currency
    if not exceeded:
        return _ok(APPROVAL, "below every approval tier", order_base=str(ctx.order_base))
    tier = max(exceeded, key=lambda t: t.amount)
    message = (
        f"order {_fmt(ctx.order_base, base)} is above the {_fmt(tier.amount, base)} "
        f"approval tier: needs release by {tier.role}"
    )
    return _trip(
        APPROVAL,
        Outcome.REVIEW,
        message,
        order_base=str(ctx.order_base),
        tier_amount=str(tier.amount),
        required_role=tier.role,
        base_currency=base,
    )


RULES: tuple[Callable[[_Context], RuleVerdict], ...] = (
    check_hold,
    check_overdue,
    check_credit_limit,
    check_group_limit,
    check_unknown,
    check_no_limit,
    check_stale,
    check_approval_tiers,
)


def decide(inp: GateInput, thresholds: Thresholds, rates: Rates, now: datetime) -> Decision:
    """Evaluate every rule together and combine them into one Decision.

    :raises CurrencyRateMissing: when the order's or a balance's currency has no rate.
    """
    ctx = _Context(inp, thresholds, rates, now)
    verdicts = tuple(rule(ctx) for rule in RULES)
    reasons = tuple(
        Reason(v.code, v.message, v.outcome)
        for v in verdicts
        if v.tripped and v.outcome is not None
    )
    outcome = combine(reasons)
    if inp.resolution is not None:
        verdict = _resolution_verdict(inp.resolution, inp.order, outcome, reasons, now)
        verdicts += (verdict,)
        if verdict.tripped and verdict.outcome is Outcome.APPROVED:
            outcome = Outcome.APPROVED
            reasons = (Reason(RELEASED, verdict.message, Outcome.APPROVED),)
        elif verdict.tripped:
            outcome = Outcome.BLOCKED
            reasons = (Reason(REJECTED, verdict.message, Outcome.BLOCKED), *reasons)
    order = inp.order
    reserve = Money(order.amount, order.currency) if outcome is Outcome.APPROVED else None
    return Decision(
        outcome=outcome,
        reasons=tuple(r for r in reasons),
        verdicts=verdicts,
        customer=_view(ctx, approved=outcome is Outcome.APPROVED),
        reserve=reserve,
        inputs=_inputs(ctx),
    )


def _resolution_verdict(
    res: Resolution,
    order: OrderRequest,
    outcome: Outcome,
    reasons: tuple[Reason, ...],
    now: datetime,
) -> RuleVerdict:
    """A person's release approves the order over the rules' reasons while it covers the order
    (not lapsed, same currency, within its cap); a rejection blocks it whatever they say."""
    on = res.created_at.astimezone(now.tzinfo).date().isoformat()
    said = f"{res.actor} ({res.role}) on {on}: {res.reason}"
    figures: dict[str, object] = {
        "resolution_id": res.id,
        "actor": res.actor,
        "role": res.role,
        "reason": res.reason,
        "created_at": res.created_at.isoformat(),
        "on": on,
    }
    if res.action == "reject":
        return _trip(REJECTED, Outcome.BLOCKED, f"rejected by {said}", **figures)
    code = RELEASED
    figures |= {
        "cap": None if res.cap is None else str(res.cap),
        "currency": res.currency,
        "expires_at": res.expires_at.isoformat() if res.expires_at else None,
    }
    problem = res.covers(order, now)
    before = res.released_over
    new = [] if before is None else [r.code for r in reasons if r.code not in before]
    if problem is None and new:
        problem = f"{', '.join(new)} arose since the release by {res.actor}"
    if problem is not None:
        return _ok(code, f"{problem}: decided by the rules", **figures)
    if outcome is Outcome.APPROVED:
        return _ok(code, f"released by {said}; not needed, every rule passes", **figures)
    over = [r.code for r in reasons]
    terms = [f"over {', '.join(over)}"]
    if res.cap is not None:
        terms.append(f"up to {_fmt(res.cap, res.currency)}")
    if res.expires_at is not None:
        until = res.expires_at.astimezone(now.tzinfo).isoformat()
        terms.append(f"until {until}")
        figures["until"] = until
    figures["released_over"] = over
    return _trip(code, Outcome.APPROVED, f"released by {said} ({'; '.join(terms)})", **figures)


def _view(ctx: _Context, *, approved: bool) -> CreditView | None:
    """The position after the decision: an approved order counts at its new amount; a refused
    amendment leaves the order's earlier approved reservation standing, so that counts."""
    c, exposure = ctx.customer, ctx.exposure
    if c is None or exposure is None or ctx.order_in_credit is None:
        return None
    kept, previous = ZERO, ctx.inp.previous_reservation
    if previous is not None and "reservations" in exposure.components:
        kept = ctx.rates.convert(previous.amount, previous.currency, c.currency)
    after = quantize(exposure.total + (ctx.order_in_credit if approved else kept), c.currency)
    available = None if c.credit_limit is None else c.credit_limit - after
    return CreditView(c.ref, c.currency, c.credit_limit, after, available)


def _inputs(ctx: _Context) -> dict[str, object]:
    """The numbers the decision used, as JSON-ready strings, for the auditor's snapshot."""
    inp, th = ctx.inp, ctx.th
    out: dict[str, object] = {
        "today": ctx.today.isoformat(),
        "now": ctx.now.isoformat(),
        "order": {
            "order_id": inp.order.order_id,
            "customer_id": inp.order.customer_id,
            "amount": str(inp.order.amount),
            "currency": inp.order.currency,
            "source": inp.order.source,
            "order_date": inp.order.order_date.isoformat() if inp.order.order_date else None,
            "amount_in_base": None if ctx._order_base is None else str(ctx._order_base),
        },
        "previous_reservation": (
            {
                "amount": str(inp.previous_reservation.amount),
                "currency": inp.previous_reservation.currency,
            }
            if inp.previous_reservation
            else None
        ),
        "last_synced_at": inp.last_synced_at.isoformat() if inp.last_synced_at else None,
        "thresholds_version": th.version,
        **_overrides_used(th),
        "rates": {
            "reference": ctx.rates.reference,
            **{k: str(v) for k, v in sorted(ctx.rates.rates.items())},
        },
    }
    if inp.customer is not None and ctx.exposure is not None:
        e = ctx.exposure
        out["customer"] = _party_json(inp.customer) | {
            "exposure_before": {
                "open_invoices": str(e.open_invoices),
                "unapplied_payments": str(e.unapplied),
                "reservations": str(e.reservations),
                "total": str(e.total),
                "components": [n for n in EXPOSURE_COMPONENTS if n in e.components],
            },
            "order_in_credit_currency": str(ctx.order_in_credit),
        }
    if inp.group is not None:
        out["group"] = _party_json(inp.group)
    if inp.customer is None:
        out["trial_reserved"] = str(inp.trial_reserved)
    return out


def _overrides_used(th: Thresholds) -> dict[str, object]:
    """The group's and customer's own settings the decision used, when any applied."""
    if not th.applied:
        return {}
    layers = th.applied_layers()
    return {"thresholds_overrides": {name: settings_document(v) for name, v in layers.items()}}


def _party_json(p: Party) -> dict[str, object]:
    return {
        "id": p.ref,
        "name": p.name,
        "currency": p.currency,
        "credit_limit": None if p.credit_limit is None else str(p.credit_limit),
        "on_hold": p.on_hold,
        "hold_reason": p.hold_reason,
        "balances": [
            {
                "currency": b.currency,
                "open_invoices": str(b.open_invoices),
                "unapplied": str(b.unapplied),
                "reserved": str(b.reserved),
            }
            for b in p.balances
        ],
    }
