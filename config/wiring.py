"""Composition root: build the engine, store and clock from Settings (the only place that does)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from adapters.callback import CallbackTarget
from adapters.csv_folder import read_folder
from adapters.db import admin, audit_chain, audit_reads, deadline, holds, macs, nonces, schema
from adapters.db.engine import make_engine, ping
from adapters.db.imports import DbImportStore
from adapters.db.sync_store import DbSyncStore
from adapters.db.unit_of_work import SqlAlchemyUnitOfWork
from adapters.db.warnings_store import DbWarningStore
from config.audit_keys import audit_keyring
from config.pages import Pages
from config.settings import Settings
from config.sources import Connections, check_source
from config.thresholds import thresholds_document
from gating import holds as hold_actions
from gating.audit import DecisionQuery, EventQuery, Period
from gating.holds import HoldAnswer, ReevaluationReport
from gating.model import Outcome, Thresholds
from gating.money import Rates
from gating.policy import thresholds_from_document
from gating.ports import Clock
from gating.push import NoticeTarget, PushTarget
from gating.whatif import WhatIf, replay, shadowed
from sync.engine import Progress, SyncReport
from sync.file_import import ImportResult, import_folder
from sync.jobs import Jobs
from sync.push import PushReport
from sync.warnings import WarningReport

CALLBACK = "callback"
"""The outbox target name of the ERP's callback URL (CREDITGATE_CALLBACK_URL)."""


def system_clock(settings: Settings) -> Clock:
    zone = settings.zone
    return lambda: datetime.now(zone)


