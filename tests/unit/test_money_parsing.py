"""parse_amount's and quantize's edge cases, pinned: the quantum per currency is built once and
the decimals check compares values instead of reading the exponent, with the same answers."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest

from gating.errors import InvalidAmount, UnknownCurrency
from gating.money import parse_amount, quantize


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("1E+2", "USD", "100.00"),
        ("0E+5", "USD", "0.00"),
        ("-0", "USD", "-0.00"),
        ("-0.000", "USD", "-0.00"),  # more decimals, but only zeros: the value is unchanged
        ("1_000.5", "USD", "1000.50"),  # Decimal reads underscores
        ("\t7\n", "KWD", "7.000"),
        ("99999999999999.99", "USD", "99999999999999.99"),
        ("1.000", "JPY", "1"),
        (Decimal("2.00"), "JPY", "2"),
    ],
)
def test_parse_amount_edge_cases(text, currency, expected):
    assert str(parse_amount(text, currency)) == expected


def test_a_fraction_of_the_minor_unit_is_refused_however_it_is_written():
    for text in ("2.50", Decimal("2.50"), "25E-1"):
        with pytest.raises(InvalidAmount, match="JPY amounts have at most 0 decimal places"):
            parse_amount(text, "JPY")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("100000000000000", "'100000000000000' is too large: at most 14 digits before the point"),
        ("-100000000000000.00", "is too large"),
        ("0.001", "USD amounts have at most 2 decimal places"),
        ("-0.005", "USD amounts have at most 2 decimal places"),
        ("1e-30", "USD amounts have at most 2 decimal places"),
        ("1e26", "'1e26' has too many digits to be an amount"),
        ("Infinity", "'Infinity' is not a finite amount"),
        ("12,5", "'12,5' is not a decimal amount"),
    ],
)
def test_parse_amount_refusals_keep_their_messages(text, message):
    with pytest.raises(InvalidAmount, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_amount(text, "USD")


def test_the_order_of_refusals_is_unchanged():
    # Not a number wins over the currency; the currency over the number of digits.
    with pytest.raises(InvalidAmount, match="is not a decimal amount"):
        parse_amount("x", "XYZ")
    with pytest.raises(UnknownCurrency):
        parse_amount("1e40", "XYZ")
    with pytest.raises(UnknownCurrency):
        parse_amount("1.001", "XYZ")


def test_parse_amount_follows_the_decimal_context_as_it_did():
    with localcontext() as ctx:
        ctx.prec = 6
        assert str(parse_amount("1234.5", "USD")) == "1234.50"
        with pytest.raises(InvalidAmount, match="has too many digits to be an amount"):
            parse_amount("12345.6", "USD")


def test_quantize_refuses_an_unknown_currency():
    with pytest.raises(UnknownCurrency) as err:
        quantize(Decimal("1.005"), "usd")

    assert err.value.code == "usd"
