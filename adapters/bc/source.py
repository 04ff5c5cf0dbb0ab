"""Business Central as a customer source: customers and sales invoices changed since a
watermark, oldest change first, through the API v2.0 (`lastModifiedDateTime` in `$filter`
and `$orderby`); on an incremental read, every open invoice again after them (a partial
payment does not change an invoice's `lastModifiedDateTime`).

What the standard API v2.0 offers for credit, and so what is read (Microsoft Learn, API v2.0
resource types `customer` and `salesInvoice`):

- `customers`: `number`, `displayName`, `creditLimit` (the customer card's "Credit Limit
  (LCY)", in the company's local currency; 0 means no limit), `blocked` (" ", "Ship",
  "Invoice" or "All"), `lastModifiedDateTime`.
- `salesInvoices`: `number`, `invoiceDate`, `dueDate`, `customerNumber`/`billToCustomerNumber`,
  `currencyCode`, `totalAmountIncludingTax`, `remainingAmount` (what is still open),
  `orderNumber`, `status` (" ", "Draft", "In Review", "Open", "Paid", "Canceled",
  "Corrective"). Drafts and invoices in review are not receivables and are passed over; a
  cancelled invoice counts nowhere. The API lists unposted invoices too (codeunit 5477
  "Sales Invoice Aggregator"): one Released or Pending Prepayment has status Open and its
  full amount as `remainingAmount`, and is counted (it is about to be invoiced); posting
  gives it a new `number` but keeps its `id`, which is why `id` is the invoice's ref.
- Payments: `customerPayments` are lines of a payment journal, not posted payments; the
  standard API has no posted customer ledger. Applied payments show in each invoice's
  `remainingAmount`; unapplied payments are not read (README "Business Central").
- Credit memos: `salesCreditMemos` carry no remaining amount (only a status), so what of one
  is still open cannot be read; they are not read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from adapters import fields
from adapters.bc.api import BcClient, Row, odata_text
from adapters.fields import Invalid
from gating.records import CustomerData, GroupData, InvoiceData, PaymentData
from gating.sources import Page, Watermark

T = TypeVar("T")

# How far before its watermark an incremental read starts again: covers transactions that
# committed after a later-stamped one was read; re-read records upsert harmlessly.
DEFAULT_OVERLAP = timedelta(minutes=10)
NOT_BLOCKED = " "
NOT_RECEIVABLE = {"", "Draft", "In Review"}
OPEN = "Open"
CANCELLED = "Canceled"  # Business Central's spelling
BLANK_DATE = date(1, 1, 1)  # how Business Central writes an empty date


class BcSource(BcClient):
    """Read customers and sales invoices (the SourceAdapter interface)."""

    local_currency: str
    overlap: timedelta

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
        """Sales invoices changed since `since` (drafts and those in review passed over; they
        still move the watermark), then, on an incremental read, every open invoice again.

        An invoice is keyed by its `id`, not its `number`: an unposted invoice that is
        released has status Open and a draft number, and keeps its `id` when posting gives
        it the posted number, so the posted invoice replaces the released one.

        `remainingAmount` is computed from the ledger when read, and a payment applied to part
        of an invoice leaves it Open with its `lastModifiedDateTime` unchanged: no watermark
        finds it. So every incremental read also reads all invoices with status Open (pages
        without a watermark: they move nothing, and re-read records upsert harmlessly).
        """
        yield from self._read("salesInvoices", since, self._invoice, keep=_receivable)
        if since is None:
            return  # a full read has just read every invoice
        for rows in self.pages("salesInvoices", {"$filter": f"status eq {odata_text(OPEN)}"}):
            kept = [row for row in rows if _receivable(row)]
            records, errors = fields.mapped("salesInvoices", kept, self._invoice, _ref)
            if rows:
                yield Page(records, errors, None)

    def _read(
        self,
        name: str,
        since: Watermark | None,
        convert: Callable[[Row], T],
        keep: Callable[[Row], bool] = lambda row: True,
    ) -> Iterator[Page[T]]:
        params: dict[str, Any] = {"$orderby": "lastModifiedDateTime asc"}
        if since is not None:
            start = since.changed_at - self.overlap
            params["$filter"] = f"lastModifiedDateTime ge {_iso(start)}"
        for rows in self.pages(name, params):
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
        currency = self._currency(row.get("currencyCode"))
        record_id = fields.ref(row.get("id"), "id")
        number = fields.ref(row.get("number"), "number")
        customer = row.get("billToCustomerNumber") or row.get("customerNumber")
        cancelled = str(row.get("status") or "").strip() == CANCELLED
        total = fields.amount(
            row.get("totalAmountIncludingTax"), currency, "totalAmountIncludingTax"
        )
        remaining = fields.amount(row.get("remainingAmount"), currency, "remainingAmount")
        return InvoiceData(
            ref=record_id,
            customer_ref=fields.ref(customer, "customerNumber"),
            number=number,
            issue_date=_day(row.get("invoiceDate") or row.get("postingDate"), "invoiceDate"),
            due_date=_day(row.get("dueDate"), "dueDate"),
            currency=currency,
            total=total,
            open_amount=remaining,
            order_ref=fields.optional_ref(row.get("orderNumber"), "orderNumber"),
            cancelled=cancelled,
        )

    def _currency(self, code: Any) -> str:
        if code is None or not str(code).strip():
            return self.local_currency
        return fields.currency(code)


def _receivable(row: Row) -> bool:
    return str(row.get("status") or "").strip() not in NOT_RECEIVABLE


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
