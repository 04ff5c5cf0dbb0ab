"""An HTTP callback as a push target: events POSTed to a URL the operator configures.

The ERP that asked about an order learns how its hold was resolved (`HoldNotice`), and a
customer's new warning level (`WarningChange`), without polling. Each event is one POST of a
JSON body, signed like the webhooks creditgate receives (`X-Creditgate-Signature: t=<unix>,
v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, see gating.signatures) with the shared secret, and
carrying `Idempotency-Key: <change_id>`: delivery is at least once, so the receiver applies a
key once and answers 2xx to repeats.

Every call times out; connection errors, timeouts, 408, 429 and 5xx are retried by `retrying`
(honouring Retry-After), then raise TargetUnavailable; any other 4xx, and any redirect, raise
TargetRejected at once. Redirects are never followed: requests would resend a POST as a GET,
and a signed event must not wander to another host.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from tenacity import Retrying

from adapters.http import (
    DEFAULT_ATTEMPTS,
    DEFAULT_TIMEOUT,
    RemoteRejected,
    Timeout,
    TransientError,
    new_retrying,
    new_session,
    retry_after,
    route_status,
    transport_errors,
)
from gating.push import HoldNotice, WarningChange, notice_document, warning_document
from gating.signatures import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

SERVICE = "callback"
URL_SETTING = "CREDITGATE_CALLBACK_URL"
EVENT_HEADER = "X-Creditgate-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def encode(document: dict[str, object]) -> bytes:
    """The exact bytes sent (and signed) for `document`: compact JSON, keys sorted."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class CallbackTarget:
    """POST events, signed with `secret`, to the receiver at `url`.

    `retrying` replaces the retry policy built from `attempts` (default 5 tries; tests pass
    `new_retrying(2, sleep=...)` so that nothing sleeps). A `session` given is the caller's to
    close; the one opened here is closed by `close()`. `clock` gives the Unix time the
    signatures carry, read afresh for each attempt.
    """

    kind = "callback"

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
        attempts: int | None = None,
        retrying: Retrying | None = None,
        clock: Callable[[], float] = time.time,
        session: requests.Session | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"the callback URL must be an http:// or https:// URL with a host, not "
                f"{_shown(url)!r}: fix {URL_SETTING}"
            )
        if not secret:
            raise ValueError("the callback secret is empty: callbacks must be signed")
        if attempts is not None and retrying is not None:
            raise ValueError("give attempts or retrying, not both")
        if attempts is not None and attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.url = url
        self._secret = secret
        self.timeout = timeout
        self.retrying = (
            retrying
            if retrying is not None
            else new_retrying(attempts if attempts is not None else DEFAULT_ATTEMPTS)
        )
        self.clock = clock
        self._own_session = session is None
        self.session = session if session is not None else new_session(timeout)
        self._shown_url = _shown(url)

    def __repr__(self) -> str:  # never the secret, nor what the URL's query may carry
        return f"<CallbackTarget {self._shown_url}>"

    # ---- the PushTarget interface -------------------------------------------------------------

    def push(self, change: HoldNotice | WarningChange) -> None:
        """POST the event for `change` (a hold resolution or a warning level change) once it
        is accepted; retried while the receiver is unavailable.

        :raises TargetUnavailable: the receiver stayed unreachable, slow, rate-limiting or
            failing (5xx, 408, 429) after the retries; `retry_after` is the wait it asked for.
        :raises TargetRejected: the receiver refused the event (any other 4xx), or answered
            with a redirect, which is not followed.
        """
        if isinstance(change, HoldNotice):
            event, document = "hold_resolution", notice_document(change)
        else:
            event, document = "warning", warning_document(change)
        body = encode(document)
        what = f"POST of {event} {change.change_id} to {self._shown_url}"
        self.retrying(self._post, body, event, change.change_id, what)
        log.info("%s: delivered %s %s to %s", SERVICE, event, change.change_id, self._shown_url)

    def close(self) -> None:
        """Release the connection pool opened here (a session passed in is the caller's)."""
        if self._own_session:
            self.session.close()

    # ---- one attempt ---------------------------------------------------------------------------

    def _post(self, body: bytes, event: str, change_id: str, what: str) -> None:
        headers = {
            "Content-Type": "application/json",
            # Signed per attempt: a retry must not carry a timestamp that ages out of the
            # receiver's 5-minute window.
            SIGNATURE_HEADER: sign(self._secret, body, int(self.clock())),
            IDEMPOTENCY_HEADER: change_id,
            EVENT_HEADER: event,
        }
        with transport_errors(SERVICE, what):
            response = self.session.post(
                self.url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        _route(response, what)


def _route(response: requests.Response, what: str) -> None:
    """Return on 2xx; raise TransientError on 408, 429 and 5xx (with Retry-After), and
    RemoteRejected, saying what to do, on any other answer."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        location = response.headers.get("Location")
        where = f" to {_shown(location)}" if location else ""
        raise RemoteRejected(
            f"{SERVICE}: {what} answered HTTP {status} {response.reason}: the callback URL "
            f"moved{where}; creditgate does not follow redirects, so fix {URL_SETTING}",
            service=SERVICE,
            status=status,
        )
    if status == 408:  # the receiver timed out reading the request: as good as a 503
        raise TransientError(
            f"{SERVICE}: {what} answered HTTP 408 {response.reason}: the receiver timed out",
            service=SERVICE,
            status=status,
            retry_after=retry_after(response),
        )
    try:
        route_status(response, SERVICE, what)  # raises for 4xx and 5xx, quoting the body
    except RemoteRejected as exc:
        raise RemoteRejected(f"{exc}; {_advice(status)}", service=SERVICE, status=status) from None
    # Only a 1xx gets here, which requests never returns as a final answer.
    raise TransientError(
        f"{SERVICE}: {what} answered HTTP {status} {response.reason}, not a final answer",
        service=SERVICE,
        status=status,
    )


def _advice(status: int) -> str:
    if status in (401, 403):
        return (
            "the receiver refused the caller: check that it verifies "
            f"{SIGNATURE_HEADER} with the same secret creditgate signs with, and that its "
            "clock is within 5 minutes of creditgate's"
        )
    if status in (404, 405, 410):
        return f"no callback receiver at that URL: fix {URL_SETTING}"
    return "the receiver refuses this event for good: see its log for why"


def _shown(url: str) -> str:
    """`url` fit for messages and logs: without user info, query or fragment (they may carry
    a token)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    start = f"{parts.scheme}://" if parts.scheme else "//" if parts.netloc else ""
    hidden = "?…" if parts.query else ""
    return f"{start}{host}{parts.path}{hidden}"
