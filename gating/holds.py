"""Held orders: a person releases or rejects one, or has it decided again; after a sync every
held order is decided again, and those whose reasons are gone are released automatically.

A release or rejection is itself a recorded decision, taken under the customer's lock like a
gate call: a release approves and reserves the order at once (so the ERP may go ahead on the
notice alone), and the ERP's next call for it gets that decision back with `RELEASED_BY`.

`HoldDesk` carries out each action from one command (gating/commands.py), its dependencies
bound once when the application is built.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal

from gating.audit import end_of_day
from gating.commands import (
    ReevaluateHolds,
    ReevaluateOrder,
    RejectOrder,
    ReleaseOrder,
    SetCustomerHold,
)
from gating.errors import CreditgateError, CustomerNotFound, InvalidAmount, OrderNotFound
from gating.model import ApprovalTier, OrderRequest, Outcome, Resolution
from gating.money import Rates, parse_amount, quantize
from gating.ports import Clock, DecisionRecord, OrderRecord, UnitOfWork
from gating.push import HoldNotice
from gating.roles import RELEASERS
from gating.services import Locked, decide_locked

log = logging.getLogger(__name__)

SYSTEM = "system"


class NotHeld(CreditgateError):
    """The order is not on the hold list (approved, closed, or changed since it was listed)."""

    field = "order_id"


class ReleaseNotAllowed(CreditgateError):
    """The caller's role may not release an order this large (an approval tier's): then
    `needs` is the amount in the base currency as written, `roles` who may, `role` the
    caller's, so a page can say it in its reader's words."""

    def __init__(
        self, message: str, *, needs: str = "", roles: tuple[str, ...] = (), role: str = ""
    ) -> None:
        super().__init__(message)
        self.needs, self.roles, self.role = needs, roles, role


class InvalidRelease(CreditgateError):
    """A release whose terms cannot approve the order; `cap` and `amount` (as written, with
    the currency) when the cap is below the order's amount."""

    field = "cap"

    def __init__(self, message: str, *, cap: str = "", amount: str = "") -> None:
        super().__init__(message)
        self.cap, self.amount = cap, amount


def roles_for(amount_in_base: Decimal, tiers: Sequence[ApprovalTier]) -> tuple[str, ...]:
    """Who may release this amount: the highest tier it exceeds and every tier above it decide;
    below every tier, any role that releases."""
    ranked = sorted(tiers, key=lambda t: t.amount)
    exceeded = [i for i, t in enumerate(ranked) if amount_in_base > t.amount]
    if not exceeded:
        return RELEASERS
    return tuple(dict.fromkeys(t.role for t in ranked[exceeded[-1] :]))


@dataclass(frozen=True)
class HoldAnswer:
    """What a release, rejection or re-evaluation recorded."""

    record: DecisionRecord
    action: str  # released, rejected, reevaluated, auto_released
    notice: HoldNotice | None


@dataclass
class ReevaluationReport:
    checked: int = 0
    released: list[str] = field(default_factory=list)
    """`source/order_id` of each order released automatically."""
    errors: list[str] = field(default_factory=list)


class ReleaseInThePast(CreditgateError):
    """A release whose last day (`expires_on`) is before today in the business time zone."""

    field = "expires_on"

    def __init__(self, last_day: date, today: date) -> None:
        super().__init__(f"the last day of a release ({last_day}) is before today ({today})")
        self.last_day = last_day
        self.today = today


