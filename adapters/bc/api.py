"""Business Central's REST API v2.0, transport and auth: OAuth 2.0 client credentials against
the tenant's Microsoft Entra token endpoint, requests with timeouts, OData paging, and how
Business Central's answers become results, RemoteRejected or TransientError.

Facts (Microsoft Learn, Business Central API v2.0 reference and "Tips for working with the
APIs"): every resource is under `/companies({id})/`; a collection answers
`{"value": [...], "@odata.nextLink": "<absolute URL>"}` while more rows follow (server-driven
paging: the next link is followed as it is); each entity carries `@odata.etag`, which a PATCH
must send in `If-Match`; an expired or invalid token is answered 401; throttling is 429 with
`Retry-After`. The token comes from `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/
token` with `grant_type=client_credentials` and the scope
`https://api.businesscentral.dynamics.com/.default`.

A 2xx answer that is not a JSON object (or, for a collection, has no `value` list) is not
Business Central's own but a proxy's or gateway's page (e.g. an HTML maintenance page answered
200): a TransientError, never "no such record" (`get_json`, the one place reads go through).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from tenacity import Retrying

from adapters.http import (
    DEFAULT_TIMEOUT,
    OAuthClient,
    RemoteRejected,
    Timeout,
    TransientError,
    json_body,
    route_status,
    transport_errors,
)

log = logging.getLogger(__name__)

SERVICE = "bc-api"
Row = dict[str, Any]

RECORD_NOT_FOUND = "Internal_RecordNotFound"
"""Business Central's error code for a record that does not exist (Microsoft Learn, "Error codes
and messages" of the API: NavCSideRecordNotFoundException)."""
ENTRA_ENDPOINT = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
SCOPE = "https://api.businesscentral.dynamics.com/.default"


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: float  # on the client's monotonic clock


