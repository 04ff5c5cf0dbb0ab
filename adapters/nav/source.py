"""Dynamics NAV / Business Central as a sync source: customers, and the invoices, credit memos
and payments of the customer ledger, read from three published pages (soap.py):

- `Customer` (page 21): customers.
- `CustomerLedgerEntries` (page 25): invoices, credit memos and payments.
- `DetailedCustLedgEntries` (page 573): what changed on old ledger entries (see below).

Incremental reads of ledger entries. NAV stamps no change time on a ledger entry, but
`Entry_No` only grows, so new entries are those with `Entry_No` above the last one read. That
alone misses what exposure depends on most: a payment applied later to an old invoice (or an
application undone) changes the old entry's `Remaining_Amount` and `Open` without any new
ledger entry, and so does a due date edited on the entries page. Re-reading the entries still
open catches those on open entries, but not the change that matters most: an entry that was
open and has been closed since no longer passes an `Open` filter, so its old open amount would
stay in creditgate for ever. NAV records every change of an entry's remaining amount as a new
*detailed* ledger entry (`Remaining_Amount` is the sum of an entry's detailed entries), and
those have a growing `Entry_No` too. So an incremental read

1. reads again the old entries (up to the last one read) that are open now;
2. reads again the old entries that are closed now and have a detailed entry posted since the
   last read: those closed since (open scan and this one split the old entries between them);
3. reads the entries above the last one read.

What it cannot see: a field other than the amounts edited on an entry that is closed (nothing
creditgate uses for exposure or overdue). The cost: every run reads all open entries again.

The watermark's `last_id` is "<last ledger Entry_No>;<last detailed Entry_No>", `changed_at`
the posting date of that ledger entry. Customers are read in full every time: the Customer page
has `Last_Date_Modified`, but only as a date, set by the page's OnModify trigger and not by
code or imports that modify without it; customers are few next to ledger entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

import zeep

from adapters import fields
from adapters.fields import Invalid
from adapters.nav.soap import NavPages, Row
from gating.identifiers import MAX_ID_LENGTH
from gating.records import CustomerData, GroupData, InvoiceData, PaymentData, RecordError
from gating.sources import Page, Watermark

T = TypeVar("T")

INVOICE_TYPES = ("Invoice", "Credit Memo")
PAYMENT_TYPES = ("Payment",)
NOT_BLOCKED = "_blank_"
CODE_LENGTH = 20
"""NAV's customer numbers are Code[20]."""
MAX_CRITERIA = 250
"""Longest `Criteria` built from entry numbers (`12|57|89`): NAV versions limit filter strings,
and a few more calls cost less than a filter the server refuses."""

# NAV's filter values for a Boolean field.
_OPEN = {"Field": "Open", "Criteria": "Yes"}
_CLOSED = {"Field": "Open", "Criteria": "No"}

CUSTOMER_FIELDS = ["No", "Name", "Credit_Limit_LCY", "Blocked"]
"""The Customer page's fields read (the push target also needs its two warning fields)."""
LEDGER_FIELDS = [
    "Entry_No",
    "Posting_Date",
    "Document_Type",
    "Document_No",
    "Customer_No",
    "Currency_Code",
    "Amount",
    "Remaining_Amount",
    "Due_Date",
    "Open",
    "Reversed",
]


