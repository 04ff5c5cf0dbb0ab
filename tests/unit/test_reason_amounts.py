"""The Chinese reason messages state the same amounts as the English ones: each currency's own
decimals, rounded half up (gating.money.quantize), whatever the currency."""

from __future__ import annotations

import pytest

from gating.reason_texts import amount


@pytest.mark.parametrize(
    ("value", "currency", "written"),
    [
        ("1000.125", "KWD", "1,000.125 KWD"),  # three decimals
        ("10.375", "KWD", "10.375 KWD"),
        ("1000.125", "CNY", "1,000.13 CNY"),  # half up, not half even
        ("15000000", "VND", "15,000,000 VND"),  # no decimals
        ("1234.5", "JPY", "1,235 JPY"),
        ("2500", "CNY", "2,500.00 CNY"),
    ],
)
def test_amounts_are_written_with_the_currencys_own_decimals(value, currency, written):
    assert amount(value, currency) == written
