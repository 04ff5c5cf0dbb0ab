"""Zoho CRM's REST API v8, transport and auth: OAuth2 access tokens, requests with timeouts,
and how Zoho's answers become results, ZohoRejected or TransientError.

Auth is OAuth2's refresh-token grant against the data centre's accounts server. The access token
is cached in memory, per adapter (Zoho lets a refresh token mint only 10 access tokens in 10
minutes): it is refreshed when missing, five minutes before it expires, or once per call after
Zoho answers 401 INVALID_TOKEN or INVALID_OAUTHTOKEN (the name on Zoho's v8 token page).
Processes do not share it; each sync or push process mints its own, about one an hour.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
from tenacity import Retrying

from adapters.http import (
    DEFAULT_TIMEOUT,
    OAuthClient,
    RemoteRejected,
    Timeout,
    TransientError,
    json_body,
    retry_after,
    route_status,
    transport_errors,
)

log = logging.getLogger(__name__)

SERVICE = "zoho-crm"
API = "/crm/v8"
Row = dict[str, Any]

ACCOUNTS_SERVERS = {
    "us": "https://accounts.zoho.com",
    "eu": "https://accounts.zoho.eu",
    "in": "https://accounts.zoho.in",
    "au": "https://accounts.zoho.com.au",
    "jp": "https://accounts.zoho.jp",
    "cn": "https://accounts.zoho.com.cn",
    "ca": "https://accounts.zohocloud.ca",
    "sa": "https://accounts.zoho.sa",
}
"""Data centre code → accounts server; the API domain comes back with each token. The data
centres Zoho's official SDK for v8 lists (zoho/zohocrm-python-sdk-8.0, crm/api/dc: US, EU, IN,
AU, JP, CN, CA, SA) and Zoho Accounts' own list; another accounts server is given by URL."""

INVALID_TOKEN_CODES = frozenset({"INVALID_TOKEN", "INVALID_OAUTHTOKEN"})
"""Zoho's codes for an access token it no longer takes: crm-oas v8.0 lists INVALID_TOKEN
("invalid oauth token"), Zoho's v8 OAuth token page names it INVALID_OAUTHTOKEN."""

SCOPES = {
    ("GET", "/Accounts"): "ZohoCRM.modules.accounts.READ",
    ("PUT", "/Accounts"): "ZohoCRM.modules.accounts.UPDATE",
    ("GET", "/Accounts/search"): "ZohoSearch.securesearch.READ",
    ("GET", "/Tasks"): "ZohoCRM.modules.tasks.READ",
    ("POST", "/Tasks"): "ZohoCRM.modules.tasks.CREATE",
    ("POST", "/coql"): "ZohoCRM.coql.READ",
    ("GET", "/org"): "ZohoCRM.org.READ",
}
"""The OAuth scope each call creditgate makes needs, beyond those of the calls before it in
this table (Zoho's v8 docs of each call: records need ZohoCRM.modules.{module}.{operation};
search also ZohoSearch.securesearch.READ; COQL ZohoCRM.coql.READ with the module's READ; the
organisation ZohoCRM.org.READ). Each name is as the "Scope" section of Zoho's page for the call
gives it: search-records.html (v8), Get-Records-through-COQL-Query.html, get-org-data.html ("READ
- Get Organization data"), update-records.html and insert-records.html under
zoho.com/crm/developer/docs/api/. Zoho's OAUTH_SCOPE_MISMATCH does not say which one is missing."""


