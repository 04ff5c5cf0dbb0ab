"""The one id rule (gating/identifiers.py) and the field rules every source shares
(adapters/fields.py): each boundary on both sides."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from adapters import fields
from adapters.fields import Invalid
from gating.identifiers import is_external_id


def why(rule, *args) -> str:
    """The message `rule(*args)` refuses with."""
    with pytest.raises(Invalid) as refused:
        rule(*args)
    return str(refused.value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("C-100", True),
        ("x" * 100, True),
        ("x" * 101, False),
        ("", False),
        ("SO 1", True),  # spaces inside are part of the id
        ("C-100 ", False),
        ("\u3000C-100", False),
        ("C\t100", False),  # tab, CR and LF are control characters too
        ("C\r100", False),
        ("C\n100", False),
        ("C-100\n", False),
        ("C\x7f100", False),
        ("C\u00a0100", True),
        (100, False),
        (None, False),
    ],
)
def test_an_external_id(value, ok):
    assert is_external_id(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("SO/1", True),
        ("/SO-1", False),
        ("SO-1/", False),
        ("SO//1", False),
        ("..", False),
        ("SO/./1", False),
        ("SO/../1", False),
        ("SO-1.", True),
    ],
)
def test_an_order_or_customer_id_also_fits_in_a_url_path(value, ok):
    assert is_external_id(value, url=True) is ok


def test_text_is_trimmed_and_refused_empty_too_long_or_with_control_characters():
    assert fields.text("  Acme  ", "name") == "Acme"
    assert fields.text("x" * 300, "name") == "x" * 300
    assert fields.optional_text("  ", "name") is None
    for value, reason in [
        (None, "name is empty"),
        ("  ", "name is empty"),
        ("x" * 301, "name is longer than 300 characters"),
        ("a\tb", "name contains control characters"),
    ]:
        assert why(fields.text, value, "name") == reason


def test_a_ref_is_at_most_100_characters_or_a_shorter_limit_the_source_sets():
    assert fields.ref(" " + "x" * 100 + " ", "code") == "x" * 100
    assert why(fields.ref, "x" * 101, "code") == "code is longer than 100 characters"
    assert why(fields.ref, "x" * 21, "No", 20) == "No is longer than 20 characters"
    assert fields.ref("x" * 100, "code", 500) == "x" * 100  # never longer than the id rule
    assert why(fields.ref, "x" * 101, "code", 500) == "code is longer than 100 characters"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("CNY", "CNY"), (" usd ", "USD"), ("XBT", None), ("", None), (None, None), (840, None)],
)
def test_a_currency_is_an_iso_4217_code(value, expected):
    if expected is None:
        assert why(fields.currency, value).endswith("is not an ISO 4217 code")
    else:
        assert fields.currency(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12.5"), Decimal("12.50")),
        (12, Decimal("12.00")),
        (-3, Decimal("-3.00")),
        (" 12.50 ", Decimal("12.50")),
        (True, "amount is not an amount: True"),
        (False, "amount is not an amount: False"),
        (1.5, "amount is not an amount: 1.5"),
        (None, "amount is missing"),
        ("", "amount is empty"),
        ("1e2", "amount '1e2' must be a decimal string"),
        ("+10", "amount '+10' must be a decimal string"),
        ("1_000", "amount '1_000' must be a decimal string"),
        ("abc", "amount: 'abc' is not a decimal amount"),
        (Decimal("1.005"), "amount: CNY amounts have at most 2 decimal places"),
    ],
)
def test_an_amount_is_a_decimal_an_int_or_decimal_text_never_a_bool(value, expected):
    if isinstance(expected, Decimal):
        assert fields.amount(value, "CNY", "amount") == expected
    else:
        assert why(fields.amount, value, "CNY", "amount").startswith(expected)


def test_a_date_is_a_calendar_date_not_a_datetime_and_0001_01_01_is_blank():
    assert fields.day(date(2026, 11, 20), "date") == date(2026, 11, 20)
    assert fields.optional_day(date.min) is None
    assert fields.optional_day(datetime(2026, 11, 20, 9, 30)) is None
    assert why(fields.day, None, "date") == "date is missing"
    assert why(fields.day, date.min, "date") == "date is missing"
    assert why(fields.day, datetime(2026, 11, 20, 9, 30), "date").startswith(
        "date is not a date: datetime.datetime(2026, 11, 20, 9, 30"
    )
    assert fields.day_text(" 2026-11-20 ", "date") == date(2026, 11, 20)
    assert why(fields.day_text, "2026-02-30", "date") == (
        "date '2026-02-30' is not an ISO date (YYYY-MM-DD)"
    )
