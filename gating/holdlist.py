"""The hold list's question and answer: which held orders, in which order, which page; and
what the page adds up (the count and the held amount per currency). Pure data: the store
answers it in SQL (adapters/db/holds.py), the page and the API ask it (connector/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# The orders the list can be sorted in; the first is the default. Ties fall back to newest
# first, so a page never repeats or skips an order between two equal ones.
HOLD_SORTS = (
    "newest",
    "oldest",
    "held_longest",
    "held_shortest",
    "amount_high",
    "amount_low",
    "customer",
)


@dataclass(frozen=True)
class HoldQuery:
    """Filters (None: any) and a sort. `customer` matches a customer id exactly or any part of
    the customer's name; amounts are compared in the order's own currency; a hold's age counts
    whole days since the first held decision of the order's current hold."""

    source: str | None = None
    customer: str | None = None
    outcome: str | None = None
    reason: str | None = None  # one reason code the held decision must carry
    currency: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    held_days_min: int | None = None  # held for at least this many whole days
    held_days_max: int | None = None  # held for at most this many whole days
    sort: str = HOLD_SORTS[0]


@dataclass(frozen=True)
class HoldPage:
    """One page of the hold list, with what every matching order adds up to."""

    rows: list[dict[str, Any]]
    total: int  # matching orders, on every page
    totals: dict[str, Decimal]  # their held amount per currency, currencies in order
    page: int
    size: int
    today: date = field(default_factory=date.today)
    now: datetime | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def held_days(since: datetime | None, now: datetime) -> int | None:
    """Whole days a hold has lasted: 0 on its first day, 1 from 24 hours on."""
    return None if since is None else max(0, (now - since).days)
