"""People who log in to the web pages, in the store: a role each, passwords kept as salted scrypt
hashes, every change audited with the one who made it. What a change may do and refuse is
gating/people.py's."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from adapters.db import logins, macs
from adapters.db.engine import readonly
from adapters.db.repository import AuditRepository
from adapters.db.tables import users
from gating import people
from gating.languages import check_language

log = logging.getLogger(__name__)

# Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = generate_password_hash("creditgate-no-such-user")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    language: str | None = None


def create_user(engine: Engine, username: str, role: str, password: str, now: datetime) -> User:
    """:raises ValueError: what gating.people refuses, or a name already taken."""
    people.check_new_user(username, role, password)
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
    if row is None or not genuine(engine, row._mapping):
        check_password_hash(_DUMMY, password)
        return None
    if not check_password_hash(row.password_hash, password):
        return None
    return User(row.id, row.username, row.role, row.language)


def genuine(engine: Engine, row: Mapping[Any, Any]) -> bool:
    """Whether creditgate wrote the row as it stands: a user inserted or changed with SQL (an
    admin added, a role raised, a password replaced) may not log in or act."""
    if macs.keyring_of(engine).check("users", row):
        return True
    log.error("user %r has no valid MAC (written outside creditgate): refused", row["username"])
    return False


# --- administration: every change is audited, with the one who made it (gating/people.py) ---


@dataclass(frozen=True)
class UserRow:
    """A user as `user list` shows it."""

    username: str
    role: str
    created_at: datetime
    disabled_at: datetime | None
    failures: int
    locked_at: datetime | None
    sessions: int


def list_users(engine: Engine, now: datetime, lifetime: timedelta) -> list[UserRow]:
    with readonly(engine).connect() as conn:
        rows = conn.execute(select(users).order_by(users.c.username)).all()
    kept = logins.throttled(engine, [row.username for row in rows])
    live = logins.live_sessions(engine, now, lifetime)
    return [
        UserRow(
            row.username,
            row.role,
            row.created_at,
            row.disabled_at,
            kept[row.username].failures if row.username in kept else 0,
            kept[row.username].locked_at if row.username in kept else None,
            live.get(row.id, 0),
        )
        for row in rows
    ]


def _account(conn: Connection, username: str) -> tuple[Row[Any], people.Account]:
    """The user's row, and the user as gating.people sees it (`genuine`: its MAC holds).

    :raises ValueError: no such user.
    """
    row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        raise people.no_such_user(username)
    genuine = macs.keyring_of(conn).check("users", row._mapping)
    return row, people.Account(username, row.disabled_at, genuine)


def _find(conn: Connection, username: str) -> Row[Any]:
    """The user's row, for any change but disabling.

    :raises ValueError: no such user, or a forged one.
    """
    row, account = _account(conn, username)
    people.check_change(account)
    return row


def disable_user(engine: Engine, username: str, actor: str, now: datetime) -> int:
    """Disable the user and end every session of theirs; how many sessions ended.

    :raises ValueError: no such user, or already disabled.
    """
    with engine.begin() as conn:
        row, account = _account(conn, username)
        people.check_disable(account)
        conn.execute(update(users).where(users.c.id == row.id).values(disabled_at=now))
        if account.genuine:  # a forged row stays unsigned: disabled, and still refused
            macs.resign(conn, users, users.c.id == row.id)
        ended = logins.end_sessions(conn, row.id, now)
        AuditRepository(conn).record(
            actor, "user_disabled", f"user:{username}", {"sessions_ended": ended}, now
        )
    return ended


def enable_user(engine: Engine, username: str, actor: str, now: datetime) -> list[str]:
    """Enable the user again and lift a lock on their name; what was done, as audit actions.

    :raises ValueError: no such user.
    """
    done = []
    with engine.begin() as conn:
        row = _find(conn, username)
        audit = AuditRepository(conn)
        if row.disabled_at is not None:
            conn.execute(update(users).where(users.c.id == row.id).values(disabled_at=None))
            macs.resign(conn, users, users.c.id == row.id)
            audit.record(actor, "user_enabled", f"user:{username}", {}, now)
            done.append("user_enabled")
        if _unlock(conn, username, actor, now):
            done.append("login_unlocked")
    return done


def unlock_user(engine: Engine, username: str, actor: str, now: datetime) -> bool:
    """Lift the lock on the name (and forget its failures); True if it was locked.

    :raises ValueError: no such user.
    """
    with engine.begin() as conn:
        _find(conn, username)
        return _unlock(conn, username, actor, now)


def _unlock(conn: Connection, username: str, actor: str, now: datetime) -> bool:
    kept = logins.unlock(conn, username)
    if kept is None or kept.locked_at is None:
        return False
    AuditRepository(conn).record(
        actor,
        "login_unlocked",
        f"user:{username}",
        {"failures": kept.failures, "locked_at": kept.locked_at.isoformat()},
        now,
    )
    return True


def reset_password(engine: Engine, username: str, password: str, actor: str, now: datetime) -> int:
    """Set a new password, end every session of the user and lift a lock on the name; how many
    sessions ended.

    :raises ValueError: no such user, or a short password.
    """
    people.check_password(password)
    with engine.begin() as conn:
        row = _find(conn, username)
        conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(password_hash=generate_password_hash(password))
        )
        macs.resign(conn, users, users.c.id == row.id)
        ended = logins.end_sessions(conn, row.id, now)
        AuditRepository(conn).record(
            actor, "password_reset", f"user:{username}", {"sessions_ended": ended}, now
        )
        _unlock(conn, username, actor, now)
    return ended


def set_language(
    engine: Engine, username: str, language: str | None, actor: str, now: datetime
) -> bool:
    """The language the user reads the pages in (None: the browser's); audited, old -> new.
    Outside the row's MAC (it decides how a text reads, not who may do what). Whether it changed.

    :raises ValueError: no such user, or a language creditgate does not speak.
    """
    check_language(language)
    with engine.begin() as conn:
        row = _find(conn, username)
        if row.language == language:
            return False
        conn.execute(update(users).where(users.c.id == row.id).values(language=language))
        AuditRepository(conn).record(
            actor,
            "user_language_changed",
            f"user:{username}",
            {"old": row.language, "new": language},
            now,
        )
    return True


def end_all_sessions(engine: Engine, username: str, actor: str, now: datetime) -> int:
    """End every session of the user ("log out everywhere"); how many ended.

    :raises ValueError: no such user.
    """
    with engine.begin() as conn:
        row = _find(conn, username)
        ended = logins.end_sessions(conn, row.id, now)
        AuditRepository(conn).record(
            actor, "logout", f"user:{username}", {"everywhere": True, "sessions_ended": ended}, now
        )
    return ended