class NavSource(NavPages):
    """Read customers and ledger entries from NAV page web services (the SourceAdapter
    interface).

    Amounts in the ledger are from the customer account's side (an invoice is positive, a
    credit memo or a payment negative); a blank currency code means the local currency
    (`local_currency`, the company's LCY), which is also the currency of `Credit_Limit_LCY`
    and so of every customer's credit.
    """

    local_currency: str
    customer_filter: dict[str, str]
    window_pages = 10
    """New ledger entries are read in windows of `page_size * window_pages` entry numbers."""

    def groups(self, since: Watermark | None) -> Iterator[Page[GroupData]]:
        """NAV customers have no credit groups here: nothing to read."""
        return iter(())

    def customers(self, since: Watermark | None) -> Iterator[Page[CustomerData]]:
        """Every customer passing `customer_filter`, every time (pages carry no watermark)."""
        filters = [{"Field": f, "Criteria": c} for f, c in self.customer_filter.items()]
        for rows in self._read_all(self._customers, filters):
            yield self._page("customers", rows, self._customer, lambda r: f"Customer,{r.No}")

    def invoices(self, since: Watermark | None) -> Iterator[Page[InvoiceData]]:
        """Invoices (positive) and credit memos (negative) new or changed since `since`."""
        return self._entries("invoices", INVOICE_TYPES, since, self._invoice)

    def payments(self, since: Watermark | None) -> Iterator[Page[PaymentData]]:
        """Payments new or changed since `since`; unapplied = what is left open of them."""
        return self._entries("payments", PAYMENT_TYPES, since, self._payment)

    # ---- ledger entries ------------------------------------------------------------------------

    def _entries(
        self,
        entity: str,
        types: Sequence[str],
        since: Watermark | None,
        convert: Callable[[Row], T],
    ) -> Iterator[Page[T]]:
        """Ledger entries of `types`: after `since`, the old ones still open, then the old ones
        closed since, then the new ones (see the module's docstring)."""
        cursor = _Cursor.parse(since)
        # Taken first: whatever changes after this is in a later detailed entry, seen next time.
        top = max(self._last_detailed(), cursor.detailed)
        kinds = {"Field": "Document_Type", "Criteria": "|".join(types)}
        if since is not None:
            old = {"Field": "Entry_No", "Criteria": f"..{cursor.ledger}"}
            for rows in self._read_all(self._ledger, [kinds, old, _OPEN]):
                yield self._page(entity, rows, convert, _entry_ref)
            if top > cursor.detailed:
                yield from self._closed_since(entity, kinds, since, cursor, top, convert)
        yield from self._new_entries(entity, kinds, since, cursor, top, convert)

    def _new_entries(
        self,
        entity: str,
        kinds: Mapping[str, str],
        since: Watermark | None,
        cursor: _Cursor,
        top: int,
        convert: Callable[[Row], T],
    ) -> Iterator[Page[T]]:
        """The entries above `cursor.ledger`, read in windows of entry numbers, lowest window
        first, each ending with a watermark: whatever order the page lists entries in (NAV
        2018: Entry No. descending; Business Central: Customer No., Posting Date descending),
        every entry up to a window's end is in once the window is read, so a full read stopped
        half-way resumes after the last window it finished. The probe for more entries costs
        one call per window."""
        width = self.page_size * self.window_pages
        low = cursor.ledger
        latest: datetime | None = None if since is None else since.changed_at
        high_seen = 0
        while self._any_entry_above(low, kinds):
            high = low + width
            window = {"Field": "Entry_No", "Criteria": f"{low + 1}..{high}"}
            for rows in self._read_all(self._ledger, [dict(kinds), window]):
                yield self._page(entity, rows, convert, _entry_ref)
                for row in rows:
                    number = _entry_no(row)
                    if number > high_seen:
                        high_seen, latest = number, _posting_time(row)
            if latest is not None:
                # Up to the highest entry read, not the window's end: an entry posted later
                # gets a number above every entry there is now.
                done = _Cursor(max(cursor.ledger, high_seen), top)
                yield Page([], [], Watermark(latest, str(done)))
            low = high

    def _any_entry_above(self, number: int, kinds: Mapping[str, str]) -> bool:
        """Whether the ledger has an entry of `kinds` numbered above `number`."""
        rows = self._call(
            self._ledger,
            "ReadMultiple",
            filter=[dict(kinds), {"Field": "Entry_No", "Criteria": f">{number}"}],
            bookmarkKey=None,
            setSize=1,
        )
        return bool(rows)

    def _closed_since(
        self,
        entity: str,
        kinds: Mapping[str, str],
        since: Watermark,
        cursor: _Cursor,
        top: int,
        convert: Callable[[Row], T],
    ) -> Iterator[Page[T]]:
        """The ledger entries up to `cursor.ledger`, now closed, that have detailed entries
        after `cursor.detailed` up to `top`: those that were applied in full since."""
        filters = [
            {"Field": "Entry_No", "Criteria": f"{cursor.detailed + 1}..{top}"},
            {"Field": "Cust_Ledger_Entry_No", "Criteria": f"..{cursor.ledger}"},
        ]
        mark = _Rising()
        done = Watermark(since.changed_at, str(_Cursor(cursor.ledger, top)))
        watermark: Watermark | None = None
        for rows in self._read_all(self._detailed, filters):
            changed = sorted({int(r.Cust_Ledger_Entry_No) for r in rows})
            records: list[T] = []
            errors: list[RecordError] = []
            for chunk in _criteria_chunks(changed):
                numbers = {"Field": "Entry_No", "Criteria": chunk}
                entries = self._call(
                    self._ledger,
                    "ReadMultiple",
                    filter=[dict(kinds), numbers, _CLOSED],
                    bookmarkKey=None,
                    setSize=0,  # all: the chunk names a few dozen entries at most
                )
                page = self._page(entity, list(entries or []), convert, _entry_ref)
                records.extend(page.records)
                errors.extend(page.errors)
            last = mark.see(rows, lambda _r: since.changed_at)
            watermark = None
            if last is not None:
                watermark = Watermark(since.changed_at, str(_Cursor(cursor.ledger, last.entry)))
            yield Page(records, errors, watermark)
        if watermark != done:
            # Detailed entries up to `top` not listed belong to new ledger entries, read next.
            yield Page([], [], done)

    def _last_detailed(self) -> int:
        """The highest detailed entry number now (0 when there is none).

        setSize 1 reads the first record in the page's order and -1 the last; which one is the
        highest depends on how the page sorts, so both are read.
        """
        numbers = [0]
        for size in (1, -1):
            rows = self._call(
                self._detailed,
                "ReadMultiple",
                filter=zeep.xsd.SkipValue,
                bookmarkKey=None,
                setSize=size,
            )
            numbers.extend(int(r.Entry_No) for r in rows or [])
        return max(numbers)

    # ---- mapping -------------------------------------------------------------------------------

    def _page(
        self,
        entity: str,
        rows: Sequence[Row],
        convert: Callable[[Row], T],
        ref: Callable[[Row], str],
    ) -> Page[T]:
        return Page(*fields.mapped(entity, rows, convert, ref))

    def _customer(self, row: Row) -> CustomerData:
        limit = row.Credit_Limit_LCY
        # NAV reads a credit limit of 0 as "no limit", not as "no credit at all".
        amount = (
            None if not limit else fields.amount(limit, self.local_currency, "Credit_Limit_LCY")
        )
        if amount is not None and amount < 0:
            raise Invalid("Credit_Limit_LCY is negative")
        blocked = row.Blocked or NOT_BLOCKED
        return CustomerData(
            ref=fields.ref(row.No, "No", CODE_LENGTH),
            name=fields.text(row.Name, "Name"),
            credit_limit=amount,
            currency=self.local_currency,
            on_hold=blocked != NOT_BLOCKED,
            hold_reason=None if blocked == NOT_BLOCKED else f"blocked in NAV (Blocked: {blocked})",
        )

    def _currency(self, code: Any) -> str:
        if code is None or not str(code).strip():
            return self.local_currency
        return fields.currency(code)

    def _invoice(self, row: Row) -> InvoiceData:
        currency = self._currency(row.Currency_Code)
        posted = fields.day(row.Posting_Date, "Posting_Date")
        total = fields.amount(row.Amount, currency, "Amount")
        remaining = fields.amount(row.Remaining_Amount or 0, currency, "Remaining_Amount")
        return InvoiceData(
            ref=str(_entry_no(row)),
            customer_ref=fields.ref(row.Customer_No, "Customer_No", CODE_LENGTH),
            number=fields.text(row.Document_No, "Document_No", MAX_ID_LENGTH),
            issue_date=posted,
            due_date=fields.optional_day(row.Due_Date) or posted,
            currency=currency,
            total=total,
            open_amount=remaining,
            cancelled=bool(row.Reversed),
        )

    def _payment(self, row: Row) -> PaymentData:
        currency = self._currency(row.Currency_Code)
        amount = fields.amount(row.Amount, currency, "Amount")
        remaining = fields.amount(row.Remaining_Amount or 0, currency, "Remaining_Amount")
        return PaymentData(
            ref=str(_entry_no(row)),
            customer_ref=fields.ref(row.Customer_No, "Customer_No", CODE_LENGTH),
            date=fields.day(row.Posting_Date, "Posting_Date"),
            currency=currency,
            # A payment credits the customer: NAV shows it negative, creditgate positive.
            amount=-amount,
            unapplied=-remaining,
        )


