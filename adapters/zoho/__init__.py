"""Zoho CRM over its REST API v8: Accounts as a customer source (source.py) and a push target
for warnings (push.py), over one OAuth2 client (api.py, transport and auth)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta

import requests
from tenacity import Retrying

from adapters.http import DEFAULT_TIMEOUT, Timeout
from adapters.zoho.api import ACCOUNTS_SERVERS, ZohoRejected
from adapters.zoho.push import TRIGGERS, Account, PushResult, ZohoPushTarget
from adapters.zoho.source import DEFAULT_OVERLAP, PAGE_LIMIT, ZohoSource
from gating.money import is_currency

__all__ = ["TRIGGERS", "Account", "PushResult", "ZohoCrmAdapter", "ZohoRejected"]


class ZohoCrmAdapter(ZohoSource, ZohoPushTarget):
    """Read Accounts changed since a watermark; write warnings back to them.

    Every call times out, and connection errors, timeouts, 429 and 5xx are retried by
    `retrying` (honouring Retry-After); other 4xx raise ZohoRejected with Zoho's code and
    message at once. Field API names are the org's own: `number_field` holds the ERP customer
    number (default the standard Account_Number), `currency_field` the currency (default:
    Zoho's `Currency` where the org has multi-currency), the rest are custom fields set up for
    creditgate (see the defaults).
    """

    kind = "zoho-crm"

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        dc: str = "us",
        accounts_url: str | None = None,
        currency: str | None = None,
        number_field: str = "Account_Number",
        credit_limit_field: str = "Credit_Limit",
        currency_field: str | None = None,
        level_field: str = "Credit_Warning_Level",
        hold_field: str = "Credit_Hold",
        task_key_field: str = "Creditgate_Change_Id",
        triggers: Sequence[str] | None = None,
        session: requests.Session | None = None,
        retrying: Retrying | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        page_size: int = 200,
        page_limit: int = PAGE_LIMIT,
        overlap: timedelta = DEFAULT_OVERLAP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= page_size <= 200:
            raise ValueError("page_size must be between 1 and 200 (Zoho's per_page)")
        if overlap < timedelta(0):
            raise ValueError("overlap must not be negative")
        if accounts_url is None:
            if dc not in ACCOUNTS_SERVERS:
                known = ", ".join(sorted(ACCOUNTS_SERVERS))
                raise ValueError(f"unknown Zoho data centre {dc!r}; use one of {known}")
            accounts_url = ACCOUNTS_SERVERS[dc]
        if currency is not None and not is_currency(currency):
            raise ValueError(f"currency {currency!r} is not an ISO 4217 code")
        super().__init__(
            client_id,
            client_secret,
            refresh_token,
            accounts_url=accounts_url,
            session=session,
            retrying=retrying,
            timeout=timeout,
            clock=clock,
        )
        self.currency = currency
        self.number_field = number_field
        self.credit_limit_field = credit_limit_field
        self.currency_field = currency_field
        self._currency_known, self._currency_name = False, None
        self.level_field = level_field
        self.hold_field = hold_field
        self.task_key_field = task_key_field
        if triggers is not None and not set(triggers) <= set(TRIGGERS):
            raise ValueError(f"Zoho triggers are {', '.join(TRIGGERS)}; got {list(triggers)}")
        self.triggers = None if triggers is None else list(triggers)
        self.page_size = page_size
        self.page_limit = page_limit
        self.overlap = overlap
        self._accounts: dict[str, Account] = {}
