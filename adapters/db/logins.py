"""Logins in the store: the failed-login counters every worker shares, and server-side sessions.

The counters are read and written in one locking transaction per attempt (SQLite's BEGIN
IMMEDIATE; row locks on PostgreSQL), so workers racing with the same name or address take turns.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from adapters.db import macs
from adapters.db.engine import readonly
from adapters.db.repository import AuditRepository
from adapters.db.tables import login_throttle, users, web_sessions
from gating import logins
from gating.logins import ACCOUNT, ADDRESS, Admission, Attempts


def _key(kind: str, value: str) -> str:
    # Only a hash: a password typed into the name field is not kept in clear.
    return hashlib.sha256(f"{kind}\0{value}".encode("utf-8", "surrogatepass")).hexdigest()


def account_key(username: str) -> str:
    return _key("account", username)


def address_key(address: str) -> str:
    """An IPv6 client counts by its /64 (one subscriber's network: an attacker rotating through
    its addresses is still one address); an IPv4 one by its address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return _key("address", address)
    if ip.version == 6 and ip.ipv4_mapped is None:
        address = str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return _key("address", address)


def _subject(conn: Connection, username: str) -> str:
    """The audit subject: the name only when it is a user's (never a password typed as one)."""
    if not username or any(ch < " " or ch == "\x7f" for ch in username):
        return "user:?"  # no user has such a name (and PostgreSQL text cannot hold a NUL)
    known = conn.execute(select(users.c.id).where(users.c.username == username)).first()
    return f"user:{username}" if known else "user:?"


def _read(conn: Connection, keys: list[str]) -> dict[str, Attempts]:
    """The counters of `keys`, created if missing, locked until the transaction ends."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(
        dialect_insert(login_throttle)
        .values([{"key": key, "failures": 0} for key in sorted(keys)])
        .on_conflict_do_nothing(index_elements=["key"])
    )
    rows = conn.execute(
        select(login_throttle)
        .where(login_throttle.c.key.in_(keys))
        .order_by(login_throttle.c.key)
        .with_for_update()
    ).all()
    return {
        row.key: Attempts(
            row.failures, row.last_failed_at, row.retry_at, row.locked_at, row.failed_before
        )
        for row in rows
    }


def _write(conn: Connection, key: str, attempts: Attempts) -> None:
    conn.execute(
        update(login_throttle)
        .where(login_throttle.c.key == key)
        .values(
            failures=attempts.failures,
            last_failed_at=attempts.last_failed_at,
            retry_at=attempts.retry_at,
            locked_at=attempts.locked_at,
            failed_before=attempts.failed_before,
        )
    )


def admit(engine: Engine, username: str, address: str, now: datetime) -> Admission:
    """May an attempt for `username` from `address` check its password now? If so, it is
    counted as failed (against both) until `succeeded` says otherwise."""
    account, client = account_key(username), address_key(address)
    with engine.begin() as conn:
        kept = _read(conn, [account, client])
        by_name, name_after = logins.admit(ACCOUNT, kept[account], now)
        by_address, address_after = logins.admit(ADDRESS, kept[client], now)
        if by_name.locked:
            return by_name
        if not (by_name.allowed and by_address.allowed):
            return Admission(False, retry_at=logins.later(by_name, by_address))
        _write(conn, account, name_after)
        _write(conn, client, address_after)
    return Admission(True)


def failed(engine: Engine, username: str, address: str, now: datetime) -> bool:
    """Record the admitted attempt's wrong password (audited); True if it locked the name."""
    account = account_key(username)
    with engine.begin() as conn:
        kept = _read(conn, [account])[account]
        after = logins.failed(ACCOUNT, kept, now)
        subject = _subject(conn, username)
        audit = AuditRepository(conn)
        audit.record("web", "login_failed", subject, {"ip": address}, now)
        locked = after.locked_at is not None and kept.locked_at is None
        if locked:
            _write(conn, account, after)
            audit.record(
                "web", "login_locked", subject, {"ip": address, "failures": after.failures}, now
            )
    return locked


