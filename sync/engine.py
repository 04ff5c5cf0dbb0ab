"""Pull changed records page by page; each page lands with its watermark or not at all."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any, Protocol

from gating.records import InvoiceData, RecordError
from gating.sources import ENTITIES, Entity, Page, RechecksInvoices, SourceAdapter, Watermark

log = logging.getLogger(__name__)


class SyncStore(Protocol):
    """What the engine needs from the store (adapters.db.sync_store implements it)."""

    def watermark(self, source_id: int, entity: Entity) -> Watermark | None: ...

    def start_run(self, source_id: int, entity: Entity, now: datetime) -> int:
        """Record a run as running, under a lease; first mark failed the runs whose lease
        expired (their process died without finishing them)."""
        ...

    def apply_page(
        self, source_id: int, entity: Entity, page: Page[Any], now: datetime, run_id: int
    ) -> tuple[int, list[RecordError]]:
        """Store the page and renew run `run_id`'s lease, in one transaction."""
        ...

    def finish_run(
        self,
        run_id: int,
        status: str,
        counts: dict[str, int],
        errors: list[RecordError],
        now: datetime,
    ) -> None: ...

    def mark_synced(self, source_id: int, now: datetime) -> None: ...

    def open_invoices(self, source_id: int) -> list[InvoiceData]:
        """The source's invoices stored as open (an open amount, not cancelled), as stored."""
        ...


@dataclass
class EntityReport:
    entity: Entity
    read: int = 0
    written: int = 0
    errors: list[RecordError] = field(default_factory=list)
    failure: str | None = None

    @property
    def skipped(self) -> int:
        return len(self.errors)


@dataclass
class SyncReport:
    source: str
    entities: list[EntityReport] = field(default_factory=list)
    error: str | None = None
    """Why nothing was read: the source could not be set up (its settings or secrets)."""

    @property
    def ok(self) -> bool:
        return self.error is None and all(e.failure is None for e in self.entities)


def _expected(adapter: SourceAdapter, entity: Entity, since: Watermark | None) -> int | None:
    """The source's own count for the progress bar; optional, and never a reason to fail."""
    count = getattr(adapter, "count", None)
    if count is None:
        return None
    try:
        return int(count(entity, since))
    except Exception as exc:  # the read that follows reports real failures
        log.debug("no count of %s: %s", entity, exc)
        return None


def prefetched(pages: Iterator[Page[Any]], depth: int = 1) -> Iterator[Page[Any]]:
    """Fetch the next page from the source while this one is being stored.

    At most `depth` pages wait in between, so memory stays bounded; a source error is raised
    here, after the pages fetched before it, in order.
    """
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put(("page", page)):
                    return
            put(("done", None))
        except BaseException as exc:  # handed to the consumer, raised there
            put(("error", exc))

    worker = threading.Thread(target=produce, name="sync-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = box.get()
            if kind == "page":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        worker.join(timeout=5)


RECHECK_CHUNK = 100
"""Invoices read again per page of a recheck (one request each): a page is one transaction."""


def _rechecked(
    source_id: int, entity: Entity, adapter: SourceAdapter, store: SyncStore
) -> Iterator[Page[Any]]:
    """After a complete read of invoices from a source that rechecks (RechecksInvoices): the
    invoices the store holds as open that the read did not list as open, read again."""
    if entity != "invoices" or not isinstance(adapter, RechecksInvoices):
        return
    listed = adapter.open_invoice_refs()
    if listed is None:
        return
    listed = set(listed)
    held = [i for i in store.open_invoices(source_id) if i.ref not in listed]
    for start in range(0, len(held), RECHECK_CHUNK):
        yield adapter.recheck_invoices(held[start : start + RECHECK_CHUNK])


Progress = Callable[[Entity, int, int, int | None], None]
"""Called as a read starts and after each page: entity, records read and written so far, and
how many the source expects to send (None when it cannot tell)."""


def sync_source(
    source_id: int,
    source_name: str,
    adapter: SourceAdapter,
    *,
    store: SyncStore,
    clock: Callable[[], datetime],
    full: bool = False,
    progress: Progress | None = None,
) -> SyncReport:
    """Sync every entity in dependency order; stop at the first entity the source fails on.

    Bad records are skipped and reported, never fatal. A source failure (after the adapter's
    own retries) ends the run as failed: pages already committed stay, with their watermark,
    so the next run resumes where this one stopped. Only a run where every entity completed
    counts as a successful sync for the gate's STALE_DATA rule.

    A source that rechecks invoices (RechecksInvoices) has, after a complete read of them, the
    invoices stored as open that it did not list as open read again: those pages are stored,
    counted and fail the run exactly like the read's.
    """
    report = SyncReport(source_name)
    for entity in ENTITIES:
        part = _sync_entity(source_id, entity, adapter, store, clock, full, progress)
        report.entities.append(part)
        if part.failure is not None:
            break
    if report.ok:
        store.mark_synced(source_id, clock())
    return report


def _sync_entity(
    source_id: int,
    entity: Entity,
    adapter: SourceAdapter,
    store: SyncStore,
    clock: Callable[[], datetime],
    full: bool,
    progress: Progress | None,
) -> EntityReport:
    part = EntityReport(entity)
    since = None if full else store.watermark(source_id, entity)
    run_id = store.start_run(source_id, entity, clock())
    total = _expected(adapter, entity, since)
    if progress is not None:
        progress(entity, 0, 0, total)
    pages = getattr(adapter, entity)(since)
    try:
        # The recheck starts once every page read is stored (chain is lazy), on this thread.
        rechecked = _rechecked(source_id, entity, adapter, store)
        for page in chain(prefetched(pages), rechecked):
            written, errors = store.apply_page(source_id, entity, page, clock(), run_id)
            part.read += len(page.records) + len(page.errors)
            part.written += written
            part.errors.extend(errors)
            if progress is not None:
                progress(entity, part.read, part.written, total)
    except Exception as exc:  # any source failure ends this run, and is reported
        log.warning("sync of %s stopped: %s", entity, exc)
        part.failure = f"{type(exc).__name__}: {exc}"
    status = "failed" if part.failure else ("succeeded_with_errors" if part.errors else "succeeded")
    errors = list(part.errors)
    if part.failure:
        errors.append(RecordError(entity, None, part.failure))
    counts = {"read": part.read, "written": part.written, "skipped": part.skipped}
    store.finish_run(run_id, status, counts, errors, clock())
    return part
