"""Dynamics NAV / Business Central page web services, transport and auth: the three pages'
SOAP services (zeep) on WSDLs loaded from file, never fetched from the server (the customer's
saved ones, else the bundled ones in wsdl/), HTTP basic or NTLM auth on the session, retries,
and how NAV's answers and faults become results, NavFault, RemoteRejected or TransientError.

Answers are read leniently: a real page shows every field it has (55-57 on a Customer Card, 33
on Customer Ledger Entries), in the page's order, which differs between NAV versions and
customisations; zeep reads the fields its WSDL names wherever they come and skips the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import zeep
from lxml import etree
from tenacity import Retrying
from zeep.exceptions import Error as ZeepError
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

SERVICE = "nav-soap"
Row = Any
"""A zeep record of a page (attributes named like the page's fields)."""

_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_WSDL = "http://schemas.xmlsoap.org/wsdl/"
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


CUSTOMER_WSDL = "nav_customer.wsdl"
LEDGER_WSDL = "nav_customer_ledger.wsdl"
DETAILED_WSDL = "nav_detailed_ledger.wsdl"

SAVED_NAMES = ("Customer.wsdl", "CustomerLedgerEntries.wsdl", "DetailedCustLedgEntries.wsdl")
"""What a customer's saved WSDLs are called in their folder: the pages' usual service names."""

_LAX = zeep.Settings(strict=False, xsd_ignore_sequence_order=True)
"""Fields the WSDL does not name are skipped; the named ones are read in any order."""


def _bundled() -> Path:
    return Path(str(resources.files("adapters.nav") / "wsdl"))


@dataclass(frozen=True)
class NavWsdls:
    """The WSDL files of the three pages. The bundled ones describe the standard pages (a NAV
    2013 Customer Card and Customer Ledger Entries); answers carrying more fields or another
    order are read all the same. A page with fields of its own that creditgate writes (the
    warning fields) or a page published under another name needs the server's own WSDL, saved
    (GET <base url><service name>) into a folder: `in_folder`."""

    customer: Path
    ledger: Path
    detailed: Path

    @classmethod
    def bundled(cls) -> NavWsdls:
        """The WSDLs shipped in this package (adapters/nav/wsdl/)."""
        folder = _bundled()
        return cls(folder / CUSTOMER_WSDL, folder / LEDGER_WSDL, folder / DETAILED_WSDL)

    @classmethod
    def in_folder(cls, folder: Path) -> NavWsdls:
        """The WSDLs saved in `folder` as Customer.wsdl, CustomerLedgerEntries.wsdl and
        DetailedCustLedgEntries.wsdl; a page whose file is not there takes the bundled one.

        :raises ValueError: `folder` is not a folder, or holds none of the three.
        """
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder of saved NAV page WSDLs")
        saved = [folder / name for name in SAVED_NAMES]
        if not any(path.is_file() for path in saved):
            raise ValueError(f"{folder} holds none of {', '.join(SAVED_NAMES)}")
        bundled = vars(cls.bundled()).values()
        return cls(*(s if s.is_file() else b for s, b in zip(saved, bundled, strict=True)))


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
        _check_is_wsdl(wsdl)
        try:
            client = zeep.Client(str(wsdl), transport=transport, settings=_LAX)
        except (ZeepError, etree.Error, ValueError, LookupError, AttributeError) as exc:
            # zeep reports a malformed WSDL in many ways, its own slips among them.
            raise ValueError(f"{wsdl}: not a WSDL saved from a NAV page: {exc}") from exc
        bindings = list(client.wsdl.bindings)
        if len(bindings) != 1:
            raise ValueError(f"{wsdl}: expected one page binding, found {len(bindings)}")
        binding = etree.QName(bindings[0])
        self.name: str = binding.localname.removesuffix("_Binding")
        self.url = base_url + quote(self.name)
        self.operations: frozenset[str] = frozenset(client.wsdl.bindings[binding.text].all())
        self.service = client.create_service(binding.text, self.url)
        try:
            entity = client.get_type(f"{{{binding.namespace}}}{self.name}")
        except (ZeepError, LookupError) as exc:
            raise ValueError(
                f"{wsdl}: not a WSDL saved from a NAV page: it has no type {self.name}"
            ) from exc
        self.fields: frozenset[str] = frozenset(name for name, _ in entity.elements)
        missing = [f for f in needs if f not in self.fields]
        if missing:
            raise ValueError(
                f"{wsdl}: page {self.name} has no field {', '.join(missing)}; publish a page "
                "that shows it, save that page's WSDL and give its folder as --wsdl-dir"
            )


def _check_is_wsdl(wsdl: Path) -> None:
    """That `wsdl` is XML whose root is a WSDL 1.1 <definitions>, before zeep reads it (zeep
    fails on text that is not XML with an AttributeError).

    :raises ValueError: naming the file, when it is not.
    :raises OSError: the file cannot be read.
    """
    content = wsdl.read_bytes()
    try:
        root = etree.fromstring(content, parser=_SAFE_XML)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"{wsdl}: not a WSDL saved from a NAV page: not XML ({exc})") from None
    if root is None or root.tag != f"{{{_WSDL}}}definitions":
        tag = "nothing" if root is None else f"<{etree.QName(root).localname}>"
        raise ValueError(
            f"{wsdl}: not a WSDL saved from a NAV page: its XML is {tag}, not WSDL's "
            "<definitions>; save GET <base url><service name> as it comes"
        )


