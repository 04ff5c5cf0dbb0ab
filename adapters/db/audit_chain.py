"""The tamper-evident audit trail: a hash chain over every recorded row an auditor relies on.

Decisions, audit events, thresholds versions and hold resolutions are append-only tables (the
database refuses UPDATE and DELETE by trigger). The chain makes a change made around those
triggers visible: each link holds the hash of one row's content and the hash of the link
before it, so an edited row no longer matches its link, a deleted row leaves a link without a
row, and an edited link breaks every hash after it.

Links are made by a sealer after the rows commit, not by the writes themselves: chaining at
insert time would make every decision, on every host, wait for the one before it (the chain's
tail is a single point), which the per-customer locks exist to avoid. Sealing takes one
database-wide lock and chains whatever has committed and is not chained yet, in the order of
each table's key; rows that commit later are chained by the next seal. `creditgate audit
verify` seals first, then checks every link, and names the first broken one. The scheduler
seals every few minutes, so the window in which a row is protected only by the triggers is
short; the head hash verify prints can be kept outside the database to detect a rewrite of
the whole chain.

A hash anyone can compute does not tell a row the application wrote from one inserted with
SQL, so every chained row, every link, and every API client and user carries a MAC under a key
the database does not hold (macs.py). The sealer records whether each row's MAC held when it
chained it; verify checks every MAC, looks for copied rows and for records that come in pairs
without their other half, and names every problem it finds.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    String,
    Table,
    cast,
    exists,
    func,
    insert,
    select,
    text,
)

from adapters.db import macs
from adapters.db.engine import readonly
from adapters.db.tables import (
    api_clients,
    audit_chain,
    audit_events,
    decisions,
    hold_resolutions,
    sources,
    thresholds_versions,
    users,
    web_sessions,
)

log = logging.getLogger(__name__)

GENESIS = "0" * 64
BATCH = 2000
_PG_LOCK = "creditgate:audit-chain"


@dataclass(frozen=True)
class Chained:
    """One kind of chained row: its table and the column that identifies a row."""

    kind: str
    table: Table
    key: Column[Any]

    def describe(self, row: Mapping[str, Any]) -> str:
        if self.kind == "decision":
            return f"decision {row['id']} (order {row['source']}/{row['order_id']})"
        if self.kind == "event":
            return f"audit event {row['id']} ({row['action']} {row['subject']})"
        if self.kind == "thresholds":
            return f"thresholds version {row['version']}"
        return f"hold resolution {row['id']} ({row['action']} by {row['actor']})"


KINDS: tuple[Chained, ...] = (
    Chained("thresholds", thresholds_versions, thresholds_versions.c.version),
    Chained("event", audit_events, audit_events.c.id),
    Chained("resolution", hold_resolutions, hold_resolutions.c.id),
    Chained("decision", decisions, decisions.c.seq),
)
_BY_KIND = {k.kind: k for k in KINDS}


def _plain(value: Any) -> Any:
    """A JSON-ready, stable spelling of a column value (any value: hashing never fails)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float):
        return value
    return repr(value)


