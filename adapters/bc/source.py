"""Business Central as a customer source: customers and sales invoices changed since a
watermark, oldest change first, through the API v2.0 (`lastModifiedDateTime` in `$filter`
and `$orderby`); on an incremental read, every open invoice again after them (a partial
payment does not change an invoice's `lastModifiedDateTime`). After a complete invoice read,
the sync has invoices it holds as open that the read did not list as open read again one by
one (`GET salesInvoices({id})`, RechecksInvoices): an unposted invoice deleted is gone from
the API (404) and is then cancelled, and one that left Open unseen is read as it now is
(standard Business Central stamps a status change, to Paid too when the ledger entry closes:
table 5475's OnModify; the recheck does not rely on that).

What the standard API v2.0 offers for credit, and so what is read (Microsoft Learn, API v2.0
resource types `customer` and `salesInvoice`):

- `customers`: `number`, `displayName`, `creditLimit` (the customer card's "Credit Limit
  (LCY)", in the company's local currency; 0 means no limit), `blocked` (" ", "Ship",
  "Invoice" or "All"), `lastModifiedDateTime`.
- `salesInvoices`: `number`, `invoiceDate`, `dueDate`, `customerNumber`/`billToCustomerNumber`,
  `currencyCode`, `totalAmountIncludingTax`, `remainingAmount` (what is still open),
  `orderNumber`, `status` (" ", "Draft", "In Review", "Open", "Paid", "Canceled",
  "Corrective"). A cancelled invoice counts nowhere. A posted invoice that cancels a posted
  credit memo says "Corrective" whether it is open or paid (codeunit 5477's
  SetStatusOptionFromSalesInvoiceHeader tests Corrective before Closed), and its status, so
  its `lastModifiedDateTime`, does not change when it is paid or unapplied again
  (UpdateStatusIfChanged stamps only a change of status); its `remainingAmount` comes from the
  ledger like any posted invoice's. So "open" here is Open, or Corrective with something
  remaining, and the re-read of open invoices asks for both statuses.
  The API lists unposted invoices too (codeunit 5477 "Sales Invoice Aggregator"): one Released
  or Pending Prepayment has status Open and its full amount as `remainingAmount`, and is counted
  (it is about to be invoiced); posting gives it a new `number` but keeps its `id`, which is why
  `id` is the invoice's ref. Reopened, it becomes a Draft (In Review while pending approval),
  stamped anew: drafts and invoices in review are no receivables and are read as cancelled,
  leniently (a draft may lack dates), so a released one reopened stops counting; a draft without
  a customer cannot have been released and is passed over without an error.
- Currency: an invoice in the company's local currency carries the General Ledger Setup's
  "LCY Code" as its `currencyCode` (page 30012 "APIV2 - Sales Invoices", through codeunit 5465's
  TranslateNAVCurrencyCodeToCurrencyCode). That code is free text (Code[10], e.g. "RMB"), so
  it is read once from `companyInformation` (`currencyCode`, page 30011 "APIV2 - Company
  Information": the LCY Code) and an invoice carrying it is in `local_currency`; an LCY code
  that is an ISO 4217 code other than `local_currency` is a misconfiguration and fails the
  read.
- Payments: `customerPayments` are lines of a payment journal, not posted payments; the
  standard API has no posted customer ledger. Applied payments show in each invoice's
  `remainingAmount`; unapplied payments are not read (README "Business Central").
- Credit memos: `salesCreditMemos` carry no remaining amount (only a status), so what of one
  is still open cannot be read; they are not read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from adapters import fields
from adapters.bc.api import SERVICE, BcClient, Row, odata_text
from adapters.fields import Invalid
from adapters.http import RemoteRejected
from gating.money import is_currency
from gating.records import CustomerData, GroupData, InvoiceData, PaymentData, RecordError
from gating.sources import Page, Watermark

T = TypeVar("T")

# How far before its watermark an incremental read starts again: covers transactions that
# committed after a later-stamped one was read; re-read records upsert harmlessly.
DEFAULT_OVERLAP = timedelta(minutes=10)
NOT_BLOCKED = " "
NOT_RECEIVABLE = {"", "Draft", "In Review"}
OPEN = "Open"
CORRECTIVE = "Corrective"  # a posted invoice that cancels a posted credit memo, open or paid
CANCELLED = "Canceled"  # Business Central's spelling
BLANK_DATE = date(1, 1, 1)  # how Business Central writes an empty date
ZERO = Decimal(0)
# An `id` as the API writes it (a GUID without braces): the only thing put in a record's URL.
GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


class BcSource(BcClient):
    """Read customers and sales invoices (the SourceAdapter interface)."""

    local_currency: str
    overlap: timedelta
    _open_refs: set[str] | None = None
    _lcy_code: str | None = None
    """The company's LCY Code as `companyInformation` gave it (trimmed, upper case), read once."""

    def groups(self, since: Watermark | None) -> Iterator[Page[GroupData]]:
        """The API has no credit groups: nothing to read."""
        return iter(())

    def payments(self, since: Watermark | None) -> Iterator[Page[PaymentData]]:
        """The API has no posted payments (see the module's docstring): nothing to read."""
        return iter(())

    def customers(self, since: Watermark | None) -> Iterator[Page[CustomerData]]:
        """Customers changed since `since`; one that breaks a field rule is a RecordError.

        :raises TransientError: Business Central stayed unreachable, slow or throttling.
        :raises RemoteRejected: it refused the read (permissions, the company id).
        """
        return self._read("customers", since, self._customer)

    def invoices(self, since: Watermark | None) -> Iterator[Page[InvoiceData]]:
        """Sales invoices changed since `since`, then, on an incremental read, every open
        invoice again; `open_invoice_refs()` then answers which invoices are open.

        An invoice is keyed by its `id`, not its `number`: an unposted invoice that is
        released has status Open and a draft number, and keeps its `id` when posting gives
        it the posted number, so the posted invoice replaces the released one.

        A draft or an invoice in review is no receivable, but may be a released invoice
        reopened: it is read as cancelled (fields it lacks are not errors), so a stored one
        stops counting; one without a customer cannot have been released and is passed over.

        `remainingAmount` is computed from the ledger when read, and a payment applied to part
        of an invoice leaves it Open with its `lastModifiedDateTime` unchanged, as a payment
        applied to a Corrective invoice, or unapplied from it, does: no watermark finds them.
        So every incremental read also reads all invoices with status Open or Corrective (pages
        without a watermark: they move nothing, and re-read records upsert harmlessly).

        The company's LCY code is read first, once per adapter (`companyInformation`).

        :raises TransientError: Business Central stayed unreachable, slow or throttling, or
            answered something that is not its own JSON.
        :raises RemoteRejected: it refused a read, or its LCY code is an ISO 4217 code other
            than `local_currency`.
        """
        self._open_refs = None
        self._company_lcy()
        seen: set[str] = set()

        def note_open(rows: list[Row]) -> None:
            seen.update(str(row.get("id")) for row in rows if _open(row))

        yield from self._read(
            "salesInvoices",
            since,
            self._invoice,
            keep=_worth_reading,
            look=note_open if since is None else None,
        )
        if since is not None:
            # The open set is this re-read's alone: an invoice that left Open after the read
            # above is then read again by id, never left counting.
            either = " or ".join(f"status eq {odata_text(s)}" for s in (OPEN, CORRECTIVE))
            status = {"$filter": either}
            for rows in self.pages("salesInvoices", status):
                note_open(rows)
                kept = [row for row in rows if _receivable(row)]
                records, errors = fields.mapped("salesInvoices", kept, self._invoice, _ref)
                if rows:
                    yield Page(records, errors, None)
        self._open_refs = seen

    def open_invoice_refs(self) -> set[str] | None:
        """The `id` of every invoice the last complete `invoices()` read listed as open, with
        status Open or Corrective with a `remainingAmount` other than 0 (a full read: among
        every invoice; an incremental one: its re-read of the Open and Corrective ones); None
        before one completed (RechecksInvoices). Every invoice listed so was stored as read."""
        return self._open_refs

    def recheck_invoices(self, held: Sequence[InvoiceData]) -> Page[InvoiceData]:
        """Each of `held` read again by its `id` (`GET salesInvoices({id})`): mapped as a read
        maps it; a draft or one in review, or one the API no longer has (404: deleted while
        unposted), comes back cancelled (RechecksInvoices).

        :raises TransientError, RemoteRejected: as a read (a 404 aside).
        """
        self._company_lcy()
        records: list[InvoiceData] = []
        errors: list[RecordError] = []
        for invoice in held:
            if not GUID.fullmatch(invoice.ref):
                errors.append(RecordError("salesInvoices", invoice.ref, "id is not a GUID"))
                continue
            row = self._one_invoice(invoice.ref)
            if row is None or not _receivable(row):
                records.append(replace(invoice, open_amount=ZERO, cancelled=True))
                continue
            more, bad = fields.mapped("salesInvoices", [row], self._invoice, _ref)
            records.extend(more)
            errors.extend(bad)
        return Page(records, errors, None)

    def _one_invoice(self, record_id: str) -> Row | None:
        """The invoice with this `id`, or None when Business Central says there is no such
        record (a 404 that is not its own answer is a TransientError, never "deleted")."""
        name = f"salesInvoices({record_id})"
        return self.get_record(self.resource(name), f"read {name}")

    def _company_lcy(self) -> str:
        """The company's LCY code (General Ledger Setup's "LCY Code", `currencyCode` of its one
        `companyInformation` row), read once per adapter; "" when the company has none.

        :raises RemoteRejected: no company information listed, or an LCY code that is an
            ISO 4217 code other than `local_currency` (every amount would be misread).
        :raises TransientError: as any read.
        """
        if self._lcy_code is None:
            what = "read companyInformation"
            body = self.get_json(self.resource("companyInformation"), what, collection=True)
            rows = [row for row in body["value"] if isinstance(row, dict)]
            if not rows:
                raise RemoteRejected(
                    f"{SERVICE}: {what} listed nothing for company {self.company}: check the "
                    "application's permissions in Business Central",
                    service=SERVICE,
                )
            found = rows[0].get("currencyCode")
            code = found.strip().upper() if isinstance(found, str) else ""
            if code != self.local_currency and is_currency(code):
                raise RemoteRejected(
                    f"{SERVICE}: company {self.company} keeps its books in {code} (its LCY "
                    f"Code), but this source's local currency is {self.local_currency}: every "
                    "credit limit and local-currency invoice would be misread; set "
                    f"--local-currency {code}",
                    service=SERVICE,
                )
            self._lcy_code = code
        return self._lcy_code

    def _read(
        self,
        name: str,
        since: Watermark | None,
        convert: Callable[[Row], T],
        keep: Callable[[Row], bool] = lambda row: True,
        look: Callable[[list[Row]], None] | None = None,
    ) -> Iterator[Page[T]]:
        """Rows changed since `since` (every row when None), oldest first; `look` sees each
        page's rows as they come."""
        params: dict[str, Any] = {"$orderby": "lastModifiedDateTime asc"}
        if since is not None:
            start = since.changed_at - self.overlap
            params["$filter"] = f"lastModifiedDateTime ge {_iso(start)}"
        for rows in self.pages(name, params):
            if look is not None:
                look(rows)
            marks = [w for w in map(_watermark, rows) if w is not None]
            if since is not None:
                marks.append(since)
            last = max(marks, key=lambda w: (w.changed_at, w.last_id), default=None)
            # The record the watermark names was read already; others within the overlap are
            # read again (they upsert harmlessly).
            kept = [
                row for row in rows if keep(row) and (since is None or _watermark(row) != since)
            ]
            records, errors = fields.mapped(name, kept, convert, _ref)
            if rows:
                yield Page(records, errors, last)

    def _customer(self, row: Row) -> CustomerData:
        limit = row.get("creditLimit")
        # Business Central reads a credit limit of 0 as "no limit", as NAV does.
        amount = None if not limit else fields.amount(limit, self.local_currency, "creditLimit")
        if amount is not None and amount < 0:
            raise Invalid("creditLimit is negative")
        if _watermark(row) is None:
            raise Invalid("has no valid lastModifiedDateTime or id")
        blocked = str(row.get("blocked") or NOT_BLOCKED).strip() or NOT_BLOCKED
        return CustomerData(
            ref=fields.ref(row.get("number"), "number"),
            name=fields.text(row.get("displayName"), "displayName"),
            credit_limit=amount,
            currency=self.local_currency,
            on_hold=blocked != NOT_BLOCKED,
            hold_reason=None
            if blocked == NOT_BLOCKED
            else f"blocked in Business Central (blocked: {blocked})",
        )

    def _invoice(self, row: Row) -> InvoiceData:
        if not _receivable(row):
            return self._withdrawn(row)
        currency = self._currency(row.get("currencyCode"))
        record_id = fields.ref(row.get("id"), "id")
        number = fields.ref(row.get("number"), "number")
        cancelled = _status(row) == CANCELLED
        total = fields.amount(
            row.get("totalAmountIncludingTax"), currency, "totalAmountIncludingTax"
        )
        remaining = fields.amount(row.get("remainingAmount"), currency, "remainingAmount")
        return InvoiceData(
            ref=record_id,
            customer_ref=fields.ref(_customer_number(row), "customerNumber"),
            number=number,
            issue_date=_day(row.get("invoiceDate") or row.get("postingDate"), "invoiceDate"),
            due_date=_day(row.get("dueDate"), "dueDate"),
            currency=currency,
            total=total,
            open_amount=remaining,
            order_ref=fields.optional_ref(row.get("orderNumber"), "orderNumber"),
            cancelled=cancelled,
        )

    def _withdrawn(self, row: Row) -> InvoiceData:
        """A draft or an invoice in review, as a cancelled invoice: read leniently (a draft may
        lack its number, dates or currency), since it only withdraws a stored invoice."""
        record_id = fields.ref(row.get("id"), "id")
        try:
            currency = self._currency(row.get("currencyCode"))
        except Invalid:
            currency = self.local_currency
        try:
            total = fields.amount(row.get("totalAmountIncludingTax"), currency, "total")
        except Invalid:
            total = ZERO
        modified = _modified(row)
        fallback = modified.date() if modified is not None else BLANK_DATE
        issued = _lenient_day(row.get("invoiceDate")) or fallback
        return InvoiceData(
            ref=record_id,
            customer_ref=fields.ref(_customer_number(row), "customerNumber"),
            number=fields.optional_ref(row.get("number"), "number") or record_id,
            issue_date=issued,
            due_date=_lenient_day(row.get("dueDate")) or issued,
            currency=currency,
            total=total,
            open_amount=ZERO,
            cancelled=True,
        )

    def _currency(self, code: Any) -> str:
        """An invoice's currency: blank or the company's LCY code (which need not be an ISO
        code) is `local_currency`; any other code must be ISO 4217."""
        if code is None or not str(code).strip():
            return self.local_currency
        if self._lcy_code and isinstance(code, str) and code.strip().upper() == self._lcy_code:
            return self.local_currency
        return fields.currency(code)


