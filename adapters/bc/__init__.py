"""Business Central over its REST API v2.0: customers and sales invoices as a source
(source.py) and holds pushed as `blocked` (push.py), over one OAuth 2.0 client-credentials
client (api.py, transport and auth)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import requests
from tenacity import Retrying

from adapters.bc.api import SCOPE, SERVICE
from adapters.bc.push import BcPushTarget
from adapters.bc.source import DEFAULT_OVERLAP, BcSource
from adapters.http import DEFAULT_TIMEOUT, Timeout
from gating.money import is_currency

__all__ = ["SERVICE", "BcApiAdapter"]


class BcApiAdapter(BcSource, BcPushTarget):
    """Read customers and sales invoices changed since a watermark; block customers on hold.

    `local_currency` is the company's LCY: the currency of every `creditLimit` (the card's
    "Credit Limit (LCY)") and of invoices whose currency code is blank.
    """

    kind = "bc-api"

    def __init__(
        self,
        url: str,
        company: str,
        tenant: str,
        client_id: str,
        client_secret: str,
        *,
        local_currency: str,
        token_url: str | None = None,
        scope: str = SCOPE,
        overlap: timedelta = DEFAULT_OVERLAP,
        stale_etag_retries: int = 2,
        session: requests.Session | None = None,
        retrying: Retrying | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not is_currency(local_currency):
            raise ValueError(f"local currency {local_currency!r} is not an ISO 4217 code")
        if overlap < timedelta(0):
            raise ValueError("overlap must not be negative")
        super().__init__(
            url,
            company,
            tenant,
            client_id,
            client_secret,
            token_url=token_url,
            scope=scope,
            session=session,
            retrying=retrying,
            timeout=timeout,
            clock=clock,
        )
        self.local_currency = local_currency
        self.overlap = overlap
        self.stale_etag_retries = stale_etag_retries