def row_hash(kind: str, row: Mapping[str, Any]) -> str:
    """SHA-256 of the row's every column, canonically spelled. A row from before MACs has none
    (NULL), and hashes as it did then. Text is encoded with "surrogatepass": a lone surrogate
    stored in a JSON column ("\\ud800") hashes like any other text instead of stopping the
    sealer for good, and every other text encodes as UTF-8 exactly as before."""
    body = json.dumps(
        {k: _plain(v) for k, v in row.items() if not (k == "mac" and v is None)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{kind}\n{body}".encode("utf-8", "surrogatepass")).hexdigest()


def link_hash(prev: str, kind: str, key: str, digest: str, forged: bool = False) -> str:
    mark = "\nforged" if forged else ""
    return hashlib.sha256(f"{prev}\n{kind}\n{key}\n{digest}{mark}".encode()).hexdigest()


def seal(engine: Engine, now: datetime, *, legacy: bool = False) -> int:
    """Chain every committed row not chained yet; return how many. One sealer at a time, a
    batch per transaction: gate calls wait for one batch at most, never for a whole seal.

    A row without a valid MAC is chained all the same (the chain stays whole and in order),
    on a link that records it as forged; verify names it. Each link carries its own MAC, so a
    link made outside creditgate is told from one the sealer made.

    `legacy`: only at the upgrade that brought MACs, for the rows recorded before it, which
    have none: links as the sealer made them then (no MAC, not forged), which `verify` accepts
    before the first signed link only."""
    keyring = macs.keyring_of(engine)
    sealed = 0
    for chained in KINDS:
        while True:
            with engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE holds the write lock
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                        {"key": _PG_LOCK},
                    )
                rows = next(_unsealed(conn, chained), [])
                if not rows:
                    break
                prev = (
                    conn.execute(
                        select(audit_chain.c.hash).order_by(audit_chain.c.position.desc()).limit(1)
                    ).scalar()
                    or GENESIS
                )
                links = []
                for row in rows:
                    key = str(row[chained.key.name])
                    digest = row_hash(chained.kind, row)
                    forged = not legacy and not keyring.check(chained.table.name, row)
                    if forged:
                        log.error("sealed as forged (no valid MAC): %s", chained.describe(row))
                    link = link_hash(prev, chained.kind, key, digest, forged)
                    values = {
                        "kind": chained.kind,
                        "row_key": key,
                        "row_hash": digest,
                        "prev_hash": prev,
                        "hash": link,
                        "forged": forged,
                        "sealed_at": now,
                    }
                    links.append(values if legacy else macs.signed(conn, audit_chain, values))
                    prev = link
                conn.execute(insert(audit_chain), links)
                sealed += len(links)
    return sealed


def _unsealed(conn: Connection, chained: Chained) -> Iterator[list[dict[str, Any]]]:
    chain = audit_chain.c
    after: Any = None
    while True:
        query = (
            select(chained.table)
            .where(
                ~exists().where(
                    chain.kind == chained.kind,
                    chain.row_key == cast(chained.key, String),
                )
            )
            .order_by(chained.key)
            .limit(BATCH)
        )
        if after is not None:
            query = query.where(chained.key > after)
        rows = [dict(r._mapping) for r in conn.execute(query)]
        if not rows:
            return
        after = rows[-1][chained.key.name]
        yield rows


@dataclass(frozen=True)
class Verification:
    links: int
    head: str
    """The last link's hash: keep it outside the database to detect a rewritten chain."""
    problems: tuple[str, ...] = ()
    """Every broken link, forged row and inconsistency found, in words (the first
    MAX_PROBLEMS); empty when the trail holds."""
    unsealed: int = 0
    """Rows committed after the seal (their MACs checked, their links not made yet)."""
    legacy: int = 0
    """Rows sealed before MACs existed (revision 0012): protected by the chain only."""
    more: int = 0
    """Problems found beyond MAX_PROBLEMS."""

    @property
    def broken(self) -> str | None:
        """The first problem; None when the trail holds."""
        return self.problems[0] if self.problems else None

    @property
    def ok(self) -> bool:
        return not self.problems


MAX_PROBLEMS = 1000


class _Findings:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.more = 0

    def add(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            # Stored text may hold anything (a lone surrogate): the words must print anywhere.
            self.problems.append(problem.encode("utf-8", "backslashreplace").decode())
        else:
            self.more += 1


def verify(engine: Engine, expect_head: str | None = None) -> Verification:
    """Check every link in order: it was made by the sealer (its MAC), it follows from the
    previous one, its row still exists with the same content; then that every row, chained or
    not, and every API client and user carries a valid MAC, that no MAC appears twice, and that
    related records agree. Names every problem found, not only the first. `expect_head`, a head
    kept from an earlier verify, must be one of the links: a chain rewritten from some point on
    (rows deleted with their links, then sealed again) does not contain it."""
    keyring = macs.keyring_of(engine)
    found = _Findings()
    prev = GENESIS
    count = legacy = 0
    keyed = False  # a link with a MAC was seen: every later link must have one too
    legacy_keys: set[tuple[str, str]] = set()
    seen_head = expect_head is None or expect_head == GENESIS
    with readonly(engine).connect() as conn:
        legacy_until = _legacy_until(conn, keyring)
        for links in _links(conn):
            rows = _rows_for(conn, links)
            for link in links:
                count += 1
                chained = _BY_KIND[link["kind"]]
                where = f"link {link['position']}"
                trusted = False
                if link["prev_hash"] != prev or link["hash"] != link_hash(
                    link["prev_hash"],
                    link["kind"],
                    link["row_key"],
                    link["row_hash"],
                    link["forged"],
                ):
                    found.add(f"{where}: the chain itself was edited or a link removed")
                elif link["mac"] is None and (keyed or link["position"] > legacy_until):
                    found.add(
                        f"{where}: made outside creditgate (no MAC, and not one of the links the "
                        "upgrade to MACs recorded)"
                    )
                elif link["mac"] is not None and not keyring.check("audit_chain", link):
                    found.add(f"{where}: made or changed outside creditgate (its MAC fails)")
                else:
                    trusted = True
                keyed = keyed or link["mac"] is not None
                row = rows.get((link["kind"], link["row_key"]))
                if row is None:
                    found.add(f"{where}: {chained.kind} {link['row_key']} was deleted")
                elif trusted and row_hash(chained.kind, row) != link["row_hash"]:
                    found.add(f"{where}: {chained.describe(row)} was edited")
                elif trusted and link["mac"] is None and row.get("mac") is None:
                    legacy += 1  # sealed before MACs existed
                    legacy_keys.add((link["kind"], link["row_key"]))
                elif link["forged"] or not keyring.check(chained.table.name, row):
                    found.add(f"{where}: {chained.describe(row)} is forged: {_NO_MAC}")
                prev = link["hash"]
                seen_head = seen_head or prev == expect_head
        if not seen_head:
            found.add(
                f"the head {expect_head} kept earlier is not in the chain: it was rewritten "
                f"or cut back after that head"
            )
        unsealed = 0
        for chained in KINDS:
            for batch in _unsealed(conn, chained):
                unsealed += len(batch)
                for row in batch:
                    if not keyring.check(chained.table.name, row):
                        found.add(f"{chained.describe(row)} is forged: {_NO_MAC} (not sealed yet)")
        for table, describe in _WHO_MAY_ACT:
            for actor in conn.execute(select(table)).mappings():
                if not keyring.check(table.name, actor):
                    found.add(f"{describe(actor)} is forged: {_NO_MAC}; it is refused")
        _duplicates(conn, found)
        _consistency(conn, legacy_keys, found)
    return Verification(count, prev, tuple(found.problems), unsealed, legacy, found.more)


_NO_MAC = "no valid MAC (written or changed outside creditgate)"


def _legacy_until(conn: Connection, keyring: macs.Keyring) -> int:
    """The last link chained without a MAC at the upgrade that brought MACs, as that upgrade's
    signed `audit_macs_adopted` event records it (0: none; a forged event counts for nothing)."""
    until = 0
    adopted = select(audit_events).where(audit_events.c.action == "audit_macs_adopted")
    for event in conn.execute(adopted).mappings():
        details = event["details"] or {}
        position = details.get("legacy_until_position")
        if isinstance(position, int) and keyring.check("audit_events", event):
            until = max(until, position)
    return until


def _client(row: Mapping[Any, Any]) -> str:
    return f"API client {row['name']!r} (role {row['role']})"


def _user(row: Mapping[Any, Any]) -> str:
    return f"user {row['username']!r} (role {row['role']})"


def _session(row: Mapping[Any, Any]) -> str:
    return f"web session {row['id']} (of user id {row['user_id']})"


def _source(row: Mapping[Any, Any]) -> str:
    return f"source {row['name']!r} ({row['kind']})"


# Rows that say who may act, and where creditgate sends an ERP's credentials (sources).
_WHO_MAY_ACT = (
    (api_clients, _client),
    (users, _user),
    (web_sessions, _session),
    (sources, _source),
)


def _duplicates(conn: Connection, found: _Findings) -> None:
    """Two rows with one MAC: one is a copy of the other (a nonce makes every MAC unique)."""
    for table in (*(k.table for k in KINDS), audit_chain, api_clients, users):
        copies = conn.execute(
            select(table.c.mac, func.count())
            .where(table.c.mac.is_not(None))
            .group_by(table.c.mac)
            .having(func.count() > 1)
        )
        for mac, n in copies:
            found.add(f"{n} rows of {table.name} carry the same MAC {mac}: copies of one row")


def _consistency(conn: Connection, legacy: set[tuple[str, str]], found: _Findings) -> None:
    """Records that come in pairs: every thresholds version an admin made has its
    thresholds_changed event (versions from the config file have none), and every release or
    rejection its decisions."""
    tv, ev = thresholds_versions.c, audit_events.c
    noted = set(conn.execute(select(ev.subject).where(ev.action == "thresholds_changed")).scalars())
    for version, created_by in conn.execute(select(tv.version, tv.created_by)):
        if created_by == "config" or ("thresholds", str(version)) in legacy:
            continue
        if f"thresholds:{version}" not in noted:
            found.add(
                f"thresholds version {version} (by {created_by}) has no thresholds_changed "
                f"event: it was not made through creditgate"
            )
    hr, d = hold_resolutions.c, decisions.c
    for column in (hr.decision_id, hr.held_decision_id):
        orphans = conn.execute(
            select(hr.id, hr.action, column).where(~exists().where(d.id == column))
        )
        for resolution_id, action, decision_id in orphans:
            if ("resolution", str(resolution_id)) in legacy:
                continue
            found.add(
                f"hold resolution {resolution_id} ({action}) names decision {decision_id}, "
                f"which does not exist"
            )


def _links(conn: Connection) -> Iterator[list[dict[str, Any]]]:
    after = 0
    while True:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                select(audit_chain)
                .where(audit_chain.c.position > after)
                .order_by(audit_chain.c.position)
                .limit(BATCH)
            )
        ]
        if not rows:
            return
        after = rows[-1]["position"]
        yield rows


def _rows_for(
    conn: Connection, links: Sequence[Mapping[str, Any]]
) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for chained in KINDS:
        keys = [link["row_key"] for link in links if link["kind"] == chained.kind]
        if not keys:
            continue
        typed = [int(k) for k in keys]
        for r in conn.execute(select(chained.table).where(chained.key.in_(typed))):
            row = dict(r._mapping)
            found[(chained.kind, str(row[chained.key.name]))] = row
    return found
