"""Deterministic source data for the sync benchmark, generated row by row, never held in memory.

Every row is a pure function of its index (a splitmix64 hash), so the HTTP source can serve any
page of 1,000,000 invoices without storing them, and the checks can recompute what a customer's
exposure must be without asking the server or the database.

A `Spec` names one state of the source: how many groups, customers, invoices and payments it
has, and how many invoices changed since the initial state (`changed`). Changed invoices flip
between open and paid and get a change time later than every unchanged row, so a sync that
resumes from the previous watermark reads exactly them.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

MASK = (1 << 64) - 1
BASE_TS = datetime(2026, 1, 1, tzinfo=UTC)  # change time of the first row
BASE_DATE = date(2025, 1, 1)  # earliest invoice issue date
PER_SECOND = 4  # rows sharing a change time, so keyset paging needs the id as a tie-break
CURRENCY = "USD"
ENTITY_SALT = {"groups": 1, "customers": 2, "invoices": 3, "payments": 4}


def mix(x: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def money(cents: int) -> str:
    """Cents as a decimal string: amounts never go through float."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


# ISO dates from BASE_DATE on, built once (read by the server's threads, never written).
_DAYS = tuple((BASE_DATE + timedelta(days=d)).isoformat() for d in range(40 * 365))


def _day(offset: int) -> str:
    return _DAYS[offset]


_TS_DAY0 = (BASE_TS.date() - BASE_DATE).days


def stamp(seconds: int) -> str:
    """BASE_TS + seconds, in ISO 8601 with the UTC offset (what datetime.isoformat gives)."""
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    return f"{_day(_TS_DAY0 + days)}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}+00:00"


