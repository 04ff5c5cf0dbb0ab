"""marshmallow schemas at the HTTP boundary: the only place requests are validated."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from gating.audit import DecisionQuery, EventQuery, Period
from gating.errors import InvalidAmount, UnknownCurrency
from gating.holdlist import HOLD_SORTS, HoldQuery
from gating.identifiers import CONTROL_FREE_PATTERN, MAX_ID_LENGTH, is_trimmed
from gating.identifiers import URL_ID_PATTERN as URL_ID_PATTERN  # web and openapi import it here
from gating.languages import LANGUAGES
from gating.money import (
    DECIMAL_TEXT_RULE,
    MAX_AMOUNT,
    is_currency,
    is_decimal_text,
    parse_amount,
)
from gating.push import LEVELS

# The thresholds document's JSON schema in the API document (connector/answers.py JSON_SCHEMAS):
# gating/policy.py validates it, not marshmallow.
THRESHOLDS_DOCUMENT = {"$ref": "#/components/schemas/ThresholdsDocument"}


def _no_surrounding_space(value: str) -> bool:
    """Ids are matched exactly (case too), so "C-100 " would be another customer than "C-100",
    with a trial allowance of its own. Refused, not trimmed: from an ERP's code a stray space
    is a bug to see, and files and syncs store every id trimmed (README, "Identifiers")."""
    if not is_trimmed(value):
        raise ValidationError("must not begin or end with whitespace: ids are matched exactly")
    return True


# The id rule is gating.identifiers' (one definition for the API, the pages and the sources):
# printable text, so a control character (NUL above all) is refused here rather than reaching a
# database that rejects it.
_printable_ref = validate.And(
    validate.Length(min=1, max=MAX_ID_LENGTH),
    validate.Regexp(CONTROL_FREE_PATTERN, error="must not contain control characters"),
)
_ref = validate.And(_printable_ref, _no_surrounding_space)

# An order or customer id travels in URL paths: gating.identifiers.URL_ID_PATTERN says how.
_URL_SHAPE = validate.Regexp(
    URL_ID_PATTERN,
    error="a '/' must sit between other characters, and no part between slashes may be "
    "'.' or '..' (the id must fit in a URL)",
)
_url_ref = validate.And(_ref, _URL_SHAPE)
# An id in a path names a record that exists already: one stored before ids with surrounding
# whitespace were refused (or synced so) must still be worked, so only the URL's rules apply.
_path_ref = validate.And(_printable_ref, _URL_SHAPE)

# What the function validators above refuse, in JSON Schema, for the API document
# (connector/openapi.py reads Length, Range, OneOf and Regexp validators by itself).
JSON_SCHEMA: dict[Any, dict[str, Any]] = {
    _no_surrounding_space: {
        "pattern": r"^(?:[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?)?$"
    },
}
_ERP_SOURCE = {
    "description": "defaults to the API key's own source; another is a 403 unless the key was "
    "granted it (`creditgate apikey create --sources a,b`)"
}
_PATH_ID = {
    "description": "The id as the gate took it; a '/' in it may be sent as is or as %2F. "
    "Percent-encode '%', '?', '#', spaces and non-ASCII characters (UTF-8)."
}

# A day that ends a period or a release: its next day and its midnight in any time zone must be
# datetimes too, which they are not for date.min and date.max (an OverflowError, a 500, before).
_day = validate.Range(min=date(1, 1, 2), max=date(9999, 12, 30))


def _ordered(data: dict[str, Any]) -> tuple[Any, Any]:
    """A period's days (`from`, `to`), refused when `to` comes before `from`."""
    first, last = data.get("first"), data.get("last")
    if first is not None and last is not None and first > last:
        raise ValidationError({"to": ["must not be before 'from'"]})
    return first, last


class DecimalText(fields.Decimal):
    """An amount: a decimal string as the contract writes it (`12.50`), or a plain JSON number
    (the body parser refuses one with an exponent, connector/bodies.py)."""

    default_error_messages = {"format": DECIMAL_TEXT_RULE}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and not is_decimal_text(value):
            raise self.make_error("format")
        return super()._deserialize(value, attr, data, **kwargs)


