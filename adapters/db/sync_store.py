"""The sync engine's store: watermarks, one transaction per page, run history, the job lease."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from adapters.db import macs
from adapters.db.engine import readonly
from adapters.db.loader import INSTALMENT_SEPARATOR, Loader
from adapters.db.repository import AuditRepository
from adapters.db.tables import customers, invoices, job_locks, sources, sync_runs, sync_watermarks
from gating.errors import SourceNotFound
from gating.records import InvoiceData, RecordError
from gating.sources import Entity, Page, Watermark

MAX_ERRORS_KEPT = 1000
RUN_LEASE = timedelta(minutes=30)
"""How long a run may go without storing a page before it is taken for dead (its process killed
or its host gone): far beyond a page's fetch with the adapters' own retries."""
ABANDONED = "abandoned: the run stopped without finishing (no page stored within its lease)"


def _error_json(e: RecordError) -> dict[str, Any]:
    return {k: v for k, v in asdict(e).items() if v is not None}


def _later_instalment(row: Any) -> bool:
    """Whether a stored invoice row is instalment 2, 3, ... of one (adapters/db/loader.py)."""
    return bool(row.instalments) and INSTALMENT_SEPARATOR in row.external_id


def forged(name: str) -> str:
    """What is said of a source row whose MAC does not hold."""
    return (
        f"source {name!r}: its row was changed outside creditgate (its MAC does not verify), "
        "so creditgate will not connect to it; check every setting (`creditgate sources list`) "
        f"and sign it again with `creditgate sources set {name} --adopt`"
    )


def _checked(conn: Any, row: Mapping[Any, Any]) -> dict[str, Any]:
    """The row with `genuine` (its MAC holds). Settings that are not an object (only SQL can
    write such) read as none, so listing and `sources set --adopt` still work; the row is not
    genuine anyway."""
    checked = {**row, "genuine": macs.keyring_of(conn).check("sources", row)}
    if not isinstance(checked["settings"], dict):
        checked["settings"] = {}
    return checked


def _adopted(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a row signed again holds, as the audit trail records it (secrets never: settings
    name variables only, and a password in the url is masked)."""
    settings = row["settings"] if isinstance(row["settings"], dict) else {}
    return {
        "kind": row["kind"],
        "url": _shown("url", row["url"]),
        "settings": {key: _shown(key, value) for key, value in sorted(settings.items())},
    }


