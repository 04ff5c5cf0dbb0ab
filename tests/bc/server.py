"""A fake Business Central for the tests: an in-memory company behind its REST API v2.0 and a
Microsoft Entra token endpoint, on loopback.

The payloads follow Microsoft Learn's API v2.0 reference (facts kept, fixtures written here):
- customer: every property of the "customer resource type" page, in its order; `blocked` is
  " ", "Ship", "Invoice" or "All"; `creditLimit` a decimal (api-reference/v2.0/resources/
  dynamics_customer); the example values are shaped like "Get customers" and "Update
  customers" (`currencyCode` "USD" with a zero `currencyId` for a local-currency customer).
- salesInvoice: every property of the "salesInvoice resource type" page, in its order;
  `status` " ", "Draft", "In Review", "Open", "Paid", "Canceled" or "Corrective"
  (api-reference/v2.0/resources/dynamics_salesinvoice; example ids and numbers shaped like
  "Get salesInvoices").
- a collection is `{"@odata.context": ..., "value": [...]}` plus `@odata.nextLink` (an
  absolute URL with `$skiptoken`) while more rows follow; every entity carries
  `@odata.etag` ("Tips for working with the APIs"; "Server-driven paging" in the OData
  docs Business Central follows).
- PATCH needs `If-Match` with the entity's etag; a stale one is 412 ("Update customers").
- `$filter=status eq 'Open'` on salesInvoices is Microsoft's own example ("Using filters with
  OData/API calls"); `or` between two comparisons is in the table of "Using filter expressions
  in OData URIs" (`$filter=Country_Region_Code eq 'ES' or ...`).
- currencyCode: an invoice in the company's local currency (its Currency Code blank) is served
  with the General Ledger Setup's "LCY Code" (page 30012 "APIV2 - Sales Invoices",
  SetCalculatedFields: codeunit 5465's TranslateNAVCurrencyCodeToCurrencyCode returns the
  Currency Code if not blank, else the LCY Code), which is a free Code[10] (e.g. "RMB").
- companyInformation: `GET companies({id})/companyInformation`; its `currencyCode` is the LCY
  Code (page 30011 "APIV2 - Company Information", SetCalculatedFields). The properties and
  their example values are Learn's "Get companyInformation" (API v2.0). Learn shows the entity
  alone ("may be truncated"); page 30011 is a list (a repeater) keyed by SystemId, as a PATCH
  on `companyInformation({id})` answering `.../companyInformation/$entity` shows, so a GET on
  the set answers a collection holding the company's one row, as served here.
- Status "Corrective" (codeunit 5477, SetStatusOptionFromSalesInvoiceHeader: Cancelled, then
  Corrective, then Closed = Paid, else Open): an invoice that cancels a posted credit memo is
  Corrective whether open or paid; UpdateStatusIfChanged calls Modify(true), the stamp, only
  when the status changes, so paying or unapplying one changes only its `remainingAmount`
  (`modify_invoice(remainingAmount=...)` here); page 30012's GetRemainingAmount reads it from
  the ledger for every posted invoice but a Canceled one.
- From the application code behind salesInvoices (codeunit 5477 "Sales Invoice Aggregator"),
  as the issue-15 review reads it, not checked here line by line: an unposted invoice that is
  Released or Pending Prepayment has status Open and its full amount as `remainingAmount`;
  posting it gives the record the posted number and keeps its `id` (`post_invoice`);
  `remainingAmount` is computed from the customer ledger when read, so a payment applied to
  part of an invoice leaves `lastModifiedDateTime` alone (`modify_invoice`).
- Checked in that codeunit and in table 5475 "Sales Invoice Entity Aggregate" (Microsoft's
  Base Application, as kept in StefanMaron/MSDyn365BC.Code.History:
  BaseApp/Source/Base Application/Integration/Entity/SalesInvoiceAggregator.Codeunit.al):
  reopening an unposted invoice (Sales Header status back to Open) makes the record's status
  Draft, or In Review while pending approval, through `Modify(true)`, whose OnModify trigger
  stamps "Last Modified Date Time" (`reopen_invoice`); deleting an unposted invoice deletes
  the record, so the API stops listing it (`delete_invoice`); closing a posted invoice's
  ledger entry sets status Paid through `Modify(true)` too, stamped. `close_unstamped` is
  the one move standard Business Central does not make: an invoice that leaves Open without
  a new `lastModifiedDateTime` (the status update skipped, e.g. by an extension handling
  OnBeforeSetStatusOptionFromSalesInvoiceHeader); the adapter must not depend on the stamp.
- `GET salesInvoices({id})` reads one record (Microsoft Learn, "Get salesInvoices": the id
  unquoted in parentheses); the answer is the entity with `@odata.context` ending
  `/$entity`.
- The token endpoint takes `grant_type=client_credentials`, `client_id`, `client_secret` and
  `scope=https://api.businesscentral.dynamics.com/.default` and answers `token_type`,
  `expires_in`, `access_token` (Microsoft identity platform, client credentials flow).

Not backed by anything Microsoft publishes in these pages, and so only plausible: the HTML
maintenance page answered 200 (`answer_html`: what a proxy or gateway in front of the API may
answer, never Business Central itself), the exact error codes and messages in the 401, 404
and 429 bodies (the statuses and Retry-After are
documented; the adapter reads only those), and the etag's inner text. The error envelope,
`{"error": {"code": ..., "message": "...  CorrelationId:  <guid>."}}`, is the one Business
Central writes (an answer quoted in microsoft/ALAppExtensions issue 16868).
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

TENANT = "contoso.onmicrosoft.com"
COMPANY = "f2a5738a-44e3-ea11-bb43-000d3a2feca1"
CLIENT_ID = "0d6a8a36-2c6e-4f6e-9c56-3c2b4d1e5a77"
CLIENT_SECRET = "s3cret~value"
SCOPE = "https://api.businesscentral.dynamics.com/.default"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
API = "/v2.0/" + TENANT + "/Production/api/v2.0"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _customer(number: str, name: str, limit: str, currency: str, blocked: str) -> dict[str, Any]:
    """A customer with the v2.0 resource's properties, in the documented order."""
    return {
        "id": str(uuid.uuid4()),
        "number": number,
        "displayName": name,
        "type": "Company",
        "addressLine1": "192 Market Square",
        "addressLine2": "",
        "city": "Atlanta",
        "state": "GA",
        "country": "US",
        "postalCode": "31772",
        "phoneNumber": "",
        "email": "",
        "website": "",
        "salespersonCode": "",
        "balanceDue": Decimal("0"),
        "creditLimit": Decimal(limit),
        "taxLiable": True,
        "taxAreaId": ZERO_GUID,
        "taxAreaDisplayName": "",
        "taxRegistrationNumber": "",
        "currencyId": ZERO_GUID,
        "currencyCode": currency,
        "paymentTermsId": ZERO_GUID,
        "shipmentMethodId": ZERO_GUID,
        "paymentMethodId": ZERO_GUID,
        "blocked": blocked,
        "lastModifiedDateTime": "",
    }


