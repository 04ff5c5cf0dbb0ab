"""Logins and sessions of the web pages, over the store: the composition root's part for people
(their figures are in config/reads.py, changes to their accounts in config/writes.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from adapters.db import logins, users
from adapters.db.repository import AuditRepository
from gating.logins import SESSION_LIFETIME, Admission
from gating.ports import Clock

User = users.User


class Pages:
    """Logging in and out, and the sessions that carry a login (gating/logins.py has the
    figures)."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def authenticate(self, username: str, password: str) -> User | None:
        return users.authenticate(self._engine, username, password)

    def admit_login(self, username: str, address: str) -> Admission:
        """May this attempt check its password now (it then counts as failed until it passes)?"""
        return logins.admit(self._engine, username, address, self._clock())

    def login_failed(self, username: str, address: str) -> bool:
        """Record a wrong password (audited); True if it locked the name."""
        return logins.failed(self._engine, username, address, self._clock())

    def login_succeeded(self, username: str, address: str) -> None:
        logins.succeeded(self._engine, username, address)

    def start_session(self, user_id: int) -> str:
        """A new server-side session for the user; the token for the cookie."""
        return logins.start_session(self._engine, user_id, self._clock(), SESSION_LIFETIME)

    def session_user(self, token: str) -> User | None:
        """The user of a live session (not ended, not expired, user not disabled), or None."""
        found = logins.session_user(self._engine, token, self._clock(), SESSION_LIFETIME)
        return None if found is None else User(found.id, found.username, found.role, found.language)

    def end_session(self, token: str) -> None:
        logins.end_session(self._engine, token, self._clock())

    def record(self, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> None:
        """An audit event outside any other change (logins, logouts, refused logins)."""
        with self._engine.begin() as conn:
            AuditRepository(conn).record(actor, action, subject, details, self._clock())
