"""Admin endpoints: the thresholds the gate decides by, versioned with who changed them and why."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from connector.auth import requires
from connector.errors import error_body
from connector.gate import object_body
from connector.schemas import ThresholdsChangeSchema, VersionsQuerySchema
from gating.policy import InvalidThresholds

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")
_change = ThresholdsChangeSchema()
_versions_query = VersionsQuerySchema()


def _version(row: dict[str, Any]) -> dict[str, Any]:
    zone = current_app.extensions["creditgate"].settings.zone
    return {
        "version": row["version"],
        "created_at": row["created_at"].astimezone(zone).isoformat(),
        "created_by": row["created_by"],
        "reason": row["reason"],
        "thresholds": row["document"],
    }


def _exact(value: Any) -> Any:
    """Numbers with a fraction arrive as Decimal (never float): stored as their exact text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return value


@bp.get("/thresholds")
@requires("admin")
def thresholds() -> Any:
    """The active version: the one the next decision will use."""
    services = current_app.extensions["creditgate"]
    (active,) = services.thresholds_versions(1)  # init-db always stores a first version
    return jsonify(_version(active))


@bp.put("/thresholds")
@requires("admin")
def change_thresholds() -> Any:
    """Store a complete thresholds document as the new active version."""
    data = _change.load(object_body())
    services = current_app.extensions["creditgate"]
    try:
        version = services.set_thresholds(
            _exact(data["thresholds"]), g.client.name, data["reason"].strip()
        )
    except InvalidThresholds as exc:
        fields = {f"thresholds.{key}": [message] for key, message in exc.errors.items()}
        names = ", ".join(sorted(fields))
        return jsonify(error_body("validation_failed", f"invalid fields: {names}", fields)), 422
    (stored,) = services.thresholds_versions(1, version)
    return jsonify(_version(stored))


@bp.get("/thresholds/versions")
@requires("admin")
def threshold_versions() -> Any:
    """Every version, newest first: who changed the thresholds, when, why, and to what."""
    args = _versions_query.load(request.args.to_dict())
    services = current_app.extensions["creditgate"]
    rows = services.thresholds_versions(args.get("limit", 50))
    return jsonify({"versions": [_version(r) for r in rows]})
