"""The hold list and what people do with it: release, reject, re-evaluate; customer holds."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request
from marshmallow import ValidationError

from connector import answers
from connector.auth import requires
from connector.bodies import object_body
from connector.context import services
from connector.openapi import documented
from connector.schemas import (
    CustomerHoldSchema,
    HoldActionSchema,
    HoldsQuerySchema,
    ReevaluateSchema,
    ReleaseSchema,
    path_ids,
)
from gating.commands import (
    ReevaluateHolds,
    ReevaluateOrder,
    RejectOrder,
    ReleaseOrder,
    SetCustomerHold,
)
from gating.holds import HoldAnswer, ReleaseInThePast
from gating.roles import RELEASERS

bp = Blueprint("holds", __name__, url_prefix="/api/v1/admin")
_holds_query = HoldsQuerySchema()
_release = ReleaseSchema()
_action = HoldActionSchema()
_reevaluate = ReevaluateSchema()
_customer_hold = CustomerHoldSchema()
_HELD = {404: "The order was never gated", 409: "The order is not held (any more)"}


@bp.get("/holds")
@requires(*RELEASERS)
@documented(query=HoldsQuerySchema, answer=answers.HeldOrders)
def holds() -> Any:
    """The hold list: open orders whose last decision was review or blocked, newest first, with
    the reasons; `next` is the `before` of the following page."""
    args = _holds_query.load(request.args.to_dict())
    application = services()
    zone = application.settings.zone
    rows, after = application.reads.held_orders(
        source=args.get("source"),
        customer_id=args.get("customer_id"),
        outcome=args.get("outcome"),
        limit=args["limit"],
        before=args["before"],
    )
    held = [
        {
            "order_id": r["order_id"],
            "source": r["source"],
            "customer_id": r["customer_id"],
            "amount": str(r["amount"]),
            "currency": r["currency"],
            "outcome": r["outcome"],
            "decision_id": r["decision_id"],
            "decided_at": r["decided_at"].astimezone(zone).isoformat(),
            "reasons": r["response"].get("reasons", []),
        }
        for r in rows
    ]
    return jsonify({"holds": held, "next": after})


@bp.post("/holds/<path:order_id>/release")
@requires(*RELEASERS)
@documented(
    body=ReleaseSchema,
    answer=answers.HoldAnswer,
    errors=_HELD,
)
def release(order_id: str) -> Any:
    """Release a held order

    Approves the order now, over its reasons, and reserves it; the ERP's next call for it gets
    this decision back, reason RELEASED_BY. When an approval tier lies below the amount (or the
    cap), only that tier's role or a higher one's may release it: 403 otherwise. The ERP is
    told through its callback URL."""
    path_ids(order_id=order_id)
    data = _release.load(object_body())
    command = ReleaseOrder(
        data.get("source", g.client.source),
        order_id,
        reason=data["reason"].strip(),
        actor=g.client.name,
        role=g.client.role,
        cap=data.get("cap"),
        expires_on=data.get("expires_on"),
        seen_decision=data.get("decision_id"),
    )
    try:
        answer = services().writes.release_order(command)
    except ReleaseInThePast as exc:
        raise ValidationError({"expires_on": [f"must be today ({exc.today}) or later"]}) from None
    return _answer(answer)


@bp.post("/holds/<path:order_id>/reject")
@requires(*RELEASERS)
@documented(
    body=HoldActionSchema,
    answer=answers.HoldAnswer,
    errors=_HELD,
)
def reject(order_id: str) -> Any:
    """Block a held order for good; every later call for it answers blocked (`REJECTED_BY`)."""
    path_ids(order_id=order_id)
    data = _action.load(object_body())
    answer = services().writes.reject_order(
        RejectOrder(
            data.get("source", g.client.source),
            order_id,
            reason=data["reason"].strip(),
            actor=g.client.name,
            role=g.client.role,
            seen_decision=data.get("decision_id"),
        )
    )
    return _answer(answer)


@bp.post("/holds/<path:order_id>/reevaluate")
@requires(*RELEASERS)
@documented(
    body=ReevaluateSchema,
    answer=answers.HoldAnswer,
    errors=_HELD,
)
def reevaluate(order_id: str) -> Any:
    """Decide a held order again on today's data; an approval releases it (`auto_released`)."""
    path_ids(order_id=order_id)
    data = _reevaluate.load(object_body())
    answer = services().writes.reevaluate_order(
        ReevaluateOrder(data.get("source", g.client.source), order_id, g.client.name)
    )
    return _answer(answer)


@bp.post("/holds/reevaluate")
@requires(*RELEASERS)
@documented(body=ReevaluateSchema, answer=answers.Reevaluation)
def reevaluate_all() -> Any:
    """Decide every held order again (as the nightly job does after its sync)."""
    _reevaluate.load(object_body())
    report = services().writes.reevaluate_holds(ReevaluateHolds())
    return jsonify(
        {"checked": report.checked, "released": report.released, "errors": report.errors}
    )


@bp.put("/customers/<path:customer_id>/hold")
@requires(*RELEASERS)
@documented(
    body=CustomerHoldSchema, answer=answers.CustomerHoldResult, errors={404: "No such customer"}
)
def customer_hold(customer_id: str) -> Any:
    """Put the customer on creditgate's hold (every order blocked, `CUSTOMER_ON_HOLD`) or take
    it off. The ERP's own hold is synced separately and is not changed."""
    path_ids(customer_id=customer_id)
    data = _customer_hold.load(object_body())
    source = data.get("source", g.client.source)
    reason = data["reason"].strip()
    services().writes.set_customer_hold(
        SetCustomerHold(source, customer_id, reason if data["on_hold"] else None, g.client.name)
    )
    return jsonify(
        {"customer_id": customer_id, "source": source, "on_hold": data["on_hold"], "reason": reason}
    )


def _answer(answer: HoldAnswer) -> Any:
    return jsonify(
        {
            "action": answer.action,
            "decision": answer.record.response,
            "notified": answer.notice is not None and bool(services().writes.notify),
        }
    )