class BcClient(OAuthClient[AccessToken]):
    """One Business Central company reached with one Entra application (client credentials).

    `url` is the API root, ending in `/api/v2.0` (online:
    `https://api.businesscentral.dynamics.com/v2.0/{tenant}/{environment}/api/v2.0`), and
    `company` the company's id (a GUID). Every call times out; connection errors, timeouts,
    429 and 5xx are retried by `retrying` (honouring Retry-After); a 401 gets a new token once;
    other 4xx raise RemoteRejected at once.
    """

    def __init__(
        self,
        url: str,
        company: str,
        tenant: str,
        client_id: str,
        client_secret: str,
        *,
        token_url: str | None = None,
        scope: str = SCOPE,
        session: requests.Session | None = None,
        retrying: Retrying | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url.rstrip("/")
        self.company = company
        self.token_url = token_url or ENTRA_ENDPOINT.format(tenant=tenant)
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope
        super().__init__(session=session, retrying=retrying, timeout=timeout, clock=clock)

    def __repr__(self) -> str:  # never the secret
        return f"<{type(self).__name__} {self.url} company {self.company}>"

    def resource(self, name: str) -> str:
        """The address of a collection of the company, e.g. `customers`."""
        return f"{self.url}/companies({self.company})/{name}"

    # ---- auth ----------------------------------------------------------------------------------

    def _new_token(self) -> AccessToken:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "scope": self.scope,
        }
        with transport_errors(SERVICE, "token request"):
            response = self.session.post(self.token_url, data=form, timeout=self.timeout)
        if response.status_code >= 500 or response.status_code == 429:
            route_status(response, SERVICE, f"token request at {self.token_url}")
        body = json_body(response)
        if response.status_code < 300 and not isinstance(body, dict):
            raise _not_json(response, f"token request at {self.token_url}")
        if not isinstance(body, dict) or not body.get("access_token"):
            # Entra answers {"error": "invalid_client", "error_description": "AADSTS7000215: ..."}
            error = body.get("error") if isinstance(body, dict) else "not JSON"
            description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
            raise RemoteRejected(
                f"{SERVICE}: {self.token_url} refused a token ({error}: "
                f"{description.splitlines()[0] if description else 'no access_token'}): check "
                "the tenant, the client id and secret, and that the application is registered "
                "in Business Central (Microsoft Entra Applications) with its permissions",
                service=SERVICE,
                status=response.status_code,
            )
        lifetime = float(body.get("expires_in") or 3599)
        log.info("%s: new access token from %s", SERVICE, self.token_url)
        return AccessToken(str(body["access_token"]), self.clock() + lifetime)

    # ---- requests ------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        url: str,
        what: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """One request, retried by `retrying`; a 401 gets one new token and one more try."""
        return self.retrying(self._call, method, url, what, params, json, headers)

    def get_json(
        self, url: str, what: str, *, params: dict[str, Any] | None = None, collection: bool = False
    ) -> dict[str, Any]:
        """GET `url` and its JSON object, retried as one call (`call`): a record, or with
        `collection` a collection, whose `value` is then a list.

        :raises TransientError: (once the retries are spent) a 2xx answer that is not a JSON
            object, or a collection without a `value` list: not Business Central's own answer
            (a proxy's or gateway's page), so nothing can be concluded from it.
        """
        return self.retrying(self._get_json, url, what, params, collection)

    def _get_json(
        self, url: str, what: str, params: dict[str, Any] | None, collection: bool
    ) -> dict[str, Any]:
        response = self._call("GET", url, what, params, None, None)
        body = json_body(response)
        if not isinstance(body, dict) or (collection and not isinstance(body.get("value"), list)):
            raise _not_json(response, what, collection=collection)
        return body

    def get_record(self, url: str, what: str) -> Row | None:
        """GET one record by its address, retried as one call; None only when Business Central
        itself says there is no such record (404 with its JSON error `Internal_RecordNotFound`).

        :raises TransientError: as `get_json`; also a 404 that is not Business Central's JSON (a
            proxy's or gateway's page says nothing about the record).
        :raises RemoteRejected: any other refusal (a 404 naming no such resource included).
        """
        return self.retrying(self._get_record, url, what)

    def _get_record(self, url: str, what: str) -> Row | None:
        response = self._answer("GET", url, what, None, None, None)
        if response.status_code == 404:
            body = json_body(response)
            error = body.get("error") if isinstance(body, dict) else None
            if not isinstance(error, dict):
                raise _not_json(response, what)
            if error.get("code") == RECORD_NOT_FOUND:
                return None
        body = json_body(route_status(response, SERVICE, what))
        if not isinstance(body, dict):
            raise _not_json(response, what)
        return body

    def _call(
        self,
        method: str,
        url: str,
        what: str,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str] | None,
    ) -> requests.Response:
        return route_status(self._answer(method, url, what, params, json, headers), SERVICE, what)

    def _answer(
        self,
        method: str,
        url: str,
        what: str,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str] | None,
    ) -> requests.Response:
        """The answer to one request, after one new token if the first was refused (401)."""
        token = self._access()
        response = self._send(token, method, url, what, params, json, headers)
        if response.status_code == 401:
            log.info("%s: access token refused during %s; getting a new one", SERVICE, what)
            token = self._access(stale=token.value)
            response = self._send(token, method, url, what, params, json, headers)
        return response

    def _send(
        self,
        token: AccessToken,
        method: str,
        url: str,
        what: str,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str] | None,
    ) -> requests.Response:
        all_headers = {
            "Authorization": f"Bearer {token.value}",
            "Accept": "application/json",
            **(headers or {}),
        }
        with transport_errors(SERVICE, what):
            return self.session.request(
                method, url, params=params, json=json, headers=all_headers, timeout=self.timeout
            )

    def pages(self, name: str, params: dict[str, Any]) -> Iterator[list[Row]]:
        """The rows of collection `name`, page by page, following `@odata.nextLink` (an
        absolute URL carrying the query already) until there is none.

        :raises RemoteRejected: a next link off the API root's scheme, host and port (the
            bearer token is never sent elsewhere), or a row in `value` that is not an object.
        :raises TransientError: as `get_json`, for a page answered without a `value` list.
        """
        url, query = self.resource(name), dict(params)
        for number in itertools.count(1):
            what = f"read {name} (page {number})"
            body = self.get_json(url, what, params=query, collection=True)
            rows = body["value"]
            if not all(isinstance(row, dict) for row in rows):
                raise RemoteRejected(
                    f"{SERVICE}: read {name} (page {number}) answered a row in `value` that is "
                    "not an object",
                    service=SERVICE,
                )
            yield rows
            link = body.get("@odata.nextLink")
            if not link:
                return
            url, query = self._same_origin(str(link), name), {}  # it carries the query already

    def _same_origin(self, link: str, name: str) -> str:
        """`link` if it is on the API root's scheme, host and port: the bearer token goes
        nowhere else."""
        try:
            same = _origin(link) == _origin(self.url)
        except ValueError:  # a port that is not a number
            same = False
        if not same:
            raise RemoteRejected(
                f"{SERVICE}: read {name} was sent on to {link}, which is not on the API root "
                f"{self.url}; the access token is not sent there",
                service=SERVICE,
            )
        return link


def _not_json(
    response: requests.Response, what: str, *, collection: bool = False
) -> TransientError:
    """The error for a 2xx answer that is not Business Central's: no JSON object, or (for a
    collection) no `value` list; it names the status, the content type and the body's start."""
    lacks = "without a `value` list" if collection else "that is not a JSON object"
    kind = response.headers.get("Content-Type") or "no Content-Type"
    start = " ".join(response.text.split())[:200]
    return TransientError(
        f"{SERVICE}: {what} answered HTTP {response.status_code} {lacks} ({kind}: "
        f"{start!r}), not Business Central's own answer (a proxy or maintenance page?); "
        "trying again later",
        service=SERVICE,
        status=response.status_code,
    )


def _origin(url: str) -> tuple[str, str | None, int | None]:
    """A URL's scheme, host and port (the scheme's default when not written)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, parts.hostname, parts.port or {"http": 80, "https": 443}.get(scheme)


def odata_text(value: str) -> str:
    """A string literal for an OData $filter: quoted, a quote inside doubled."""
    return "'" + value.replace("'", "''") + "'"
