"""Exact money: ISO 4217 currencies, parsing, rounding and conversion with configured rates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from gating.errors import CurrencyRateMissing, InvalidAmount, UnknownCurrency

# Active ISO 4217 codes and their minor units (digits after the decimal point).
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN "
        "BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
        "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR "
        "KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN "
        "MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD "
        "SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD "
        "TZS UAH USD UYU UZS VES VED WST XCD YER ZAR ZMW ZWG".split(),
        2,
    ),
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}


# Every amount must fit the store: SQLite keeps 64-bit integers of 1/10,000 units (about
# 9.2 × 10^14), PostgreSQL NUMERIC(20, 4). 14 digits before the point fit both, with room to sum.
MAX_AMOUNT = Decimal(10) ** 14
_MAX_DIGITS = 14  # MAX_AMOUNT's exponent


def minor_units(currency: str) -> int:
    """Return the number of decimal places `currency` is kept in.

    :raises UnknownCurrency: if the code is not an active ISO 4217 currency.
    """
    try:
        return _MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrency(currency) from None


def is_currency(code: str) -> bool:
    return code in _MINOR_UNITS


# The quantum of each currency's minor unit (Decimal("0.01") for 2 places), built once: building
# it per call (`Decimal(1).scaleb(-places)`) cost as much as the rounding itself.
_QUANTUM: dict[str, Decimal] = {code: Decimal(1).scaleb(-p) for code, p in _MINOR_UNITS.items()}
_UNITS: dict[str, tuple[int, Decimal]] = {c: (p, _QUANTUM[c]) for c, p in _MINOR_UNITS.items()}


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round `amount` to the currency's minor unit, half up (the commercial convention)."""
    try:
        exponent = _QUANTUM[currency]
    except KeyError:
        raise UnknownCurrency(currency) from None
    # Positional rounding argument: the same call, but a keyword costs a C method twice as much.
    return amount.quantize(exponent, ROUND_HALF_UP)


# A decimal string as the contract writes one: ASCII digits, an optional minus and fraction. What
# Decimal() reads besides (`1_000`, `1e2`, `+10`, " 10 ", full-width and Arabic-Indic digits) is
# refused where the contract says a decimal string; parse_amount itself stays as lenient as the
# ERPs' own typed values need.
DECIMAL_TEXT_PATTERN = r"-?[0-9]+(?:\.[0-9]+)?"
"""An amount as text (whole match); ASCII digits, since \\d takes other scripts' digits too."""
_DECIMAL_TEXT = re.compile(DECIMAL_TEXT_PATTERN)
DECIMAL_TEXT_RULE = "a decimal string like '12.50': ASCII digits, no exponent, sign or spaces"


def is_decimal_text(text: str) -> bool:
    return _DECIMAL_TEXT.fullmatch(text) is not None


def parse_amount(text: str | Decimal | int, currency: str) -> Decimal:
    """Parse an exact amount; refuse floats, NaN, infinity and more decimals than the currency has.

    :raises InvalidAmount: with a message fit to show the sender.
    """
    if isinstance(text, float):
        raise InvalidAmount("amounts must be decimal strings, not floating-point numbers")
    try:
        amount = Decimal(text.strip()) if isinstance(text, str) else Decimal(text)
    except (InvalidOperation, ValueError):
        raise InvalidAmount(f"{text!r} is not a decimal amount") from None
    if not amount.is_finite():
        raise InvalidAmount(f"{text!r} is not a finite amount")
    try:
        places, exponent = _UNITS[currency]
    except KeyError:
        raise UnknownCurrency(currency) from None
    try:
        rounded = amount.quantize(exponent, ROUND_HALF_UP)  # what quantize() does
    except InvalidOperation:  # more digits than the decimal context keeps: not a real amount
        raise InvalidAmount(f"{text!r} has too many digits to be an amount") from None
    # Rounding to `places` changes the value only when the amount has more decimals than that
    # (with as many or fewer, quantize just appends zeros), so this needs no look at the exponent.
    if amount != rounded:
        raise InvalidAmount(f"{currency} amounts have at most {places} decimal places")
    # abs(rounded) >= MAX_AMOUNT, without building abs(): a finite Decimal lies in
    # [10^adjusted, 10^(adjusted + 1)), and a zero rounded to the minor unit has adjusted() <= 0.
    if rounded.adjusted() >= _MAX_DIGITS:
        raise InvalidAmount(f"{text!r} is too large: at most 14 digits before the point")
    return rounded


@dataclass(frozen=True)
class Rates:
    """Exchange rates against one reference currency: 1 unit of X = rates[X] units of reference."""

    reference: str = "USD"
    rates: Mapping[str, Decimal] = field(default_factory=dict)

    def rate(self, currency: str) -> Decimal:
        if currency == self.reference:
            return Decimal(1)
        try:
            return self.rates[currency]
        except KeyError:
            raise CurrencyRateMissing(currency, self.reference) from None

    def convert(self, amount: Decimal, from_currency: str, to_currency: str) -> Decimal:
        """Convert and round to the target currency.

        :raises CurrencyRateMissing: when either currency has no configured rate; never guesses.
        """
        if from_currency == to_currency:
            return amount
        converted = amount * self.rate(from_currency) / self.rate(to_currency)
        return quantize(converted, to_currency)

    def factor(self, from_currency: str, to_currency: str) -> Decimal:
        """The multiplier used to convert, for the decision snapshot."""
        if from_currency == to_currency:
            return Decimal(1)
        return self.rate(from_currency) / self.rate(to_currency)