@dataclass
class Services:
    """What the web app and the command line need; built here, passed in, never read from env."""

    settings: Settings
    engine: Engine
    clock: Clock
    rates: Rates
    fail_safe_seen: Outcome | None = None
    """The active thresholds' fail-safe outcome as this process last read it."""

    @property
    def fail_safe_outcome(self) -> str:
        """What the gate answers when it cannot decide: the thresholds' setting once this process
        has read it, the server's CREDITGATE_FAIL_SAFE_OUTCOME until then (or when unset)."""
        if self.fail_safe_seen is not None:
            return self.fail_safe_seen.value
        return self.settings.fail_safe_outcome

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.clock)

    def read_uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.clock, read_only=True)

    def bounded(self) -> AbstractContextManager[object]:
        """Database work in the block must finish within CREDITGATE_GATE_TIMEOUT, or fail with
        the store's unavailability (adapters/db/deadline.py). The gate runs its whole call,
        key lookup included, in one such block."""
        return deadline.bounded(self.settings.gate_timeout)

    def find_client(self, key: str) -> admin.ApiClient | None:
        """:raises GateUnavailable: when the database does not answer within the gate timeout."""
        with self.bounded():
            return admin.find_client(self.engine, key)

    def first_use_of_nonce(self, client: str, nonce: str, good_until: int) -> bool:
        """Take a signed request's nonce until its signature expires (Unix seconds); False when
        the client used it before. :raises GateUnavailable:"""
        until = datetime.fromtimestamp(good_until, UTC)
        return nonces.first_use(self.engine, client, nonce, self.clock(), until)

    def create_api_client(self, name: str, role: str, **kwargs: Any) -> admin.IssuedKey:
        return admin.create_api_client(self.engine, name, role, self.clock(), **kwargs)

    def list_api_clients(self) -> list[admin.ClientRow]:
        return admin.list_api_clients(self.engine)

    def revoke_api_client(self, name: str, actor: str) -> None:
        """:raises ValueError: no such client, or revoked already."""
        admin.revoke_api_client(self.engine, name, actor, self.clock())

    def check_database(self) -> None:
        ping(self.engine)

    def import_folder(self, folder: Path, source: str = admin.DEFAULT_SOURCE) -> ImportResult:
        return import_folder(
            folder,
            source,
            read_folder=read_folder,
            store=DbImportStore(self.engine),
            clock=self.clock,
        )

    def sync_store(self) -> DbSyncStore:
        return DbSyncStore(self.engine)

    def add_source(
        self, name: str, kind: str, *, url: str | None = None, settings: dict[str, Any]
    ) -> int:
        """:raises ValueError: for an unknown kind, missing settings or a taken name."""
        check_source(kind, url, settings)
        return self.sync_store().add_source(name, kind, url, settings, self.clock())

    def sync(
        self, source: str | None = None, *, full: bool = False, progress: Progress | None = None
    ) -> list[SyncReport]:
        """:raises SourceNotFound, SourceConfigError: (sync/jobs.py)"""
        return self.jobs.sync(source, full=full, progress=progress)

    def warning_store(self) -> DbWarningStore:
        return DbWarningStore(self.engine)

    def active_thresholds(self) -> Thresholds:
        with SqlAlchemyUnitOfWork(self.engine, self.clock, read_only=True) as uow:
            return uow.thresholds.active()

    def compute_warnings(self, source: str | None = None) -> list[WarningReport]:
        """:raises SourceNotFound: (sync/jobs.py)"""
        return self.jobs.compute_warnings(source)

    def push(
        self, targets: Mapping[str, PushTarget | NoticeTarget] | None = None
    ) -> list[PushReport]:
        return self.jobs.push(targets)

    @property
    def jobs(self) -> Jobs:
        """The jobs over every source, bound to this process's stores and environment."""
        return Jobs(
            sources=self.sync_store(),
            warnings=self.warning_store(),
            connections=Connections(os.environ),
            clock=self.clock,
            rates=self.rates,
            thresholds=self.active_thresholds,
            reevaluate_holds=self.reevaluate_holds,
            notice_targets=self._notice_targets,
        )

    def _notice_targets(self) -> dict[str, NoticeTarget]:
        callback = self.callback_target()
        return {} if callback is None else {CALLBACK: callback}

    def callback_target(self) -> CallbackTarget | None:
        url, secret = self.settings.callback_url, self.settings.callback_secret
        return None if url is None or secret is None else CallbackTarget(url, secret)

    @property
    def notify(self) -> tuple[str, ...]:
        """The outbox targets hold notices go to: the callback URL, when one is configured."""
        return (CALLBACK,) if self.settings.callback_url else ()

    def _hold_parts(self) -> dict[str, Any]:
        """What every hold action is given besides its own terms."""
        return {"uow": self.uow(), "clock": self.clock, "rates": self.rates, "notify": self.notify}

    def release_order(self, source: str, order_id: str, **terms: Any) -> HoldAnswer:
        """:raises OrderNotFound, NotHeld, ReleaseNotAllowed, InvalidRelease:"""
        return hold_actions.release_order(source, order_id, **self._hold_parts(), **terms)

    def reject_order(self, source: str, order_id: str, **terms: Any) -> HoldAnswer:
        """:raises OrderNotFound, NotHeld, ReleaseNotAllowed:"""
        return hold_actions.reject_order(source, order_id, **self._hold_parts(), **terms)

    def reevaluate_order(self, source: str, order_id: str, actor: str) -> HoldAnswer:
        """:raises OrderNotFound, NotHeld:"""
        answer = hold_actions.reevaluate_order(source, order_id, actor=actor, **self._hold_parts())
        assert answer is not None
        return answer

    def reevaluate_holds(self) -> ReevaluationReport:
        """Decide every held order again; release those whose reasons are gone."""
        return hold_actions.reevaluate_holds(
            uow_factory=self.uow, clock=self.clock, rates=self.rates, notify=self.notify
        )

    def set_customer_hold(
        self, source: str, customer_id: str, reason: str | None, actor: str
    ) -> None:
        """:raises CustomerNotFound, SourceNotFound:"""
        hold_actions.set_customer_hold(
            source, customer_id, reason, actor=actor, uow=self.uow(), clock=self.clock
        )

    def simulate(self, document: dict[str, Any], period: Period) -> WhatIf:
        """Replay each order's last decision in `period` under the proposed document.

        :raises InvalidThresholds:
        """
        proposed = thresholds_from_document(document)
        recorded = audit_reads.latest_decisions(self.engine, period, self.settings.zone)
        return replay(recorded, proposed)

    def shadow_report(self, period: Period) -> WhatIf:
        """Each order's last decision in `period` against what the shadow decided beside it."""
        return shadowed(audit_reads.latest_decisions(self.engine, period, self.settings.zone))

    @property
    def pages(self) -> Pages:
        """What the web pages read and do."""
        return Pages(self)

    def seal_audit_trail(self) -> int:
        """Chain every recorded row not chained yet; return how many."""
        return audit_chain.seal(self.engine, self.clock())

    def verify_audit_trail(self, expect_head: str | None = None) -> audit_chain.Verification:
        return audit_chain.verify(self.engine, expect_head)

    def nightly(self) -> None:
        self.jobs.nightly()

    def thresholds_versions(
        self, limit: int = 1, version: int | None = None
    ) -> list[dict[str, Any]]:
        """The newest thresholds versions, or only `version`: version, created_at, created_by,
        reason and document."""
        with self.read_uow() as uow:
            return uow.thresholds.versions(limit, version)

    def audit_decisions(
        self, query: DecisionQuery, limit: int, before: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """A page of matching decisions, newest first, and the next page's cursor (or None)."""
        return audit_reads.decision_page(self.engine, query, self.settings.zone, limit, before)

    def audit_events(
        self, query: EventQuery, limit: int, before: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        return audit_reads.event_page(self.engine, query, self.settings.zone, limit, before)

    def export_decisions(self, query: DecisionQuery) -> Iterator[dict[str, Any]]:
        """Every matching decision, oldest first, read in batches (for CSV exports)."""
        return audit_reads.stream_decisions(self.engine, query, self.settings.zone)

    def export_events(self, query: EventQuery) -> Iterator[dict[str, Any]]:
        return audit_reads.stream_events(self.engine, query, self.settings.zone)

    def held_orders(
        self,
        *,
        source: str | None = None,
        customer_id: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Open orders whose last decision was review or blocked, newest first, and the next
        page's cursor."""
        return holds.held_page(
            self.engine,
            source=source,
            customer_id=customer_id,
            outcome=outcome,
            limit=limit,
            before=before,
        )

    def active_thresholds_version(self) -> dict[str, Any]:
        """The version the next decision will use (the newest genuine one): version,
        created_at, created_by, reason and document."""
        with self.read_uow() as uow:
            active = uow.thresholds.active_version()
        assert active is not None, "init-db stores a first version"
        return active

    def set_thresholds(
        self,
        document: dict[str, Any],
        created_by: str,
        reason: str,
        base_version: int | None = None,
    ) -> int:
        """:raises InvalidThresholds, Conflict: (another version saved since `base_version`)"""
        return admin.add_thresholds(
            self.engine, document, created_by, reason, self.clock(), base_version
        )

    def reset_database(self) -> None:
        """Drop every table, the migration record included: only for the demo and tests."""
        schema.drop_schema(self.engine)

    def migrate(self) -> schema.Migrated:
        """Upgrade the schema to the latest migration; say from which revision to which. Across
        the revision that brought audit MACs, adopt the rows recorded before it."""
        migrated = schema.upgrade(self.engine)
        if migrated.crossed(schema.MAC_REVISION):
            admin.adopt_unsigned_rows(self.engine, self.clock())
        return migrated

    def schema_not_current(self) -> str | None:
        """Why the schema is not this code's (what to run), or None; migrates nothing."""
        return schema.not_current(self.engine)

    def init_db(self) -> int:
        """Migrate the schema, ensure the default source and thresholds; return their version."""
        self.migrate()
        return self.ensure_defaults()

    def ensure_defaults(self) -> int:
        """Ensure the default source and the config file's thresholds; return their version."""
        now = self.clock()
        admin.ensure_source(self.engine, admin.DEFAULT_SOURCE, "csv", now)
        return admin.ensure_thresholds(
            self.engine, thresholds_document(self.settings.thresholds), now
        )


def build_services(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> Services:
    """:raises SettingsError: no audit key for a server database (config/audit_keys.py)."""
    keyring = audit_keyring(settings)
    engine = make_engine(settings.database_url, timeout=settings.gate_timeout)
    macs.bind(engine, keyring)
    rates = Rates(settings.rates_reference, dict(settings.rates))
    return Services(settings, engine, clock or system_clock(settings), rates)
