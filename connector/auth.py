"""API-key authentication, roles, and optional HMAC request signatures."""

from __future__ import annotations

import functools
import hashlib
import hmac
import threading
from collections.abc import Callable
from time import monotonic as _monotonic
from typing import Any, TypeVar

from flask import abort, current_app, g, request

SIGNATURE_HEADER = "X-Creditgate-Signature"
SIGNATURE_WINDOW = 300  # seconds either side of the server's clock
_CACHE_SECONDS = 30.0

F = TypeVar("F", bound=Callable[..., Any])


class _ClientCache:
    """Keeps looked-up keys for a few seconds so the gate does not query api_clients each call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, lookup: Callable[[str], Any]) -> Any:
        digest = hashlib.sha256(key.encode()).hexdigest()
        now = _monotonic()
        with self._lock:
            hit = self._entries.get(digest)
        if hit is not None and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
        client = lookup(key)
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[digest] = (now, client)
        return client


def _unauthorized(message: str) -> None:
    abort(401, description=message)


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        _unauthorized("send your API key as 'Authorization: Bearer <key>'")
    return key.strip()


def verify_signature(secret: str, header: str | None, body: bytes, now: float) -> str | None:
    """Check `t=<unix>,v1=<hex>` over "<t>.<body>"; return what is wrong, or None if it is good."""
    if not header:
        return f"this client signs its requests: send {SIGNATURE_HEADER}"
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    # ASCII digits only, and no more than a Unix time has: int() and float() must not choke.
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12) or not given:
        return f"{SIGNATURE_HEADER} must look like t=<unix seconds>,v1=<hex HMAC-SHA256>"
    if abs(now - int(stamp)) > SIGNATURE_WINDOW:
        return "signature timestamp is outside the 5-minute window (replayed or clock skew)"
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.strip().lower()):
        return "signature does not match the request body"
    return None


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value a client sends; documented for integrators, used by the tests."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def requires(*roles: str) -> Callable[[F], F]:
    """Allow only clients with one of `roles`: 401 without a valid key, 403 otherwise."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = _bearer()
            services = current_app.extensions["creditgate"]
            cache: _ClientCache = current_app.extensions["creditgate.clients"]
            client = cache.get(key, services.find_client)
            if client is None:
                _unauthorized("unknown or revoked API key")
            if client.signing_secret:
                problem = verify_signature(
                    client.signing_secret,
                    request.headers.get(SIGNATURE_HEADER),
                    request.get_data(cache=True),
                    services.clock().timestamp(),
                )
                if problem:
                    _unauthorized(problem)
            if client.role not in roles:
                abort(403, description=f"role {client.role!r} may not call this; needs {roles}")
            g.client = client
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def new_client_cache() -> _ClientCache:
    return _ClientCache()
