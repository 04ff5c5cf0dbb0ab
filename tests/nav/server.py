"""A fake Dynamics NAV for the tests: an in-memory company behind real SOAP page web services.

It serves page WSDLs in the shape of ones saved from live NAV servers (tests/nav/wsdl/, each
naming the public repository its facts come from; by default a NAV 2016 Customer Card with two
warning fields added in C/AL, NAV 2013's Customer Ledger Entries and the bundled detailed
entries page) and takes the pages' fields, types, options and operations from them. Like a real
page, every record it answers carries every field of the page, in the page's order, blank ones
with NAV's blank values (an empty text, 0, false, 0001-01-01, an option's first value). It
answers SOAP 1.1 envelopes parsed with lxml, refuses operations a page does not publish, and
behaves as NAV's page services do where the adapter depends on it: `ReadMultiple` with NAV
filter syntax (`=`, `<>`, `>`, `>=`, `<`, `<=`, `a..b`, `a|b`, `*`), `bookmarkKey` paging and
`setSize` (0 = all, negative = from the end) in the page's order (page 25: by entry number or,
as on Business Central, by customer and posting date); `Read` answering nothing for an unknown
record; `Update` with optimistic concurrency (every change makes a new Key, an old Key gets
NAV's "Other user has modified" fault, HTTP 500). `Remaining_Amount` and `Open` of a ledger
entry follow from its detailed entries, as in NAV. Switches inject faults, HTTP 500s and slow
answers; `calls` and `wsdl_gets` count traffic.
"""

from __future__ import annotations

import base64
import fnmatch
import io
import operator
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lxml import etree
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

import adapters.nav

BUNDLED = Path(adapters.nav.__file__).parent / "wsdl"
SAVED = Path(__file__).parent / "wsdl"
"""WSDLs written from real pages' facts: nav2013/, nav2016/, nav2016-warning-fields/."""
NAV2013_LEDGER = SAVED / "nav2013" / "CustomerLedgerEntries.wsdl"
DETAILED = BUNDLED / "nav_detailed_ledger.wsdl"
WARNING_FIELDS_CUSTOMER = SAVED / "nav2016-warning-fields" / "Customer.wsdl"
DEFAULT_PAGES = (WARNING_FIELDS_CUSTOMER, NAV2013_LEDGER, DETAILED)
PREFIX = "/DynamicsNAV/WS/CRONUS/Page/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
BUILTIN = {"string", "int", "decimal", "date", "boolean"}
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


class SoapFault(Exception):
    """Answered as a SOAP fault with HTTP 500, as NAV does."""


@dataclass
class PageSchema:
    """A page as its WSDL describes it: service name, namespace, fields in order and types."""

    name: str
    namespace: str
    fields: list[tuple[str, str]]
    wsdl: bytes
    blanks: dict[str, str]
    """An option's blank value: its first (NAV's option value 0)."""
    operations: set[str]

    @classmethod
    def load(cls, path: Path) -> PageSchema:
        raw = path.read_bytes()
        root = etree.fromstring(raw, PARSER)
        namespace = root.get("targetNamespace")
        binding = root.find(f"{{{WSDL_NS}}}binding")
        name = binding.get("name").removesuffix("_Binding")
        schema = root.find(f"{{{WSDL_NS}}}types/{{{XSD_NS}}}schema")
        entity = schema.find(f"{{{XSD_NS}}}complexType[@name='{name}']")
        fields = [
            (el.get("name"), el.get("type").split(":")[-1])
            for el in entity.iter(f"{{{XSD_NS}}}element")
        ]
        blanks = {
            simple.get("name"): simple.find(f".//{{{XSD_NS}}}enumeration").get("value")
            for simple in schema.findall(f"{{{XSD_NS}}}simpleType")
        }
        operations = {op.get("name") for op in binding.findall(f"{{{WSDL_NS}}}operation")}
        return cls(name, namespace, fields, raw, blanks, operations)

    def blank(self, kind: str) -> str:
        """How NAV writes an empty value of a field of type `kind`."""
        simple = {"decimal": "0", "int": "0", "boolean": "false", "date": "0001-01-01"}
        return simple.get(kind, self.blanks.get(kind, ""))

    def kind(self, field_name: str) -> str:
        for name, kind in self.fields:
            if name == field_name:
                return kind
        raise SoapFault(f"The field {field_name} of page {self.name} does not exist.")


# ---- NAV's filter syntax --------------------------------------------------------------------