def _invoice(
    number: str,
    customer: dict[str, Any],
    total: str,
    remaining: str,
    issued: date,
    due: date,
    currency: str,
    status: str,
    order: str,
) -> dict[str, Any]:
    """A sales invoice with the v2.0 resource's properties, in the documented order."""
    amount = Decimal(total)
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "number": number,
        "externalDocumentNumber": "",
        "invoiceDate": issued.isoformat(),
        "postingDate": issued.isoformat() if status not in ("Draft", "In Review") else "0001-01-01",
        "dueDate": due.isoformat(),
        "customerPurchaseOrderReference": "",
        "customerId": customer["id"],
        "customerNumber": customer["number"],
        "customerName": customer["displayName"],
        "billToName": customer["displayName"],
        "billToCustomerId": customer["id"],
        "billToCustomerNumber": customer["number"],
        "shipToName": customer["displayName"],
        "shipToContact": "",
    }
    for part in ("sellTo", "billTo", "shipTo"):
        row |= {
            f"{part}AddressLine1": "153 Thomas Drive",
            f"{part}AddressLine2": "",
            f"{part}City": "Chicago",
            f"{part}Country": "US",
            f"{part}State": "IL",
            f"{part}PostCode": "61236",
        }
    row |= {
        "currencyId": ZERO_GUID,
        "shortcutDimension1Code": "",
        "shortcutDimension2Code": "",
        "currencyCode": currency,
        "orderId": ZERO_GUID,
        "orderNumber": order,
        "paymentTermsId": ZERO_GUID,
        "shipmentMethodId": ZERO_GUID,
        "salesperson": "",
        "pricesIncludeTax": False,
        "remainingAmount": Decimal(remaining),
        "discountAmount": Decimal("0"),
        "discountAppliedBeforeTax": True,
        "totalAmountExcludingTax": amount,
        "totalTaxAmount": Decimal("0"),
        "totalAmountIncludingTax": amount,
        "status": status,
        "lastModifiedDateTime": "",
        "phoneNumber": "",
        "email": "",
    }
    return row


