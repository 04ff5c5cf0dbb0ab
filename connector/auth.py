"""API-key authentication, roles, and optional HMAC request signatures."""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Callable
from time import monotonic
from typing import Any, NoReturn, TypeVar

from flask import abort, current_app, g, request

from connector.context import Client, services
from gating.errors import GateUnavailable
from gating.signatures import (
    REPLAYED,
    SIGNATURE_HEADER,
    check_signature,
    sign,
    verify_signature,
)

__all__ = ["SIGNATURE_HEADER", "new_client_cache", "requires", "sign", "verify_signature"]

log = logging.getLogger(__name__)

FRESH_SECONDS = 3.0
"""How long a worker trusts a key's last lookup while the database answers: a revoked key stops
working on every worker within this time (README, "API keys")."""
OUTAGE_SECONDS = 600.0
"""While the database cannot be reached, a key looked up successfully within this time is
trusted as it was then (its role, its source, its signing secret, or that it was unknown)."""
_MAX_ENTRIES = 10_000

F = TypeVar("F", bound=Callable[..., Any])


class _ClientCache:
    """Keeps looked-up keys for `FRESH_SECONDS` so the gate does not query api_clients on every
    call, and carries them through a database outage for up to `OUTAGE_SECONDS`."""

    def __init__(self, clock: Callable[[], float] = monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # sha256(key) -> (looked up at, client)
        self._entries: dict[str, tuple[float, Client | None]] = {}

    def get(self, key: str, lookup: Callable[[str], Client | None]) -> Client | None:
        """The client holding `key`, or None for an unknown or revoked key.

        :raises GateUnavailable: when the database cannot be asked and the key was not looked
            up successfully within `OUTAGE_SECONDS`.
        """
        digest = hashlib.sha256(key.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            hit = self._entries.get(digest)
        if hit is not None and now - hit[0] < FRESH_SECONDS:
            return hit[1]
        try:
            client = lookup(key)
        except GateUnavailable:
            if hit is not None and now - hit[0] < OUTAGE_SECONDS:
                log.debug(
                    "database unavailable: API key trusted from its lookup %.0f s ago", now - hit[0]
                )
                return hit[1]
            raise
        with self._lock:
            if len(self._entries) >= _MAX_ENTRIES:
                # Unknown keys go first, so a flood of made-up keys cannot push the real ones
                # out of what an outage may trust.
                self._entries = {d: e for d, e in self._entries.items() if e[1] is not None}
                if len(self._entries) >= _MAX_ENTRIES:
                    self._entries.clear()
            self._entries[digest] = (now, client)
        return client


def _unauthorized(message: str) -> NoReturn:
    abort(401, description=message)


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        _unauthorized("send your API key as 'Authorization: Bearer <key>'")
    return key.strip()


def requires(*roles: str) -> Callable[[F], F]:
    """Allow only clients with one of `roles`: 401 without a valid key, 403 otherwise.

    :raises GateUnavailable: when the key cannot be checked (see `_ClientCache.get`).
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = _bearer()
            application = services()
            cache: _ClientCache = current_app.extensions["creditgate.clients"]
            client = cache.get(key, application.clients.find_client)
            if client is None:
                _unauthorized("unknown or revoked API key")
            if client.signing_secret:
                check = check_signature(
                    client.signing_secret,
                    request.headers.get(SIGNATURE_HEADER),
                    request.get_data(cache=True),
                    application.clock().timestamp(),
                )
                if check.problem:
                    _unauthorized(check.problem)
                if check.nonce is not None and not application.clients.first_use_of_nonce(
                    client.name, check.nonce, check.good_until
                ):
                    _unauthorized(REPLAYED)
            if client.role not in roles:
                abort(403, description=f"role {client.role!r} may not call this; needs {roles}")
            g.client = client
            g.client_language = client.language  # connector/i18n.py: the answer's language
            return view(*args, **kwargs)

        wrapper.roles = roles  # type: ignore[attr-defined]  # read by connector/openapi.py
        return wrapper  # type: ignore[return-value]

    return decorate


def new_client_cache(clock: Callable[[], float] = monotonic) -> _ClientCache:
    """A worker's cache of looked-up keys; `clock` is a monotonic clock in seconds."""
    return _ClientCache(clock)
