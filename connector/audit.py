"""Auditor endpoints: every gate decision and every audit event, filtered, paged, exported
(CSV or .xlsx, connector/exports.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response, current_app, request

from connector import answers, exports
from connector.auth import requires
from connector.context import services
from connector.openapi import documented
from connector.schemas import (
    AuditDecisionsExportSchema,
    AuditDecisionsQuerySchema,
    AuditEventsExportSchema,
    AuditEventsQuerySchema,
    path_ids,
)

bp = Blueprint("audit", __name__, url_prefix="/api/v1/audit")
_decisions_query = AuditDecisionsQuerySchema()
_events_query = AuditEventsQuerySchema()
_decisions_export = AuditDecisionsExportSchema()
_events_export = AuditEventsExportSchema()

DECISION_FIELDS = (
    "decision_id",
    "decided_at",
    "source",
    "order_id",
    "customer_id",
    "amount",
    "currency",
    "outcome",
    "reason_codes",
    "credit_currency",
    "credit_limit",
    "exposure",
    "available",
    "thresholds_version",
    "caller",
    "previous_decision_id",
)
# Each amount's currency field (the customer's figures are in its credit currency).
DECISION_AMOUNTS = {
    "amount": "currency",
    "credit_limit": "credit_currency",
    "exposure": "credit_currency",
    "available": "credit_currency",
}
EVENT_FIELDS = ("event_id", "occurred_at", "actor", "action", "subject", "details")


def decision_row(row: dict[str, Any]) -> dict[str, Any]:
    zone = services().settings.zone
    return {
        "decision_id": row["id"],
        "decided_at": row["decided_at"].astimezone(zone).isoformat(),
        "source": row["source"],
        "order_id": row["order_id"],
        "customer_id": row["customer_id"],
        "amount": row["amount"],
        "currency": row["currency"],
        "outcome": row["outcome"],
        "reason_codes": [c for c in row["reason_codes"].split(",") if c],
        "credit_currency": row["credit_currency"],
        "credit_limit": row["credit_limit"],
        "exposure": row["exposure"],
        "available": row["available"],
        "thresholds_version": row["thresholds_version"],
        "caller": row["caller"],
        "previous_decision_id": row["previous_id"],
    }


def event_row(row: dict[str, Any]) -> dict[str, Any]:
    zone = services().settings.zone
    return {
        "event_id": row["id"],
        "occurred_at": row["occurred_at"].astimezone(zone).isoformat(),
        "actor": row["actor"],
        "action": row["action"],
        "subject": row["subject"],
        "details": row["details"],
    }


@bp.get("/decisions")
@requires("auditor", "admin")
@documented(query=AuditDecisionsQuerySchema, answer=answers.DecisionRows)
def decisions() -> Any:
    """Matching decisions, newest first; `next` is the `before` of the following page."""
    args = _decisions_query.load(request.args.to_dict())
    rows, after = services().reads.audit_decisions(args["query"], args["limit"], args["before"])
    return _unescaped({"decisions": [decision_row(r) for r in rows], "next": after})


@bp.get("/events")
@requires("auditor", "admin")
@documented(query=AuditEventsQuerySchema, answer=answers.AuditEvents)
def events() -> Any:
    """Audit events (threshold changes, API keys, ...), newest first, paged like decisions."""
    args = _events_query.load(request.args.to_dict())
    rows, after = services().reads.audit_events(args["query"], args["limit"], args["before"])
    return _unescaped({"events": [event_row(r) for r in rows], "next": after})


@bp.get("/decisions.<file_format>")
@requires("auditor", "admin")
@documented(query=AuditDecisionsExportSchema, media=tuple(exports.MEDIA.values()))
def decisions_export(file_format: str) -> Any:
    """Every matching decision, oldest first, as `decisions.csv` or `decisions.xlsx`

    CSV in UTF-8 with a byte order mark, streamed: a year exports in constant memory. The
    .xlsx (for Excel) is written row by row too, its amounts as numbers. Each row has the order's
    amount and currency and the customer's credit figures in the customer's credit currency."""
    path_ids(file_format=file_format)
    query = _decisions_export.load(request.args.to_dict())["query"]
    return export_decisions(file_format, services().reads.export_decisions(query))


@bp.get("/events.<file_format>")
@requires("auditor", "admin")
@documented(query=AuditEventsExportSchema, media=tuple(exports.MEDIA.values()))
def events_export(file_format: str) -> Any:
    """Every matching audit event, oldest first, as `events.csv` or `events.xlsx`

    Streamed like the decisions; each event's details as JSON, its text as written (an amount
    in them is beside its currency)."""
    path_ids(file_format=file_format)
    query = _events_export.load(request.args.to_dict())["query"]
    return export_events(file_format, services().reads.export_events(query))


def export_decisions(file_format: str, rows: Iterable[dict[str, Any]]) -> Response:
    """`rows` (the reads' export) as the decisions file in `file_format`."""
    return exports.export_response(
        "decisions", file_format, DECISION_FIELDS, rows, decision_row, DECISION_AMOUNTS
    )


def export_events(file_format: str, rows: Iterable[dict[str, Any]]) -> Response:
    """`rows` (the reads' export) as the events file in `file_format`."""
    return exports.export_response("events", file_format, EVENT_FIELDS, rows, event_row)


def _unescaped(body: dict[str, Any]) -> Response:
    """`body` as JSON like `jsonify`, but with its text as written: a Chinese reason in an
    event's details is readable in the answer, not `\\uXXXX` escapes. Only a lone surrogate
    (exports.SURROGATE), which UTF-8 cannot hold, stays escaped, as JSON allows."""
    found = exports.SURROGATE.sub(
        lambda lone: f"\\u{ord(lone.group()):04x}",
        current_app.json.dumps(body, ensure_ascii=False),
    )
    return current_app.response_class(found + "\n", mimetype="application/json")