def _shown(key: str, value: Any) -> Any:
    """A setting as the audit trail records it. Settings name the variables holding secrets,
    never the secrets; a password written into a URL is left out all the same."""
    if key == "url" and isinstance(value, str):
        parts = urlsplit(value)
        if parts.password is not None:
            host = parts.netloc.rpartition("@")[2]
            return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    return value


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each setting that differs, as {key: {"old": ..., "new": ...}}; absent is None."""
    return {
        key: {"old": _shown(key, before.get(key)), "new": _shown(key, after.get(key))}
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    }


class DbSyncStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._customer_ids: dict[int, dict[str, int]] = {}

    def source(self, name: str) -> dict[str, Any]:
        """The row, with `genuine`: whether its MAC holds (else it was written with SQL).

        :raises SourceNotFound:"""
        with readonly(self.engine).connect() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).first()
            if row is None:
                raise SourceNotFound(name)
            return _checked(conn, row._mapping)

    def sources(self) -> list[dict[str, Any]]:
        """Every row, each with `genuine` as `source` gives it."""
        with readonly(self.engine).connect() as conn:
            rows = conn.execute(select(sources).order_by(sources.c.name)).all()
            return [_checked(conn, r._mapping) for r in rows]

    def add_source(
        self,
        name: str,
        kind: str,
        url: str | None,
        settings: dict[str, Any],
        now: datetime,
        *,
        actor: str = "cli",
    ) -> int:
        """Store and sign a new source, and record `source_added` (who, and every setting) in
        the same transaction.

        :raises ValueError: when the name is taken."""
        with self.engine.begin() as conn:
            if conn.execute(select(sources.c.id).where(sources.c.name == name)).first():
                raise ValueError(f"a source named {name!r} already exists")
            result = conn.execute(
                insert(sources).values(
                    name=name, kind=kind, url=url, settings=settings, created_at=now
                )
            )
            source_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            macs.resign(conn, sources, sources.c.id == source_id)
            added = {"kind": kind, **_changes({}, {"url": url, **settings})}
            AuditRepository(conn).record(actor, "source_added", f"source:{name}", added, now)
            return source_id

    def set_source(
        self,
        name: str,
        url: str | None,
        settings: dict[str, Any],
        now: datetime,
        *,
        actor: str,
        expected_mac: str | None,
        adopt: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """Replace the source's url and settings, re-sign the row and record `source_changed`
        (who, and each setting's old and new value) in the same transaction; return the changes
        (none: nothing is written). `expected_mac` is the MAC of the row the new settings were
        made from: a change saved since is not silently undone.

        A row whose MAC does not hold (written with SQL) is changed only with `adopt`, after a
        person has checked it: re-signing it makes every setting in it creditgate's again.

        :raises SourceNotFound:
        :raises ValueError: the row was changed since it was read, or is not genuine.
        """
        with self.engine.begin() as conn:
            row = conn.execute(
                select(sources).where(sources.c.name == name).with_for_update()
            ).first()
            if row is None:
                raise SourceNotFound(name)
            stored = _checked(conn, row._mapping)
            if stored["mac"] != expected_mac:
                raise ValueError(f"source {name!r} was changed meanwhile; run the command again")
            if not stored["genuine"] and not adopt:
                raise ValueError(forged(name))
            before = {"url": stored["url"], **(stored["settings"] or {})}
            changes = _changes(before, {"url": url, **settings})
            if not changes and stored["genuine"]:
                return {}
            conn.execute(
                update(sources).where(sources.c.id == row.id).values(url=url, settings=settings)
            )
            macs.resign(conn, sources, sources.c.id == row.id)
            detail: dict[str, Any] = {"kind": stored["kind"], **changes}
            if not stored["genuine"]:
                # Signed again after a person checked it: the trail says exactly what.
                detail["adopted"] = _adopted({**stored, "url": url, "settings": settings})
            AuditRepository(conn).record(actor, "source_changed", f"source:{name}", detail, now)
            return changes

    def adopt_unsigned_sources(self, now: datetime) -> int:
        """Once, at the upgrade that brought source MACs (schema.SOURCE_MAC_REVISION): sign the
        rows made before it as they stand, else no source would sync or push after the upgrade.
        Recorded as a `source_macs_adopted` event naming each row with what it held (kind, url,
        settings), so a row changed before a later upgrade (the migration record set back and
        the MACs dropped, as a downgrade does) shows in the trail as what was signed; return
        how many."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(sources).where(sources.c.mac.is_(None)).order_by(sources.c.name)
            ).all()
            macs.resign(conn, sources, sources.c.mac.is_(None))
            adopted = {row.name: _adopted(dict(row._mapping)) for row in rows}
            AuditRepository(conn).record(
                "upgrade", "source_macs_adopted", "sources", {"sources": adopted}, now
            )
        return len(rows)

    def watermark(self, source_id: int, entity: Entity) -> Watermark | None:
        w = sync_watermarks.c
        with readonly(self.engine).connect() as conn:
            row = conn.execute(
                select(w.changed_at, w.last_id).where(w.source_id == source_id, w.entity == entity)
            ).first()
        return None if row is None else Watermark(row.changed_at, row.last_id)

    def start_run(self, source_id: int, entity: Entity, now: datetime) -> int:
        """Record a new run, after marking failed every run whose lease has expired."""
        self._customer_ids.pop(source_id, None)  # a new run sees customers added meanwhile
        with self.engine.begin() as conn:
            self._fail_abandoned(conn, now)
            result = conn.execute(
                insert(sync_runs).values(
                    source_id=source_id,
                    entity=entity,
                    started_at=now,
                    status="running",
                    read=0,
                    written=0,
                    skipped=0,
                    errors=[],
                    lease_expires_at=now + RUN_LEASE,
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def fail_abandoned(self, now: datetime) -> int:
        """Mark failed every run still `running` past its lease; return how many."""
        with self.engine.begin() as conn:
            return self._fail_abandoned(conn, now)

    def _fail_abandoned(self, conn: Any, now: datetime) -> int:
        r = sync_runs.c
        dead = conn.execute(
            select(r.id, r.entity).where(
                r.status == "running",
                or_(
                    r.lease_expires_at < now,
                    # Left running before runs had a lease (migration 0013).
                    and_(r.lease_expires_at.is_(None), r.started_at < now - RUN_LEASE),
                ),
            )
        ).all()
        for run in dead:
            conn.execute(
                update(sync_runs)
                .where(r.id == run.id, r.status == "running")
                .values(
                    status="failed",
                    finished_at=now,
                    errors=[_error_json(RecordError(run.entity, None, ABANDONED))],
                )
            )
        return len(dead)

    def apply_page(
        self,
        source_id: int,
        entity: Entity,
        page: Page[Any],
        now: datetime,
        run_id: int | None = None,
    ) -> tuple[int, list[RecordError]]:
        """Upsert the page's records and advance the watermark in ONE transaction, renewing
        run `run_id`'s lease in it.

        A crash before commit leaves the previous page's state and watermark: the next run
        reads this page again, and upserts make that harmless.
        """
        with self.engine.begin() as conn:
            ids = self._customer_ids.setdefault(source_id, {})
            loader = Loader(conn, source_id, now, customer_ids=dict(ids))
            getattr(loader, entity)(page.records)
            report = loader.finish()
            if page.watermark is not None:
                self._advance(conn, source_id, entity, page.watermark, now)
            if run_id is not None:
                conn.execute(
                    update(sync_runs)
                    .where(sync_runs.c.id == run_id)
                    .values(lease_expires_at=now + RUN_LEASE)
                )
        ids.update(loader.customer_ids)  # only ids of committed rows are kept
        return report.written.get(entity, 0), [*page.errors, *report.errors]

    def _advance(
        self, conn: Any, source_id: int, entity: Entity, mark: Watermark, now: datetime
    ) -> None:
        w = sync_watermarks.c
        values = {"changed_at": mark.changed_at, "last_id": mark.last_id, "updated_at": now}
        done = conn.execute(
            update(sync_watermarks)
            .where(w.source_id == source_id, w.entity == entity)
            .values(**values)
        ).rowcount
        if not done:
            conn.execute(
                insert(sync_watermarks).values(source_id=source_id, entity=entity, **values)
            )

    def open_invoices(self, source_id: int) -> list[InvoiceData]:
        """The source's invoices stored as open (a nonzero open amount, not cancelled), as
        stored, for a recheck (sync/engine.py). An invoice in instalments is open when any
        instalment is, and comes back once, as its first row (under the invoice's own ref,
        without its instalments). One pass over the source's invoices."""
        i, c = invoices.c, customers.c
        columns = (
            i.external_id, c.external_id.label("customer_ref"), i.number, i.issue_date,
            i.due_date, i.currency, i.total, i.open_amount, i.order_ref, i.instalments,
        )  # fmt: skip
        query = select(*columns).join(customers, c.id == i.customer_id)
        mine = (i.source_id == source_id, i.cancelled.is_(False))
        with readonly(self.engine).connect() as conn:
            rows = conn.execute(query.where(*mine, i.open_amount != 0)).all()
            first = {r.external_id: r for r in rows if not _later_instalment(r)}
            # Open only in a later instalment: the invoice's own (first) row, paid, as well.
            missing = {
                r.external_id.rpartition(INSTALMENT_SEPARATOR)[0]
                for r in rows
                if _later_instalment(r)
            } - set(first)
            if missing:
                found = conn.execute(query.where(*mine, i.external_id.in_(missing))).all()
                first.update((r.external_id, r) for r in found)
        return [
            InvoiceData(
                ref=r.external_id,
                customer_ref=r.customer_ref,
                number=r.number,
                issue_date=r.issue_date,
                due_date=r.due_date,
                currency=r.currency,
                total=r.total,
                open_amount=r.open_amount,
                order_ref=r.order_ref,
            )
            for r in first.values()
        ]

    def finish_run(
        self,
        run_id: int,
        status: str,
        counts: dict[str, int],
        errors: Sequence[RecordError],
        now: datetime,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(sync_runs)
                .where(sync_runs.c.id == run_id)
                .values(
                    status=status,
                    finished_at=now,
                    errors=[_error_json(e) for e in list(errors)[:MAX_ERRORS_KEPT]],
                    **counts,
                )
            )

    def mark_synced(self, source_id: int, now: datetime) -> None:
        """Record a complete, successful sync: what the gate's STALE_DATA rule reads."""
        with self.engine.begin() as conn:
            conn.execute(
                update(sources).where(sources.c.id == source_id).values(last_success_at=now)
            )

    def runs(
        self, *, source: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        r = sync_runs.c
        query = (
            select(sync_runs, sources.c.name.label("source"))
            .join(sources, sources.c.id == r.source_id)
            .order_by(r.id.desc())
            .limit(limit)
        )
        if source is not None:
            query = query.where(sources.c.name == source)
        if status is not None:
            query = query.where(r.status == status)
        with readonly(self.engine).connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def run_counts(self) -> list[tuple[str, str, str, int]]:
        """How many runs each (source, entity, status) has had: what /metrics exports."""
        r = sync_runs.c
        query = (
            select(sources.c.name, r.entity, r.status, func.count())
            .join(sources, sources.c.id == r.source_id)
            .group_by(sources.c.name, r.entity, r.status)
        )
        with readonly(self.engine).connect() as conn:
            return [(row[0], row[1], row[2], int(row[3])) for row in conn.execute(query)]

    # --- the job lease -------------------------------------------------------------------

    def try_lock(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take the lease `name` unless someone else holds an unexpired one; atomic on SQLite
        and PostgreSQL (one conditional UPDATE, or an INSERT that the primary key arbitrates)."""
        j = job_locks.c
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(job_locks)
                .where(j.name == name, or_(j.expires_at < now, j.holder == holder))
                .values(holder=holder, expires_at=now + ttl)
            ).rowcount
            if taken:
                return True
            exists = conn.execute(select(j.name).where(j.name == name)).first()
            if exists:
                return False
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(job_locks).values(name=name, holder=holder, expires_at=now + ttl)
                )
            return True
        except IntegrityError:
            return False

    def unlock(self, name: str, holder: str) -> None:
        j = job_locks.c
        with self.engine.begin() as conn:
            conn.execute(delete(job_locks).where(and_(j.name == name, j.holder == holder)))
