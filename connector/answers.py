"""What the API answers, as marshmallow schemas for the OpenAPI document
(connector/openapi.py) only.

The views build their answers themselves; tests/contract checks every answer against these. The
thresholds document is validated by gating/policy.py, not marshmallow: its JSON schema is written
out here, small."""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields
from marshmallow.validate import OneOf

from connector.schemas import THRESHOLDS_DOCUMENT
from gating import rules
from gating.model import EXPOSURE_COMPONENTS
from gating.money import DECIMAL_TEXT_PATTERN
from gating.push import LEVELS


class Answer(Schema):
    class Meta:
        unknown = INCLUDE  # the document says "additionalProperties": true: answers may grow


OUTCOMES = ["approved", "blocked", "review"]
REASON_CODES = [
    *(rules.ON_HOLD, rules.OVERDUE, rules.CREDIT_LIMIT, rules.GROUP_LIMIT, rules.UNKNOWN),
    *(rules.NO_LIMIT, rules.STALE, rules.APPROVAL, rules.RELEASED, rules.REJECTED),
    "GATE_UNAVAILABLE",
]
AMOUNT_PATTERN = f"^{DECIMAL_TEXT_PATTERN}$"


def _amount(metadata: dict[str, Any] | None = None, **options: Any) -> fields.String:
    """An amount as the API writes it: a decimal string, never a float."""
    shape = {"pattern": AMOUNT_PATTERN, "examples": ["12500.00"], **(metadata or {})}
    return fields.String(metadata=shape, **options)


Error = Answer.from_dict(
    {
        "error": fields.String(required=True),
        "message": fields.String(required=True),
        "fields": fields.Dict(values=fields.List(fields.Raw())),
    },
    name="Error",
)


class Reason(Answer):
    code = fields.String(required=True, validate=OneOf(REASON_CODES))
    message = fields.String(required=True)


class DecisionCustomer(Answer):
    id = fields.String(required=True)
    currency = fields.String(required=True)
    credit_limit = _amount(required=True, allow_none=True)
    exposure = _amount(required=True)
    available = _amount(required=True, allow_none=True)


class StandingReservation(Answer):
    """Only on a blocked or review amendment of an order approved earlier: that approval still
    stands (the ERP keeps the order at its last approved amount), and its reservation stays
    counted in `customer.exposure` until the order is cancelled, invoiced, lapses at
    `expires_at`, or is approved at a new amount. `amount` is what it still reserves."""

    amount = _amount(required=True)
    currency = fields.String(required=True)
    customer_id = fields.String(required=True)
    decision_id = fields.String(required=True, metadata={"description": "the approving decision"})
    expires_at = fields.DateTime(required=True, allow_none=True)


class GateDecision(Answer):
    """The decision, with every reason"""

    decision_id = fields.String(required=True, allow_none=True)
    order_id = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "null only in a fail-safe 503 whose body could not be read"},
    )
    outcome = fields.String(required=True, validate=OneOf(OUTCOMES))
    reasons = fields.Nested(Reason, many=True, required=True)
    customer = fields.Nested(DecisionCustomer, required=True, allow_none=True)
    decided_at = fields.DateTime(required=True)
    standing_reservation = fields.Nested(StandingReservation)


class OrderEventResult(Answer):
    """What the event did to the reservation"""

    order_id = fields.String(required=True)
    event = fields.String(required=True)
    status = fields.String(
        required=True,
        metadata={
            "description": "`cancelled`, `invoiced`, `invoiced_awaiting_sync` (still counted "
            "until its invoice is loaded, or until `counted_until`), or the status it kept "
            "(`expired`, `rejected`) when the event changed nothing"
        },
    )
    released = _amount(required=True, metadata={"description": "always 0 on `invoiced`"})
    currency = fields.String(required=True)
    counted_until = fields.DateTime(metadata={"description": "only while `invoiced_awaiting_sync`"})


class Exposure(Answer):
    open_invoices = _amount()
    unapplied_payments = _amount()
    reservations = _amount()
    total = _amount()
    components = fields.List(fields.String(validate=OneOf(EXPOSURE_COMPONENTS)))


class AwaitingSync(Answer):
    order_id = fields.String(required=True)
    amount = _amount(required=True)
    currency = fields.String(required=True)
    counted_until = fields.DateTime(required=True, allow_none=True)


