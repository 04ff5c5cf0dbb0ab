"""marshmallow schemas at the HTTP boundary: the only place requests are validated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from gating.errors import InvalidAmount, UnknownCurrency
from gating.money import is_currency, parse_amount

_ref = validate.Length(min=1, max=100)


class GateOrderSchema(Schema):
    class Meta:
        unknown = RAISE

    order_id = fields.String(required=True, validate=_ref)
    customer_id = fields.String(required=True, validate=_ref)
    amount = fields.Decimal(required=True, allow_nan=False)
    currency = fields.String(required=True, validate=validate.Length(equal=3))
    source = fields.String(validate=_ref)
    order_date = fields.Date()

    @validates_schema
    def _money(self, data: dict[str, Any], **_: Any) -> None:
        currency, amount = data.get("currency"), data.get("amount")
        if currency is None:
            return
        if not is_currency(currency):
            raise ValidationError(
                f"{currency!r} is not an ISO 4217 currency code", field_name="currency"
            )
        if amount is None:
            return
        try:
            data["amount"] = parse_amount(amount, currency)
        except (InvalidAmount, UnknownCurrency) as exc:
            raise ValidationError(str(exc), field_name="amount") from None
        if data["amount"] <= Decimal(0):
            raise ValidationError("must be greater than zero", field_name="amount")


class OrderEventSchema(Schema):
    class Meta:
        unknown = RAISE

    event = fields.String(required=True, validate=validate.OneOf(["cancelled", "invoiced"]))
    source = fields.String(validate=_ref)


class CreditQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    source = fields.String(validate=_ref)
