"""The gate webhook: POST an order, get approved, blocked or review with reasons."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, g, jsonify

from connector.auth import requires
from connector.bodies import object_body
from connector.schemas import GateOrderSchema, OrderEventSchema, path_ids
from gating.errors import GateUnavailable
from gating.model import OrderRequest
from gating.money import quantize
from gating.services import apply_order_event, gate_order

log = logging.getLogger(__name__)
bp = Blueprint("gate", __name__, url_prefix="/api/v1/gate")

_order_schema = GateOrderSchema()
_event_schema = OrderEventSchema()


@bp.post("/orders")
@requires("erp")
def gate() -> Any:
    data = _order_schema.load(object_body())
    services = current_app.extensions["creditgate"]
    order = OrderRequest(
        source=data.get("source", g.client.source),
        order_id=data["order_id"],
        customer_id=data["customer_id"],
        amount=data["amount"],
        currency=data["currency"],
        order_date=data.get("order_date"),
    )
    try:
        result = gate_order(
            order,
            uow=services.uow(),
            clock=services.clock,
            rates=services.rates,
            caller=g.client.name,
        )
    except GateUnavailable as exc:
        return _fail_safe(order, exc)
    services.fail_safe_seen = result.fail_safe
    response = jsonify(result.record.response)
    response.headers["X-Creditgate-Replayed"] = "true" if result.replayed else "false"
    if not result.replayed:
        g.decision = result.record  # counted by the metrics hook (connector/observability.py)
    return response


def _fail_safe(order: OrderRequest, exc: GateUnavailable) -> Any:
    """Answer within the bounded time with the configured outcome; nothing was recorded."""
    services = current_app.extensions["creditgate"]
    log.error("gate unavailable for order %s: %s", order.order_id, exc)
    body = {
        "decision_id": None,
        "order_id": order.order_id,
        "outcome": services.fail_safe_outcome,
        "reasons": [
            {"code": "GATE_UNAVAILABLE", "message": f"the credit gate cannot decide now ({exc})"}
        ],
        "customer": None,
        "decided_at": services.clock().isoformat(),
    }
    response = jsonify(body)
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


@bp.post("/orders/<order_id>/events")
@requires("erp")
def order_event(order_id: str) -> Any:
    path_ids(order_id=order_id)
    data = _event_schema.load(object_body())
    services = current_app.extensions["creditgate"]
    source = data.get("source", g.client.source)
    before = apply_order_event(
        source,
        order_id,
        data["event"],
        uow=services.uow(),
        clock=services.clock,
        caller=g.client.name,
    )
    # In the currency's minor units either way: "0.00", never "0", when nothing was released.
    released = quantize(before.reserved if before.status == "open" else Decimal(0), before.currency)
    return jsonify(
        {
            "order_id": order_id,
            "event": data["event"],
            "status": data["event"] if before.status == "open" else before.status,
            "released": str(released),
            "currency": before.currency,
        }
    )