def _company_information(lcy_code: str) -> dict[str, Any]:
    """The company's information, with the v2.0 resource's properties in Learn's order and its
    example values ("Get companyInformation"); `currencyCode` is the LCY Code."""
    return {
        "id": "86f5f171-44e3-ea11-bb43-000d3a2feca1",
        "displayName": "CRONUS USA, Inc.",
        "addressLine1": "7122 South Ashford Street",
        "addressLine2": "Westminster",
        "city": "Atlanta",
        "state": "GA",
        "country": "US",
        "postalCode": "31772",
        "phoneNumber": "+1 425 555 0100",
        "faxNumber": "+1 425 555 0101",
        "email": "",
        "website": "",
        "taxRegistrationNumber": "",
        "currencyCode": lcy_code,
        "currentFiscalYearStartDate": "2021-01-01",
        "industry": "",
        "lastModifiedDateTime": "2020-08-21T00:24:12.793Z",
    }


GATEWAY_NOT_FOUND = "<html><body><h1>404 Not Found</h1></body></html>"  # made up, a gateway's
MAINTENANCE_PAGE = (
    "<!DOCTYPE html><html><head><title>Down for maintenance</title></head><body>"
    "<h1>We'll be back soon</h1><p>The service is down for scheduled maintenance.</p>"
    "</body></html>"
)
"""What a proxy in front of the API might answer with 200 (made up here, see above)."""


