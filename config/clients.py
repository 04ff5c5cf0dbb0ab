"""API-key checks for connector/auth.py: the key's client, a signed request's nonce, and the gate
timeout that bounds them (adapters/db/deadline.py)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime

from sqlalchemy import Engine

from adapters.db import admin, deadline, nonces
from gating.ports import Clock


class ApiKeys:
    def __init__(self, engine: Engine, clock: Clock, timeout: float) -> None:
        self._engine = engine
        self._clock = clock
        self._timeout = timeout

    def bounded(self) -> AbstractContextManager[object]:
        """Database work in the block must finish within CREDITGATE_GATE_TIMEOUT, or fail with
        the store's unavailability (adapters/db/deadline.py). The gate runs its whole call,
        key lookup included, in one such block."""
        return deadline.bounded(self._timeout)

    def find_client(self, key: str) -> admin.ApiClient | None:
        """:raises GateUnavailable: when the database does not answer within the gate timeout."""
        with self.bounded():
            return admin.find_client(self._engine, key)

    def first_use_of_nonce(self, client: str, nonce: str, good_until: int) -> bool:
        """Take a signed request's nonce until its signature expires (Unix seconds); False when
        the client used it before. :raises GateUnavailable:"""
        until = datetime.fromtimestamp(good_until, UTC)
        return nonces.first_use(self._engine, client, nonce, self._clock(), until)