def _convert(text: str, kind: str) -> Any:
    text = text.strip()
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        text = text[1:-1]
    try:
        if kind == "int":
            return int(text)
        if kind == "decimal":
            return Decimal(text)
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "boolean":
            return text.lower() in ("yes", "true", "1")
    except ValueError:
        raise SoapFault(f"The filter '{text}' is not valid for a field of type {kind}.") from None
    if kind == "string":
        return text
    return text.replace("_", " ").lower()  # an option: NAV filters on its caption


def _comparable(value: Any, kind: str) -> Any:
    if value is None:
        return {"int": 0, "decimal": Decimal(0), "date": date.min, "boolean": False}.get(kind, "")
    if kind not in BUILTIN:
        return str(value).replace("_", " ").lower()
    return value


_OPS: list[tuple[str, Callable[[Any, Any], bool]]] = [
    ("<>", operator.ne),
    (">=", operator.ge),
    ("<=", operator.le),
    (">", operator.gt),
    ("<", operator.lt),
    ("=", operator.eq),
]


def matches(value: Any, criteria: str, kind: str) -> bool:
    """Whether `value` passes a NAV filter expression on a field of type `kind`."""
    if criteria.strip() == "":
        return True
    have = _comparable(value, kind)
    return any(_one(have, part.strip(), kind) for part in criteria.split("|"))


def _one(have: Any, expr: str, kind: str) -> bool:
    if ".." in expr:
        low, high = expr.split("..", 1)
        return (not low.strip() or have >= _convert(low, kind)) and (
            not high.strip() or have <= _convert(high, kind)
        )
    for symbol, compare in _OPS:
        if expr.startswith(symbol):
            return bool(compare(have, _convert(expr[len(symbol) :], kind)))
    if kind == "string" and ("*" in expr or "?" in expr):
        return fnmatch.fnmatchcase(have, expr)
    return bool(have == _convert(expr, kind))


# ---- the company's data -----------------------------------------------------------------------