@dataclass(frozen=True)
class _Cursor:
    """How far ledger reads got: the last ledger entry and the last detailed entry read."""

    ledger: int = 0
    detailed: int = 0

    @classmethod
    def parse(cls, since: Watermark | None) -> _Cursor:
        if since is None:
            return cls()
        try:
            ledger, detailed = (int(part) for part in since.last_id.split(";"))
        except ValueError:
            raise ValueError(
                f"watermark id {since.last_id!r} is not a NAV ledger cursor "
                "('<ledger entry no>;<detailed entry no>'); sync this source in full"
            ) from None
        return cls(ledger, detailed)

    def __str__(self) -> str:
        return f"{self.ledger};{self.detailed}"


@dataclass(frozen=True)
class _Seen:
    entry: int
    at: datetime

    def watermark(self, detailed: int) -> Watermark:
        return Watermark(self.at, str(_Cursor(self.entry, detailed)))


class _Rising:
    """Tracks the entries read so far: the highest, and whether they came in rising order.

    A page's watermark may only say "everything up to entry N is in" when every entry below N
    was read already, which holds only while the page lists entries in rising order.
    """

    def __init__(self) -> None:
        self.high: _Seen | None = None
        self.rising = True

    def see(self, rows: Sequence[Row], when: Callable[[Row], datetime]) -> _Seen | None:
        """Take in a page; return the highest entry so far if the order still rises."""
        for row in rows:
            number = _entry_no(row)
            if self.high is not None and number <= self.high.entry:
                self.rising = False
            else:
                self.high = _Seen(number, when(row))
        return self.high if self.rising else None


def _criteria_chunks(numbers: Sequence[int]) -> Iterator[str]:
    """`12|57|89` filters, each at most MAX_CRITERIA characters long."""
    chunk: list[str] = []
    for number in numbers:
        text = str(number)
        if chunk and len("|".join(chunk)) + 1 + len(text) > MAX_CRITERIA:
            yield "|".join(chunk)
            chunk = []
        chunk.append(text)
    if chunk:
        yield "|".join(chunk)


def _entry_no(row: Row) -> int:
    number = row.Entry_No
    if not isinstance(number, int):
        raise Invalid("has no Entry_No")
    return number


def _entry_ref(row: Row) -> str:
    return f"CustomerLedgerEntries,{row.Entry_No}"


def _posting_time(row: Row) -> datetime:
    # An entry without a posting date still moves the cursor; it is reported as an error.
    day = fields.optional_day(row.Posting_Date) or date(1970, 1, 1)
    return datetime.combine(day, time(0), tzinfo=UTC)
