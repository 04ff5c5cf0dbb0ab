"""Figures for people: aging buckets, totals in one currency, days sales outstanding."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from gating.errors import CurrencyRateMissing
from gating.money import Rates, quantize

BUCKETS = ("current", "1–30", "31–60", "61–90", "> 90")
"""Open invoices by days past due: not yet due, then 1 to 30 days late, and so on."""

DSO_DAYS = 90


def in_one_currency(
    amounts: Mapping[str, Decimal], rates: Rates, currency: str
) -> tuple[Decimal, list[str]]:
    """The sum of `amounts` (by currency) in `currency`, and the currencies left out for want
    of a rate (named, never guessed)."""
    total, missing = Decimal(0), []
    for cur, amount in sorted(amounts.items()):
        try:
            total += rates.convert(amount, cur, currency)
        except CurrencyRateMissing:
            missing.append(cur)
    return quantize(total, currency), missing


def aging_in(
    by_currency: Mapping[str, Mapping[str, Decimal]], rates: Rates, currency: str
) -> tuple[dict[str, Decimal], list[str]]:
    """Aging buckets summed over currencies in `currency`."""
    out: dict[str, Decimal] = {}
    missing: set[str] = set()
    for bucket in BUCKETS:
        per = {cur: buckets.get(bucket, Decimal(0)) for cur, buckets in by_currency.items()}
        out[bucket], left = in_one_currency(per, rates, currency)
        missing.update(left)
    return out, sorted(missing)


def days_sales_outstanding(
    receivables: Decimal, sales: Decimal, days: int = DSO_DAYS
) -> Decimal | None:
    """Receivables ÷ credit sales of the last `days` × `days`: how many days of sales are
    unpaid (None without sales in the period)."""
    if sales <= 0:
        return None
    return (receivables / sales * days).quantize(Decimal("0.1"))