class CustomerCredit(Answer):
    """Limit, exposure, overdue, hold"""

    customer = fields.Dict(required=True)
    currency = fields.String(required=True)
    credit_limit = _amount(required=True, allow_none=True)
    exposure = fields.Nested(Exposure, required=True)
    available = _amount(required=True, allow_none=True)
    overdue_invoices = fields.List(fields.Dict(), required=True)
    invoiced_awaiting_sync = fields.Nested(AwaitingSync, many=True)
    overdue_days = fields.Integer()
    on_hold = fields.Boolean(required=True)
    hold_reason = fields.String(allow_none=True)
    group = fields.Dict(allow_none=True)
    last_synced_at = fields.String(allow_none=True)
    thresholds_version = fields.Integer()
    thresholds_overrides = fields.List(
        fields.String(), metadata={"description": "`group:<id>`, `customer:<id>`"}
    )


class DecisionRecord(Answer):
    """The decision with its full snapshot"""

    decision_id = fields.String(required=True)
    source = fields.String()
    order_id = fields.String()
    customer_id = fields.String()
    outcome = fields.String(required=True)
    reason_codes = fields.List(fields.String())
    decided_at = fields.DateTime()
    thresholds_version = fields.Integer(required=True)
    caller = fields.String(required=True)
    previous_decision_id = fields.String(allow_none=True)
    response = fields.Nested(GateDecision)
    inputs = fields.Dict(required=True)
    rules = fields.List(fields.Dict(), required=True)
    reserved = fields.Dict(allow_none=True)
    shadow = fields.Dict(metadata={"description": "what the version's shadow decided beside it"})


class SyncRun(Answer):
    id = fields.Integer(required=True)
    source = fields.String(required=True)
    source_id = fields.Integer()
    entity = fields.String(required=True)
    status = fields.String(required=True)
    started_at = fields.DateTime()
    finished_at = fields.String(allow_none=True)
    read = fields.Integer(required=True)
    written = fields.Integer(required=True)
    skipped = fields.Integer(required=True)
    errors = fields.List(fields.Dict(), required=True)


class CustomerWarning(Answer):
    source = fields.String(required=True)
    customer_id = fields.String(required=True)
    name = fields.String()
    level = fields.String(required=True, validate=OneOf(LEVELS))
    reasons = fields.List(fields.String(), required=True)
    since = fields.DateTime(required=True)
    checked_at = fields.DateTime()


class OutboxRow(Answer):
    id = fields.Integer(required=True)
    target = fields.String(required=True)
    change_id = fields.String(required=True)
    customer_ref = fields.String(required=True)
    payload = fields.Dict(metadata={"description": "the change: level, reasons, step"})
    status = fields.String(required=True, validate=OneOf(["pending", "delivered", "failed"]))
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime()
    created_at = fields.DateTime()
    delivered_at = fields.String(allow_none=True)


class ThresholdsVersion(Answer):
    """The version"""

    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    created_by = fields.String(required=True)
    reason = fields.String(required=True)
    thresholds = fields.Dict(required=True, metadata={"allOf": [THRESHOLDS_DOCUMENT]})


class Simulation(Answer):
    """Each order's last decision in the period, decided again on its recorded numbers under the
    proposal (simulate) or as the shadow decided it (shadow)"""

    from_ = fields.Date(data_key="from", allow_none=True)
    to = fields.Date(allow_none=True)
    decisions = fields.Integer(required=True)
    changed = fields.Integer(required=True)
    approximate = fields.Integer(
        metadata={
            "description": "Decisions recorded before snapshots kept the oldest invoice past due "
            "whatever its age: a lower overdue_days cannot be replayed on them exactly"
        }
    )
    transitions = fields.Dict(values=fields.Integer(), required=True)
    reasons_added = fields.Dict(values=fields.Integer())
    reasons_removed = fields.Dict(values=fields.Integer())
    amounts = fields.Dict(values=fields.Dict(values=_amount()))
    orders = fields.List(fields.Dict(), required=True, metadata={"description": "at most 500"})
    skipped = fields.List(fields.String())
    truncated = fields.Boolean(metadata={"description": "more than 200,000 decisions"})


class HeldOrder(Answer):
    order_id = fields.String(required=True)
    source = fields.String()
    customer_id = fields.String(required=True)
    amount = _amount(required=True)
    currency = fields.String(required=True)
    outcome = fields.String(required=True, validate=OneOf(["review", "blocked"]))
    decision_id = fields.String(required=True)
    decided_at = fields.DateTime()
    reasons = fields.Nested(Reason, many=True)


class DecisionRow(Answer):
    decision_id = fields.String(required=True)
    decided_at = fields.DateTime(required=True)
    source = fields.String()
    order_id = fields.String()
    customer_id = fields.String()
    amount = _amount({"description": "the order's amount"}, allow_none=True)
    currency = fields.String(allow_none=True, metadata={"description": "the order's currency"})
    outcome = fields.String(required=True, validate=OneOf(OUTCOMES))
    reason_codes = fields.List(fields.String(), required=True)
    credit_currency = fields.String(
        allow_none=True,
        metadata={"description": "the customer's credit currency (none: an unknown customer)"},
    )
    credit_limit = _amount(allow_none=True)
    exposure = _amount({"description": "after this decision"}, allow_none=True)
    available = _amount(allow_none=True)
    thresholds_version = fields.Integer(required=True)
    caller = fields.String()
    previous_decision_id = fields.String(allow_none=True)


