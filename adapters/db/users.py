"""People who log in to the web pages: a role each, passwords kept as salted scrypt hashes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from adapters.db import macs
from adapters.db.engine import readonly
from adapters.db.repository import AuditRepository
from adapters.db.tables import users
from gating.roles import PEOPLE_ROLES

log = logging.getLogger(__name__)

MIN_PASSWORD = 12
# Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = generate_password_hash("creditgate-no-such-user")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str


def create_user(engine: Engine, username: str, role: str, password: str, now: datetime) -> User:
    """:raises ValueError: an unknown role, a short password, or a name already taken."""
    if role not in PEOPLE_ROLES:
        raise ValueError(f"role must be one of {', '.join(PEOPLE_ROLES)}, not {role!r}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    if not username.strip() or len(username) > 100:
        raise ValueError("the user name must be 1 to 100 characters")
    try:
        with engine.begin() as conn:
            user_id = conn.execute(
                insert(users).values(
                    username=username,
                    role=role,
                    password_hash=generate_password_hash(password),
                    created_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            macs.resign(conn, users, users.c.id == user_id)
            AuditRepository(conn).record(
                "cli", "user_created", f"user:{username}", {"role": role}, now
            )
    except IntegrityError:
        raise ValueError(f"a user named {username!r} exists already") from None
    return User(int(user_id), username, role)


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    """The user if the name and password match an active user, else None."""
    with readonly(engine).connect() as conn:
        row = conn.execute(
            select(users).where(users.c.username == username, users.c.disabled_at.is_(None))
        ).first()
    if row is None or not _genuine(engine, row._mapping):
        check_password_hash(_DUMMY, password)
        return None
    if not check_password_hash(row.password_hash, password):
        return None
    return User(row.id, row.username, row.role)


def _genuine(engine: Engine, row: Mapping[Any, Any]) -> bool:
    """Whether creditgate wrote the row as it stands: a user inserted or changed with SQL (an
    admin added, a role raised, a password replaced) may not log in or act."""
    if macs.keyring_of(engine).check("users", row):
        return True
    log.error("user %r has no valid MAC (written outside creditgate): refused", row["username"])
    return False


def get_user(engine: Engine, user_id: int) -> User | None:
    with readonly(engine).connect() as conn:
        row = conn.execute(
            select(users).where(users.c.id == user_id, users.c.disabled_at.is_(None))
        ).first()
    if row is None or not _genuine(engine, row._mapping):
        return None
    return User(row.id, row.username, row.role)


def exists(engine: Engine, username: str) -> bool:
    with readonly(engine).connect() as conn:
        found = conn.execute(select(users.c.id).where(users.c.username == username)).first()
    return found is not None