def succeeded(engine: Engine, username: str, address: str) -> None:
    """The admitted attempt's password was right: the name starts afresh, and the address's
    count forgets this attempt."""
    account, client = account_key(username), address_key(address)
    with engine.begin() as conn:
        kept = _read(conn, [client])[client]
        _write(conn, client, logins.succeeded(kept))
        conn.execute(delete(login_throttle).where(login_throttle.c.key == account))


def unlock(conn: Connection, username: str) -> Attempts | None:
    """Forget the name's failures and lock (inside the caller's transaction); what was kept."""
    account = account_key(username)
    row = conn.execute(select(login_throttle).where(login_throttle.c.key == account)).first()
    if row is None:
        return None
    conn.execute(delete(login_throttle).where(login_throttle.c.key == account))
    return Attempts(row.failures, row.last_failed_at, row.retry_at, row.locked_at)


def throttled(engine: Engine, usernames: list[str]) -> dict[str, Attempts]:
    """The kept failures of each of `usernames` that has any."""
    by_key = {account_key(name): name for name in usernames}
    with readonly(engine).connect() as conn:
        rows = conn.execute(
            select(login_throttle).where(login_throttle.c.key.in_(list(by_key)))
        ).all()
    return {
        by_key[row.key]: Attempts(row.failures, row.last_failed_at, row.retry_at, row.locked_at)
        for row in rows
    }


# --- sessions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionUser:
    id: int
    username: str
    role: str
    language: str | None = None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start_session(engine: Engine, user_id: int, now: datetime, lifetime: timedelta) -> str:
    """A new session for the user; returns the token the cookie carries. Rows of sessions
    long over are dropped on the way (a day after their lifetime)."""
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            delete(web_sessions).where(web_sessions.c.created_at < now - lifetime - timedelta(1))
        )
        values = {"token_hash": _token_hash(token), "user_id": user_id, "created_at": now}
        conn.execute(web_sessions.insert().values(macs.signed(conn, web_sessions, values)))
    return token


def session_user(
    engine: Engine, token: str, now: datetime, lifetime: timedelta
) -> SessionUser | None:
    """The active user of a live session: one read, on every page request."""
    with readonly(engine).connect() as conn:
        row = conn.execute(
            select(
                users,
                web_sessions.c.token_hash,
                web_sessions.c.user_id,
                web_sessions.c.created_at.label("session_created_at"),
                web_sessions.c.mac.label("session_mac"),
            )
            .join(web_sessions, web_sessions.c.user_id == users.c.id)
            .where(
                web_sessions.c.token_hash == _token_hash(token),
                web_sessions.c.ended_at.is_(None),
                web_sessions.c.created_at > now - lifetime,
                users.c.disabled_at.is_(None),
            )
        ).first()
    if row is None:
        return None  # ended, expired or disabled
    keyring = macs.keyring_of(engine)
    session = {
        "token_hash": row.token_hash,
        "user_id": row.user_id,
        "created_at": row.session_created_at,
        "mac": row.session_mac,
    }
    if not (keyring.check("users", row._mapping) and keyring.check("web_sessions", session)):
        return None  # a user, or a session's user, written outside creditgate
    return SessionUser(row.id, row.username, row.role, row.language)


def end_session(engine: Engine, token: str, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(web_sessions)
            .where(
                web_sessions.c.token_hash == _token_hash(token), web_sessions.c.ended_at.is_(None)
            )
            .values(ended_at=now)
        )


def end_sessions(conn: Connection, user_id: int, now: datetime) -> int:
    """End every session of the user (inside the caller's transaction); how many were live."""
    ended = conn.execute(
        update(web_sessions)
        .where(web_sessions.c.user_id == user_id, web_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    return int(ended.rowcount)


def live_sessions(engine: Engine, now: datetime, lifetime: timedelta) -> dict[int, int]:
    """How many live sessions each user has."""
    with readonly(engine).connect() as conn:
        rows = conn.execute(
            select(web_sessions.c.user_id, func.count())
            .where(web_sessions.c.ended_at.is_(None), web_sessions.c.created_at > now - lifetime)
            .group_by(web_sessions.c.user_id)
        ).all()
    return {int(user_id): int(count) for user_id, count in rows}
