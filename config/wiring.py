"""Composition root: build the engine, store, clock and the application's parts from Settings (the
only place that does), binding each use case's dependencies once."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from adapters.callback import CallbackTarget
from adapters.csv_folder import read_folder
from adapters.db import admin, macs, schema
from adapters.db.engine import make_engine
from adapters.db.imports import DbImportStore
from adapters.db.sync_store import DbSyncStore
from adapters.db.unit_of_work import SqlAlchemyUnitOfWork
from adapters.db.warnings_store import DbWarningStore
from config.audit_keys import audit_keyring
from config.clients import ApiKeys
from config.pages import Pages
from config.reads import Reads
from config.settings import Settings
from config.sources import DEFAULT_KIND, Connections, check_source
from config.thresholds import thresholds_document
from config.writes import Writes
from gating.commands import ReevaluateHolds
from gating.holds import HoldDesk
from gating.money import Rates
from gating.ports import Clock
from gating.push import NoticeTarget, PushTarget
from gating.services import GateDesk
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
    """The application, as `build_services` makes it: the parts the web app's views call
    (`gate`, `clients`, `reads`, `writes`, `pages`; connector/context.py lists what a view may
    call of each), and what the command line, the jobs and the tests use besides (the engine,
    clock and rates, the stores the jobs run on, the schema's upkeep)."""

    settings: Settings
    engine: Engine
    clock: Clock
    rates: Rates
    gate: GateDesk
    """The ERP's calls: decide an order, apply an order event."""
    clients: ApiKeys
    """API keys' lookups, for connector/auth.py."""
    reads: Reads
    writes: Writes
    pages: Pages
    """Logins and sessions of the web pages."""

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.clock)

    def read_uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.clock, read_only=True)

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
        self,
        name: str,
        kind: str,
        *,
        url: str | None = None,
        settings: dict[str, Any],
        actor: str = "cli",
    ) -> int:
        """Check, store and sign a source; audited as `actor`'s.

        :raises ValueError: for an unknown kind, missing settings or a taken name."""
        check_source(kind, url, settings)
        return self.sync_store().add_source(name, kind, url, settings, self.clock(), actor=actor)

    def set_source(
        self,
        stored: Mapping[str, Any],
        *,
        url: str | None,
        settings: dict[str, Any],
        actor: str,
        adopt: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """Give the source `stored` (its row as read) this url and settings, checked as
        `add_source` checks them; re-signed and audited as `actor`'s. Return the changes.

        :raises ValueError: for missing settings or unusable values (nothing changes), a row
            changed since `stored` was read, or one changed outside creditgate (unless
            `adopt`: adapters/db/sync_store.py).
        :raises SourceNotFound:"""
        check_source(stored["kind"], url, settings)
        return self.sync_store().set_source(
            stored["name"],
            url,
            settings,
            self.clock(),
            actor=actor,
            expected_mac=stored["mac"],
            adopt=adopt,
        )

    def sync(
        self, source: str | None = None, *, full: bool = False, progress: Progress | None = None
    ) -> list[SyncReport]:
        """:raises SourceNotFound, SourceConfigError: (sync/jobs.py)"""
        return self.jobs.sync(source, full=full, progress=progress)

    def warning_store(self) -> DbWarningStore:
        return DbWarningStore(self.engine)

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
            thresholds=self.reads.active_thresholds,
            reevaluate_holds=lambda: self.writes.reevaluate_holds(ReevaluateHolds()),
            notice_targets=self._notice_targets,
        )

    def _notice_targets(self) -> dict[str, NoticeTarget]:
        callback = self.callback_target()
        return {} if callback is None else {CALLBACK: callback}

    def callback_target(self) -> CallbackTarget | None:
        url, secret = self.settings.callback_url, self.settings.callback_secret
        return None if url is None or secret is None else CallbackTarget(url, secret)

    def nightly(self) -> None:
        self.jobs.nightly()

    def reset_database(self) -> None:
        """Drop every table, the migration record included: only for the demo and tests."""
        schema.drop_schema(self.engine)

    def migrate(self) -> schema.Migrated:
        """Upgrade the schema to the latest migration; say from which revision to which. Across
        the revisions that brought audit MACs and source MACs, adopt the rows recorded before."""
        migrated = schema.upgrade(self.engine)
        if migrated.crossed(schema.MAC_REVISION):
            admin.adopt_unsigned_rows(self.engine, self.clock())
        if migrated.crossed(schema.SOURCE_MAC_REVISION):
            self.sync_store().adopt_unsigned_sources(self.clock())
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
        admin.ensure_source(self.engine, admin.DEFAULT_SOURCE, DEFAULT_KIND, now)
        return admin.ensure_thresholds(
            self.engine, thresholds_document(self.settings.thresholds), now
        )


def build_services(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> Services:
    """:raises SettingsError: no audit key for a server database (config/audit_keys.py)."""
    keyring = audit_keyring(settings)
    engine = make_engine(settings.database_url, timeout=settings.gate_timeout)
    macs.bind(engine, keyring)
    rates = Rates(settings.rates_reference, dict(settings.rates))
    business_clock = clock or system_clock(settings)

    def uow() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(engine, business_clock)

    # Hold notices go to the ERP's callback URL, when one is configured.
    notify = (CALLBACK,) if settings.callback_url else ()
    holds = HoldDesk(uow, business_clock, rates, settings.zone, notify)
    return Services(
        settings,
        engine,
        business_clock,
        rates,
        gate=GateDesk(uow, business_clock, rates, settings.fail_safe_outcome),
        clients=ApiKeys(engine, business_clock, settings.gate_timeout),
        reads=Reads(engine, business_clock, rates, settings.zone),
        writes=Writes(engine, business_clock, holds),
        pages=Pages(engine, business_clock),
    )
