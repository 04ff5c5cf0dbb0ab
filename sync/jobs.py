"""The jobs over every source: sync all (or one), work out the warnings, push them, the night.

Written against ports only: the stores, what a source's kind makes of its row
(config/sources.py answers), the clock, the rates, the thresholds in force and the holds'
re-evaluation. config/wiring.py binds them once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gating.model import Thresholds
from gating.money import Rates
from gating.ports import Clock
from gating.push import NoticeTarget, PushTarget
from gating.sources import SourceAdapter
from sync.engine import Progress, SyncReport, SyncStore, sync_source
from sync.push import OutboxStore, PushReport, push_pending
from sync.warnings import WarningReport, WarningStore, compute_warnings

log = logging.getLogger(__name__)

SourceRow = Mapping[str, Any]
"""A stored source: id, name, kind, url, settings (a dict, or None) and last_success_at."""


class SourceConfigError(ValueError):
    """A source's settings cannot make an adapter; the message says what to set."""


class SourceStore(SyncStore, Protocol):
    """The sync store with its sources (adapters.db.sync_store implements it)."""

    def source(self, name: str) -> dict[str, Any]:
        """:raises SourceNotFound:"""
        ...

    def sources(self) -> list[dict[str, Any]]:
        """Every source, the default one (fed by `creditgate import`) included."""
        ...


class JobWarningStore(WarningStore, OutboxStore, Protocol):
    """The warning levels and their outbox (adapters.db.warnings_store implements it)."""


class Connections(Protocol):
    """What a source's kind makes of its row (config/sources.py: `Connections`)."""

    def pulls(self, row: SourceRow) -> bool:
        """Whether the source has something to pull (the default source has not)."""
        ...

    def adapter(self, row: SourceRow) -> SourceAdapter:
        """:raises SourceConfigError: naming the setting or variable missing."""
        ...

    def push_target(self, row: SourceRow) -> PushTarget | None:
        """The source's own adapter when it takes warnings back, else None.

        :raises SourceConfigError:
        """
        ...

    def targets_for(self, row: SourceRow, rows: list[dict[str, Any]]) -> list[str]:
        """The targets a change for a customer of `row` is queued for."""
        ...


@dataclass(frozen=True)
class Jobs:
    sources: SourceStore
    warnings: JobWarningStore
    connections: Connections
    clock: Clock
    rates: Rates
    thresholds: Callable[[], Thresholds]
    """The thresholds in force, read once per job."""
    reevaluate_holds: Callable[[], object]
    """Decide every held order again (HoldDesk.reevaluate_all, bound)."""
    notice_targets: Callable[[], Mapping[str, NoticeTarget]]
    """Targets beside the sources, e.g. the ERP's callback URL; each is closed after a push."""

    def sync(
        self, source: str | None = None, *, full: bool = False, progress: Progress | None = None
    ) -> list[SyncReport]:
        """Sync one source, or every source that has something to pull (not the default one).
        Of every source, one that cannot be set up (its settings or a secret) is reported as
        failed and the others are synced.

        :raises SourceNotFound, SourceConfigError: (the named source)
        """
        rows = [self.sources.source(source)] if source else self.sources.sources()
        reports = []
        for row in rows:
            try:
                if not self.connections.pulls(row):
                    if source:
                        raise SourceConfigError(f"source {row['name']!r} has nothing to pull")
                    continue
                adapter = self.connections.adapter(row)
            except SourceConfigError as exc:
                if source:
                    raise
                log.error("source %s not synced: %s", row["name"], exc)
                reports.append(SyncReport(row["name"], error=str(exc)))
                continue
            try:
                reports.append(
                    sync_source(
                        row["id"],
                        row["name"],
                        adapter,
                        store=self.sources,
                        clock=self.clock,
                        full=full,
                        progress=progress,
                    )
                )
            finally:
                adapter.close()
        return reports

    def compute_warnings(self, source: str | None = None) -> list[WarningReport]:
        """Every customer's warning level, for one source or all; changes queue their pushes.
        A source whose targets cannot be trusted is reported with its error and left as it
        was: since every source's settings say where warnings go, one row changed outside
        creditgate holds back every source's warnings (reported, nothing lost) until it is
        dealt with.

        :raises SourceNotFound:
        """
        every = self.sources.sources()
        rows = [self.sources.source(source)] if source else every
        thresholds = self.thresholds()
        reports = []
        for row in rows:
            try:
                targets = self.connections.targets_for(row, every)
            except SourceConfigError as exc:
                # Nothing is worked out, so nothing is lost: the next run after the row is
                # checked and signed again finds the same changes and queues them.
                log.error("no warnings worked out for %s: %s", row["name"], exc)
                reports.append(WarningReport(row["name"], error=str(exc)))
                continue
            reports.append(
                compute_warnings(
                    row["id"],
                    row["name"],
                    store=self.warnings,
                    thresholds=thresholds,
                    rates=self.rates,
                    clock=self.clock,
                    targets=targets,
                )
            )
        return reports

    def push(
        self, targets: Mapping[str, PushTarget | NoticeTarget] | None = None
    ) -> list[PushReport]:
        """Deliver the outbox to every push target and notice target (or to `targets`, built
        and closed by the caller).

        A target that cannot be set up (its settings or a secret) is reported with its error
        and its changes wait; the others are pushed.
        """
        own: list[PushTarget | NoticeTarget] = []
        unbuilt: list[PushReport] = []
        if targets is None:
            built: dict[str, PushTarget | NoticeTarget] = {}
            for row in self.sources.sources():
                try:
                    target = self.connections.push_target(row)
                except SourceConfigError as exc:
                    log.error("nothing pushed to %s: %s", row["name"], exc)
                    unbuilt.append(PushReport(row["name"], error=str(exc)))
                    continue
                if target is not None:
                    built[row["name"]] = target
                    own.append(target)
            for name, notice_target in self.notice_targets().items():
                built[name] = notice_target
                own.append(notice_target)
            targets = built
        try:
            return unbuilt + push_pending(targets, store=self.warnings, clock=self.clock)
        finally:
            for target in own:
                target.close()

    def nightly(self) -> None:
        """Pull every source, decide held orders again, work out the warnings, push the
        changes (warnings and hold notices)."""
        self.sync()
        self.reevaluate_holds()
        self.compute_warnings()
        self.push()
