"""HTTP plumbing shared by the source clients: sessions with timeouts, retries, error routing."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Generic, Protocol, TypeVar

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from gating.errors import TargetRejected, TargetUnavailable

log = logging.getLogger(__name__)

Timeout = tuple[float, float]
"""(connect, read) seconds, as requests takes them."""

DEFAULT_TIMEOUT: Timeout = (5.0, 60.0)
DEFAULT_ATTEMPTS = 5
# A Retry-After longer than this is not slept through: the error goes to the caller.
LONGEST_WAIT = 300.0


class RemoteError(Exception):
    """A call to a remote system failed; `service` names the system, `status` the HTTP status."""

    def __init__(self, message: str, *, service: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.service = service
        self.status = status


class TransientError(RemoteError, TargetUnavailable):
    """The remote could not answer now (connection refused or dropped, timeout, 5xx, 429):
    retry; `retry_after` is the wait the remote asked for, if it did."""

    def __init__(
        self,
        message: str,
        *,
        service: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, service=service, status=status)
        self.retry_after = retry_after


class RemoteRejected(RemoteError, TargetRejected):
    """The remote refused the request (4xx, or an error it reports): retrying cannot help."""


class _TimeoutAdapter(HTTPAdapter):
    """Give every request a timeout, so a call that forgot one still cannot hang forever."""

    def __init__(self, timeout: Timeout) -> None:
        super().__init__(max_retries=0)  # tenacity retries, not urllib3 behind our back
        self.timeout = timeout

    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, *args, **kwargs)


def new_session(
    timeout: Timeout = DEFAULT_TIMEOUT, user_agent: str = "creditgate"
) -> requests.Session:
    """Return a requests Session whose calls time out after `timeout` unless told otherwise."""
    session = requests.Session()
    adapter = _TimeoutAdapter(timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session


def _asked(state: RetryCallState) -> float | None:
    """The wait the remote asked for with the failure that ends this attempt, if any."""
    exc = state.outcome.exception() if state.outcome is not None else None
    return exc.retry_after if isinstance(exc, TargetUnavailable) else None


class wait_retry_after(wait_base):
    """Wait as long as the remote asked (Retry-After), and never less than `backoff` would."""

    def __init__(self, backoff: wait_base) -> None:
        self.backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        backoff = self.backoff(retry_state)
        asked = _asked(retry_state)
        return backoff if asked is None else max(asked, backoff)


class stop_when_asked_longer(stop_base):
    """Stop when the remote asks for a wait longer than `longest` seconds: the error (with its
    `retry_after`) goes to the caller, whose queue can wait without holding a worker."""

    def __init__(self, longest: float) -> None:
        self.longest = longest

    def __call__(self, retry_state: RetryCallState) -> bool:
        asked = _asked(retry_state)
        return asked is not None and asked > self.longest


def new_retrying(
    attempts: int = DEFAULT_ATTEMPTS,
    *,
    max_wait: float = 10.0,
    jitter: float = 0.5,
    longest_asked: float = LONGEST_WAIT,
    sleep: Callable[[float], None] = time.sleep,
    logger: logging.Logger = log,
) -> Retrying:
    """Return the retry policy: only TransientError, waits of 1, 2, 4... s (capped at `max_wait`)
    plus up to `jitter` s, at most `attempts` tries, then the last error itself is raised (never
    tenacity's RetryError). A wait is stretched to what a 429 or 503 asked for in Retry-After;
    a request to wait longer than `longest_asked` s ends the retries, so the caller's queue
    waits instead of a worker."""
    return Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(attempts) | stop_when_asked_longer(longest_asked),
        wait=wait_retry_after(wait_exponential_jitter(max=max_wait, jitter=jitter)),
        reraise=True,
        sleep=sleep,
        before_sleep=before_sleep_log(logger, logging.WARNING),
    )


@contextmanager
def transport_errors(service: str, what: str) -> Iterator[None]:
    """Turn requests' connection errors and timeouts during `what` into TransientError.

    :raises TransientError: the connection failed, was dropped, or timed out; the body could
        not be decoded; redirects went round in circles.
    """
    try:
        yield
    except requests.Timeout as exc:
        raise TransientError(f"{service}: {what} timed out ({exc})", service=service) from exc
    except requests.ConnectionError as exc:
        raise TransientError(
            f"{service}: {what} failed to connect ({exc})", service=service
        ) from exc
    except requests.exceptions.ChunkedEncodingError as exc:
        raise TransientError(f"{service}: {what} was cut off ({exc})", service=service) from exc
    except requests.exceptions.ContentDecodingError as exc:
        raise TransientError(
            f"{service}: {what} answered a body that cannot be decoded ({exc})", service=service
        ) from exc
    except requests.TooManyRedirects as exc:
        raise TransientError(
            f"{service}: {what} was redirected too many times ({exc})", service=service
        ) from exc


def route_status(response: requests.Response, service: str, what: str) -> requests.Response:
    """Return a 2xx/3xx response as it is; raise for the others.

    :raises TransientError: on 5xx (and 429, which asks to come back later).
    :raises RemoteRejected: on any other 4xx, with the status and the start of the body.
    """
    status = response.status_code
    if status < 400:
        return response
    body = " ".join(response.text.split())[:200]
    message = f"{service}: {what} answered HTTP {status} {response.reason}: {body}"
    if status >= 500 or status == 429:
        raise TransientError(
            message, service=service, status=status, retry_after=retry_after(response)
        )
    raise RemoteRejected(message, service=service, status=status)


LONGEST_RETRY_AFTER = 86_400.0
"""The longest Retry-After taken as asked (a day): a longer one is read as this."""


def retry_after(response: requests.Response) -> float | None:
    """The Retry-After header in seconds, as RFC 9110 writes it (delay-seconds: digits only;
    or an HTTP date), at most LONGEST_RETRY_AFTER; None when absent or written otherwise
    (`inf`, `1e12`, `-5`, `2.5` are not delay-seconds)."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return min(float(value), LONGEST_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(0.0, seconds), LONGEST_RETRY_AFTER)


def json_body(response: requests.Response) -> Any:
    """A JSON answer with every number exact (Decimal, never float); None when the body is empty
    or not JSON."""
    if not response.content:
        return None
    try:
        return response.json(parse_float=Decimal)
    except ValueError:
        return None


class Expiring(Protocol):
    """An OAuth access token as a client keeps it."""

    @property
    def value(self) -> str: ...
    @property
    def expires_at(self) -> float:
        """On the client's monotonic clock."""
        ...


T = TypeVar("T", bound=Expiring)

REFRESH_EARLY = 300.0
"""Seconds before expiry a token is renewed: it must not expire during a long page read."""


class TokenCache(Generic[T]):
    """One OAuth access token shared by a client's threads (the sync engine reads pages in a
    worker thread while another may push), fetched again when missing, about to expire, or the
    `stale` one the service just refused (unless another thread has replaced it meanwhile)."""

    def __init__(self, fetch: Callable[[], T], clock: Callable[[], float]) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: T | None = None
        self._lock = threading.Lock()

    def get(self, stale: str | None = None) -> T:
        with self._lock:
            token = self._token
            if (
                token is None
                or token.value == stale
                or self._clock() >= token.expires_at - REFRESH_EARLY
            ):
                token = self._token = self._fetch()
            return token


class OAuthClient(Generic[T]):
    """What an HTTP client with OAuth access tokens holds: its session (opened here unless
    given, and then closed by `close`), its retry policy, its timeout, its monotonic clock, and
    one token shared by its threads, fetched by `_new_token` (Business Central's and Zoho's
    clients)."""

    def __init__(
        self,
        *,
        session: requests.Session | None,
        retrying: Retrying | None,
        timeout: Timeout,
        clock: Callable[[], float],
    ) -> None:
        self._own_session = session is None
        self.session = session if session is not None else new_session(timeout)
        self.retrying = retrying if retrying is not None else new_retrying()
        self.timeout = timeout
        self.clock = clock
        self._tokens: TokenCache[T] = TokenCache(self._new_token, clock)

    def _new_token(self) -> T:
        """A new access token from the service's token endpoint."""
        raise NotImplementedError

    def _access(self, stale: str | None = None) -> T:
        """The current token, or a new one if it is about to expire or is `stale` (refused)."""
        return self._tokens.get(stale)

    def close(self) -> None:
        """Release the connection pool this client opened (an access token needs no logout)."""
        if self._own_session:
            self.session.close()