def _status(row: Row) -> str:
    return str(row.get("status") or "").strip()


def _receivable(row: Row) -> bool:
    return _status(row) not in NOT_RECEIVABLE


def _open(row: Row) -> bool:
    """Open at Business Central: status Open, or Corrective (open or paid alike) with something
    remaining; a `remainingAmount` that is not a number does not make it paid."""
    status = _status(row)
    if status != CORRECTIVE:
        return status == OPEN
    remaining = row.get("remainingAmount")
    if isinstance(remaining, bool) or not isinstance(remaining, int | Decimal | str):
        return True
    try:
        return Decimal(str(remaining).strip()) != 0
    except ArithmeticError:
        return True


def _customer_number(row: Row) -> Any:
    return row.get("billToCustomerNumber") or row.get("customerNumber")


def _worth_reading(row: Row) -> bool:
    """A receivable, or a draft with a customer (it may withdraw a released invoice); a draft
    without one cannot have been released, and is passed over without a word."""
    return _receivable(row) or bool(str(_customer_number(row) or "").strip())


def _lenient_day(value: Any) -> date | None:
    """A date if there is a valid one (not Business Central's blank 0001-01-01), else None."""
    try:
        return _day(value, "date")
    except Invalid:
        return None


def _ref(row: Row) -> str:
    """How a skipped record is named: its number, else its id."""
    return str(row.get("number") or row.get("id") or "")


def _day(value: Any, name: str) -> date:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{name} is missing")
    found = fields.day_text(value, name)
    if found == BLANK_DATE:
        raise Invalid(f"{name} is missing")
    return found


def _iso(moment: datetime) -> str:
    """An OData DateTimeOffset literal (no quotes), in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _modified(row: Row) -> datetime | None:
    return fields.instant(row.get("lastModifiedDateTime"))


def _watermark(row: Row) -> Watermark | None:
    moment, record_id = _modified(row), str(row.get("id") or "")
    if moment is None or not record_id:
        return None
    return Watermark(moment, record_id)