class HoldDesk:
    """What people do with held orders and customer holds, one command each. Built once
    (config/wiring.py) with its unit-of-work factory, clock, rates, the business time zone and
    the outbox targets hold notices go to."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        rates: Rates,
        zone: tzinfo,
        notify: Sequence[str] = (),
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._rates = rates
        self._zone = zone
        self.notify = tuple(notify)
        """The outbox targets hold notices go to (empty: nobody is told)."""

    def release(self, cmd: ReleaseOrder) -> HoldAnswer:
        """Approve a held order over its reasons, up to `cmd.cap` (the order's currency), through
        the end of `cmd.expires_on` in the business time zone: the one place that date becomes
        an instant.

        :raises ReleaseInThePast, OrderNotFound, NotHeld, ReleaseNotAllowed, InvalidRelease,
            CurrencyRateMissing:
        """
        expires_at = None
        if cmd.expires_on is not None:
            today = self._clock().date()  # the clock tells time in the business zone
            if cmd.expires_on < today:
                raise ReleaseInThePast(cmd.expires_on, today)
            expires_at = end_of_day(cmd.expires_on, self._zone)
        return self._resolve("release", cmd, cmd.cap, expires_at)

    def reject(self, cmd: RejectOrder) -> HoldAnswer:
        """Block a held order for good: every later call for it answers blocked, `REJECTED_BY`.

        :raises OrderNotFound, NotHeld, ReleaseNotAllowed:
        """
        return self._resolve("reject", cmd, None, None)

    def reevaluate(self, cmd: ReevaluateOrder) -> HoldAnswer:
        """Decide a held order again on today's data, as the ERP's own call would. An approval
        is an automatic release, recorded and told to the ERP like a person's.

        :raises OrderNotFound, NotHeld:
        """
        answer = self._reevaluate(cmd.source, cmd.order_id, cmd.actor, only_if_released=False)
        assert answer is not None, "recorded whatever the outcome"
        return answer

    def reevaluate_all(self, cmd: ReevaluateHolds) -> ReevaluationReport:
        """Decide every held order again (after a sync); release those whose reasons are gone.
        Each order is its own transaction, so one that cannot be decided is reported and
        skipped."""
        report = ReevaluationReport()
        after = 0
        while True:
            with self._uow() as uow:
                page = uow.orders.held(after, cmd.batch)
            if not page:
                return report
            for key, source, order_id in page:
                after = key
                report.checked += 1
                try:
                    answer = self._reevaluate(source, order_id, SYSTEM, only_if_released=True)
                except NotHeld:
                    continue  # decided or closed meanwhile
                except CreditgateError as exc:
                    report.errors.append(f"{source}/{order_id}: {exc}")
                    log.warning("re-evaluating %s/%s failed: %s", source, order_id, exc)
                    continue
                if answer is not None:
                    report.released.append(f"{source}/{order_id}")

    def set_customer_hold(self, cmd: SetCustomerHold) -> None:
        """Put a customer on hold here (`cmd.reason`), or take creditgate's hold off (None). The
        ERP's own hold is untouched: a sync keeps it as the ERP says.

        :raises CustomerNotFound, SourceNotFound:
        """
        now = self._clock()
        with self._uow() as uow:
            source_id = uow.sources.get(cmd.source).id
            if not uow.customers.set_admin_hold(source_id, cmd.customer_id, cmd.reason):
                raise CustomerNotFound(cmd.source, cmd.customer_id)
            uow.audit.record(
                cmd.actor,
                "customer_hold_on" if cmd.reason is not None else "customer_hold_off",
                f"customer:{cmd.source}/{cmd.customer_id}",
                {"reason": cmd.reason},
                now,
            )
            uow.commit()

    def _resolve(
        self,
        action: str,
        cmd: ReleaseOrder | RejectOrder,
        cap: Decimal | None,
        expires_at: datetime | None,
    ) -> HoldAnswer:
        return _resolve(
            action,
            cmd.source,
            cmd.order_id,
            reason=cmd.reason,
            actor=cmd.actor,
            role=cmd.role,
            cap=cap,
            expires_at=expires_at,
            seen_decision=cmd.seen_decision,
            uow=self._uow(),
            clock=self._clock,
            rates=self._rates,
            notify=self.notify,
        )

    def _reevaluate(
        self, source: str, order_id: str, actor: str, *, only_if_released: bool
    ) -> HoldAnswer | None:
        return _reevaluate(
            source,
            order_id,
            actor=actor,
            uow=self._uow(),
            clock=self._clock,
            rates=self._rates,
            notify=self.notify,
            only_if_released=only_if_released,
        )


def _resolve(
    action: str,
    source: str,
    order_id: str,
    *,
    reason: str,
    actor: str,
    role: str,
    cap: Decimal | None,
    expires_at: datetime | None,
    seen_decision: str | None,
    uow: UnitOfWork,
    clock: Clock,
    rates: Rates,
    notify: Sequence[str],
) -> HoldAnswer:
    now = clock()
    if role not in RELEASERS:
        raise ReleaseNotAllowed(f"role {role!r} may not release or reject held orders")
    with uow:
        order = _held_request(uow, source, order_id)
        made: list[Resolution] = []
        held: list[tuple[int, str]] = []  # the order's key and the decision that held it

        def resolve(locked: Locked) -> Resolution:
            existing = _still_held(locked.view.order, source, order_id, seen_decision)
            _same_terms(existing, order)
            if action == "release":
                base = locked.thresholds.base_currency
                amount = cap if cap is not None else existing.amount
                if cap is not None:
                    try:
                        parse_amount(cap, existing.currency)
                    except InvalidAmount as exc:
                        raise InvalidRelease(f"the cap: {exc}") from None
                if cap is not None and cap < existing.amount:
                    raise InvalidRelease(
                        f"the cap {cap} {existing.currency} is below the order's amount "
                        f"{existing.amount}: release at least the amount, or have the ERP "
                        f"lower the order first",
                        cap=f"{quantize(cap, existing.currency):,} {existing.currency}",
                        amount=f"{quantize(existing.amount, existing.currency):,} "
                        f"{existing.currency}",
                    )
                in_base = rates.convert(amount, existing.currency, base)
                allowed = roles_for(in_base, locked.thresholds.approval_tiers)
                if role not in allowed:
                    needs = f"{quantize(in_base, base):,} {base}"
                    raise ReleaseNotAllowed(
                        f"releasing {needs} needs the role "
                        f"{' or '.join(allowed)} (approval tiers); this client is {role}",
                        needs=needs,
                        roles=allowed,
                        role=role,
                    )
            resolution = Resolution(
                action=action,
                actor=actor,
                role=role,
                reason=reason,
                currency=existing.currency,
                created_at=now,
                # Without a cap, the release is for the order's amount: an amendment above it
                # is decided by the rules (and by the approval tiers' roles, again).
                cap=cap if cap is not None else existing.amount,
                expires_at=expires_at,
                customer_ref=existing.customer_ref,
            )
            made.append(resolution)
            assert existing.last_decision_id is not None and existing.key is not None
            held.append((existing.key, existing.last_decision_id))
            return resolution

        record = decide_locked(uow, order, now, rates, actor, resolve=resolve).record
        (order_key, held_decision), resolution = held[0], made[0]
        resolution_id = uow.orders.add_resolution(order_key, resolution, held_decision, record.id)
        done = "released" if action == "release" else "rejected"
        notice = None
        if action == "release" and record.outcome is not Outcome.APPROVED:
            # The release does not cover the order now (it lapsed at once): nothing to tell the
            # ERP; the recorded decision says why.
            done = "release_not_applied"
        else:
            notice = _notice(done, order, record, resolution, actor, reason)
        uow.audit.record(
            actor,
            f"hold_{done}",
            f"order:{source}/{order_id}",
            {
                "reason": reason,
                "role": role,
                "resolution_id": resolution_id,
                "held_decision_id": held_decision,
                "decision_id": record.id,
                "outcome": record.outcome.value,
                "cap": None if resolution.cap is None else str(resolution.cap),
                "currency": resolution.currency,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
            now,
        )
        if notice is not None and notify:
            uow.notices.add(notice, notify, now)
        uow.commit()
        return HoldAnswer(record, done, notice)


def _reevaluate(
    source: str,
    order_id: str,
    *,
    actor: str,
    uow: UnitOfWork,
    clock: Clock,
    rates: Rates,
    notify: Sequence[str] = (),
    only_if_released: bool = False,
) -> HoldAnswer | None:
    """Decide a held order again on today's data, as the ERP's own call would. An approval is an
    automatic release, recorded and told to the ERP like a person's. With `only_if_released`
    (the batch after a sync), a decision that still holds the order is not recorded.

    :raises OrderNotFound, NotHeld:
    """
    now = clock()
    with uow:
        order = _held_request(uow, source, order_id)

        def still_held(locked: Locked) -> None:
            _same_terms(_still_held(locked.view.order, source, order_id, None), order)
            return None

        result = decide_locked(uow, order, now, rates, actor, resolve=still_held)
        record = result.record
        approved = record.outcome is Outcome.APPROVED
        if only_if_released and not approved:
            return None  # rolled back: nothing changed
        action = "auto_released" if approved else "reevaluated"
        notice = None
        if approved:
            notice = HoldNotice(
                change_id=str(uuid.uuid4()),
                source=source,
                order_id=order_id,
                customer_ref=order.customer_id,
                action="auto_released",
                outcome="approved",
                actor=actor,
                reason="the reasons that held it are gone",
                cap=None,
                currency=order.currency,
                expires_at=None,
                decision_id=record.id,
                decided_at=now,
            )
        uow.audit.record(
            actor,
            f"hold_{action}",
            f"order:{source}/{order_id}",
            {"decision_id": record.id, "outcome": record.outcome.value},
            now,
        )
        if notice is not None and notify:
            uow.notices.add(notice, notify, now)
        uow.commit()
        return HoldAnswer(record, action, notice)


def _held_request(uow: UnitOfWork, source: str, order_id: str) -> OrderRequest:
    """The order as stored, as the gate would be asked about it (read before the lock, to know
    whose lock to take; checked again under it)."""
    found = uow.orders.get(uow.sources.get(source).id, order_id)
    if found is None:
        raise OrderNotFound(source, order_id)
    _still_held(found, source, order_id, None)
    return OrderRequest(source, order_id, found.customer_ref, found.amount, found.currency)


def _same_terms(stored: OrderRecord, asked: OrderRequest) -> None:
    """The order read before the customer's lock was taken is still the one under it: an
    amendment in between is refused, not overwritten with the terms read before it."""
    if (stored.customer_ref, stored.amount, stored.currency) != (
        asked.customer_id,
        asked.amount,
        asked.currency,
    ):
        raise NotHeld(
            f"order {asked.order_id!r} was amended meanwhile (now {stored.amount} "
            f"{stored.currency} for {stored.customer_ref}): look at the hold list again"
        )


def _still_held(
    order: OrderRecord | None, source: str, order_id: str, seen_decision: str | None
) -> OrderRecord:
    if order is None:
        raise OrderNotFound(source, order_id)
    if order.status != "open" or order.last_outcome not in (Outcome.REVIEW, Outcome.BLOCKED):
        state = order.status if order.status != "open" else order.last_outcome
        raise NotHeld(f"order {order_id!r} is not held (it is {state})")
    if seen_decision is not None and order.last_decision_id != seen_decision:
        raise NotHeld(
            f"order {order_id!r} was decided again since decision {seen_decision} "
            f"(now {order.last_decision_id}): look at the hold list again"
        )
    return order


def _notice(
    action: str,
    order: OrderRequest,
    record: DecisionRecord,
    resolution: Resolution,
    actor: str,
    reason: str,
) -> HoldNotice:
    return HoldNotice(
        change_id=str(uuid.uuid4()),
        source=order.source,
        order_id=order.order_id,
        customer_ref=order.customer_id,
        action=action,
        outcome=record.outcome.value,
        actor=actor,
        reason=reason,
        cap=None if resolution.cap is None else str(resolution.cap),
        currency=resolution.currency,
        expires_at=resolution.expires_at,
        decision_id=record.id,
        decided_at=record.decided_at,
    )