class AuditEvent(Answer):
    event_id = fields.Integer(required=True)
    occurred_at = fields.DateTime(required=True)
    actor = fields.String(required=True)
    action = fields.String(required=True)
    subject = fields.String(required=True)
    details = fields.Dict(required=True)


def _listing(name: str, key: str, item: type[Answer], said: str, paged: bool = False) -> Any:
    """`item`s under `key`; a page also has `next`, the `before` of the following page."""
    found: dict[str, fields.Field[Any]] = {key: fields.Nested(item, many=True, required=True)}
    if paged:
        found["next"] = fields.Integer(required=True, allow_none=True)
        said += "; `next` is the `before` of the next page"
    listing = Answer.from_dict(found, name=name)
    listing.__doc__ = said
    return listing


SyncRuns = _listing("SyncRuns", "runs", SyncRun, "Runs with counts and the records skipped")
Warnings = _listing("Warnings", "warnings", CustomerWarning, "Current levels, by customer")
Outbox = _listing("Outbox", "outbox", OutboxRow, "Outbox rows with their delivery state")
ThresholdsVersions = _listing("ThresholdsVersions", "versions", ThresholdsVersion, "Every version")
HeldOrders = _listing("HeldOrdersPage", "holds", HeldOrder, "A page of held orders", True)
DecisionRows = _listing("DecisionsPage", "decisions", DecisionRow, "A page of decisions", True)
AuditEvents = _listing("AuditEventsPage", "events", AuditEvent, "A page of events", True)


class HoldAnswer(Answer):
    """The decision it recorded"""

    action = fields.String(
        required=True,
        validate=OneOf(
            ["released", "rejected", "release_not_applied", "reevaluated", "auto_released"]
        ),
    )
    decision = fields.Nested(GateDecision, required=True)
    notified = fields.Boolean(
        required=True, metadata={"description": "a notice was queued for the ERP's callback URL"}
    )


class Reevaluation(Answer):
    """What was released"""

    checked = fields.Integer(required=True)
    released = fields.List(fields.String(), required=True)
    errors = fields.List(fields.String(), required=True)


class CustomerHoldResult(Answer):
    """The hold as it now stands"""

    customer_id = fields.String(required=True)
    source = fields.String(required=True)
    on_hold = fields.Boolean(required=True)
    reason = fields.String(required=True)


class Health(Answer):
    """Up, and the database answered"""

    status = fields.String(required=True, validate=OneOf(["ok", "unavailable"]))
    database = fields.String(required=True, validate=OneOf(["ok", "unreachable"]))
    error = fields.String(metadata={"description": "the error's class name, nothing more"})


class Document(Answer):
    """OpenAPI 3.1"""


_amount_in = {"anyOf": [{"type": "string", "pattern": AMOUNT_PATTERN}, {"type": "number"}]}
_count = {"type": "integer", "minimum": 0}
_LADDER = ("reminder_days", "notice_days", "yellow_days", "orange_days", "red_days")
PARTY_SETTINGS: dict[str, Any] = {
    "overdue_days": _count,
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
        "properties": {**dict.fromkeys(_LADDER, _count), "yellow_utilization": _amount_in},
    },
}
_party = {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/PartySettings"}}
JSON_SCHEMAS: dict[str, Any] = {
    "ThresholdsDocument": {
        "type": "object",
        "description": "The global settings, and `overrides`: per-group and per-customer "
        "settings (by the source's id for the group or customer) laid over them, the customer's "
        "over its group's. Amounts without their own currency are in `base_currency`.",
        "required": sorted(
            {"base_currency", "overdue_count_cap", *PARTY_SETTINGS}
            - {"warnings", "exposure_components"}
        ),
        "additionalProperties": False,
        "properties": {
            "base_currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "overdue_count_cap": {"type": "integer", "minimum": 1},
            "fail_safe_outcome": {
                "enum": [*OUTCOMES, None],
                "description": "The outcome a 503 carries when the store cannot be read; null: "
                "the server's CREDITGATE_FAIL_SAFE_OUTCOME",
            },
            **PARTY_SETTINGS,
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
                "properties": {"groups": _party, "customers": _party},
            },
        },
    },
    "PartySettings": {
        "type": "object",
        "description": "A group's or customer's own settings; those left out are inherited",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": PARTY_SETTINGS,
    },
}