AUTHS = ("basic", "ntlm")
"""NAV's credential types creditgate speaks: NavUserPassword (HTTP basic) and Windows (NTLM)."""


def _auth(kind: str, username: str, password: str) -> Any:
    """The session's auth for NAV's credential type `kind`.

    :raises ValueError: an unknown kind, or NTLM without requests-ntlm installed.
    """
    if kind == "basic":
        return (username, password)
    if kind != "ntlm":
        raise ValueError(f"auth {kind!r} is not one of {AUTHS}")
    try:
        from requests_ntlm import HttpNtlmAuth
    except ImportError:
        raise ValueError(
            "NTLM (Windows) authentication needs requests-ntlm: pip install 'creditgate[ntlm]'"
        ) from None
    return HttpNtlmAuth(username, password)


class NavPages:
    """The three pages of one NAV company, reached through one session.

    Calls that fail on the way (connection, timeout, HTTP 5xx) are retried by `retrying`; SOAP
    faults are NAV refusing and raise NavFault (a RemoteRejected).
    """

    def __init__(
        self,
        base_url: str,
        username: str | None,
        password: str | None,
        *,
        session: requests.Session | None = None,
        retrying: Retrying | None = None,
        page_size: int = 500,
        timeout: Timeout = DEFAULT_TIMEOUT,
        wsdls: NavWsdls | None = None,
        customer_fields: Sequence[str] = (),
        ledger_fields: Sequence[str] = (),
        auth: str = "basic",
    ) -> None:
        """`base_url` ends with `/Page/`; each page must show the fields named for it."""
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._own_session = session is None
        self.session = session if session is not None else new_session(timeout)
        if self.session.auth is None and username is not None:
            self.session.auth = _auth(auth, username, password or "")
        self.retrying = retrying if retrying is not None else new_retrying()
        self.page_size = page_size
        self.timeout = timeout
        # Every call carries the (connect, read) timeout; `timeout=` is for loading documents,
        # which never happens over HTTP here (the WSDLs are files).
        transport = _Transport(
            session=self.session, timeout=max(timeout), operation_timeout=timeout
        )
        paths = wsdls or NavWsdls.bundled()
        self._customers = _PageService(paths.customer, self.base_url, transport, customer_fields)
        self._ledger = _PageService(paths.ledger, self.base_url, transport, ledger_fields)
        self._detailed = _PageService(
            paths.detailed, self.base_url, transport, ["Entry_No", "Cust_Ledger_Entry_No"]
        )

    def close(self) -> None:
        """Release the connection pool, if this adapter made it."""
        if self._own_session:
            self.session.close()

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
                f"if the page was changed, save its WSDL from {page.url} into the folder "
                "given as --wsdl-dir",
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
