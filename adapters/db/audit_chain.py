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
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Connection, Engine, String, Table, cast, exists, insert, select, text

from adapters.db.engine import readonly
from adapters.db.tables import (
    audit_chain,
    audit_events,
    decisions,
    hold_resolutions,
    thresholds_versions,
)

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
    """A JSON-ready, stable spelling of a column value."""
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
    return value


def row_hash(kind: str, row: Mapping[str, Any]) -> str:
    """SHA-256 of the row's every column, canonically spelled."""
    body = json.dumps(
        {k: _plain(v) for k, v in row.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{kind}\n{body}".encode()).hexdigest()


def link_hash(prev: str, kind: str, key: str, digest: str) -> str:
    return hashlib.sha256(f"{prev}\n{kind}\n{key}\n{digest}".encode()).hexdigest()


def seal(engine: Engine, now: datetime) -> int:
    """Chain every committed row not chained yet; return how many. One sealer at a time, a
    batch per transaction: gate calls wait for one batch at most, never for a whole seal."""
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
                    link = link_hash(prev, chained.kind, key, digest)
                    links.append(
                        {
                            "kind": chained.kind,
                            "row_key": key,
                            "row_hash": digest,
                            "prev_hash": prev,
                            "hash": link,
                            "sealed_at": now,
                        }
                    )
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
    broken: str | None = None
    """The first broken link, in words; None when every link holds."""
    unsealed: int = 0
    """Rows committed after the seal (not checked yet)."""

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify(engine: Engine, expect_head: str | None = None) -> Verification:
    """Check every link in order: its row still exists with the same content, and its hash
    follows from the previous one. Stops at the first broken link. `expect_head`, a head kept
    from an earlier verify, must be one of the links: a chain rewritten from some point on
    (rows deleted with their links, then sealed again) does not contain it."""
    prev = GENESIS
    count = 0
    found = expect_head is None or expect_head == GENESIS
    with readonly(engine).connect() as conn:
        for links in _links(conn):
            rows = _rows_for(conn, links)
            for link in links:
                count += 1
                chained = _BY_KIND[link["kind"]]
                where = f"link {link['position']}"
                if link["prev_hash"] != prev or link["hash"] != link_hash(
                    link["prev_hash"], link["kind"], link["row_key"], link["row_hash"]
                ):
                    return Verification(
                        count, prev, f"{where}: the chain itself was edited or a link removed"
                    )
                row = rows.get((link["kind"], link["row_key"]))
                if row is None:
                    return Verification(
                        count,
                        prev,
                        f"{where}: {chained.kind} {link['row_key']} was deleted",
                    )
                if row_hash(chained.kind, row) != link["row_hash"]:
                    return Verification(count, prev, f"{where}: {chained.describe(row)} was edited")
                prev = link["hash"]
                found = found or prev == expect_head
        if not found:
            return Verification(
                count,
                prev,
                f"the head {expect_head} kept earlier is not in the chain: it was rewritten "
                f"or cut back after that head",
            )
        unsealed = sum(sum(len(rows) for rows in _unsealed(conn, chained)) for chained in KINDS)
    return Verification(count, prev, None, unsealed)


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
