"""Admin endpoints: the thresholds the gate decides by, versioned with who changed them and why."""

from __future__ import annotations

from datetime import tzinfo
from decimal import Decimal
from typing import Any

from flask import Blueprint, g, jsonify, request

from connector import answers
from connector.auth import requires
from connector.bodies import object_body
from connector.context import services
from connector.errors import error_body
from connector.openapi import documented
from connector.schemas import (
    PeriodQuerySchema,
    SimulateSchema,
    ThresholdsChangeSchema,
    VersionsQuerySchema,
)
from gating.audit import Period
from gating.commands import ChangeThresholds
from gating.policy import InvalidThresholds
from gating.whatif import WhatIf

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")
_change = ThresholdsChangeSchema()
_versions_query = VersionsQuerySchema()
_simulate = SimulateSchema()
_shadow_query = PeriodQuerySchema()


def _version(row: dict[str, Any]) -> dict[str, Any]:
    zone = services().settings.zone
    return {
        "version": row["version"],
        "created_at": row["created_at"].astimezone(zone).isoformat(),
        "created_by": row["created_by"],
        "reason": row["reason"],
        "thresholds": row["document"],
    }


def _fields(exc: InvalidThresholds) -> dict[str, list[str]]:
    """The document's bad fields, named as the request's (`thresholds.<field>`)."""
    return {f"thresholds.{key}": [message] for key, message in exc.errors.items()}


def _refused(message: str, fields: dict[str, list[str]]) -> Any:
    return jsonify(error_body("validation_failed", message, fields)), 422


def exact_numbers(value: Any) -> Any:
    """Numbers with a fraction arrive as Decimal (never float): stored as their exact text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: exact_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exact_numbers(v) for v in value]
    return value


@bp.get("/thresholds")
@requires("admin")
@documented(answer=answers.ThresholdsVersion)
def thresholds() -> Any:
    """The active version: the one the next decision will use."""
    return jsonify(_version(services().reads.active_thresholds_version()))


@bp.put("/thresholds")
@requires("admin")
@documented(
    body=ThresholdsChangeSchema,
    answer=answers.ThresholdsVersion,
    errors={409: "Another version was saved since `base_version`"},
)
def change_thresholds() -> Any:
    """Store a complete thresholds document as the new active version.

    Every change is a new version recording who made it (the API client), when and why;
    decisions name the version they used. A bad document is refused whole, with each bad field
    named as `thresholds.<field>`. Amounts are strings, or numbers kept exactly as written."""
    data = _change.load(object_body())
    application = services()
    try:
        version = application.writes.change_thresholds(
            ChangeThresholds(
                exact_numbers(data["thresholds"]),
                g.client.name,
                data["reason"].strip(),
                data.get("base_version"),
            )
        )
    except InvalidThresholds as exc:
        fields = _fields(exc)
        return _refused(f"invalid fields: {', '.join(sorted(fields))}", fields)
    (stored,) = application.reads.thresholds_versions(1, version)
    return jsonify(_version(stored))


@bp.get("/thresholds/versions")
@requires("admin")
@documented(query=VersionsQuerySchema, answer=answers.ThresholdsVersions)
def threshold_versions() -> Any:
    """Every version, newest first: who changed the thresholds, when, why, and to what."""
    args = _versions_query.load(request.args.to_dict())
    rows = services().reads.thresholds_versions(args.get("limit", 50))
    return jsonify({"versions": [_version(r) for r in rows]})


@bp.post("/thresholds/simulate")
@requires("admin")
@documented(body=SimulateSchema, answer=answers.Simulation)
def simulate() -> Any:
    """What-if: replay a period's decisions under a proposed document.

    Each order's last decision in the period is decided again on the numbers it recorded, by the
    gate's own rules under the proposal; nothing is stored. Each is replayed on its own: a
    changed approval does not flow into later decisions. The answer says how many would change,
    by reason and amount, and which."""
    data = _simulate.load(object_body())
    application = services()
    zone = application.settings.zone
    try:
        result = application.reads.simulate(
            exact_numbers(data["thresholds"]), Period(data["first"], data["last"])
        )
    except InvalidThresholds as exc:
        return _refused(str(exc), _fields(exc))
    return jsonify(_what_if(result, Period(data["first"], data["last"]), zone))


@bp.get("/thresholds/shadow")
@requires("admin")
@documented(query=PeriodQuerySchema, answer=answers.Simulation)
def shadow() -> Any:
    """How the active version's shadow decided beside it: each order's last decision in the
    period (default: every day) against what the shadow recorded for it."""
    args = _shadow_query.load(request.args.to_dict())
    application = services()
    period = Period(args.get("first"), args.get("last"))
    result = application.reads.shadow_report(period)
    return jsonify(_what_if(result, period, application.settings.zone))


def _what_if(result: WhatIf, period: Period, zone: tzinfo) -> dict[str, Any]:
    return {
        "from": period.first.isoformat() if period.first else None,
        "to": period.last.isoformat() if period.last else None,
        "decisions": result.decisions,
        "changed": result.changed,
        "approximate": result.approximate,
        "transitions": dict(result.transitions),
        "reasons_added": dict(result.reasons_added),
        "reasons_removed": dict(result.reasons_removed),
        "amounts": {
            move: {cur: str(amount) for cur, amount in sorted(by.items())}
            for move, by in result.amounts.items()
        },
        "orders": [
            {
                **row,
                "decided_at": row["decided_at"].astimezone(zone).isoformat(),
                "amount": str(row["amount"]),
            }
            for row in result.orders
        ],
        "skipped": result.skipped,
        "truncated": result.truncated,
    }
