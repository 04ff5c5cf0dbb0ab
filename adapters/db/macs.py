"""Row MACs: proof that a row was written by creditgate, not put there with SQL.

The append-only triggers refuse UPDATE and DELETE, and the hash chain (audit_chain.py) shows a
row changed or removed after it was sealed; neither can tell a row the application wrote from
one inserted by hand, since anyone who can write the database can also compute a SHA-256. So
every row an auditor or the gate relies on carries a MAC: HMAC-SHA256 over its declared
columns under a key the database does not hold (CREDITGATE_AUDIT_KEY or _FILE, config/
audit_keys.py). The sealer records whether each row's MAC held when it chained it, `creditgate
audit verify` names every row without a valid one, the gate ignores a thresholds version
without one, the API-key and user lookups refuse such rows, and no adapter is built from such a
source row.

A MAC reads `<key id>:<nonce>:<hex>`. The key id (derived from the key) lets old keys verify old
rows while a new key signs new ones (README "Rotating the audit key"); the nonce makes two rows
with the same content carry different MACs, so a copied row is found as a duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, select, update

# The columns each table's MAC covers: the ONE place to change when a table gains a column that
# says what was decided or who may act. A column left out can change without re-signing (counters,
# last-seen times); a column put in must be written by creditgate only. A NULL column is left out
# of the content, so a new nullable column keeps every older row's MAC valid; a new column that
# is never NULL makes older rows fail until they are written again.
MAC_COLUMNS: dict[str, tuple[str, ...]] = {
    "decisions": (
        "id",
        "source",
        "order_id",
        "customer_id",
        "outcome",
        "reason_codes",
        "decided_at",
        "thresholds_version",
        "caller",
        "previous_id",
        "response",
        "snapshot",
    ),
    "audit_events": ("occurred_at", "actor", "action", "subject", "details"),
    "thresholds_versions": ("version", "created_at", "created_by", "reason", "document"),
    "hold_resolutions": (
        "order_id",
        "action",
        "actor",
        "role",
        "reason",
        "cap",
        "currency",
        "expires_at",
        "held_decision_id",
        "decision_id",
        "created_at",
    ),
    "audit_chain": ("kind", "row_key", "row_hash", "prev_hash", "hash", "forged"),
    # Who may act: the mutable tables. Their writers sign with `resign` after every change.
    "api_clients": (
        "name",
        "role",
        "key_prefix",
        "key_hash",
        "signing_secret",
        "source_id",
        "created_at",
        "revoked_at",
        "granted_sources",
    ),
    "users": ("username", "role", "password_hash", "created_at", "disabled_at"),
    # A login: which user a session token acts for (ending it changes no covered column).
    "web_sessions": ("token_hash", "user_id", "created_at"),
    # Where creditgate sends an ERP's credentials and whether warnings go there: written only by
    # `sources add` and `sources set` (adapters/db/sync_store.py), which re-sign. The id too:
    # customers, invoices, keys and watermarks point at it, so two rows swapped with their MACs
    # would send one ERP's credentials and data to the other. Not last_success_at (each sync
    # moves it).
    "sources": ("id", "name", "kind", "url", "settings", "created_at"),
}

MIN_KEY_LENGTH = 32
_OPTION = "creditgate_keyring"


class MissingAuditKey(RuntimeError):
    """A row was about to be written or checked on an engine no audit key was bound to."""


def key_id(key: str) -> str:
    """A short, stable name for a key that says nothing about it."""
    return hashlib.sha256(b"creditgate audit key id\n" + key.encode()).hexdigest()[:8]


class Serialized(dict[str, Any]):
    """A JSON column's value with the text it is stored as, made once. The MAC covers that
    text and the engine's json_serializer (`to_json`) writes it, so a decision's snapshot is
    serialized once, as before MACs, not twice."""

    __slots__ = ("text",)

    def __init__(self, value: Mapping[str, Any]) -> None:
        super().__init__(value)
        self.text = json.dumps(self)


def to_json(value: Any) -> str:
    """The engines' json_serializer: json.dumps as SQLAlchemy's default, reusing a
    `Serialized` value's text. Read back, `json.dumps` of the parsed value gives the same text
    (both databases keep a JSON column's text as written), which is what `canonical` covers."""
    return value.text if type(value) is Serialized else json.dumps(value)


def _spell(value: Any) -> str:
    """The one spelling of a column value, both as written and as read back."""
    if isinstance(value, str):
        return value
    if type(value) is Serialized:
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, Decimal):
        # 100, 100.00 and 100.0000 (SQLite's scaled integer read back) are one amount.
        return format(value.normalize(), "f")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)  # a JSON column: its stored text (ASCII-only)
    if isinstance(value, date):
        return value.isoformat()
    return repr(value)


