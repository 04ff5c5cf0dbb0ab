"""Auditor endpoints: every gate decision and every audit event, filtered, paged, exported."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context

from connector import answers
from connector.auth import requires
from connector.context import services
from connector.openapi import documented
from connector.schemas import (
    AuditDecisionsExportSchema,
    AuditDecisionsQuerySchema,
    AuditEventsExportSchema,
    AuditEventsQuerySchema,
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
    "outcome",
    "reason_codes",
    "thresholds_version",
    "caller",
    "previous_decision_id",
)
EVENT_FIELDS = ("event_id", "occurred_at", "actor", "action", "subject", "details")
_ROWS_PER_CHUNK = 500


def decision_row(row: dict[str, Any]) -> dict[str, Any]:
    zone = services().settings.zone
    return {
        "decision_id": row["id"],
        "decided_at": row["decided_at"].astimezone(zone).isoformat(),
        "source": row["source"],
        "order_id": row["order_id"],
        "customer_id": row["customer_id"],
        "outcome": row["outcome"],
        "reason_codes": [c for c in row["reason_codes"].split(",") if c],
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
    return jsonify({"decisions": [decision_row(r) for r in rows], "next": after})


@bp.get("/events")
@requires("auditor", "admin")
@documented(query=AuditEventsQuerySchema, answer=answers.AuditEvents)
def events() -> Any:
    """Audit events (threshold changes, API keys, ...), newest first, paged like decisions."""
    args = _events_query.load(request.args.to_dict())
    rows, after = services().reads.audit_events(args["query"], args["limit"], args["before"])
    return jsonify({"events": [event_row(r) for r in rows], "next": after})


@bp.get("/decisions.csv")
@requires("auditor", "admin")
@documented(query=AuditDecisionsExportSchema, media="text/csv")
def decisions_csv() -> Any:
    """Every matching decision, oldest first, streamed: a year exports in constant memory."""
    query = _decisions_export.load(request.args.to_dict())["query"]
    rows = services().reads.export_decisions(query)
    return csv_response("decisions.csv", DECISION_FIELDS, rows, decision_row)


@bp.get("/events.csv")
@requires("auditor", "admin")
@documented(query=AuditEventsExportSchema, media="text/csv")
def events_csv() -> Any:
    """Every matching audit event, oldest first, streamed."""
    query = _events_export.load(request.args.to_dict())["query"]
    rows = services().reads.export_events(query)
    return csv_response("events.csv", EVENT_FIELDS, rows, event_row)


def csv_response(
    name: str,
    header: tuple[str, ...],
    rows: Iterable[dict[str, Any]],
    shape: Callable[[dict[str, Any]], dict[str, Any]],
) -> Response:
    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for n, row in enumerate(rows, 1):
            item = shape(row)
            writer.writerow([_cell(item[field]) for field in header])
            if n % _ROWS_PER_CHUNK == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(chunks()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# A cell a spreadsheet would run as a formula: one that starts with a tab or CR, or whose first
# character after any blanks (spreadsheets skip them) is = + - @ or their full-width forms, which
# some spreadsheets read as the ASCII ones.
_FORMULA = re.compile(r"[\t\r]|[\s\u200b\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20]").match


def _cell(value: Any) -> str:
    """One CSV cell. Text a spreadsheet would run as a formula is prefixed with a quote: ids and
    names come from ERPs and API clients, and the file is opened in Excel."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, sort_keys=True, default=str)
    text = str(value)
    if _FORMULA(text):
        return "'" + text
    return text