class GateOrderSchema(Schema):
    class Meta:
        unknown = RAISE

    order_id = fields.String(required=True, validate=_url_ref)
    customer_id = fields.String(required=True, validate=_url_ref)
    amount = DecimalText(required=True, allow_nan=False, metadata={"exclusiveMinimum": 0})
    currency = fields.String(
        required=True, validate=validate.Length(equal=3), metadata={"examples": ["CNY"]}
    )
    source = fields.String(validate=_ref, metadata=_ERP_SOURCE)
    order_date = fields.Date()

    # Runs even when other fields failed, so one answer names every bad field.
    @validates_schema(skip_on_field_errors=False)
    def _money(self, data: dict[str, Any], **_: Any) -> None:
        currency, amount = data.get("currency"), data.get("amount")
        errors: dict[str, list[str]] = {}
        if currency is not None and not is_currency(currency):
            errors["currency"] = [f"{currency!r} is not an ISO 4217 currency code"]
        elif currency is not None and amount is not None:
            try:
                data["amount"] = amount = parse_amount(amount, currency)
            except (InvalidAmount, UnknownCurrency) as exc:
                errors["amount"] = [str(exc)]
        if amount is not None and "amount" not in errors and amount <= Decimal(0):
            errors["amount"] = ["must be greater than zero"]
        if errors:
            raise ValidationError(errors)


class OrderEventSchema(Schema):
    class Meta:
        unknown = RAISE

    event = fields.String(required=True, validate=validate.OneOf(["cancelled", "invoiced"]))
    source = fields.String(validate=_ref, metadata=_ERP_SOURCE)


class CreditQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    source = fields.String(validate=_ref)


class SyncRunsQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    source = fields.String(validate=_ref)
    status = fields.String(
        validate=validate.OneOf(["running", "succeeded", "succeeded_with_errors", "failed"])
    )
    limit = fields.Integer(validate=validate.Range(min=1, max=500))


# The files an export is asked for as, by the extension of its address (`events.xlsx`).
EXPORT_FORMATS = ("csv", "xlsx")


class PathSchema(Schema):
    """Identifiers taken from the URL path, held to the same rules as those in bodies."""

    class Meta:
        unknown = RAISE

    order_id = fields.String(validate=_path_ref, metadata=_PATH_ID)
    customer_id = fields.String(validate=_path_ref, metadata=_PATH_ID)
    decision_id = fields.String(validate=_ref)
    source = fields.String(validate=_path_ref)  # in the pages' addresses (/holds/<source>/...)
    file_format = fields.String(
        validate=validate.OneOf(EXPORT_FORMATS),
        metadata={"description": "the export's file: csv (UTF-8 with a byte order mark) or xlsx"},
    )


_path = PathSchema()


def path_ids(**ids: str) -> dict[str, str]:
    """Validate path identifiers; a bad one is a 422 naming it, like a bad body field.

    :raises marshmallow.ValidationError:
    """
    loaded: dict[str, str] = _path.load(ids)
    return loaded


class WarningsQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    level = fields.String(validate=validate.OneOf(list(LEVELS)))
    limit = fields.Integer(validate=validate.Range(min=1, max=5000))


class OutboxQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(["pending", "delivered", "failed"]))
    target = fields.String(validate=_ref)
    limit = fields.Integer(validate=validate.Range(min=1, max=5000))


# Text a person types (a reason, a filter): tab, CR and LF allowed, no other control character
# (NUL above all, which PostgreSQL refuses to store or compare).
TYPED_CONTROLS = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f"
"""The control characters nobody types (a regex class's inside): tab, CR and LF are typing."""
_PLAIN_TEXT = validate.Regexp(
    f"^[^{TYPED_CONTROLS}]*$", error="must not contain control characters"
)


class ThresholdsChangeSchema(Schema):
    """A new thresholds version: the complete document and why it changes. The document's own
    fields are checked by the domain (gating.policy), which names each bad one."""

    class Meta:
        unknown = RAISE

    reason = fields.String(
        required=True,
        validate=validate.And(
            validate.Length(min=1, max=2000),
            validate.Regexp(r"\S", error="must say why the thresholds change"),
            _PLAIN_TEXT,
        ),
    )
    thresholds = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={
            "allOf": [THRESHOLDS_DOCUMENT],
            "description": "The complete document, as GET returns it under `thresholds`",
        },
    )
    base_version = fields.Integer(
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={
            "description": "The version this change was made from: refused with 409 if "
            "another version was saved since"
        },
    )


class VersionsQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    limit = fields.Integer(validate=validate.Range(min=1, max=5000))


class _Paged(Schema):
    """A list's page: at most `limit` rows, those below the cursor `before` (a `next`)."""

    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    # A row id: at most a signed 64-bit integer, which is what the database can compare with.
    before = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=2**63 - 1),
        metadata={"description": "the `next` of the previous page"},
    )


class _AuditQuery(_Paged):
    """The audit lists' and exports' filters, loaded as {"query": ..., "limit", "before"}; the
    period is whole days in the business time zone."""

    query_type: type[DecisionQuery] | type[EventQuery]

    first = fields.Date(
        data_key="from", validate=_day, metadata={"description": "first day, business time zone"}
    )
    last = fields.Date(data_key="to", validate=_day, metadata={"description": "last day, included"})

    @validates_schema
    def _period(self, data: dict[str, Any], **_: Any) -> None:
        _ordered(data)

    @post_load
    def _query(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        limit, before = data.pop("limit", None), data.pop("before", None)
        period = Period(data.pop("first", None), data.pop("last", None))
        return {"query": self.query_type(period=period, **data), "limit": limit, "before": before}


class AuditDecisionsQuerySchema(_AuditQuery):
    query_type = DecisionQuery

    source = fields.String(validate=_ref)
    customer_id = fields.String(validate=_ref)
    order_id = fields.String(validate=_ref)
    outcome = fields.String(validate=validate.OneOf(["approved", "blocked", "review"]))
    reason = fields.String(
        validate=validate.Regexp(
            r"^[A-Z][A-Z_]{0,49}$", error="a reason code, like OVERDUE_INVOICES"
        ),
        metadata={"description": "one reason code"},
    )


class AuditEventsQuerySchema(_AuditQuery):
    query_type = EventQuery

    action = fields.String(validate=validate.And(validate.Length(min=1, max=50), _PLAIN_TEXT))
    actor = fields.String(validate=_ref)
    subject = fields.String(validate=validate.And(validate.Length(min=1, max=300), _PLAIN_TEXT))


class AuditDecisionsExportSchema(AuditDecisionsQuerySchema):
    """The decisions export's filters: it streams every matching row, so it takes no page."""

    class Meta:
        unknown = RAISE
        exclude = ("limit", "before")


class AuditEventsExportSchema(AuditEventsQuerySchema):
    """The events export's filters: every matching row, no page."""

    class Meta:
        unknown = RAISE
        exclude = ("limit", "before")


class HoldsQuerySchema(_Paged):
    source = fields.String(validate=_ref)
    customer_id = fields.String(validate=_ref)
    outcome = fields.String(validate=validate.OneOf(["review", "blocked"]))


def _at_most_three_places(value: Decimal) -> None:
    """No currency has more decimal places than 3 (gating.money)."""
    if len(format(value, "f").partition(".")[2].rstrip("0")) > 3:
        raise ValidationError("at most 3 decimal places: no currency has more")


class HoldListQuerySchema(Schema):
    """The hold list page's filters, sort and page, from its query string: loaded as
    {"query": HoldQuery, "page", "size"}. Amounts are in the order's own currency; ages are
    whole days since the first held decision of the order's current hold."""

    class Meta:
        unknown = RAISE

    source = fields.String(validate=_ref)
    customer = fields.String(
        validate=validate.And(validate.Length(min=1, max=100), _PLAIN_TEXT),
        metadata={"description": "a customer id, or any part of the customer's name"},
    )
    outcome = fields.String(validate=validate.OneOf(["review", "blocked"]))
    reason = fields.String(
        validate=validate.Regexp(
            r"^[A-Z][A-Z_]{0,49}$", error="a reason code, like OVERDUE_INVOICES"
        ),
        metadata={"description": "one reason code"},
    )
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$", error="like CNY"))
    amount_min = DecimalText(
        allow_nan=False,
        validate=validate.And(validate.Range(min=0, max=10**15), _at_most_three_places),
    )
    amount_max = DecimalText(
        allow_nan=False,
        validate=validate.And(validate.Range(min=0, max=10**15), _at_most_three_places),
    )
    held_days_min = fields.Integer(validate=validate.Range(min=0, max=36500))
    held_days_max = fields.Integer(validate=validate.Range(min=0, max=36500))
    sort = fields.String(load_default=HOLD_SORTS[0], validate=validate.OneOf(HOLD_SORTS))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    size = fields.Integer(load_default=50, validate=validate.OneOf([25, 50, 100, 200]))

    @validates_schema
    def _ranges(self, data: dict[str, Any], **_: Any) -> None:
        for low, high in (("amount_min", "amount_max"), ("held_days_min", "held_days_max")):
            below, above = data.get(low), data.get(high)
            if below is not None and above is not None and below > above:
                raise ValidationError({high: [f"must not be below {low}"]})

    @post_load
    def _query(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        page, size = data.pop("page"), data.pop("size")
        return {"query": HoldQuery(**data), "page": page, "size": size}


_reason = fields.String(
    required=True,
    validate=validate.And(
        validate.Length(min=1, max=2000),
        validate.Regexp(r"\S", error="must say why"),
        _PLAIN_TEXT,
    ),
)


class HoldActionSchema(Schema):
    """Reject or re-evaluate a held order. `decision_id` is the held decision the person looked
    at: if the order was decided again since, the action is refused (409) instead of applying
    to something they did not see."""

    class Meta:
        unknown = RAISE

    reason = _reason
    source = fields.String(
        validate=_ref, metadata={"description": "defaults to the API key's own source"}
    )
    decision_id = fields.String(
        validate=_ref,
        metadata={
            "description": "The held decision you looked at: refused with 409 if the "
            "order was decided again since"
        },
    )


class ReleaseSchema(HoldActionSchema):
    """Release a held order: approve it now, up to `cap` (in the order's currency; default its
    amount) for later amendments, until the end of `expires_on` (business time zone)."""

    # Below MAX_AMOUNT, as every amount is, and no finer than any currency: a bigger cap overflowed
    # the decimal context, a finer one the database column (a 500 either way).
    cap = DecimalText(
        allow_nan=False,
        validate=[
            validate.Range(min=0, min_inclusive=False, max=MAX_AMOUNT, max_inclusive=False),
            _at_most_three_places,
        ],
        metadata={
            "description": "The most the release approves, in the order's currency (at "
            "least the order's amount; later amendments above it are decided by the "
            "rules); at most 3 decimal places"
        },
    )
    expires_on = fields.Date(
        validate=_day,
        metadata={
            "description": "The last day the release holds (business time zone); its "
            "reservation lapses after it"
        },
    )


ReevaluateSchema = CreditQuerySchema  # the same: an optional source, nothing else


class CustomerHoldSchema(Schema):
    """Put a customer on creditgate's own hold, or take it off; the ERP's hold is its own."""

    class Meta:
        unknown = RAISE

    on_hold = fields.Boolean(required=True)
    reason = _reason
    source = fields.String(validate=_ref)


class ProfileSchema(Schema):
    """A person's own settings (the profile page): the language the pages are shown in; none
    sent: the browser's language decides."""

    class Meta:
        unknown = RAISE

    language = fields.String(validate=validate.OneOf(LANGUAGES), load_default=None)


class SimulateSchema(Schema):
    """A proposed thresholds document and the days whose decisions it is replayed on (business
    time zone, both included); the document is checked by gating.policy like a PUT's."""

    class Meta:
        unknown = RAISE

    thresholds = fields.Dict(
        keys=fields.String(), required=True, metadata={"allOf": [THRESHOLDS_DOCUMENT]}
    )
    first = fields.Date(data_key="from", required=True, validate=_day)
    last = fields.Date(
        data_key="to",
        required=True,
        validate=_day,
        metadata={"description": "at most a year after 'from'"},
    )

    @validates_schema
    def _period(self, data: dict[str, Any], **_: Any) -> None:
        first, last = _ordered(data)
        if first is not None and last is not None and (last - first).days > 366:
            raise ValidationError({"to": ["at most a year after 'from'"]})


class PeriodQuerySchema(Schema):
    """Whole days in the business time zone, both included; either may be left out."""

    class Meta:
        unknown = RAISE

    first = fields.Date(data_key="from", validate=_day)
    last = fields.Date(data_key="to", validate=_day)

    @validates_schema
    def _period(self, data: dict[str, Any], **_: Any) -> None:
        _ordered(data)
