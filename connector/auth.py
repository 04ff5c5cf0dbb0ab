"""API-key authentication, roles, and optional HMAC request signatures."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable
from time import monotonic as _monotonic
from typing import Any, TypeVar

from flask import abort, current_app, g, request

from gating.signatures import (
    REPLAYED,
    SIGNATURE_HEADER,
    check_signature,
    sign,
    verify_signature,
)

__all__ = ["SIGNATURE_HEADER", "new_client_cache", "requires", "sign", "verify_signature"]

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
                check = check_signature(
                    client.signing_secret,
                    request.headers.get(SIGNATURE_HEADER),
                    request.get_data(cache=True),
                    services.clock().timestamp(),
                )
                if check.problem:
                    _unauthorized(check.problem)
                if check.nonce is not None and not services.first_use_of_nonce(
                    client.name, check.nonce, check.good_until
                ):
                    _unauthorized(REPLAYED)
            if client.role not in roles:
                abort(403, description=f"role {client.role!r} may not call this; needs {roles}")
            g.client = client
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def new_client_cache() -> _ClientCache:
    return _ClientCache()
