"""Dynamics NAV / Business Central page web services (SOAP): a sync source (source.py) and a
push target (push.py) over the pages' SOAP services (soap.py, transport and auth; the bundled
WSDLs are in wsdl/)."""

from __future__ import annotations

from collections.abc import Mapping

import requests
from tenacity import Retrying

from adapters.http import DEFAULT_TIMEOUT, Timeout
from adapters.nav.push import NavPushTarget
from adapters.nav.soap import NavFault, NavWsdls
from adapters.nav.source import CUSTOMER_FIELDS, LEDGER_FIELDS, NavSource
from gating.money import is_currency

__all__ = ["NavFault", "NavSoapAdapter", "NavWsdls"]


class NavSoapAdapter(NavSource, NavPushTarget):
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
        warning_field: str | None = None,
        note_field: str | None = None,
        wsdls: NavWsdls | None = None,
        stale_key_retries: int = 2,
        auth: str = "basic",
    ) -> None:
        """`base_url` ends with `/Page/` (`http://nav:7047/DynamicsNAV/WS/CRONUS/Page/`).

        Without `session`, a session is made with `auth` from `username` and `password`:
        "basic" (NavUserPassword) or "ntlm" (Windows; `username` as DOMAIN\\user; needs
        requests-ntlm). A session passed in keeps its own `auth` if it has one.

        `warning_field` and `note_field` are fields of the Customer page that take the warning
        level and the step's note; no standard page has them (on NAV 2009-2018 page 21 itself
        must be changed, on Business Central a page extension adds them). Without them a push
        writes what the standard page allows: `Blocked` = All at red.
        """
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if not is_currency(local_currency):
            raise ValueError(f"local_currency {local_currency!r} is not an ISO 4217 code")
        if stale_key_retries < 0:
            raise ValueError("stale_key_retries must not be negative")
        self.local_currency = local_currency
        self.customer_filter = dict(customer_filter or {})
        self.warning_field = warning_field
        self.note_field = note_field
        self.stale_key_retries = stale_key_retries
        super().__init__(
            base_url,
            username,
            password,
            session=session,
            retrying=retrying,
            page_size=page_size,
            timeout=timeout,
            wsdls=wsdls,
            customer_fields=[*CUSTOMER_FIELDS, *(f for f in (warning_field, note_field) if f)],
            ledger_fields=LEDGER_FIELDS,
            auth=auth,
        )
        unknown = sorted(set(self.customer_filter) - self._customers.fields)
        if unknown:
            raise ValueError(f"customer_filter names fields page Customer has not: {unknown}")
