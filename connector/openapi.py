"""The OpenAPI 3.1 document for every endpoint, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from connector.auth import requires
from connector.schemas import URL_ID_PATTERN
from gating.model import EXPOSURE_COMPONENTS
from gating.push import LEVELS
from gating.roles import ROLES

bp = Blueprint("openapi", __name__)

# ASCII digits only: Python's \d (schemathesis) also takes full-width and Arabic-Indic digits.
_amount = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "examples": ["12500.00"]}
_nullable_amount = {"oneOf": [_amount, {"type": "null"}]}
# More than zero, as an order's amount and a release's cap must be.
_positive_amount = {
    "oneOf": [
        {**_amount, "pattern": r"^([0-9]*[1-9][0-9]*(\.[0-9]+)?|[0-9]+\.[0-9]*[1-9][0-9]*)$"},
        {"type": "number", "exclusiveMinimum": 0},
    ]
}
# An identifier as connector/schemas.py takes it (order, customer, decision, source, target):
# 1 to 100 characters, none of them a control character, no whitespace at either end (ids are
# matched exactly, so "C-100 " is refused rather than taken for another customer).
_id = {
    "type": "string",
    "minLength": 1,
    "maxLength": 100,
    "pattern": r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$",
}
# An order or customer id: it also travels in URL paths (connector/schemas.py URL_ID_PATTERN).
_url_id = {**_id, "allOf": [{"pattern": URL_ID_PATTERN}]}
_erp_source = {
    **_id,
    "description": "defaults to the API key's own source; another is a 403 unless the key was "
    "granted it (`creditgate apikey create --sources a,b`)",
}
# Why a person did something: not blank.
_why = {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": r"\S"}


_LADDER_DAYS = ("reminder_days", "notice_days", "yellow_days", "orange_days", "red_days")
_amount_in = {"anyOf": [_amount, {"type": "number"}]}
_PARTY_SETTINGS: dict[str, Any] = {
    "overdue_days": {"type": "integer", "minimum": 0},
    "overdue_tolerance": _amount_in,
    "review_band": _amount_in,
    "trial_amount": {"anyOf": [_amount_in, {"type": "null"}]},
    "max_data_age_hours": {"type": ["integer", "null"], "minimum": 1},
    "stale_data_outcome": {"enum": ["review", "blocked"]},
    "approval_tiers": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["amount", "role"],
            "additionalProperties": False,
            "properties": {"amount": _amount_in, "role": {"type": "string", "minLength": 1}},
        },
    },
    "reservation_days": {"type": "integer", "minimum": 1},
    "exposure_components": {
        "type": "array",
        "uniqueItems": True,
        "items": {"enum": list(EXPOSURE_COMPONENTS)},
        "contains": {"const": "open_invoices"},
    },
    "warnings": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **{key: {"type": "integer", "minimum": 0} for key in _LADDER_DAYS},
            "yellow_utilization": _amount_in,
        },
    },
}
_GLOBAL_ONLY = {"base_currency", "overdue_count_cap"}
_OPTIONAL_SETTINGS = {"warnings", "exposure_components"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": _json(_ref("Error"), "The body is not a JSON object"),
    "401": _json(
        _ref("Error"),
        "Missing or unknown API key, or a bad, expired or replayed signature (a nonce used twice)",
    ),
    "403": _json(_ref("Error"), "The key's role may not call this endpoint"),
    "413": _json(_ref("Error"), "The body is larger than 64 KiB"),
    "422": _json(
        _ref("Error"),
        "Invalid fields, each named under `fields` by its path in the body "
        "(`thresholds.overrides.customers.C-1`): also a key given twice, a lone surrogate, "
        "a number with an exponent, nesting deeper than 32 levels",
    ),
}
_READ_ERRORS = {k: v for k, v in _ERRORS.items() if k in ("401", "403", "422")}
# The gate and order events: an erp key acts for its own source only, unless it was granted more.
_ERP_ERRORS = {
    **_ERRORS,
    "403": _json(
        _ref("Error"),
        "The key's role may not call this endpoint, or `source` names a source the key was not "
        "granted (`fields.source` says so)",
    ),
}

_RELEASERS = "roles admin, credit_specialist, credit_manager"


def _hold_action(summary: str, body: str, description: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": f"{summary} ({_RELEASERS})",
            "description": description,
            "security": [{"apiKey": []}],
            "parameters": [_path_param("order_id")],
            "requestBody": {"required": True, **_json(_ref(body), "The action")},
            "responses": {
                "200": _json(_ref("HoldAnswer"), "The decision it recorded"),
                **_ERRORS,
                "404": _json(_ref("Error"), "The order was never gated"),
                "409": _json(_ref("Error"), "The order is not held (any more)"),
            },
        }
    }


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "array"}},
        },
    },
    "ThresholdsVersion": {
        "type": "object",
        "required": ["version", "created_at", "created_by", "reason", "thresholds"],
        "properties": {
            "version": {"type": "integer", "minimum": 1},
            "created_at": {"type": "string", "format": "date-time"},
            "created_by": {"type": "string"},
            "reason": {"type": "string"},
            "thresholds": _ref("ThresholdsDocument"),
        },
    },
    "ThresholdsDocument": {
        "type": "object",
        "description": (
            "The global settings, and `overrides`: per-group and per-customer settings (by the "
            "source's id for the group or customer) laid over them, the customer's over its "
            "group's. Amounts without their own currency are in `base_currency`."
        ),
        "required": sorted(_GLOBAL_ONLY | set(_PARTY_SETTINGS) - _OPTIONAL_SETTINGS),
        "additionalProperties": False,
        "properties": {
            "base_currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "overdue_count_cap": {"type": "integer", "minimum": 1},
            "fail_safe_outcome": {
                "enum": ["approved", "review", "blocked", None],
                "description": "The outcome a 503 carries when the store cannot be read; null: "
                "the server's CREDITGATE_FAIL_SAFE_OUTCOME",
            },
            **_PARTY_SETTINGS,
            "shadow": {
                "type": "object",
                "description": "A proposed document run beside this one until the end of "
                "`until`: each decision records what it would have decided; answers unchanged",
                "required": ["name", "until", "thresholds"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "until": {"type": "string", "format": "date"},
                    "thresholds": {"type": "object"},
                },
            },
            "overrides": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    kind: {"type": "object", "additionalProperties": _ref("PartySettings")}
                    for kind in ("groups", "customers")
                },
            },
        },
    },
    "PartySettings": {
        "type": "object",
        "description": "A group's or customer's own settings; those left out are inherited",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": _PARTY_SETTINGS,
    },
    "ThresholdsChange": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reason", "thresholds"],
        "properties": {
            "reason": _why,
            "thresholds": {
                **_ref("ThresholdsDocument"),
                "description": "The complete document, as GET returns it under `thresholds`",
            },
            "base_version": {
                "type": "integer",
                "minimum": 1,
                "maximum": 2**31 - 1,
                "description": "The version this change was made from: refused with 409 if "
                "another version was saved since",
            },
        },
    },
    "DecisionRow": {
        "type": "object",
        "required": ["decision_id", "decided_at", "outcome", "reason_codes", "thresholds_version"],
        "properties": {
            "decision_id": {"type": "string"},
            "decided_at": {"type": "string", "format": "date-time"},
            "source": {"type": "string"},
            "order_id": {"type": "string"},
            "customer_id": {"type": "string"},
            "outcome": {"type": "string", "enum": ["approved", "blocked", "review"]},
            "reason_codes": {"type": "array", "items": {"type": "string"}},
            "thresholds_version": {"type": "integer"},
            "caller": {"type": "string"},
            "previous_decision_id": {"type": ["string", "null"]},
        },
    },
    "AuditEvent": {
        "type": "object",
        "required": ["event_id", "occurred_at", "actor", "action", "subject", "details"],
        "properties": {
            "event_id": {"type": "integer"},
            "occurred_at": {"type": "string", "format": "date-time"},
            "actor": {"type": "string"},
            "action": {"type": "string"},
            "subject": {"type": "string"},
            "details": {"type": "object"},
        },
    },
    "HeldOrder": {
        "type": "object",
        "required": ["order_id", "customer_id", "amount", "currency", "outcome", "decision_id"],
        "properties": {
            "order_id": {"type": "string"},
            "source": {"type": "string"},
            "customer_id": {"type": "string"},
            "amount": _amount,
            "currency": {"type": "string"},
            "outcome": {"type": "string", "enum": ["review", "blocked"]},
            "decision_id": {"type": "string"},
            "decided_at": {"type": "string", "format": "date-time"},
            "reasons": {"type": "array", "items": _ref("Reason")},
        },
    },
    "HoldAction": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reason"],
        "properties": {
            "reason": _why,
            "source": {**_id, "description": "defaults to the API client's source"},
            "decision_id": {
                **_id,
                "description": "The held decision you looked at: refused with 409 if the order "
                "was decided again since",
            },
        },
    },
    "Release": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reason"],
        "properties": {
            "reason": _why,
            "source": _id,
            "decision_id": _id,
            "cap": {
                **_positive_amount,
                "description": "The most the release approves, in the order's currency (at "
                "least the order's amount; later amendments above it are decided by the rules); "
                "less than 10^14, with at most 3 decimal places",
            },
            "expires_on": {
                "type": "string",
                "format": "date",
                "description": "The last day the release holds (business time zone); its "
                "reservation lapses after it",
            },
        },
    },
    "HoldAnswer": {
        "type": "object",
        "required": ["action", "decision", "notified"],
        "properties": {
            "action": {
                "enum": [
                    "released",
                    "rejected",
                    "release_not_applied",
                    "reevaluated",
                    "auto_released",
                ]
            },
            "decision": _ref("GateDecision"),
            "notified": {
                "type": "boolean",
                "description": "A notice was queued for the ERP's callback URL",
            },
        },
    },
    "Reevaluate": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"source": _id},
    },
    "Reevaluation": {
        "type": "object",
        "required": ["checked", "released", "errors"],
        "properties": {
            "checked": {"type": "integer"},
            "released": {"type": "array", "items": {"type": "string"}},
            "errors": {"type": "array", "items": {"type": "string"}},
        },
    },
    "CustomerHold": {
        "type": "object",
        "additionalProperties": False,
        "required": ["on_hold", "reason"],
        "properties": {
            "on_hold": {"type": "boolean"},
            "reason": _why,
            "source": _id,
        },
    },
    "CustomerHoldResult": {
        "type": "object",
        "required": ["customer_id", "source", "on_hold", "reason"],
        "properties": {
            "customer_id": {"type": "string"},
            "source": {"type": "string"},
            "on_hold": {"type": "boolean"},
            "reason": {"type": "string"},
        },
    },
    "GateOrder": {
        "type": "object",
        "additionalProperties": False,
        "required": ["order_id", "customer_id", "amount", "currency"],
        "properties": {
            "order_id": _url_id,
            "customer_id": _url_id,
            "amount": _positive_amount,
            "currency": {"type": "string", "minLength": 3, "maxLength": 3, "examples": ["CNY"]},
            "source": _erp_source,
            "order_date": {"type": "string", "format": "date"},
        },
    },
    "Reason": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {
                "type": "string",
                "enum": [
                    "CUSTOMER_ON_HOLD",
                    "OVERDUE_INVOICES",
                    "CREDIT_LIMIT_EXCEEDED",
                    "GROUP_LIMIT_EXCEEDED",
                    "UNKNOWN_CUSTOMER",
                    "NO_CREDIT_LIMIT",
                    "STALE_DATA",
                    "APPROVAL_REQUIRED",
                    "RELEASED_BY",
                    "REJECTED_BY",
                    "GATE_UNAVAILABLE",
                ],
            },
            "message": {"type": "string"},
        },
    },
    "GateDecision": {
        "type": "object",
        "required": ["decision_id", "order_id", "outcome", "reasons", "customer", "decided_at"],
        "properties": {
            "decision_id": {"type": ["string", "null"]},
            "order_id": {
                "type": ["string", "null"],
                "description": "null only in a fail-safe 503 whose body could not be read",
            },
            "outcome": {"type": "string", "enum": ["approved", "blocked", "review"]},
            "reasons": {"type": "array", "items": _ref("Reason")},
            "customer": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["id", "currency", "credit_limit", "exposure", "available"],
                        "properties": {
                            "id": {"type": "string"},
                            "currency": {"type": "string"},
                            "credit_limit": _nullable_amount,
                            "exposure": _amount,
                            "available": _nullable_amount,
                        },
                    },
                ]
            },
            "decided_at": {"type": "string", "format": "date-time"},
            "standing_reservation": {
                "type": "object",
                "description": "Only on a blocked or review amendment of an order approved "
                "earlier: that approval still stands (the ERP keeps the order at its last "
                "approved amount), and its reservation stays counted in `customer.exposure` "
                "until the order is cancelled, invoiced, lapses at `expires_at`, or is approved "
                "at a new amount. `amount` is what it still reserves.",
                "required": ["amount", "currency", "customer_id", "decision_id", "expires_at"],
                "properties": {
                    "amount": _amount,
                    "currency": {"type": "string"},
                    "customer_id": {"type": "string"},
                    "decision_id": {"type": "string", "description": "the approving decision"},
                    "expires_at": {"type": ["string", "null"], "format": "date-time"},
                },
            },
        },
    },
    "OrderEvent": {
        "type": "object",
        "additionalProperties": False,
        "required": ["event"],
        "properties": {
            "event": {"type": "string", "enum": ["cancelled", "invoiced"]},
            "source": _erp_source,
        },
    },
    "OrderEventResult": {
        "type": "object",
        "required": ["order_id", "event", "status", "released", "currency"],
        "properties": {
            "order_id": {"type": "string"},
            "event": {"type": "string"},
            "status": {
                "type": "string",
                "description": "The order's status after the event: `cancelled`, `invoiced`, "
                "`invoiced_awaiting_sync` (invoiced at the ERP, still counted until its invoice "
                "is synced or imported, or until `counted_until`), or the status it kept "
                "(`expired`, `rejected`) when the event changed nothing",
            },
            "released": {
                **_amount,
                "description": "What the event released: the reservation on `cancelled`; "
                "always 0 on `invoiced` (the amount counts until the invoice is loaded)",
            },
            "currency": {"type": "string"},
            "counted_until": {
                "type": "string",
                "format": "date-time",
                "description": "Only while `invoiced_awaiting_sync`: when the amount stops "
                "counting if no invoice for the order is loaded before (`max_data_age_hours` "
                "after the event, or the reservation's own expiry if sooner)",
            },
        },
    },
    "CustomerCredit": {
        "type": "object",
        "required": [
            "customer",
            "currency",
            "credit_limit",
            "exposure",
            "available",
            "overdue_invoices",
            "on_hold",
        ],
        "properties": {
            "customer": {"type": "object"},
            "currency": {"type": "string"},
            "credit_limit": _nullable_amount,
            "exposure": {
                "type": "object",
                "properties": {
                    "open_invoices": _amount,
                    "unapplied_payments": _amount,
                    "reservations": _amount,
                    "total": _amount,
                    "components": {
                        "type": "array",
                        "items": {"enum": list(EXPOSURE_COMPONENTS)},
                        "description": "What `total` counts (the thresholds' exposure_components)",
                    },
                },
            },
            "available": _nullable_amount,
            "overdue_invoices": {"type": "array", "items": {"type": "object"}},
            "invoiced_awaiting_sync": {
                "type": "array",
                "description": "Orders invoiced at the ERP whose invoice is not loaded here yet: "
                "still counted in `exposure.reservations`, by what they still reserve",
                "items": {
                    "type": "object",
                    "required": ["order_id", "amount", "currency", "counted_until"],
                    "properties": {
                        "order_id": {"type": "string"},
                        "amount": _amount,
                        "currency": {"type": "string"},
                        "counted_until": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
            },
            "overdue_days": {"type": "integer"},
            "on_hold": {"type": "boolean"},
            "hold_reason": {"type": ["string", "null"]},
            "group": {"type": ["object", "null"]},
            "last_synced_at": {"type": ["string", "null"]},
            "thresholds_version": {"type": "integer"},
            "thresholds_overrides": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The overrides applied to this customer: `group:<id>`, "
                "`customer:<id>`",
            },
        },
    },
    "SyncRun": {
        "type": "object",
        "required": ["id", "source", "entity", "status", "read", "written", "skipped", "errors"],
        "properties": {
            "id": {"type": "integer"},
            "source": {"type": "string"},
            "source_id": {"type": "integer"},
            "entity": {"type": "string"},
            "status": {"type": "string"},
            "started_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"]},
            "read": {"type": "integer"},
            "written": {"type": "integer"},
            "skipped": {"type": "integer"},
            "errors": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Warning": {
        "type": "object",
        "required": ["source", "customer_id", "level", "reasons", "since"],
        "properties": {
            "source": {"type": "string"},
            "customer_id": {"type": "string"},
            "name": {"type": "string"},
            "level": {"type": "string", "enum": list(LEVELS)},
            "reasons": {"type": "array", "items": {"type": "string"}},
            "since": {"type": "string", "format": "date-time"},
            "checked_at": {"type": "string", "format": "date-time"},
        },
    },
    "OutboxRow": {
        "type": "object",
        "required": ["id", "target", "change_id", "customer_ref", "status", "attempts"],
        "properties": {
            "id": {"type": "integer"},
            "target": {"type": "string"},
            "change_id": {"type": "string"},
            "customer_ref": {"type": "string"},
            "payload": {"type": "object", "description": "the change: level, reasons, step"},
            "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "attempts": {"type": "integer"},
            "last_error": {"type": ["string", "null"]},
            "next_attempt_at": {"type": "string", "format": "date-time"},
            "created_at": {"type": "string", "format": "date-time"},
            "delivered_at": {"type": ["string", "null"]},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "database"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "database": {"type": "string", "enum": ["ok", "unreachable"]},
            "error": {"type": "string", "description": "the error's class name, nothing more"},
        },
    },
    "DecisionRecord": {
        "type": "object",
        "required": ["decision_id", "outcome", "inputs", "rules", "thresholds_version", "caller"],
        "properties": {
            "decision_id": {"type": "string"},
            "source": {"type": "string"},
            "order_id": {"type": "string"},
            "customer_id": {"type": "string"},
            "outcome": {"type": "string"},
            "reason_codes": {"type": "array", "items": {"type": "string"}},
            "decided_at": {"type": "string", "format": "date-time"},
            "thresholds_version": {"type": "integer"},
            "caller": {"type": "string"},
            "previous_decision_id": {"type": ["string", "null"]},
            "response": _ref("GateDecision"),
            "inputs": {"type": "object"},
            "rules": {"type": "array", "items": {"type": "object"}},
            "reserved": {"type": ["object", "null"]},
            "shadow": {
                "type": "object",
                "description": "What the version's shadow decided beside it (while one ran)",
                "properties": {
                    "name": {"type": "string"},
                    "outcome": {"type": "string"},
                    "reason_codes": {"type": "array", "items": {"type": "string"}},
                    "error": {"type": "string"},
                },
            },
        },
    },
    "Simulation": {
        "type": "object",
        "description": "Each order's last decision in the period, decided again on its recorded "
        "numbers under the proposal (simulate) or as the shadow decided it (shadow)",
        "required": ["decisions", "changed", "transitions", "orders"],
        "properties": {
            "from": {"type": ["string", "null"], "format": "date"},
            "to": {"type": ["string", "null"], "format": "date"},
            "decisions": {"type": "integer"},
            "changed": {"type": "integer"},
            "approximate": {
                "type": "integer",
                "description": "Decisions recorded before snapshots kept the oldest invoice past "
                "due whatever its age: a lower overdue_days cannot be replayed on them exactly",
            },
            "transitions": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "examples": [{"blocked → approved": 12}],
            },
            "reasons_added": {"type": "object", "additionalProperties": {"type": "integer"}},
            "reasons_removed": {"type": "object", "additionalProperties": {"type": "integer"}},
            "amounts": {
                "type": "object",
                "description": "Per transition, the orders' amounts by currency",
                "additionalProperties": {"type": "object", "additionalProperties": _amount},
            },
            "orders": {
                "type": "array",
                "description": "The changed decisions (at most 500)",
                "items": {"type": "object"},
            },
            "skipped": {"type": "array", "items": {"type": "string"}},
            "truncated": {
                "type": "boolean",
                "description": "More than 200,000 decisions: only the oldest were replayed",
            },
        },
    },
    "SimulationRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["thresholds", "from", "to"],
        "properties": {
            "thresholds": _ref("ThresholdsDocument"),
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date", "description": "at most a year after from"},
        },
    },
}

_source_param = {"name": "source", "in": "query", "required": False, "schema": _id}
_limit_param = {
    "name": "limit",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1, "maximum": 5000},
}


def _path_param(name: str) -> dict[str, Any]:
    if name == "decision_id":
        return {"name": name, "in": "path", "required": True, "schema": _id}
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": _url_id,
        "description": "The id as the gate took it; a '/' in it may be sent as is or as %2F. "
        "Percent-encode '%', '?', '#', spaces and non-ASCII characters (UTF-8).",
    }


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    found = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        found["description"] = description
    return found


_PERIOD = [
    _query("from", {"type": "string", "format": "date"}, "first day, business time zone"),
    _query("to", {"type": "string", "format": "date"}, "last day, included"),
]
_DECISION_FILTERS = [
    _query("source", _id),
    _query("customer_id", _id),
    _query("order_id", _id),
    _query("outcome", {"type": "string", "enum": ["approved", "blocked", "review"]}),
    _query("reason", {"type": "string", "pattern": "^[A-Z][A-Z_]{0,49}$"}, "one reason code"),
    *_PERIOD,
]
_EVENT_FILTERS = [
    _query("action", {"type": "string", "minLength": 1, "maxLength": 50}),
    _query("actor", _id),
    _query("subject", {"type": "string", "minLength": 1, "maxLength": 300}),
    *_PERIOD,
]
_audit_limit = _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000})
_before = _query(
    "before",
    {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    "the `next` of the previous page",
)
_cursor = {"oneOf": [{"type": "integer"}, {"type": "null"}]}


def _paged_get(summary: str, key: str, item: str, filters: list[Any], what: str) -> Any:
    """A GET answering a page of `item`s under `key`, with `next` for the following page."""
    page = {
        "type": "object",
        "required": [key, "next"],
        "properties": {key: {"type": "array", "items": _ref(item)}, "next": _cursor},
    }
    return {
        "get": {
            "summary": summary,
            "security": [{"apiKey": []}],
            "parameters": [*filters, _audit_limit, _before],
            "responses": {
                "200": _json(page, f"A page of {what}; `next` is the `before` of the next page"),
                **_READ_ERRORS,
            },
        }
    }


def _csv_get(summary: str, filters: list[Any]) -> Any:
    """A GET streaming every match as CSV."""
    csv_body = {"text/csv": {"schema": {"type": "string"}}}
    return {
        "get": {
            "summary": summary,
            "security": [{"apiKey": []}],
            "parameters": filters,
            "responses": {
                "200": {"description": "CSV with a header row", "content": csv_body},
                **_READ_ERRORS,
            },
        }
    }


PATHS: dict[str, Any] = {
    "/api/v1/gate/orders": {
        "post": {
            "summary": "Gate a sales order (role erp)",
            "description": (
                "Decides the order and, when approved, reserves its amount. Retries are safe: "
                "an approved order with the same amount and currency gets its decision back; a "
                "blocked or review order is decided again on today's data. A new amount "
                "re-decides the order: approved, it replaces the reservation; blocked or review, "
                "the earlier approved reservation stands (`standing_reservation`). Ids are "
                "matched exactly; one with whitespace at either end is a 422."
            ),
            "security": [{"apiKey": []}],
            "requestBody": {"required": True, **_json(_ref("GateOrder"), "The order")},
            "responses": {
                "200": _json(_ref("GateDecision"), "The decision, with every reason"),
                **_ERP_ERRORS,
                "409": _json(_ref("Error"), "A concurrent request changed the order; retry"),
                "503": _json(
                    _ref("GateDecision"),
                    "The gate cannot decide now: the fail-safe outcome, nothing recorded. "
                    "Answered within CREDITGATE_GATE_TIMEOUT when the database is down or does "
                    "not answer, also when the API key cannot be checked (see README, API keys)",
                ),
            },
        }
    },
    "/api/v1/gate/orders/{order_id}/events": {
        "post": {
            "summary": "Tell the gate an order was cancelled or invoiced (role erp)",
            "description": (
                "`cancelled` releases the order's reservation. `invoiced` releases nothing: the "
                "amount stays counted until an invoice carrying the order's reference is synced "
                "or imported, or until `max_data_age_hours` after the event. Idempotent."
            ),
            "security": [{"apiKey": []}],
            "parameters": [_path_param("order_id")],
            "requestBody": {"required": True, **_json(_ref("OrderEvent"), "The event")},
            "responses": {
                "200": _json(_ref("OrderEventResult"), "What the event did to the reservation"),
                **_ERP_ERRORS,
                "404": _json(_ref("Error"), "The order was never gated"),
            },
        }
    },
    "/api/v1/customers/{customer_id}/credit": {
        "get": {
            "summary": "A customer's credit position (roles admin, auditor)",
            "security": [{"apiKey": []}],
            "parameters": [_path_param("customer_id"), _source_param],
            "responses": {
                "200": _json(_ref("CustomerCredit"), "Limit, exposure, overdue, hold"),
                **_READ_ERRORS,
                "404": _json(_ref("Error"), "No such customer"),
            },
        }
    },
    "/api/v1/decisions/{decision_id}": {
        "get": {
            "summary": "One recorded decision with its full snapshot (roles admin, auditor)",
            "security": [{"apiKey": []}],
            "parameters": [_path_param("decision_id")],
            "responses": {
                "200": _json(_ref("DecisionRecord"), "The decision"),
                **_READ_ERRORS,
                "404": _json(_ref("Error"), "No such decision"),
            },
        }
    },
    "/api/v1/sync/runs": {
        "get": {
            "summary": "Recent sync runs, newest first (role admin)",
            "security": [{"apiKey": []}],
            "parameters": [
                _source_param,
                {
                    "name": "status",
                    "in": "query",
                    "required": False,
                    "schema": {
                        "type": "string",
                        "enum": ["running", "succeeded", "succeeded_with_errors", "failed"],
                    },
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                },
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["runs"],
                        "properties": {"runs": {"type": "array", "items": _ref("SyncRun")}},
                    },
                    "Runs with counts and the records skipped",
                ),
                **_READ_ERRORS,
            },
        }
    },
    "/api/v1/warnings": {
        "get": {
            "summary": "Every customer's warning level and reasons (roles admin, auditor)",
            "security": [{"apiKey": []}],
            "parameters": [
                {
                    "name": "level",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": list(LEVELS)},
                },
                _limit_param,
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["warnings"],
                        "properties": {"warnings": {"type": "array", "items": _ref("Warning")}},
                    },
                    "Current levels, by source and customer",
                ),
                **_READ_ERRORS,
            },
        }
    },
    "/api/v1/outbox": {
        "get": {
            "summary": "Pushes of warning changes to ERPs and CRMs, newest first "
            "(roles admin, auditor)",
            "security": [{"apiKey": []}],
            "parameters": [
                {
                    "name": "status",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["pending", "delivered", "failed"]},
                },
                {"name": "target", "in": "query", "required": False, "schema": _id},
                _limit_param,
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["outbox"],
                        "properties": {"outbox": {"type": "array", "items": _ref("OutboxRow")}},
                    },
                    "Outbox rows with their delivery state",
                ),
                **_READ_ERRORS,
            },
        }
    },
    "/api/v1/admin/thresholds": {
        "get": {
            "summary": "The active thresholds version, the one the next decision uses (role admin)",
            "security": [{"apiKey": []}],
            "responses": {
                "200": _json(_ref("ThresholdsVersion"), "The active version"),
                **{k: v for k, v in _READ_ERRORS.items() if k != "422"},
            },
        },
        "put": {
            "summary": "Make a complete thresholds document the new active version (role admin)",
            "description": (
                "Every change is a new version recording who made it (the API client), when and "
                "why; decisions name the version they used. A bad document is refused whole, "
                "with each bad field named as `thresholds.<field>`. Amounts are strings, or "
                "numbers kept exactly as written."
            ),
            "security": [{"apiKey": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ThresholdsChange")}},
            },
            "responses": {
                "200": _json(_ref("ThresholdsVersion"), "The new version, now active"),
                **_ERRORS,
                "409": _json(_ref("Error"), "Another version was saved since `base_version`"),
            },
        },
    },
    "/api/v1/admin/holds": _paged_get(
        f"The hold list: open orders last decided review or blocked, newest first ({_RELEASERS})",
        "holds",
        "HeldOrder",
        [
            _query("source", _id),
            _query("customer_id", _id),
            _query("outcome", {"type": "string", "enum": ["review", "blocked"]}),
        ],
        "held orders with the reasons",
    ),
    "/api/v1/admin/holds/{order_id}/release": _hold_action(
        "Release a held order",
        "Release",
        "Approves the order now, over its reasons, and reserves it; the ERP's next call for it "
        "gets this decision back, reason RELEASED_BY. When an approval tier lies below the "
        "amount (or the cap), only that tier's role or a higher one's may release it: 403 "
        "otherwise. The ERP is told through its callback URL.",
    ),
    "/api/v1/admin/holds/{order_id}/reject": _hold_action(
        "Reject a held order",
        "HoldAction",
        "Blocks the order for good: every later call for it answers blocked, reason "
        "REJECTED_BY. The ERP is told through its callback URL.",
    ),
    "/api/v1/admin/holds/{order_id}/reevaluate": _hold_action(
        "Decide a held order again on today's data",
        "Reevaluate",
        "An approval releases it automatically (action auto_released), told to the ERP.",
    ),
    "/api/v1/admin/holds/reevaluate": {
        "post": {
            "summary": f"Decide every held order again ({_RELEASERS})",
            "description": "What the nightly job does after its sync: orders whose reasons are "
            "gone are released automatically, each recorded and told to the ERP.",
            "security": [{"apiKey": []}],
            "requestBody": {"required": True, **_json(_ref("Reevaluate"), "Empty object")},
            "responses": {"200": _json(_ref("Reevaluation"), "What was released"), **_ERRORS},
        }
    },
    "/api/v1/admin/customers/{customer_id}/hold": {
        "put": {
            "summary": f"Put a customer on creditgate's hold, or take it off ({_RELEASERS})",
            "description": "Every order of a held customer is blocked (CUSTOMER_ON_HOLD). The "
            "ERP's own hold is synced separately and not changed by this.",
            "security": [{"apiKey": []}],
            "parameters": [_path_param("customer_id")],
            "requestBody": {"required": True, **_json(_ref("CustomerHold"), "The hold")},
            "responses": {
                "200": _json(_ref("CustomerHoldResult"), "The hold as it now stands"),
                **_ERRORS,
                "404": _json(_ref("Error"), "No such customer"),
            },
        }
    },
    "/api/v1/admin/thresholds/simulate": {
        "post": {
            "summary": "What-if: replay a period's decisions under a proposed document (role "
            "admin)",
            "description": "Each order's last decision in the period is decided again on the "
            "numbers it recorded, by the gate's own rules under the proposal; nothing is stored. "
            "Each is replayed on its own: a changed approval does not flow into later decisions.",
            "security": [{"apiKey": []}],
            "requestBody": {"required": True, **_json(_ref("SimulationRequest"), "The proposal")},
            "responses": {"200": _json(_ref("Simulation"), "What would change"), **_ERRORS},
        }
    },
    "/api/v1/admin/thresholds/shadow": {
        "get": {
            "summary": "How the shadow version decided beside the live one (role admin)",
            "security": [{"apiKey": []}],
            "parameters": [
                _query("from", {"type": "string", "format": "date"}),
                _query("to", {"type": "string", "format": "date"}),
            ],
            "responses": {
                "200": _json(_ref("Simulation"), "Live against shadow"),
                **_READ_ERRORS,
            },
        }
    },
    "/api/v1/admin/thresholds/versions": {
        "get": {
            "summary": "Every thresholds version, newest first (role admin)",
            "security": [{"apiKey": []}],
            "parameters": [_limit_param],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["versions"],
                        "properties": {
                            "versions": {"type": "array", "items": _ref("ThresholdsVersion")}
                        },
                    },
                    "Versions with who changed them, when and why",
                ),
                **_READ_ERRORS,
            },
        }
    },
    "/api/v1/audit/decisions": _paged_get(
        "Recorded decisions, newest first, filtered, paged (roles auditor, admin)",
        "decisions",
        "DecisionRow",
        _DECISION_FILTERS,
        "decisions",
    ),
    "/api/v1/audit/decisions.csv": _csv_get(
        "Every matching decision as CSV, oldest first, streamed (roles auditor, admin)",
        _DECISION_FILTERS,
    ),
    "/api/v1/audit/events": _paged_get(
        "Audit events, newest first, filtered and paged (roles auditor, admin)",
        "events",
        "AuditEvent",
        _EVENT_FILTERS,
        "events",
    ),
    "/api/v1/audit/events.csv": _csv_get(
        "Every matching audit event as CSV, oldest first, streamed (roles auditor, admin)",
        _EVENT_FILTERS,
    ),
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document (any role's key but a metrics scraper's)",
            "security": [{"apiKey": []}],
            "responses": {
                "200": _json({"type": "object"}, "OpenAPI 3.1"),
                "401": _ERRORS["401"],
                "403": _ERRORS["403"],
            },
        }
    },
    "/healthz": {
        "get": {
            "summary": "Liveness and database state (no key needed)",
            "description": (
                "Runs `SELECT 1`, waiting no longer than the gate timeout. Reveals no address "
                "and no error text: only the error's class name."
            ),
            "security": [],
            "responses": {
                "200": _json(_ref("Health"), "Up, and the database answered"),
                "503": _json(_ref("Health"), "The database did not answer in time"),
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (roles metrics, admin, auditor)",
            "description": (
                "The Prometheus text format: gate decisions by outcome and reason, gate latency, "
                "fail-safe answers, HTTP requests by endpoint, and sync runs and the last "
                "successful sync per source (read from the database at scrape time). Under "
                "gunicorn with PROMETHEUS_MULTIPROC_DIR set, counts add up every worker's."
            ),
            "security": [{"apiKey": []}],
            "responses": {
                "200": {
                    "description": "Metrics",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "401": _ERRORS["401"],
                "403": _ERRORS["403"],
            },
        }
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "creditgate", "version": "1"},
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "A client with a signing secret also sends X-Creditgate-Signature: "
                        "t=<unix>[,n=<nonce>],v1=<hex HMAC-SHA256 of '<t>.[<n>.]<raw body>'>; "
                        "t at most 300 s old and 30 s ahead; a nonce is refused if used again "
                        "within the window"
                    ),
                }
            },
        },
    }


@bp.get("/api/v1/openapi.json")
@requires(*(role for role in ROLES if role != "metrics"))
def openapi_json() -> Any:
    return jsonify(document())