def canonical(table: str, nonce: str, row: Mapping[Any, Any]) -> bytes:
    """The bytes a MAC covers: each declared column that is not NULL, as name, length and
    spelling (so no value can pass for another). Encoded with "surrogatepass": no stored text,
    a lone surrogate included, can make it fail (JSON columns are ASCII already)."""
    parts = [table, nonce]
    for column in MAC_COLUMNS[table]:
        value = row.get(column)
        if value is None:
            continue
        # Most columns are text, and a decision's JSON columns come with their text made.
        kind = type(value)
        text = value if kind is str else value.text if kind is Serialized else _spell(value)
        parts.append(f"{column} {len(text)} {text}")
    return "\n".join(parts).encode("utf-8", "surrogatepass")


class Keyring:
    """The current key, which signs, and the keys before it, which only verify."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("an audit keyring needs at least one key")
        short = [k for k in keys if len(k) < MIN_KEY_LENGTH]
        if short:
            raise ValueError(f"an audit key needs at least {MIN_KEY_LENGTH} characters")
        self.current = key_id(keys[0])
        self._keys = {key_id(k): k.encode() for k in reversed(keys)}

    def sign(self, table: str, row: Mapping[Any, Any]) -> str:
        nonce = os.urandom(6).hex()
        digest = hmac.digest(self._keys[self.current], canonical(table, nonce, row), "sha256")
        return f"{self.current}:{nonce}:{digest.hex()}"

    def check(self, table: str, row: Mapping[Any, Any]) -> bool:
        """Whether the row's `mac` was made by one of these keys over the row as it is."""
        mac = row.get("mac")
        if not isinstance(mac, str):
            return False
        kid, _, rest = mac.partition(":")
        nonce, _, given = rest.partition(":")
        key = self._keys.get(kid)
        if key is None or not given:
            return False
        digest = hmac.digest(key, canonical(table, nonce, row), "sha256").hex()
        return hmac.compare_digest(digest, given)


def bind(engine: Engine, keyring: Keyring) -> None:
    """Give every connection of `engine` (and of `readonly(engine)`) this keyring."""
    engine.update_execution_options(**{_OPTION: keyring})


def keyring_of(conn: Connection | Engine) -> Keyring:
    """:raises MissingAuditKey: when the engine was built without a key (not by config.wiring)."""
    found = conn.get_execution_options().get(_OPTION)
    if not isinstance(found, Keyring):
        raise MissingAuditKey(
            "no audit key is bound to this database engine: build it with config.wiring"
        )
    return found


def signed(conn: Connection, table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` for an INSERT, with their MAC. Every MAC'd column must be in `values` (a column
    left to a database default would be signed as NULL); for a table whose rows change, use
    `resign` after the write instead."""
    return {**values, "mac": keyring_of(conn).sign(table.name, values)}


def resign(conn: Connection, table: Table, where: ColumnElement[bool]) -> int:
    """Sign the rows `where` picks as they now stand, in the caller's transaction; return how
    many. For api_clients and users: call it after every INSERT or UPDATE of a MAC'd column."""
    keyring = keyring_of(conn)
    rows = conn.execute(select(table).where(where)).mappings().all()
    key = next(iter(table.primary_key.columns))
    for row in rows:
        conn.execute(
            update(table).where(key == row[key.name]).values(mac=keyring.sign(table.name, row))
        )
    return len(rows)
