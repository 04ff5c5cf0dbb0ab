"""Read endpoints for admins and auditors: a customer's credit position and recorded decisions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request

from connector import answers
from connector.auth import requires
from connector.context import services
from connector.openapi import documented
from connector.schemas import (
    CreditQuerySchema,
    OutboxQuerySchema,
    SyncRunsQuerySchema,
    WarningsQuerySchema,
    path_ids,
)

bp = Blueprint("reads", __name__, url_prefix="/api/v1")
_query = CreditQuerySchema()
_runs_query = SyncRunsQuerySchema()
_warnings_query = WarningsQuerySchema()
_outbox_query = OutboxQuerySchema()


def _json_ready(value: Any) -> Any:
    """Amounts as strings, dates as ISO 8601: never a float in an auditor's answer."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


@bp.get("/customers/<path:customer_id>/credit")
@requires("admin", "auditor", "credit_specialist", "credit_manager")
@documented(
    query=CreditQuerySchema, answer=answers.CustomerCredit, errors={404: "No such customer"}
)
def customer_credit(customer_id: str) -> Any:
    """A customer's credit position"""
    path_ids(customer_id=customer_id)
    args = _query.load(request.args.to_dict())
    position = services().reads.credit_position(args.get("source", g.client.source), customer_id)
    return jsonify(_json_ready(dict(position)))


@bp.get("/sync/runs")
@requires("admin")
@documented(query=SyncRunsQuerySchema, answer=answers.SyncRuns)
def sync_runs() -> Any:
    """Recent sync runs, newest first"""
    args = _runs_query.load(request.args.to_dict())
    runs = services().reads.sync_runs(
        source=args.get("source"), status=args.get("status"), limit=args.get("limit", 50)
    )
    return jsonify({"runs": [_json_ready(r) for r in runs]})


@bp.get("/warnings")
@requires("admin", "auditor")
@documented(query=WarningsQuerySchema, answer=answers.Warnings)
def warnings() -> Any:
    """Every customer's current warning level and its reasons (filter: ?level=red)."""
    args = _warnings_query.load(request.args.to_dict())
    rows = services().reads.warnings(level=args.get("level"), limit=args.get("limit", 500))
    return jsonify({"warnings": [_json_ready(r) for r in rows]})


@bp.get("/outbox")
@requires("admin", "auditor")
@documented(query=OutboxQuerySchema, answer=answers.Outbox)
def outbox() -> Any:
    """Pushes to ERPs and CRMs, newest first (filter: ?status=pending|failed|delivered)."""
    args = _outbox_query.load(request.args.to_dict())
    rows = services().reads.outbox(
        status=args.get("status"), target=args.get("target"), limit=args.get("limit", 500)
    )
    return jsonify({"outbox": [_json_ready(r) for r in rows]})


@bp.get("/decisions/<decision_id>")
@requires("admin", "auditor", "credit_specialist", "credit_manager")
@documented(answer=answers.DecisionRecord, errors={404: "No such decision"})
def decision(decision_id: str) -> Any:
    """One recorded decision with its full snapshot"""
    path_ids(decision_id=decision_id)
    application = services()
    record = application.reads.decision(decision_id)
    return jsonify(
        {
            "decision_id": record.id,
            "source": record.source,
            "order_id": record.order_id,
            "customer_id": record.customer_id,
            "outcome": record.outcome.value,
            "reason_codes": list(record.reason_codes),
            "decided_at": record.decided_at.astimezone(application.settings.zone).isoformat(),
            "thresholds_version": record.thresholds_version,
            "caller": record.caller,
            "previous_decision_id": record.previous_id,
            "response": record.response,
            "inputs": record.snapshot.get("inputs"),
            "rules": record.snapshot.get("rules"),
            "reserved": record.snapshot.get("reserved"),
            **({"shadow": record.snapshot["shadow"]} if "shadow" in record.snapshot else {}),
        }
    )