class FakeNav:
    """Customers, customer ledger entries and their detailed entries, as NAV keeps them."""

    def __init__(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.entries: dict[int, dict[str, Any]] = {}
        self.details: dict[int, dict[str, Any]] = {}
        self.versions: dict[tuple[str, Any], int] = defaultdict(lambda: 1)

    # customers

    def add_customer(
        self,
        no: str,
        name: str,
        limit: str = "0",
        *,
        currency: str = "",
        blocked: str = "_blank_",
        **fields: Any,
    ) -> None:
        self.customers[no] = {
            "No": no,
            "Name": name,
            "Currency_Code": currency,
            "Credit_Limit_LCY": Decimal(limit),
            "Blocked": blocked,
            **fields,
        }
        self.versions[("Customer", no)] += 1

    def modify_customer(self, no: str, **fields: Any) -> None:
        """Another user changes the customer: its Key changes."""
        self.customers[no].update(fields)
        self.versions[("Customer", no)] += 1

    # ledger

    def post(
        self,
        doc_type: str,
        customer: str,
        document_no: str,
        amount: str,
        posted: date,
        *,
        due: date | None = None,
        currency: str = "",
        **fields: Any,
    ) -> int:
        """Post a ledger entry (with its initial detailed entry); return its Entry_No."""
        number = max(self.entries, default=0) + 1
        self.entries[number] = {
            "Entry_No": number,
            "Posting_Date": posted,
            "Document_Type": doc_type,
            "Document_No": document_no,
            "Customer_No": customer,
            "Currency_Code": currency,
            "Amount": Decimal(amount),
            "Due_Date": due,
            "Reversed": False,
            **fields,
        }
        self._detail(number, "Initial_Entry", Decimal(amount), posted)
        return number

    def apply(self, payment: int, invoice: int, amount: str, posted: date) -> None:
        """Apply `amount` of a payment (or credit memo) entry to an invoice entry."""
        value = Decimal(amount)
        self._detail(invoice, "Application", -value, posted)
        self._detail(payment, "Application", value, posted)

    def _detail(self, entry: int, kind: str, amount: Decimal, posted: date) -> None:
        number = max(self.details, default=0) + 1
        source = self.entries[entry]
        self.details[number] = {
            "Entry_No": number,
            "Cust_Ledger_Entry_No": entry,
            "Entry_Type": kind,
            "Posting_Date": posted,
            "Document_Type": source["Document_Type"],
            "Document_No": source["Document_No"],
            "Customer_No": source["Customer_No"],
            "Currency_Code": source["Currency_Code"],
            "Amount": amount,
            "Amount_LCY": amount,
            "Unapplied": False,
        }

    def remaining(self, entry: int) -> Decimal:
        """An entry's remaining amount: the sum of its detailed entries (a FlowField in NAV)."""
        return sum(
            (d["Amount"] for d in self.details.values() if d["Cust_Ledger_Entry_No"] == entry),
            Decimal(0),
        )

    # what the pages show

    def rows(self, page: str) -> dict[Any, dict[str, Any]]:
        if page in ("Customer", "CustomerList"):
            return self.customers
        if page == "DetailedCustLedgEntries":
            return self.details
        shown: dict[Any, dict[str, Any]] = {}
        for number, entry in self.entries.items():
            remaining = self.remaining(number)
            shown[number] = {
                "Amount_LCY": entry["Amount"],
                **entry,
                "Remaining_Amount": remaining,
                "Remaining_Amt_LCY": remaining,
                "Open": remaining != 0,
            }
        return shown


# ---- the SOAP server ----------------------------------------------------------------------------


@dataclass
class Injected:
    kind: str
    """"fault": a SOAP fault; "500": an HTML error page; "delay": wait `seconds`, then do the
    work and answer; "late": do the work, then wait `seconds` before answering (an answer the
    client may have stopped waiting for)."""
    message: str = "An injected fault."
    seconds: float = 0.0


@dataclass
class NavServer:
    """The WSGI app in front of a FakeNav, on a free 127.0.0.1 port while started."""

    nav: FakeNav
    username: str = "CRONUS\\creditgate"
    password: str = "s3cret"
    key_fields: dict[str, str] = field(
        default_factory=lambda: {
            "Customer": "No",
            "CustomerList": "No",
            "CustomerLedgerEntries": "Entry_No",
            "DetailedCustLedgEntries": "Entry_No",
        }
    )
    pages_from: tuple[Path, ...] = DEFAULT_PAGES
    """The WSDLs of the pages served (their service names are the binding names)."""
    # Pages listing their records newest first: NAV 2018's page 25 sorts Entry No. descending
    # (its SourceTableView); the adapter must work either way.
    descending: set[str] = field(default_factory=lambda: {"CustomerLedgerEntries"})
    ledger_order: str = "entry"
    """How page 25 sorts: "entry" (by Entry No., NAV up to 2018) or "customer" (Business
    Central: SORTING("Customer No.", "Posting Date") ORDER(Descending))."""
    # Fields a page shows that the bundled WSDL does not describe (a customised page).
    extra: dict[str, dict[str, str]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    wsdl_gets: int = 0
    ntlm_users: Path | None = None
    """Windows authentication instead of basic: NTLM over a kept-alive connection, checked by
    pyspnego against this file of DOMAIN:USER:PASSWORD lines."""

    def __post_init__(self) -> None:
        self.pages = {s.name: s for s in (PageSchema.load(path) for path in self.pages_from)}
        self._injected: dict[str, deque[Injected]] = defaultdict(deque)
        self._hooks: dict[str, deque[Callable[[], None]]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server: HTTPServer | None = None
        self._ntlm: dict[str, Any] = {}  # connection -> its NTLM context, while it lasts
        self._thread: threading.Thread | None = None

    # ---- switches ----

    def inject(self, call: str, *faults: Injected) -> None:
        """Answer the next calls of `call` ("Customer.Update") with `faults`, in turn."""
        self._injected[call].extend(faults)

    def before(self, call: str, hook: Callable[[], None]) -> None:
        """Run `hook` once, just before the next `call` is handled."""
        self._hooks[call].append(hook)

    def count(self, call: str) -> int:
        return self.calls.count(call)

    # ---- running ----

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}{PREFIX}"

    def __enter__(self) -> NavServer:
        if self.ntlm_users is not None:
            self._server = _KeepAliveServer(("127.0.0.1", 0), _KeepAliveHandler)
            self._server.app = self.wsgi
        else:
            self._server = make_server(
                "127.0.0.1", 0, self.wsgi, threaded=True, request_handler=_QuietHandler
            )
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

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)  # type: ignore[no-any-return]

    def _handle(self, request: Request) -> Response:
        name = request.path.removeprefix(PREFIX)
        page = self.pages.get(name)
        if not request.path.startswith(PREFIX) or page is None:
            return Response("Not found", status=404)
        if self.ntlm_users is not None:
            refused = self._ntlm_refusal(request)
            if refused is not None:
                return refused
        else:
            auth = request.authorization
            if auth is None or (auth.username, auth.password) != (self.username, self.password):
                return Response("", status=401, headers={"WWW-Authenticate": 'Basic realm="NAV"'})
        if request.method == "GET":
            with self._lock:
                self.wsdl_gets += 1
            return Response(page.wsdl, content_type="text/xml; charset=utf-8")
        action = request.headers.get("SOAPAction", "").strip('"')
        namespace, _, operation = action.rpartition(":")
        call = f"{page.name}.{operation}"
        with self._lock:
            self.calls.append(call)
            injected = self._injected[call].popleft() if self._injected[call] else None
        if injected is not None and injected.kind == "delay":
            time.sleep(injected.seconds)  # then answer anyway, as a slow server does
        elif injected is not None and injected.kind == "500":
            html = "<html><body><h1>500 - Internal server error.</h1></body></html>"
            return Response(html, status=500, content_type="text/html")
        elif injected is not None and injected.kind == "fault":
            return _fault(injected.message)
        try:
            if namespace != page.namespace or operation not in page.operations:
                raise SoapFault(f"The SOAPAction {action!r} is not an action of {page.name}.")
            body = etree.fromstring(request.get_data(), PARSER).find(f"{{{SOAP_ENV}}}Body")[0]
            if etree.QName(body).localname != operation:
                raise SoapFault(f"The body does not match the SOAPAction {action!r}.")
            with self._lock:
                hook = self._hooks[call].popleft() if self._hooks[call] else None
                if hook is not None:
                    hook()
                result = getattr(self, f"_op_{operation}")(page, body)
        except SoapFault as exc:
            return _fault(str(exc))
        if injected is not None and injected.kind == "late":
            time.sleep(injected.seconds)
        envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"Soap": SOAP_ENV})
        etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(result)
        return Response(
            etree.tostring(envelope, xml_declaration=True, encoding="utf-8"),
            content_type="text/xml; charset=utf-8",
        )

    def _ntlm_refusal(self, request: Request) -> Response | None:
        """NTLM's three legs on one connection: a negotiate message gets a challenge, the
        answer to it authenticates the connection; anything else gets 401."""
        import spnego

        request.get_data()  # read to the end, or the connection cannot be kept alive
        connection = f"{request.remote_addr}:{request.environ.get('REMOTE_PORT')}"
        header = request.headers.get("Authorization", "")
        context = self._ntlm.get(connection)
        if context is not None and context.complete and not header:
            return None
        challenge = {"WWW-Authenticate": "NTLM"}
        if not header.startswith("NTLM "):
            return Response("", status=401, headers=challenge)
        token = base64.b64decode(header[5:])
        if context is None or context.complete:
            context = spnego.server(protocol="ntlm")
            self._ntlm[connection] = context
        try:
            answer = context.step(token)
        except (spnego.exceptions.SpnegoError, ValueError):
            self._ntlm.pop(connection, None)
            return Response("", status=401, headers=challenge)
        if not context.complete:
            out = base64.b64encode(answer or b"").decode()
            return Response("", status=401, headers={"WWW-Authenticate": f"NTLM {out}"})
        return None

    # ---- operations ----

    def _op_Read(self, page: PageSchema, body: Any) -> Any:
        key_field = self.key_fields[page.name]
        raw = body.findtext(f"{{{page.namespace}}}{key_field}") or ""
        key = _value(raw, page.kind(key_field))
        result = _el(page, "Read_Result")
        record = self.nav.rows(page.name).get(key)
        if record is not None:
            result.append(self._entity(page, key, record))
        return result

    def _op_ReadMultiple(self, page: PageSchema, body: Any) -> Any:
        ns = f"{{{page.namespace}}}"
        rows = self.nav.rows(page.name)
        size = int(body.findtext(f"{ns}setSize") or "0")
        # A negative setSize reads from the end: the page's order, reversed.
        descending = (page.name in self.descending) != (size < 0)
        order = self._order(page, rows)
        keys = sorted(rows, key=order, reverse=descending)
        for flt in body.findall(f"{ns}filter"):
            field_name = flt.findtext(f"{ns}Field")
            criteria = flt.findtext(f"{ns}Criteria") or ""
            kind = page.kind(field_name)
            keys = [k for k in keys if matches(rows[k].get(field_name), criteria, kind)]
        bookmark = body.findtext(f"{ns}bookmarkKey")
        if bookmark:
            after = self._key_of(page, bookmark)
            # Whatever sorts after the bookmarked record (which may be gone by now).
            past = operator.lt if descending else operator.gt
            keys = [k for k in keys if past(order(k), order(after))]
        if size:
            keys = keys[: abs(size)]
        result = _el(page, "ReadMultiple_Result")
        if keys:
            listing = etree.SubElement(result, f"{ns}ReadMultiple_Result")
            for key in keys:
                listing.append(self._entity(page, key, rows[key]))
        return result

    def _order(self, page: PageSchema, rows: dict[Any, dict[str, Any]]) -> Callable[[Any], Any]:
        """The sort key of the page's records (its SourceTableView)."""
        if page.name != "CustomerLedgerEntries" or self.ledger_order == "entry":
            return lambda key: key

        def by_customer(key: Any) -> Any:
            row = self.nav.entries.get(key)
            if row is None:
                raise SoapFault(f"The record {key} of {page.name} no longer exists.")
            return (row["Customer_No"], row["Posting_Date"], key)

        return by_customer

    def _op_Update(self, page: PageSchema, body: Any) -> Any:
        ns = f"{{{page.namespace}}}"
        sent = body.find(f"{ns}{page.name}")
        key = self._key_of(page, sent.findtext(f"{ns}Key") or "")
        rows = self.nav.rows(page.name)
        if key not in rows:
            raise SoapFault(
                f"The {page.name} does not exist. Identification fields and values: No.='{key}'"
            )
        if sent.findtext(f"{ns}Key") != self._key(page, key):
            raise SoapFault(f"Other user has modified {page.name} {key}.")
        for child in sent:
            name = etree.QName(child).localname
            if name != "Key":
                rows[key][name] = _value(child.text or "", page.kind(name))
        self.nav.versions[(page.name, key)] += 1
        result = _el(page, "Update_Result")
        result.append(self._entity(page, key, rows[key]))
        return result

    # ---- records ----

    def _key(self, page: PageSchema, key: Any) -> str:
        """An opaque Key like NAV's: the record id, then its version."""
        record_id = base64.b64encode(f"{page.name}:{key}".encode()).decode("ascii")
        return f"12;{record_id};{self.nav.versions[(page.name, key)]};"

    def _key_of(self, page: PageSchema, key: str) -> Any:
        try:
            decoded = base64.b64decode(key.split(";")[1]).decode()
        except (IndexError, ValueError):
            raise SoapFault(f"The Key '{key}' is not valid.") from None
        name, _, value = decoded.partition(":")
        if name != page.name:
            raise SoapFault(f"The Key '{key}' is not a key of {page.name}.")
        return int(value) if page.kind(self.key_fields[page.name]) == "int" else value

    def _entity(self, page: PageSchema, key: Any, record: dict[str, Any]) -> Any:
        ns = f"{{{page.namespace}}}"
        entity = etree.Element(f"{ns}{page.name}")
        etree.SubElement(entity, f"{ns}Key").text = self._key(page, key)
        for name, kind in page.fields:
            if name == "Key":
                continue
            value = record.get(name)
            text = page.blank(kind) if value is None else _text(value, kind)
            etree.SubElement(entity, f"{ns}{name}").text = text or None
        for name, text in self.extra.get(page.name, {}).items():
            etree.SubElement(entity, f"{ns}{name}").text = text
        return entity


