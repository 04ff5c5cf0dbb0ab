"""What becomes of an order's reservation on the ERP's events, on a lapse and on its invoices.

The store applies these rules (and the test fakes the same ones), so the rules live here once:
a reservation counts until the order is cancelled, its invoice is loaded here, it lapses, or the
order is approved at new terms (the gate's own decision, gating/services.py).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from gating.model import AWAITING_SYNC, ZERO, Outcome
from gating.ports import OrderRecord

_EVENT_TAKES = ("open", "rejected")
"""The statuses an event changes: an open order, and a rejected amendment whose earlier approval
still stands (one reserving nothing stays rejected, as before)."""


def event_change(
    order: OrderRecord, event: str, counted_until: datetime | None
) -> tuple[str, Decimal, datetime | None] | None:
    """The order's (status, reserved, expires_at) after the ERP's `event`, or None when the event
    changes nothing (it was applied already, or the order is closed).

    `cancelled` releases the reservation. `invoiced` keeps it counted, awaiting the invoice (its
    expiry brought forward to `counted_until`, never pushed back); an order reserving nothing is
    invoiced at once. A cancel after the invoiced event changes nothing: the invoice exists at
    the ERP and will count once loaded.
    """
    if order.status not in _EVENT_TAKES or (order.status == "rejected" and not order.reserved):
        return None
    if event == "cancelled" or not order.reserved:
        return event, ZERO, None
    expires = order.expires_at
    if counted_until is not None and (expires is None or counted_until < expires):
        expires = counted_until
    return AWAITING_SYNC, order.reserved, expires


def lapsed_status(status: str, last_outcome: str | Outcome | None) -> str:
    """An order's status once its reservation lapses: an approved order expires; an order awaiting
    its invoice counts as invoiced; a held or rejected amendment stays as it is (only the earlier
    approval that stood behind it lapsed)."""
    if status == AWAITING_SYNC:
        return "invoiced"
    if status == "open" and last_outcome == Outcome.APPROVED:
        return "expired"
    return status


def reserved_after_invoices(order: OrderRecord, invoiced: Decimal) -> tuple[str, Decimal] | None:
    """The order's (status, reserved) once the invoices carrying its reference total `invoiced`
    (in its currency), or None when the order reserves nothing to reduce.

    An approved order reserves its amount less what is invoiced. An earlier approval standing
    behind a refused amendment reserves what it reserved less what was invoiced since (its
    approved amount is `reserved + invoiced` as stored; `amount` is the refused terms). Fully
    invoiced, an approved or awaiting order is `invoiced`; a held amendment stays held.
    """
    approved = order.last_outcome is Outcome.APPROVED
    if order.status == "open" and approved:
        basis = order.amount
    elif order.reserved > ZERO and order.status in (*_EVENT_TAKES, AWAITING_SYNC):
        basis = order.amount if approved else order.reserved + order.invoiced
    else:
        return None
    reserved = max(ZERO, basis - invoiced)
    status = order.status
    if reserved == ZERO and (approved or status == AWAITING_SYNC):
        status = "invoiced"
    return status, reserved
