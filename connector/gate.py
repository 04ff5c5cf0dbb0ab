"""The gate webhook: POST an order, get approved, blocked or review with reasons."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, g, jsonify, request

from connector import answers, i18n
from connector.auth import requires
from connector.bodies import object_body
from connector.context import services
from connector.openapi import SOURCE_REFUSED, documented
from connector.schemas import GateOrderSchema, OrderEventSchema, path_ids
from gating.commands import ApplyOrderEvent
from gating.errors import GateUnavailable
from gating.languages import DEFAULT_LANGUAGE
from gating.model import OrderRequest
from gating.money import quantize
from gating.reason_texts import GATE_UNAVAILABLE_ZH, reason_messages
from gating.roles import acting_source

log = logging.getLogger(__name__)
bp = Blueprint("gate", __name__, url_prefix="/api/v1/gate")

_order_schema = GateOrderSchema()
_event_schema = OrderEventSchema()


def _bounded(view: Callable[..., Any]) -> Callable[..., Any]:
    """The whole call, key lookup included, within CREDITGATE_GATE_TIMEOUT; when the store
    cannot answer in time, or at all, the answer is the fail-safe decision body, even before
    the key could be checked (the client's key is then trusted from a recent lookup, see
    connector/auth.py, or, unknown, gets the same 503: nothing is decided or recorded)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with services().clients.bounded():
            try:
                return view(*args, **kwargs)
            except GateUnavailable as exc:
                return _fail_safe(_claimed_order_id(), exc)

    return wrapper


def _claimed_order_id() -> str | None:
    """The body's order_id, unchecked, only to echo it in the fail-safe answer."""
    try:
        claimed = json.loads(request.get_data(cache=True)).get("order_id")
        claimed.encode()  # no lone surrogate: it must be writable as JSON
    except Exception:
        return None
    if isinstance(claimed, str) and 0 < len(claimed) <= 200 and claimed.isprintable():
        return claimed
    return None


@bp.post("/orders")
@_bounded
@requires("erp")
@documented(
    body=GateOrderSchema,
    answer=answers.GateDecision,
    errors={
        403: SOURCE_REFUSED,
        409: "A concurrent request changed the order; retry",
        503: (
            "The gate cannot decide now: the fail-safe outcome, nothing recorded. Answered "
            "within CREDITGATE_GATE_TIMEOUT when the database is down or does not answer, also "
            "when the API key cannot be checked (see README, API keys)",
            answers.GateDecision,
        ),
    },
)
def gate() -> Any:
    """Gate a sales order

    Decides the order and, when approved, reserves its amount. Retries are safe: an approved
    order with the same amount and currency gets its decision back; a blocked or review order is
    decided again on today's data. A new amount re-decides the order: approved, it replaces the
    reservation; blocked or review, the earlier approved reservation stands
    (`standing_reservation`). Ids are matched exactly; one with whitespace at either end is a
    422."""
    data = _order_schema.load(object_body())
    order = OrderRequest(
        source=acting_source(g.client.source, g.client.sources, data.get("source")),
        order_id=data["order_id"],
        customer_id=data["customer_id"],
        amount=data["amount"],
        currency=data["currency"],
        order_date=data.get("order_date"),
    )
    try:
        result = services().gate.decide(order, g.client.name, i18n.request_tag())
    except GateUnavailable as exc:
        return _fail_safe(order.order_id, exc)
    answer, language = result.record.response, result.record.snapshot.get("language")
    language = language or DEFAULT_LANGUAGE
    asked = i18n.request_tag()
    if result.replayed and language != asked:
        # A replay of a decision written in another language (a desk's release, another key's
        # call): the same decision, codes and figures, its messages worded in this caller's
        # language from the stored rules. The stored record stays as it was.
        rules = result.record.snapshot.get("rules") or []
        answer = {**answer, "reasons": reason_messages(answer["reasons"], rules, asked)}
        language = asked
    response = jsonify(answer)
    response.headers["Content-Language"] = language
    response.headers["X-Creditgate-Replayed"] = "true" if result.replayed else "false"
    if not result.replayed:
        g.decision = result.record  # counted by the metrics hook (connector/observability.py)
    return response


def _unavailable_message(exc: GateUnavailable) -> str:
    try:
        chinese = i18n.request_tag() == "zh-CN"
    except Exception:  # the answer must go out whatever else fails
        chinese = False
    if chinese:
        return GATE_UNAVAILABLE_ZH.format(detail=exc)
    return f"the credit gate cannot decide now ({exc})"


def _fail_safe(order_id: str | None, exc: GateUnavailable) -> Any:
    """Answer within the bounded time with the configured outcome; nothing was recorded."""
    application = services()
    log.error("gate unavailable for order %s: %s", order_id, exc)
    body = {
        "decision_id": None,
        "order_id": order_id,
        "outcome": application.gate.fail_safe_outcome,
        "reasons": [{"code": "GATE_UNAVAILABLE", "message": _unavailable_message(exc)}],
        "customer": None,
        "decided_at": application.clock().isoformat(),
    }
    response = jsonify(body)
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return response


@bp.post("/orders/<path:order_id>/events")
@requires("erp")
@documented(
    body=OrderEventSchema,
    answer=answers.OrderEventResult,
    errors={403: SOURCE_REFUSED, 404: "The order was never gated"},
)
def order_event(order_id: str) -> Any:
    """Tell the gate an order was cancelled or invoiced

    `cancelled` releases the order's reservation. `invoiced` releases nothing: the amount stays
    counted until an invoice carrying the order's reference is synced or imported, or until
    `max_data_age_hours` after the event. Idempotent."""
    path_ids(order_id=order_id)
    data = _event_schema.load(object_body())
    source = acting_source(g.client.source, g.client.sources, data.get("source"))
    answer = services().gate.order_event(
        ApplyOrderEvent(source, order_id, data["event"], g.client.name)
    )
    currency = answer.before.currency
    body: dict[str, Any] = {
        "order_id": order_id,
        "event": data["event"],
        "status": answer.status,
        # In the currency's minor units either way: "0.00", never "0", when nothing was released.
        "released": str(quantize(answer.released, currency)),
        "currency": currency,
    }
    if answer.counted_until is not None:  # invoiced, awaiting its invoice here
        body["counted_until"] = answer.counted_until.isoformat()
    return jsonify(body)