class ZohoRejected(RemoteRejected):
    """Zoho refused a request or one record of it; `code` is Zoho's (INVALID_DATA, ...) and
    `field` the field API name it blames, when it names one."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        field: str | None = None,
        scope: str | None = None,
    ) -> None:
        super().__init__(message, service=SERVICE, status=status)
        self.code = code
        self.field = field
        self.scope = scope
        """For OAUTH_SCOPE_MISMATCH: the scope the refused call needs."""


@dataclass(frozen=True)
class AccessToken:
    value: str
    api_domain: str
    expires_at: float  # on the adapter's monotonic clock


class ZohoClient(OAuthClient[AccessToken]):
    """One Zoho CRM org reached with one OAuth2 client and refresh token.

    Every call times out, and connection errors, timeouts, 429 and 5xx are retried by
    `retrying` (honouring Retry-After); other 4xx raise ZohoRejected with Zoho's code and
    message at once.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        accounts_url: str,
        session: requests.Session | None = None,
        retrying: Retrying | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.accounts_url = accounts_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        super().__init__(session=session, retrying=retrying, timeout=timeout, clock=clock)

    def __repr__(self) -> str:  # never the secrets
        return f"<{type(self).__name__} {self.accounts_url} client {self.client_id[:8]}…>"

    # ---- auth ----------------------------------------------------------------------------------

    def _new_token(self) -> AccessToken:
        """Refresh: a new access token for the refresh token."""
        url = f"{self.accounts_url}/oauth/v2/token"
        # In the body, not the query string: URLs end up in logs (urllib3's among them).
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "refresh_token": self._refresh_token,
        }
        with transport_errors(SERVICE, "token refresh"):
            response = self.session.post(url, data=form, timeout=self.timeout)
        if response.status_code >= 500 or response.status_code == 429:
            route_status(response, SERVICE, f"token refresh at {self.accounts_url}")
        body = json_body(response)
        error = body.get("error") if isinstance(body, dict) else "not JSON"
        if error or not isinstance(body, dict) or not body.get("access_token"):
            description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
            message = f"{SERVICE}: the accounts server {self.accounts_url} refused to refresh the "
            if "too many requests" in description.lower():
                # Zoho allows 10 refreshes per 10 minutes per refresh token, then blocks.
                raise TransientError(
                    message + f"access token: {description}", service=SERVICE, status=400
                )
            raise RemoteRejected(
                message + f"access token ({error or 'no access_token'}): check the client id, "
                "client secret and refresh token, and that they belong to this data centre",
                service=SERVICE,
                status=response.status_code,
            )
        if not body.get("api_domain"):  # each data centre has its own; never guess one
            raise RemoteRejected(
                f"{SERVICE}: the accounts server {self.accounts_url} gave a token without its "
                "api_domain",
                service=SERVICE,
                status=response.status_code,
            )
        lifetime = token_lifetime(body)
        api_domain = str(body["api_domain"]).rstrip("/")
        log.info("%s: new access token from %s for %s", SERVICE, self.accounts_url, api_domain)
        return AccessToken(str(body["access_token"]), api_domain, self.clock() + lifetime)

    # ---- requests ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        per_record: bool = False,
    ) -> requests.Response:
        """Send one request (not retried); refresh the token once if Zoho says it is invalid.

        `per_record`: a 400 that reports each record's error in `data` is returned, not raised.
        """
        token = self._access()
        response = self._send(token, method, path, what, params, json, headers)
        if response.status_code == 401 and _code(response) in INVALID_TOKEN_CODES:
            log.info("%s: access token refused during %s; refreshing it once", SERVICE, what)
            token = self._access(stale=token.value)
            response = self._send(token, method, path, what, params, json, headers)
        return _route(response, what, per_record, SCOPES.get((method, path)))

    def _send(
        self,
        token: AccessToken,
        method: str,
        path: str,
        what: str,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str] | None,
    ) -> requests.Response:
        all_headers = {"Authorization": f"Zoho-oauthtoken {token.value}", **(headers or {})}
        with transport_errors(SERVICE, what):
            return self.session.request(
                method,
                f"{token.api_domain}{API}{path}",
                params=params,
                json=json,
                headers=all_headers,
                timeout=self.timeout,
            )


# ---- Zoho's answers --------------------------------------------------------------------------


def token_lifetime(body: dict[str, Any]) -> float:
    """Seconds an access token lives, read as Zoho's SDK for v8 reads it (OAuthToken.
    get_token_expires_in): when the answer also carries `expires_in_sec`, `expires_in` is in
    milliseconds; otherwise it is in seconds. One hour when neither is usable."""
    try:
        value = float(body.get("expires_in") or 0)
    except (TypeError, ValueError):
        value = 0.0
    if "expires_in_sec" in body:
        value /= 1000
    return value if value > 0 else 3600.0


def records_of(body: Any) -> list[Row]:
    """The records of a GET, search or COQL answer."""
    data = body.get("data") if isinstance(body, dict) else None
    return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []


def _code(response: requests.Response) -> str | None:
    body = json_body(response)
    return str(body.get("code")) if isinstance(body, dict) and body.get("code") else None


def _route(
    response: requests.Response, what: str, per_record: bool, scope: str | None = None
) -> requests.Response:
    """Return a 2xx/3xx answer (and, for `per_record`, a 400 listing each record's error);
    raise TransientError for 429/5xx (with Retry-After, or Zoho's details.retry_after) and
    ZohoRejected, with Zoho's code and message, for any other 4xx."""
    status = response.status_code
    if status < 400:
        return response
    body = json_body(response)
    if per_record and status == 400 and isinstance(body, dict) and "data" in body:
        return response
    if not isinstance(body, dict) or not body.get("code"):
        return route_status(response, SERVICE, what)  # raises, quoting the body
    details = body.get("details")
    details = details if isinstance(details, dict) else {}
    message = f"{SERVICE}: {what} answered HTTP {status} {body['code']}: {body.get('message')}"
    if status == 429 or status >= 500:
        wait = retry_after(response)
        if wait is None and isinstance(details.get("retry_after"), int | Decimal):
            wait = float(details["retry_after"])
        raise TransientError(message, service=SERVICE, status=status, retry_after=wait)
    field = details.get("api_name") or details.get("param_name")
    if body["code"] != "OAUTH_SCOPE_MISMATCH":
        scope = None
    elif scope:
        message += f"; the refresh token lacks the scope {scope} (the README lists them all)"
    raise ZohoRejected(
        message,
        code=str(body["code"]),
        status=status,
        field=str(field) if field else None,
        scope=scope,
    )