def _str_or_null(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


Key = tuple[float, str]  # (seconds after BASE_TS, id): the keyset order


@dataclass(frozen=True)
class Spec:
    groups: int = 200
    customers: int = 10_000
    invoices: int = 1_000_000
    payments: int = 10_000
    changed: int = 0  # invoices changed since the initial state

    def __post_init__(self) -> None:
        if min(self.groups, self.customers) < 1 or min(self.invoices, self.payments) < 0:
            raise ValueError("need at least one group and one customer")
        if not 0 <= self.changed <= self.invoices:
            raise ValueError("changed must be between 0 and the number of invoices")

    # -- naming in URLs ---------------------------------------------------------------------

    def path(self) -> str:
        return f"{self.groups}-{self.customers}-{self.invoices}-{self.payments}-{self.changed}"

    @classmethod
    def from_path(cls, text: str) -> Spec:
        g, c, i, p, m = (int(part) for part in text.split("-"))
        return cls(g, c, i, p, m)

    def count(self, entity: str) -> int:
        return int(getattr(self, entity))

    # -- changed invoices -------------------------------------------------------------------

    @property
    def stride(self) -> int:
        return self.invoices // self.changed if self.changed else 0

    def changed_index(self, k: int) -> int:
        """The k-th changed invoice (ascending in k, spread evenly over all invoices)."""
        return k * self.stride + self.stride - 1

    def is_changed(self, i: int) -> bool:
        s = self.stride
        return s > 0 and i % s == s - 1 and i // s < self.changed

    @property
    def change_base(self) -> int:
        """First change time of the changed rows: a day after the last initial row."""
        return math.ceil(self.invoices / PER_SECOND) + 86_400

    # -- rows, as JSON text (ids, names and dates here never need escaping) -------------------

    def group_row(self, g: int) -> str:
        h = mix(g * 8 + ENTITY_SALT["groups"])
        return (
            f'{{"id":"G-{g:04d}","name":"Group {g}",'
            f'"credit_limit":"{money(100_000_000 + h % 400_000_000)}","currency":"{CURRENCY}",'
            f'"changed_at":"{stamp(g // PER_SECOND)}"}}'
        )

    def customer_row(self, c: int) -> str:
        h = mix(c * 8 + ENTITY_SALT["customers"])
        limit = None if h % 100 < 5 else money(5_000_000 + (h >> 8) % 45_000_001)
        grouped = (h >> 40) % 100 < 30
        on_hold = (h >> 48) % 100 < 5
        group = f"G-{(h >> 20) % self.groups:04d}" if grouped else None
        return (
            f'{{"id":"C-{c:06d}","name":"Customer {c}","credit_limit":{_str_or_null(limit)},'
            f'"currency":"{CURRENCY}","group":{_str_or_null(group)},'
            f'"on_hold":{"true" if on_hold else "false"},'
            f'"hold_reason":{_str_or_null("disputed account" if on_hold else None)},'
            f'"changed_at":"{stamp(c // PER_SECOND)}"}}'
        )

    def invoice_cents(self, i: int, changed: bool, h: int | None = None) -> tuple[int, int, bool]:
        """(total, open amount) in cents as served, and whether it is cancelled at the source.
        A changed invoice flips between open and paid."""
        if h is None:
            h = mix(i * 8 + ENTITY_SALT["invoices"])
        total = 5_000 + h % 495_001
        kind = (h >> 20) % 200
        cancelled = kind == 1  # still shows its open amount: the sync must count it as zero
        if kind == 0:  # credit note: negative, half of them still open
            total = -total
            open_ = total if (h >> 27) & 1 else 0
        elif kind < 30:  # open, in full or in part
            open_ = total if (h >> 27) & 1 else total // 2
        else:  # paid
            open_ = 0
        if changed:
            open_ = 0 if open_ else total
        return total, open_, cancelled

    def invoice_exposure(self, i: int) -> int:
        """What invoice i must add to its customer's open invoices, in cents."""
        _total, open_, cancelled = self.invoice_cents(i, self.is_changed(i))
        return 0 if cancelled else open_

    def invoice_row(self, i: int, change: int | None = None) -> str:
        """Invoice i as served; `change` is its rank among the changed ones, if it changed."""
        h = mix(i * 8 + ENTITY_SALT["invoices"])
        total, open_, cancelled = self.invoice_cents(i, change is not None, h)
        issue = (h >> 40) % 365
        seconds = i // PER_SECOND if change is None else self.change_base + change // PER_SECOND
        order = f'"SO-{i:07d}"' if (h >> 50) % 20 == 0 else "null"
        return (
            f'{{"id":"INV-{i:07d}","customer":"C-{i % self.customers:06d}",'
            f'"number":"INV/{i:07d}","issue_date":"{_day(issue)}",'
            f'"due_date":"{_day(issue + 30)}","currency":"{CURRENCY}",'
            f'"total":"{money(total)}","open_amount":"{money(open_)}",'
            f'"cancelled":{"true" if cancelled else "false"},"order_ref":{order},'
            f'"changed_at":"{stamp(seconds)}"}}'
        )

    def payment_cents(self, p: int, h: int | None = None) -> tuple[int, int]:
        if h is None:
            h = mix(p * 8 + ENTITY_SALT["payments"])
        amount = 1_000 + h % 199_001
        return amount, amount if (h >> 20) % 100 < 30 else 0

    def payment_row(self, p: int) -> str:
        h = mix(p * 8 + ENTITY_SALT["payments"])
        amount, unapplied = self.payment_cents(p, h)
        return (
            f'{{"id":"P-{p:07d}","customer":"C-{p % self.customers:06d}",'
            f'"date":"{_day((h >> 40) % 365)}","currency":"{CURRENCY}",'
            f'"amount":"{money(amount)}","unapplied":"{money(unapplied)}",'
            f'"changed_at":"{stamp(p // PER_SECOND)}"}}'
        )

    # -- keyset paging ----------------------------------------------------------------------

    def page(self, entity: str, after: Key | None, limit: int) -> tuple[list[str], bool]:
        """Rows (JSON text) with (changed_at, id) > `after`, oldest first, at most `limit`, and
        whether more follow."""
        if entity == "invoices":
            rows = self._invoice_rows(after, limit + 1)
        else:
            row: Callable[[int], str] = getattr(self, entity[:-1] + "_row")
            prefix = {"groups": "G-", "customers": "C-", "payments": "P-"}[entity]
            width = {"groups": 4, "customers": 6, "payments": 7}[entity]
            n = self.count(entity)
            start = 0
            if after is not None:
                start = bisect_right(
                    range(n), after, key=lambda p: (p // PER_SECOND, f"{prefix}{p:0{width}d}")
                )
            rows = [row(p) for p in range(start, min(n, start + limit + 1))]
        return rows[:limit], len(rows) > limit

    def _invoice_rows(self, after: Key | None, want: int) -> list[str]:
        n, m = self.invoices, self.changed
        rows: list[str] = []
        # Unchanged rows keep their initial change time, in index order.
        i = 0
        if after is not None:
            i = bisect_right(range(n), after, key=lambda j: (j // PER_SECOND, f"INV-{j:07d}"))
        while i < n and len(rows) < want:
            if not self.is_changed(i):
                rows.append(self.invoice_row(i))
            i += 1
        # Changed rows come after every unchanged one.
        if len(rows) < want and m:
            k = 0
            if after is not None:
                k = bisect_right(
                    range(m),
                    after,
                    key=lambda r: (
                        self.change_base + r // PER_SECOND,
                        f"INV-{self.changed_index(r):07d}",
                    ),
                )
            while k < m and len(rows) < want:
                rows.append(self.invoice_row(self.changed_index(k), change=k))
                k += 1
        return rows

    # -- what the database must hold, computed without the server or the database -------------

    def customer_expected(self, c: int) -> dict[str, int]:
        """Customer c's open invoices and unapplied payments in cents."""
        open_ = sum(self.invoice_exposure(i) for i in range(c, self.invoices, self.customers))
        unapplied = sum(self.payment_cents(p)[1] for p in range(c, self.payments, self.customers))
        return {"open_invoices": open_, "unapplied": unapplied}

    def total_open(self) -> int:
        return sum(self.invoice_exposure(i) for i in range(self.invoices))


def parse_after(changed_at: str | None, last_id: str | None) -> Key | None:
    if changed_at is None or last_id is None:
        return None
    when = datetime.fromisoformat(changed_at)
    if when.tzinfo is None:
        raise ValueError("after_changed_at needs a time zone")
    return (when - BASE_TS).total_seconds(), last_id