def _text(value: Any, kind: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _el(page: PageSchema, name: str) -> Any:
    return etree.Element(f"{{{page.namespace}}}{name}", nsmap={None: page.namespace})


def _value(text: str, kind: str) -> Any:
    """A value as sent in a request: typed for xsd types, as written for strings and options."""
    return _convert(text, kind) if kind in ("int", "decimal", "date", "boolean") else text


def _fault(message: str) -> Response:
    envelope = (
        f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body><s:Fault>'
        '<faultcode xmlns:a="urn:microsoft-dynamics-schemas/error">'
        "a:Microsoft.Dynamics.Nav.Service.WebServices.ServiceBrokerException</faultcode>"
        f'<faultstring xml:lang="en-US">{_escape(message)}</faultstring>'
        '<detail><string xmlns="http://schemas.microsoft.com/2003/10/Serialization/">'
        f"{_escape(message)}</string></detail>"
        "</s:Fault></s:Body></s:Envelope>"
    )
    return Response(envelope, status=500, content_type="text/xml; charset=utf-8")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class _KeepAliveServer(ThreadingHTTPServer):
    daemon_threads = True
    app: Callable[..., Any]


class _KeepAliveHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with kept-alive connections, which NTLM authenticates one at a time (werkzeug's
    server closes every connection): just enough WSGI to run the server's app."""

    protocol_version = "HTTP/1.1"
    server: _KeepAliveServer

    def log_message(self, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        path, _, query = self.path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(path),
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.server.server_port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "CONTENT_LENGTH": str(length),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            started.append((status, headers))

        answer = b"".join(self.server.app(environ, start_response))
        status, headers = started[0]
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = _serve
