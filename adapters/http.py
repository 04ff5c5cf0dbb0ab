"""HTTP plumbing shared by the source clients: sessions with timeouts, retries, error routing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from gating.errors import TargetRejected, TargetUnavailable

log = logging.getLogger(__name__)

Timeout = tuple[float, float]
"""(connect, read) seconds, as requests takes them."""

DEFAULT_TIMEOUT: Timeout = (5.0, 60.0)
DEFAULT_ATTEMPTS = 5


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


def new_retrying(
    attempts: int = DEFAULT_ATTEMPTS,
    *,
    max_wait: float = 10.0,
    jitter: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    logger: logging.Logger = log,
) -> Retrying:
    """Return the retry policy: only TransientError, waits of 1, 2, 4... s (capped at `max_wait`)
    plus up to `jitter` s, at most `attempts` tries, then the last error itself is raised (never
    tenacity's RetryError)."""
    return Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(attempts),
        # The first wait is tenacity's default 1 s: its `initial` argument is deprecated in 9.x.
        wait=wait_exponential_jitter(max=max_wait, jitter=jitter),
        reraise=True,
        sleep=sleep,
        before_sleep=before_sleep_log(logger, logging.WARNING),
    )


@contextmanager
def transport_errors(service: str, what: str) -> Iterator[None]:
    """Turn requests' connection errors and timeouts during `what` into TransientError.

    :raises TransientError: the connection failed, was dropped, or timed out.
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


def retry_after(response: requests.Response) -> float | None:
    """The Retry-After header in seconds (a number of seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
