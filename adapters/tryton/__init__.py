"""Tryton ERP: a sync source (source.py) and a push target (push.py) over one JSON-RPC session
(rpc.py, transport and auth), for trytond 8.2."""

from __future__ import annotations

from datetime import timedelta

import requests
from tenacity import Retrying

from adapters.http import DEFAULT_TIMEOUT, Timeout
from adapters.tryton.push import TrytonPushTarget
from adapters.tryton.source import DEFAULT_OVERLAP, TrytonSource

__all__ = ["TrytonAdapter"]


class TrytonAdapter(TrytonSource, TrytonPushTarget):
    """Read customers, invoices and payments changed in a Tryton database since a watermark;
    show warning changes on its parties.

    Every model call carries the user's preferences as context (its company decides credit
    limits and which invoices are visible). The session is opened on first use and opened
    again once when Tryton answers 401 (expired or revoked); connection errors, timeouts and
    5xx are retried by `retrying`, 4xx and Tryton's own errors raise RemoteRejected at once.
    """

    kind = "tryton"

    def __init__(
        self,
        base_url: str,
        database: str,
        username: str,
        password: str,
        *,
        session: requests.Session | None = None,
        retrying: Retrying | None = None,
        page_size: int = 500,
        timeout: Timeout = DEFAULT_TIMEOUT,
        overlap: timedelta = DEFAULT_OVERLAP,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if overlap < timedelta(0):
            raise ValueError("overlap must not be negative")
        super().__init__(
            base_url, database, username, password, session=session, retrying=retrying,
            timeout=timeout,
        )  # fmt: skip
        self.page_size = page_size
        self.overlap = overlap