class _Json(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return float(o) if o != o.to_integral_value() else int(o)
        return super().default(o)


def _dumps(body: Any) -> str:
    # Business Central writes decimals as JSON numbers (1500, 1234.5).
    return json.dumps(body, cls=_Json, ensure_ascii=False)


@dataclass
class FakeBc:
    """The company's data; `now` stamps every change (a test moves it)."""

    now: datetime = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    lcy_code: str = "USD"
    """General Ledger Setup's "LCY Code": companyInformation's `currencyCode`, and the
    `currencyCode` served for an invoice whose Currency Code is blank."""
    customers: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    _etags: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def _touch(self, row: dict[str, Any]) -> None:
        self.now += timedelta(seconds=1)
        row["lastModifiedDateTime"] = _stamp(self.now)
        row["@odata.etag"] = f'W/"JzE5OzE{next(self._etags)}MDAwMDAwMDAwMDAwMDAwOzAwOyc="'

    def add_customer(
        self, number: str, name: str, limit: str, *, currency: str = "USD", blocked: str = " "
    ) -> dict[str, Any]:
        row = _customer(number, name, limit, currency, blocked)
        self._touch(row)
        self.customers.append(row)
        return row

    def customer(self, number: str) -> dict[str, Any]:
        return next(c for c in self.customers if c["number"] == number)

    def modify_customer(self, number: str, **values: Any) -> None:
        row = self.customer(number)
        row.update(values)
        self._touch(row)

    def add_invoice(
        self,
        number: str,
        customer: str,
        total: str,
        *,
        remaining: str | None = None,
        issued: date,
        due: date,
        currency: str = "",
        status: str = "Open",
        order: str = "",
    ) -> dict[str, Any]:
        """An invoice; `currency` is its Currency Code, blank for the local currency (served as
        the LCY Code)."""
        row = _invoice(
            number,
            self.customer(customer),
            total,
            total if remaining is None else remaining,
            issued,
            due,
            currency,
            status,
            order,
        )
        self._touch(row)
        self.invoices.append(row)
        return row

    def invoice(self, number: str) -> dict[str, Any]:
        return next(i for i in self.invoices if i["number"] == number)

    def served(self, row: dict[str, Any]) -> dict[str, Any]:
        """An invoice as the API answers it: a blank Currency Code as the LCY Code."""
        return {**row, "currencyCode": row["currencyCode"] or self.lcy_code}

    def modify_invoice(self, number: str, **values: Any) -> None:
        """Change an invoice. `remainingAmount` is computed from the customer ledger when the
        record is read, so a payment applied to part of it changes only that: the etag and
        `lastModifiedDateTime` stay as they were. Any other change stamps the record."""
        row = self.invoice(number)
        row.update(values)
        if set(values) - {"remainingAmount"}:
            self._touch(row)

    def reopen_invoice(self, number: str, status: str = "Draft") -> None:
        """Reopen a released unposted invoice: status Draft (In Review while it waits for an
        approval), the record stamped (codeunit 5477, table 5475's OnModify)."""
        row = self.invoice(number)
        row.update(status=status)
        self._touch(row)

    def delete_invoice(self, number: str) -> None:
        """Delete an unposted invoice: the API no longer has the record (codeunit 5477,
        OnAfterDeleteSalesHeader)."""
        self.invoices.remove(self.invoice(number))

    def close_unstamped(self, number: str) -> None:
        """Status Paid and nothing remaining, `lastModifiedDateTime` and etag unchanged: not
        what standard Business Central does (see the module's docstring)."""
        self.invoice(number).update(status="Paid", remainingAmount=Decimal("0"))

    def post_invoice(self, number: str, posted_number: str, posting_date: date) -> None:
        """Post a released (status Open) unposted invoice: the record keeps its `id` and
        gets the posted invoice's number (codeunit 5477 "Sales Invoice Aggregator")."""
        row = self.invoice(number)
        row.update(number=posted_number, postingDate=posting_date.isoformat())
        self._touch(row)


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class BcServer:
    """The token endpoint and the API in front of a FakeBc, on a free 127.0.0.1 port."""

    bc: FakeBc
    page_size: int = 2
    calls: list[str] = field(default_factory=list)
    tokens_issued: int = 0
    read_by_id: list[str] = field(default_factory=list)
    """The ids asked for with `GET salesInvoices({id})`, in order."""

    def __post_init__(self) -> None:
        self._tokens: set[str] = set()
        self._throttle: list[str] = []
        self._odd: list[tuple[int, str]] = []
        self._odd_tokens = 0
        self._hooks: dict[str, list[Callable[[], None]]] = {}
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ---- switches ----

    def throttle(self, times: int, retry_after: str = "1") -> None:
        """Answer the next `times` API calls 429 with this Retry-After."""
        self._throttle.extend([retry_after] * times)

    def answer_html(self, times: int) -> None:
        """Answer the next `times` API calls 200 with an HTML maintenance page (a proxy's)."""
        self._odd.extend([(200, MAINTENANCE_PAGE)] * times)

    def answer_without_value(self, times: int) -> None:
        """Answer the next `times` API calls 200 with a JSON object that has no `value`."""
        self._odd.extend([(200, '{"@odata.context": "elsewhere"}')] * times)

    def answer_gateway_404(self, times: int) -> None:
        """Answer the next `times` API calls 404 with an HTML page (a gateway's, made up: not
        Business Central's JSON error)."""
        self._odd.extend([(404, GATEWAY_NOT_FOUND)] * times)

    def answer_token_html(self, times: int) -> None:
        """Answer the next `times` token requests 200 with an HTML maintenance page."""
        self._odd_tokens += times

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (401)."""
        self._tokens.clear()

    def before(self, call: str, hook: Callable[[], None]) -> None:
        """Run `hook` once, just before the next `call` ("PATCH customers") is handled."""
        self._hooks.setdefault(call, []).append(hook)

    refuse_all_tokens: bool = False
    """Refuse every token, new ones too (an application without permissions)."""

    next_link_base: str | None = None
    """Write `@odata.nextLink` on this scheme, host and port instead of the server's own (a
    misbehaving or tampered answer; Business Central's links are on its own API root)."""

    junk_row: Any = None
    """When set, the first page of every collection carries it as one more row in `value`
    (a malformed answer, for the adapter's checks)."""

    # ---- running ----

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def url(self) -> str:
        return self.base + API

    @property
    def token_url(self) -> str:
        return f"{self.base}/{TENANT}/oauth2/v2.0/token"

    def __enter__(self) -> BcServer:
        self._server = make_server("127.0.0.1", 0, self.wsgi, threaded=True, request_handler=_Quiet)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ---- HTTP ----

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        if request.path == f"/{TENANT}/oauth2/v2.0/token" and request.method == "POST":
            self.calls.append("token")
            if self._odd_tokens:
                self._odd_tokens -= 1
                return Response(MAINTENANCE_PAGE, 200, content_type="text/html")
            return self._token(request)
        prefix = f"{API}/companies({COMPANY})/"
        if not request.path.startswith(prefix):
            return _error(404, "BadRequest_NotFound", f"No HTTP resource matches {request.path}")
        rest = request.path[len(prefix) :]
        call = f"{request.method} {rest.split('(')[0]}"
        if request.method == "GET" and "(" in rest:
            call += "(id)"  # one record read by its id: "GET salesInvoices(id)"
        self.calls.append(call)
        hooks = self._hooks.get(call)
        if hooks:
            hooks.pop(0)()
        if self._odd:
            status, odd = self._odd.pop(0)
            kind = "text/html" if odd.startswith("<") else "application/json"
            return Response(odd, status, content_type=kind)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or token not in self._tokens or self.refuse_all_tokens:
            return _error(401, "Unauthorized", "The credentials provided are incorrect")
        if self._throttle:
            wait = self._throttle.pop(0)
            response = _error(429, "Application_TooManyRequests", "Too many requests")
            response.headers["Retry-After"] = wait
            return response
        if request.method == "GET" and rest == "customers":
            return self._collection(request, rest, self.bc.customers)
        if request.method == "GET" and rest == "salesInvoices":
            return self._collection(request, rest, list(map(self.bc.served, self.bc.invoices)))
        if request.method == "GET" and rest == "companyInformation":
            rows = [_company_information(self.bc.lcy_code)]
            return self._collection(request, rest, rows)
        if request.method == "GET" and rest.startswith("salesInvoices(") and rest.endswith(")"):
            return self._one_invoice(rest[len("salesInvoices(") : -1])
        if request.method == "PATCH" and rest.startswith("customers("):
            return self._patch(request, rest[len("customers(") : -1])
        return _error(405, "BadRequest_MethodNotAllowed", f"{request.method} {rest}")

    def _token(self, request: Request) -> Response:
        form = request.form
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
            or form.get("scope") != SCOPE
        ):
            body = {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
            }
            return Response(_dumps(body), 401, content_type="application/json")
        self.tokens_issued += 1
        token = f"eyJ0eXAiOiJKV1Qi.{self.tokens_issued}.{uuid.uuid4().hex}"
        self._tokens.add(token)
        answer: dict[str, Any] = {"token_type": "Bearer", "expires_in": 3599}
        answer |= {"ext_expires_in": 3599, "access_token": token}
        return Response(_dumps(answer), 200, content_type="application/json")

    def _collection(self, request: Request, name: str, rows: list[dict[str, Any]]) -> Response:
        chosen = [r for r in rows if _matches(r, request.args.get("$filter", ""))]
        if request.args.get("$orderby", "").startswith("lastModifiedDateTime"):
            chosen.sort(key=lambda r: r["lastModifiedDateTime"])
        skip = int(request.args.get("$skiptoken", "0"))
        page = chosen[skip : skip + self.page_size]
        if self.junk_row is not None and skip == 0:
            page = [*page, self.junk_row]
        body: dict[str, Any] = {
            "@odata.context": f"{self.url}/$metadata#companies({COMPANY})/{name}",
            "value": page,
        }
        if skip + self.page_size < len(chosen):
            query = {k: v for k, v in request.args.items() if k != "$skiptoken"}
            query["$skiptoken"] = str(skip + self.page_size)
            root = (self.next_link_base or self.base) + API
            body["@odata.nextLink"] = f"{root}/companies({COMPANY})/{name}?{urlencode(query)}"
        return Response(_dumps(body), 200, content_type="application/json; odata.metadata=minimal")

    def _one_invoice(self, record_id: str) -> Response:
        self.read_by_id.append(record_id)
        row = next((i for i in self.bc.invoices if i["id"] == record_id), None)
        if row is None:
            return _error(404, "Internal_RecordNotFound", "The Sales Invoice does not exist.")
        context = f"{self.url}/$metadata#companies({COMPANY})/salesInvoices/$entity"
        body = {"@odata.context": context, **self.bc.served(row)}
        return Response(_dumps(body), 200, content_type="application/json; odata.metadata=minimal")

    def _patch(self, request: Request, record_id: str) -> Response:
        row = next((c for c in self.bc.customers if c["id"] == record_id), None)
        if row is None:
            return _error(404, "Internal_RecordNotFound", "The Customer does not exist.")
        if request.headers.get("If-Match") not in (row["@odata.etag"], "*"):
            return _error(
                412,
                "Request_EntityChanged",
                "Could not save the changes because the entity has been changed by another user.",
            )
        values = json.loads(request.get_data(as_text=True))
        row.update(values)
        self.bc._touch(row)
        return Response(_dumps(row), 200, content_type="application/json")


def _matches(row: dict[str, Any], expression: str) -> bool:
    """The filters the adapter sends: `lastModifiedDateTime ge <instant>`, and
    `number eq '<text>'` or `status eq '<text>'` (a quote doubled inside), or several of these
    joined by `or` (no quote in a text holds " or ")."""
    if not expression:
        return True
    if " or " in expression:
        return any(_matches(row, part) for part in expression.split(" or "))
    field_name, operator, value = expression.split(" ", 2)
    if field_name == "lastModifiedDateTime" and operator in ("ge", "gt"):
        have = datetime.fromisoformat(row["lastModifiedDateTime"])
        bound = datetime.fromisoformat(value)
        return have >= bound if operator == "ge" else have > bound
    if field_name in ("number", "status") and operator == "eq":
        return bool(row[field_name] == value[1:-1].replace("''", "'"))
    raise AssertionError(f"the fake does not filter on {expression!r}")


def _error(status: int, code: str, message: str) -> Response:
    body = {"error": {"code": code, "message": f"{message}  CorrelationId:  {uuid.uuid4()}."}}
    return Response(_dumps(body), status, content_type="application/json")
