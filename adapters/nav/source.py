"""Dynamics NAV / Business Central page web services (SOAP, zeep): a sync source and a push target.

Three published pages, each described by a WSDL bundled under adapters/wsdl/ and loaded from
file (never fetched from the server); only the service address comes from configuration:

- `Customer` (page 21): customers in; the warning level, a note and `Blocked` out.
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

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import requests
import zeep
from lxml import etree
from tenacity import Retrying
from zeep.exceptions import Fault, TransportError, XMLParseError, XMLSyntaxError
from zeep.transports import Transport

from adapters.http import (
    DEFAULT_TIMEOUT,
    RemoteRejected,
    Timeout,
    TransientError,
    new_retrying,
    new_session,
    route_status,
    transport_errors,
)
from gating.errors import InvalidAmount, UnknownCurrency
from gating.money import is_currency, parse_amount
from gating.push import WarningChange
from gating.records import CustomerData, GroupData, InvoiceData, PaymentData, RecordError
from gating.sources import Page, Watermark

log = logging.getLogger(__name__)

SERVICE = "nav-soap"
T = TypeVar("T")
Row = Any
"""A zeep record of a page (attributes named like the page's fields)."""

INVOICE_TYPES = ("Invoice", "Credit Memo")
PAYMENT_TYPES = ("Payment",)
BLOCKED_ALL = "All"
NOT_BLOCKED = "_blank_"
NOTE_LENGTH = 250
"""A Text[250] field, the usual length for a note field added by a page extension."""
MAX_CRITERIA = 250
"""Longest `Criteria` built from entry numbers (`12|57|89`): NAV versions limit filter strings,
and a few more calls cost less than a filter the server refuses."""

# NAV's filter values for a Boolean field.
_OPEN = {"Field": "Open", "Criteria": "Yes"}
_CLOSED = {"Field": "Open", "Criteria": "No"}
_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


CUSTOMER_WSDL = "nav_customer.wsdl"
LEDGER_WSDL = "nav_customer_ledger.wsdl"
DETAILED_WSDL = "nav_detailed_ledger.wsdl"


def _bundled() -> Path:
    return Path(str(resources.files("adapters") / "wsdl"))


@dataclass(frozen=True)
class NavWsdls:
    """The WSDL files of the three pages. The bundled ones describe the standard pages plus
    the two warning fields; a deployment whose pages differ saves its server's WSDLs
    (GET <base url><service name>) and points here, since zeep refuses fields it was not told
    about rather than guess."""

    customer: Path
    ledger: Path
    detailed: Path

    @classmethod
    def bundled(cls) -> NavWsdls:
        """The WSDLs shipped in this package (adapters/wsdl/)."""
        return cls.in_folder(_bundled())

    @classmethod
    def in_folder(cls, folder: Path) -> NavWsdls:
        """The WSDLs saved in `folder` under the bundled files' names."""
        return cls(folder / CUSTOMER_WSDL, folder / LEDGER_WSDL, folder / DETAILED_WSDL)


class Invalid(ValueError):
    """A NAV record that cannot become a domain record; the message says why."""


class NavFault(RemoteRejected):
    """NAV answered a SOAP fault; `fault` is its message as NAV wrote it."""

    def __init__(self, message: str, *, fault: str) -> None:
        super().__init__(message, service=SERVICE, status=500)
        self.fault = fault


class _Transport(Transport):  # type: ignore[misc]  # zeep has no type hints
    """zeep's transport with creditgate's error routing.

    NAV answers faults with HTTP 500 and a SOAP envelope: those go on to zeep, which raises
    `Fault`. Any other 4xx/5xx (an IIS or proxy error page, 401, 503) is routed here, before
    zeep could take a well-formed HTML error page for an "unknown fault".
    """

    def post(self, address: str, message: bytes, headers: dict[str, str]) -> requests.Response:
        what = headers.get("SOAPAction", address).strip('"').rsplit("/", 1)[-1]
        with transport_errors(SERVICE, what):
            response: requests.Response = super().post(address, message, headers)
        if response.status_code >= 400 and not _is_soap_fault(response.content):
            route_status(response, SERVICE, what)
        return response


def _is_soap_fault(content: bytes) -> bool:
    try:
        root = etree.fromstring(content, parser=_SAFE_XML)
    except etree.XMLSyntaxError:
        return False
    return root.find(f"{{{_SOAP_ENV}}}Body/{{{_SOAP_ENV}}}Fault") is not None


class _PageService:
    """One published page: its zeep service bound to `<base url><service name>`."""

    def __init__(
        self, wsdl: Path, base_url: str, transport: Transport, needs: Sequence[str]
    ) -> None:
        client = zeep.Client(str(wsdl), transport=transport)
        bindings = list(client.wsdl.bindings)
        if len(bindings) != 1:
            raise ValueError(f"{wsdl}: expected one page binding, found {len(bindings)}")
        binding = etree.QName(bindings[0])
        self.name: str = binding.localname.removesuffix("_Binding")
        self.url = base_url + quote(self.name)
        self.service = client.create_service(binding.text, self.url)
        entity = client.get_type(f"{{{binding.namespace}}}{self.name}")
        self.fields: frozenset[str] = frozenset(name for name, _ in entity.elements)
        missing = [f for f in needs if f not in self.fields]
        if missing:
            raise ValueError(
                f"{wsdl}: page {self.name} has no field {', '.join(missing)}; publish a page "
                "that shows it and save that page's WSDL"
            )


class NavSoapAdapter:
    """Read customers and ledger entries from NAV page web services; write warnings back.

    Amounts in the ledger are from the customer account's side (an invoice is positive, a
    credit memo or a payment negative); a blank currency code means the local currency
    (`local_currency`, the company's LCY), which is also the currency of `Credit_Limit_LCY`
    and so of every customer's credit. Calls that fail on the way (connection, timeout, HTTP
    5xx) are retried by `retrying`; SOAP faults are NAV refusing and raise RemoteRejected.
    """

    kind = "nav-soap"

    def __init__(
        self,
        base_url: str,
        username: str | None,
        password: str | None,
        *,
        local_currency: str,
        session: requests.Session | None = None,
        retrying: Retrying | None = None,
        page_size: int = 500,
        timeout: Timeout = DEFAULT_TIMEOUT,
        customer_filter: Mapping[str, str] | None = None,
        warning_field: str = "Credit_Warning",
        note_field: str = "Credit_Warning_Note",
        wsdls: NavWsdls | None = None,
        stale_key_retries: int = 2,
    ) -> None:
        """`base_url` ends with `/Page/` (`http://nav:7047/DynamicsNAV/WS/CRONUS/Page/`).

        Without `session`, a session with HTTP basic auth (NavUserPassword) is made. For
        Windows (NTLM) authentication pass a session whose `auth` is set, e.g.
        `requests_ntlm.HttpNtlmAuth(domain_user, password)`; a session without `auth` gets
        basic auth from `username` and `password`.
        """
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if not is_currency(local_currency):
            raise ValueError(f"local_currency {local_currency!r} is not an ISO 4217 code")
        if stale_key_retries < 0:
            raise ValueError("stale_key_retries must not be negative")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.local_currency = local_currency
        self._own_session = session is None
        self.session = session if session is not None else new_session(timeout)
        if self.session.auth is None and username is not None:
            self.session.auth = (username, password or "")
        self.retrying = retrying if retrying is not None else new_retrying()
        self.page_size = page_size
        self.timeout = timeout
        self.customer_filter = dict(customer_filter or {})
        self.warning_field = warning_field
        self.note_field = note_field
        self.stale_key_retries = stale_key_retries
        # Every call carries the (connect, read) timeout; `timeout=` is for loading documents,
        # which never happens over HTTP here (the WSDLs are files).
        transport = _Transport(
            session=self.session, timeout=max(timeout), operation_timeout=timeout
        )
        paths = wsdls or NavWsdls.bundled()
        self._customers = _PageService(
            paths.customer,
            self.base_url,
            transport,
            ["No", "Name", "Credit_Limit_LCY", "Blocked", warning_field, note_field],
        )
        self._ledger = _PageService(paths.ledger, self.base_url, transport, LEDGER_FIELDS)
        self._detailed = _PageService(
            paths.detailed, self.base_url, transport, ["Entry_No", "Cust_Ledger_Entry_No"]
        )
        unknown = sorted(set(self.customer_filter) - self._customers.fields)
        if unknown:
            raise ValueError(f"customer_filter names fields page Customer has not: {unknown}")

    # ---- the SourceAdapter interface ----------------------------------------------------------

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

    def close(self) -> None:
        """Release the connection pool, if this adapter made it."""
        if self._own_session:
            self.session.close()

    # ---- the PushTarget interface --------------------------------------------------------------

    def push(self, change: WarningChange) -> None:
        """Write the level, the step's note and (for a hold) `Blocked` = All on the customer.

        Read, then Update with the Key read. A fault on Update makes a fresh Read: a new Key
        means someone changed the customer meanwhile (NAV's "Other user has modified", in
        whatever language the server speaks), so the write is tried again on the fresh record,
        up to `stale_key_retries` times; the same Key means NAV refused the write itself.
        Nothing is written when the customer already shows this change: pushing it again is
        harmless.

        :raises RemoteRejected: no such customer, or NAV refused the write (its message).
        :raises TransientError: NAV stayed unreachable or failing, or the customer kept
            changing under us; the change stays queued.
        """
        wanted = self._wanted(change)
        record = self._read_customer(change.customer_ref)
        for attempt in range(self.stale_key_retries + 1):
            if all(getattr(record, f, None) == v for f, v in wanted.items()):
                return
            try:
                self._call(self._customers, "Update", Customer={"Key": record.Key, **wanted})
                return
            except NavFault as fault:
                fresh = self._read_customer(change.customer_ref, after=fault)
                if fresh.Key == record.Key:
                    raise
                log.info(
                    "nav customer %s changed between Read and Update (attempt %d): %s",
                    change.customer_ref,
                    attempt + 1,
                    fault.fault,
                )
                record = fresh
        raise TransientError(
            f"{SERVICE}: customer {change.customer_ref} changed under every one of "
            f"{self.stale_key_retries + 1} writes of change {change.change_id}; trying later",
            service=SERVICE,
        )

    def _wanted(self, change: WarningChange) -> dict[str, str]:
        suffix = f"; creditgate change {change.change_id}"
        step = (change.step or "no collection step")[: max(0, NOTE_LENGTH - len(suffix))]
        wanted = {self.warning_field: change.level, self.note_field: (step + suffix)[:NOTE_LENGTH]}
        if change.hold:
            wanted["Blocked"] = BLOCKED_ALL
        return wanted

    def _read_customer(self, ref: str, *, after: NavFault | None = None) -> Row:
        record = self._call(self._customers, "Read", No=ref)
        if record is None:
            because = f" (Update said: {after.fault})" if after is not None else ""
            raise RemoteRejected(
                f"{SERVICE}: no customer {ref!r} in NAV at {self._customers.url}{because}",
                service=SERVICE,
            )
        return record

    # ---- SOAP calls ----------------------------------------------------------------------------

    def _call(self, page: _PageService, operation: str, **params: Any) -> Any:
        """Call `operation` on `page`, retrying what failed on the way.

        :raises TransientError: NAV stayed unreachable, slow or failing (5xx without a fault).
        :raises NavFault: NAV answered a SOAP fault.
        :raises RemoteRejected: a 4xx (401: check the credentials), or an answer the WSDL
            does not describe.
        """
        return self.retrying(self._call_once, page, operation, params)

    def _call_once(self, page: _PageService, operation: str, params: dict[str, Any]) -> Any:
        what = f"{page.name}.{operation}"
        try:
            return getattr(page.service, operation)(**params)
        except Fault as exc:
            raise NavFault(f"{SERVICE}: {what} failed: {exc.message}", fault=exc.message) from exc
        except (XMLParseError, InvalidOperation) as exc:
            raise RemoteRejected(
                f"{SERVICE}: {what} answered with data its WSDL does not describe ({exc}); "
                f"if the page was changed, save its WSDL from {page.url} and configure it",
                service=SERVICE,
            ) from exc
        except (TransportError, XMLSyntaxError) as exc:
            raise TransientError(
                f"{SERVICE}: {what} answered with something that is not SOAP: {exc}",
                service=SERVICE,
            ) from exc

    def _read_all(
        self, page: _PageService, filters: Sequence[Mapping[str, str]]
    ) -> Iterator[list[Row]]:
        """Yield a page's records passing `filters`, `page_size` at a time, in the page's order.

        NAV pages with the Key of the last record read (`bookmarkKey`) and has read everything
        when an empty set comes back.
        """
        bookmark: str | None = None
        while True:
            rows = self._call(
                page,
                "ReadMultiple",
                # No filter element at all (not an empty one) reads everything, as .NET sends it.
                filter=list(filters) if filters else zeep.xsd.SkipValue,
                bookmarkKey=bookmark,
                setSize=self.page_size,
            )
            if not rows:
                return
            yield list(rows)
            bookmark = rows[-1].Key

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
        filters = [kinds]
        if since is not None:
            filters.append({"Field": "Entry_No", "Criteria": f">{cursor.ledger}"})
        mark = _Rising()
        for rows in self._read_all(self._ledger, filters):
            page = self._page(entity, rows, convert, _entry_ref)
            last = mark.see(rows, _posting_time)
            watermark = None if last is None else last.watermark(top)
            yield Page(page.records, page.errors, watermark)
        if not mark.rising and mark.high is not None:
            # The page lists newest first: only now is every entry up to the highest one in.
            yield Page([], [], mark.high.watermark(top))

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
        records: list[T] = []
        errors: list[RecordError] = []
        for row in rows:
            try:
                records.append(convert(row))
            except Invalid as exc:
                errors.append(RecordError(entity, ref(row), str(exc)))
        return Page(records, errors)

    def _customer(self, row: Row) -> CustomerData:
        limit = row.Credit_Limit_LCY
        # NAV reads a credit limit of 0 as "no limit", not as "no credit at all".
        amount = None if not limit else _amount(limit, self.local_currency, "Credit_Limit_LCY")
        if amount is not None and amount < 0:
            raise Invalid("Credit_Limit_LCY is negative")
        blocked = row.Blocked or NOT_BLOCKED
        return CustomerData(
            ref=_text(row.No, "No", 20),
            name=_text(row.Name, "Name", 300),
            credit_limit=amount,
            currency=self.local_currency,
            on_hold=blocked != NOT_BLOCKED,
            hold_reason=None if blocked == NOT_BLOCKED else f"blocked in NAV (Blocked: {blocked})",
        )

    def _currency(self, code: Any) -> str:
        if code is None or not str(code).strip():
            return self.local_currency
        if not is_currency(str(code)):
            raise Invalid(f"currency {code!r} is not an ISO 4217 code creditgate knows")
        return str(code)

    def _invoice(self, row: Row) -> InvoiceData:
        currency = self._currency(row.Currency_Code)
        posted = _date(row.Posting_Date, "Posting_Date")
        total = _amount(row.Amount, currency, "Amount")
        remaining = _amount(row.Remaining_Amount or 0, currency, "Remaining_Amount")
        return InvoiceData(
            ref=str(_entry_no(row)),
            customer_ref=_text(row.Customer_No, "Customer_No", 20),
            number=_text(row.Document_No, "Document_No", 100),
            issue_date=posted,
            due_date=_optional_date(row.Due_Date) or posted,
            currency=currency,
            total=total,
            open_amount=remaining,
            cancelled=bool(row.Reversed),
        )

    def _payment(self, row: Row) -> PaymentData:
        currency = self._currency(row.Currency_Code)
        amount = _amount(row.Amount, currency, "Amount")
        remaining = _amount(row.Remaining_Amount or 0, currency, "Remaining_Amount")
        return PaymentData(
            ref=str(_entry_no(row)),
            customer_ref=_text(row.Customer_No, "Customer_No", 20),
            date=_date(row.Posting_Date, "Posting_Date"),
            currency=currency,
            # A payment credits the customer: NAV shows it negative, creditgate positive.
            amount=-amount,
            unapplied=-remaining,
        )


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
    day = _optional_date(row.Posting_Date) or date(1970, 1, 1)
    return datetime.combine(day, time(0), tzinfo=UTC)


def _optional_date(value: Any) -> date | None:
    # NAV writes a blank date (0D) as 0001-01-01.
    if not isinstance(value, date) or value == date.min:
        return None
    return value


def _date(value: Any, name: str) -> date:
    day = _optional_date(value)
    if day is None:
        raise Invalid(f"{name} is blank")
    return day


def _text(value: Any, name: str, longest: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Invalid(f"{name} is empty")
    if len(text) > longest:
        raise Invalid(f"{name} is longer than {longest} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise Invalid(f"{name} contains control characters")
    return text


def _amount(value: Any, currency: str, name: str) -> Decimal:
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        raise Invalid(f"{name} is missing")
    try:
        return parse_amount(Decimal(value), currency)
    except (InvalidAmount, UnknownCurrency) as exc:
        raise Invalid(f"{name}: {exc}") from None
