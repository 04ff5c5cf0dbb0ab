"""Exact money: parsing, rounding and conversion with configured rates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gating.errors import CurrencyRateMissing, InvalidAmount, UnknownCurrency
from gating.money import Rates, minor_units, parse_amount, quantize

RATES = Rates("USD", {"CNY": Decimal("0.125"), "EUR": Decimal("1.25"), "JPY": Decimal("0.0067")})


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("12500.00", "CNY", "12500.00"),
        ("12500", "CNY", "12500.00"),
        (" 12500.5 ", "CNY", "12500.50"),
        ("0.01", "USD", "0.01"),
        ("-40.00", "EUR", "-40.00"),  # credit notes are negative
        ("1500", "JPY", "1500"),
        ("1500.0", "JPY", "1500"),  # a zero decimal is not a fraction of a yen
        ("1.234", "KWD", "1.234"),
        ("1.2340", "KWD", "1.234"),
        (Decimal("99.90"), "USD", "99.90"),
        (7, "USD", "7.00"),
    ],
)
def test_parse_amount_accepts_exact_amounts_and_keeps_the_currencys_places(
    text: str | Decimal | int, currency: str, expected: str
) -> None:
    amount = parse_amount(text, currency)

    assert amount == Decimal(expected)
    assert str(amount) == expected  # the exponent too, not just the value


@pytest.mark.parametrize("value", [1.5, 0.1, 100.0])
def test_parse_amount_refuses_floats(value: float) -> None:
    with pytest.raises(InvalidAmount, match="not floating-point"):
        parse_amount(value, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf"])
def test_parse_amount_refuses_nan_and_infinity(text: str) -> None:
    with pytest.raises(InvalidAmount, match="not a finite amount"):
        parse_amount(text, "USD")


@pytest.mark.parametrize("text", ["", "12,50", "abc", "1.2.3", "$5"])
def test_parse_amount_refuses_text_that_is_not_a_number(text: str) -> None:
    with pytest.raises(InvalidAmount, match="is not a decimal amount"):
        parse_amount(text, "USD")


@pytest.mark.parametrize(
    ("text", "currency", "places"),
    [
        ("100.5", "JPY", 0),
        ("0.1", "KRW", 0),
        ("1.2345", "KWD", 3),
        ("0.0001", "BHD", 3),
        ("12500.001", "CNY", 2),
        ("0.005", "USD", 2),
    ],
)
def test_parse_amount_refuses_more_decimals_than_the_currency_has(
    text: str, currency: str, places: int
) -> None:
    with pytest.raises(InvalidAmount) as err:
        parse_amount(text, currency)

    assert str(err.value) == f"{currency} amounts have at most {places} decimal places"
    assert err.value.field == "amount"


def test_parse_amount_refuses_more_decimals_given_as_a_decimal_too() -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(Decimal("1.005"), "USD")


@pytest.mark.parametrize("text", ["1e30", "123456789012345678901234567", "9" * 40])
def test_parse_amount_refuses_amounts_too_large_to_keep_exactly(text: str) -> None:
    # Too many digits to round to the minor unit: a clear refusal, not a decimal-module crash.
    with pytest.raises(InvalidAmount, match="too many digits"):
        parse_amount(text, "USD")


def test_parse_amount_refuses_an_unknown_currency() -> None:
    with pytest.raises(UnknownCurrency) as err:
        parse_amount("1.00", "XYZ")

    assert err.value.code == "XYZ"
    assert err.value.field == "currency"


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.125", "USD", "0.13"),  # half up; half-even would give 0.12
        ("0.135", "USD", "0.14"),
        ("0.1249", "USD", "0.12"),
        ("-0.125", "USD", "-0.13"),  # halves go away from zero
        ("2.5", "JPY", "3"),  # half-even would give 2
        ("3.5", "JPY", "4"),
        ("1.0005", "KWD", "1.001"),
        ("1.0004", "KWD", "1.000"),
        ("7", "EUR", "7.00"),
    ],
)
def test_quantize_rounds_half_up_to_the_minor_unit(
    amount: str, currency: str, expected: str
) -> None:
    result = quantize(Decimal(amount), currency)

    assert str(result) == expected


@pytest.mark.parametrize(("currency", "places"), [("USD", 2), ("JPY", 0), ("KWD", 3), ("CNY", 2)])
def test_minor_units_follow_iso_4217(currency: str, places: int) -> None:
    assert minor_units(currency) == places


def test_minor_units_refuse_codes_that_are_not_currencies() -> None:
    with pytest.raises(UnknownCurrency):
        minor_units("usd")


@pytest.mark.parametrize(
    ("amount", "from_currency", "to_currency", "expected"),
    [
        ("1000.00", "USD", "CNY", "8000.00"),
        ("8000.00", "CNY", "USD", "1000.00"),
        ("2000.00", "EUR", "CNY", "20000.00"),  # cross rate through USD: 1.25 / 0.125
        ("0.01", "CNY", "USD", "0.00"),  # 0.00125 rounds to nothing
        ("0.04", "CNY", "USD", "0.01"),  # 0.005 rounds half up
        ("10000", "JPY", "USD", "67.00"),
        ("100.00", "USD", "JPY", "14925"),  # 14925.37…
        ("123.45", "CNY", "CNY", "123.45"),
    ],
)
def test_rates_convert_through_the_reference_and_round_to_the_target(
    amount: str, from_currency: str, to_currency: str, expected: str
) -> None:
    result = RATES.convert(Decimal(amount), from_currency, to_currency)

    assert str(result) == expected


@pytest.mark.parametrize(
    ("from_currency", "to_currency", "missing"),
    [("GBP", "USD", "GBP"), ("USD", "GBP", "GBP"), ("CNY", "CHF", "CHF"), ("SEK", "CNY", "SEK")],
)
def test_rates_convert_raises_for_a_missing_rate_and_never_guesses(
    from_currency: str, to_currency: str, missing: str
) -> None:
    with pytest.raises(CurrencyRateMissing) as err:
        RATES.convert(Decimal("1.00"), from_currency, to_currency)

    assert err.value.currency == missing
    assert "add it under [rates]" in str(err.value)


def test_rates_convert_needs_no_rate_within_one_currency() -> None:
    assert Rates("USD", {}).convert(Decimal("5.00"), "GBP", "GBP") == Decimal("5.00")


def test_rates_factor_is_the_exact_multiplier() -> None:
    assert RATES.factor("EUR", "CNY") == Decimal("10")
    assert RATES.factor("CNY", "CNY") == Decimal("1")
