"""Store set-up and administration: sources, API clients, thresholds versions."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from adapters.db import audit_chain, macs
from adapters.db.engine import readonly
from adapters.db.repository import AuditRepository, ThresholdsRepository
from adapters.db.tables import api_clients, decisions, sources, thresholds_versions, users
from adapters.db.tables import audit_chain as audit_chain_table
from gating import thresholds_versions as versions
from gating.errors import GateUnavailable
from gating.languages import check_language
from gating.roles import ROLES

log = logging.getLogger(__name__)
_KEY_PART = re.compile(r"[A-Za-z0-9]{1,16}", re.ASCII)

DEFAULT_SOURCE = "default"


@dataclass(frozen=True)
class ApiClient:
    id: int
    name: str
    role: str
    source: str
    signing_secret: str | None
    # Every source the client may act for, `source` first, when its key was granted more than its
    # own (`apikey create --sources a,b`); empty: its own source only.
    sources: tuple[str, ...] = ()
    # The language of its answers' messages (a tag; None: English unless the request sends
    # Accept-Language), read with the key: no extra query per decision.
    language: str | None = None


@dataclass(frozen=True)
class IssuedKey:
    client: ApiClient
    key: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def ensure_source(
    engine: Engine, name: str, kind: str, now: datetime, url: str | None = None
) -> int:
    with engine.begin() as conn:
        found = conn.execute(select(sources.c.id).where(sources.c.name == name)).scalar()
        if found is not None:
            return int(found)
        source_id = int(
            conn.execute(
                insert(sources).values(name=name, kind=kind, url=url, settings={}, created_at=now)
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        macs.resign(conn, sources, sources.c.id == source_id)
        return source_id


def ensure_thresholds(engine: Engine, document: Mapping[str, Any], now: datetime) -> int:
    """Make `document` (from defaults + config file) the active version when the file may
    (gating/thresholds_versions.py: never over an admin's version); the active version's number.
    """
    with engine.begin() as conn:
        repo = ThresholdsRepository(conn)
        active = repo.latest_document()
        if active is not None and not versions.file_updates(active, document):
            return active.version
        return repo.add(document, versions.CONFIG_AUTHOR, versions.CONFIG_REASON, now)


def add_thresholds(
    engine: Engine,
    document: Mapping[str, Any],
    created_by: str,
    reason: str,
    now: datetime,
    base_version: int | None = None,
) -> int:
    """Store a new version. With `base_version` (the version the editor started from), refuse
    when another change was saved since, instead of silently undoing it.

    :raises InvalidThresholds, Conflict:
    """
    try:
        with engine.begin() as conn:
            repo = ThresholdsRepository(conn)
            versions.check_base_version(base_version, repo.latest_document())
            version = repo.add(document, created_by, reason, now)
            AuditRepository(conn).record(
                created_by, "thresholds_changed", f"thresholds:{version}", {"reason": reason}, now
            )
    except IntegrityError:  # another version took the same number at the same moment
        raise versions.saved_at_the_same_moment() from None
    return version


def create_api_client(
    engine: Engine,
    name: str,
    role: str,
    now: datetime,
    *,
    source: str | None = None,
    grant: Sequence[str] = (),
    signed: bool = False,
    key: str | None = None,
    language: str | None = None,
) -> IssuedKey:
    """Create a client and return its key; only a hash of the key is stored.

    `source` is the client's own source (default: the first of `grant`, else "default");
    `grant` gives an `erp` client several sources: it may name any of them in a request.

    :raises ValueError: for an unknown role, an unknown source or a name already taken.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    check_language(language)
    granted = tuple(dict.fromkeys(name.strip() for name in grant))
    if granted and role != "erp":
        raise ValueError("only erp keys act for a source; --sources is for role erp")
    if "" in granted:
        raise ValueError("--sources is a comma-separated list of source names, none empty")
    if source is None:
        source = granted[0] if granted else DEFAULT_SOURCE
    elif granted and granted[0] != source:
        raise ValueError(f"the key's own source {source!r} must come first in --sources")
    if key is None:
        key = f"cg_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "cg" or not parts[1] or len(parts[1]) > 16:
        raise ValueError("API keys look like cg_<prefix>_<secret>")
    prefix = parts[1]
    secret = secrets.token_hex(32) if signed else None
    with engine.begin() as conn:
        source_id = conn.execute(select(sources.c.id).where(sources.c.name == source)).scalar()
        if source_id is None:
            raise ValueError(f"no source named {source!r}")
        known = set(
            conn.execute(select(sources.c.name).where(sources.c.name.in_(granted))).scalars()
        )
        if missing := [name for name in granted if name not in known]:
            raise ValueError(f"no source named {', '.join(map(repr, missing))}")
        taken = conn.execute(select(api_clients.c.id).where(api_clients.c.name == name)).scalar()
        if taken is not None:
            raise ValueError(f"an API client named {name!r} already exists")
        client_id = conn.execute(
            insert(api_clients).values(
                name=name,
                role=role,
                key_prefix=prefix,
                key_hash=_hash(key),
                signing_secret=secret,
                source_id=source_id,
                created_at=now,
                granted_sources=list(granted) if len(granted) > 1 else None,
                language=language,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        macs.resign(conn, api_clients, api_clients.c.id == client_id)
        detail: dict[str, Any] = {"role": role, "source": source}
        if len(granted) > 1:
            detail["sources"] = list(granted)
        if language is not None:
            detail["language"] = language
        AuditRepository(conn).record("cli", "api_key_created", f"api_client:{name}", detail, now)
    kept = granted if len(granted) > 1 else ()
    client = ApiClient(int(client_id), name, role, source, secret, kept, language)
    return IssuedKey(client, key)


def find_client(engine: Engine, key: str) -> ApiClient | None:
    """The active client holding `key`, compared in constant time; None for any other key."""
    parts = key.split("_", 2)
    # Only a key's own characters reach the database (a NUL would be a driver error, a 500).
    if len(parts) != 3 or parts[0] != "cg" or not _KEY_PART.fullmatch(parts[1]):
        return None
    query = (
        select(api_clients, sources.c.name.label("source"))
        .join(sources, sources.c.id == api_clients.c.source_id)
        .where(api_clients.c.key_prefix == parts[1], api_clients.c.revoked_at.is_(None))
    )
    for attempt in (1, 2):
        try:
            with readonly(engine).connect() as conn:
                rows = conn.execute(query).all()
            break
        except (DBAPIError, PoolTimeout) as exc:
            lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
            if attempt == 1 and lost:
                # A connection left from before a database restart: SQLAlchemy has discarded
                # the pool, and a read may simply be asked again on a new connection.
                continue
            if not (lost or isinstance(exc, OperationalError | PoolTimeout)):
                raise
            # A key cannot be checked without the database: a 503, never a 500 or a guess.
            log.warning("api key lookup failed: %s", str(getattr(exc, "orig", exc)).splitlines()[0])
            raise GateUnavailable("database unavailable") from exc
    digest = _hash(key)
    for row in rows:
        if hmac.compare_digest(row.key_hash, digest):
            granted = tuple(row.granted_sources or ())
            # A row put there or changed with SQL has no valid MAC: it grants nothing. One HMAC
            # per lookup (a few microseconds), and connector/auth.py caches lookups.
            if not macs.keyring_of(engine).check("api_clients", row._mapping):
                log.error("API client %r has no valid MAC (written outside creditgate)", row.name)
                return None
            return ApiClient(
                row.id, row.name, row.role, row.source, row.signing_secret, granted, row.language
            )
    return None


@dataclass(frozen=True)
class ClientRow:
    """An API client as `apikey list` shows it: never its key or signing secret."""

    name: str
    role: str
    source: str
    """Its own source, or every source it was granted, its own first ("a,b")."""
    signed: bool
    created_at: datetime
    last_decision_at: datetime | None
    revoked_at: datetime | None
    language: str | None = None
    """The language its answers' messages are written in (NULL: English)."""


def list_api_clients(engine: Engine) -> list[ClientRow]:
    """Every client, revoked ones too; `last_decision_at` is its latest gate decision (the
    only use of a key the store records)."""
    with readonly(engine).connect() as conn:
        last = dict(
            conn.execute(
                select(decisions.c.caller, func.max(decisions.c.decided_at)).group_by(
                    decisions.c.caller
                )
            ).all()
        )
        rows = conn.execute(
            select(api_clients, sources.c.name.label("source"))
            .join(sources, sources.c.id == api_clients.c.source_id)
            .order_by(api_clients.c.name)
        ).all()
    return [
        ClientRow(
            row.name,
            row.role,
            ",".join(row.granted_sources or [row.source]),
            row.signing_secret is not None,
            row.created_at,
            last.get(row.name),
            row.revoked_at,
            row.language,
        )
        for row in rows
    ]


def revoke_api_client(engine: Engine, name: str, actor: str, now: datetime) -> None:
    """Revoke the client's key: `find_client` stops returning it at once, so every worker
    refuses it once its cache of looked-up keys expires (connector/auth.py).

    :raises ValueError: no such client, or revoked already.
    """
    with engine.begin() as conn:
        row = conn.execute(select(api_clients).where(api_clients.c.name == name)).first()
        if row is None:
            raise ValueError(f"no API client named {name!r}")
        if row.revoked_at is not None:
            raise ValueError(f"{name} was revoked already, at {row.revoked_at:%Y-%m-%d %H:%M} UTC")
        genuine = macs.keyring_of(conn).check("api_clients", row._mapping)
        conn.execute(update(api_clients).where(api_clients.c.id == row.id).values(revoked_at=now))
        if genuine:  # re-signing a forged row would make the forgery genuine
            macs.resign(conn, api_clients, api_clients.c.id == row.id)
        AuditRepository(conn).record(actor, "api_key_revoked", f"api_client:{name}", {}, now)


def set_client_language(
    engine: Engine, name: str, language: str | None, actor: str, now: datetime
) -> bool:
    """The language of the client's answers (None: English unless Accept-Language is sent);
    audited old -> new; outside the row's MAC. Whether it changed. Workers see it once their
    cache of looked-up keys expires (connector/auth.py).

    :raises ValueError: no such client, or a language creditgate does not speak.
    """
    check_language(language)
    with engine.begin() as conn:
        row = conn.execute(select(api_clients).where(api_clients.c.name == name)).first()
        if row is None:
            raise ValueError(f"no API client named {name!r}")
        if row.language == language:
            return False
        conn.execute(
            update(api_clients).where(api_clients.c.id == row.id).values(language=language)
        )
        AuditRepository(conn).record(
            actor,
            "api_key_language_changed",
            f"api_client:{name}",
            {"old": row.language, "new": language},
            now,
        )
    return True


def adopt_unsigned_rows(engine: Engine, now: datetime) -> dict[str, int]:
    """Once, at the upgrade that brought MACs (schema.MAC_REVISION), for rows recorded before
    it, which have none: chain those not chained yet as the sealer did then (`audit verify`
    accepts them as sealed before MACs), sign the API clients and users (else no key or login
    would work after the upgrade), and store the active thresholds again, signed, so the gate
    keeps deciding under them (it ignores a version without a valid MAC). Return the counts,
    also recorded as an audit event."""
    chained = audit_chain.seal(engine, now, legacy=True)
    with engine.begin() as conn:
        counts = {
            "chained_before_macs": chained,
            # The last link made without a MAC: `audit verify` accepts unsigned links up to
            # here only (this event is signed), never one added after the upgrade.
            "legacy_until_position": conn.execute(
                select(func.coalesce(func.max(audit_chain_table.c.position), 0))
            ).scalar_one(),
            "api_clients": macs.resign(conn, api_clients, api_clients.c.mac.is_(None)),
            "users": macs.resign(conn, users, users.c.mac.is_(None)),
        }
        latest = conn.execute(
            select(thresholds_versions).order_by(thresholds_versions.c.version.desc()).limit(1)
        ).first()
        audit = AuditRepository(conn)
        if latest is not None and latest.mac is None:
            reason = f"{latest.reason} (version {latest.version}, signed at the upgrade)"
            version = ThresholdsRepository(conn).add(
                latest.document, latest.created_by, reason, now, as_stored=True
            )
            # Versions made from the configuration file have no event (`audit verify` knows).
            if latest.created_by != versions.CONFIG_AUTHOR:
                audit.record("upgrade", "thresholds_changed", f"thresholds:{version}", {}, now)
            counts["thresholds_version"] = version
        audit.record("upgrade", "audit_macs_adopted", "audit_chain", counts, now)
    log.warning("upgrade to audit MACs: %s", counts)
    return counts
