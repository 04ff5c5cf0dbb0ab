"""Composition root: build the engine, store, clock and the application's parts from Settings (the
only place that does), binding each use case's dependencies once."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine

from adapters.callback import CallbackTarget
from adapters.csv_export import read_folder
from adapters.csv_source import CsvFolderSource
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
from config.thresholds import thresholds_document
from config.writes import Writes
from gating.commands import ReevaluateHolds
from gating.holds import HoldDesk
from gating.money import Rates
from gating.ports import Clock
from gating.push import PushTarget
from gating.services import GateDesk
from gating.sources import SourceAdapter
from sync.engine import Progress, SyncReport, sync_source
from sync.file_import import ImportResult, import_folder
from sync.push import PushReport, push_pending
from sync.warnings import WarningReport, compute_warnings

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
        self, name: str, kind: str, *, url: str | None = None, settings: dict[str, Any]
    ) -> int:
        """:raises ValueError: for an unknown kind, missing settings or a taken name."""
        _check_source(kind, url, settings)
        return self.sync_store().add_source(name, kind, url, settings, self.clock())

    def sync(
        self, source: str | None = None, *, full: bool = False, progress: Progress | None = None
    ) -> list[SyncReport]:
        """Sync one source, or every source that has something to pull (not the default one).

        :raises SourceNotFound, SourceConfigError:
        """
        store = self.sync_store()
        rows = [store.source(source)] if source else store.sources()
        reports = []
        for row in rows:
            if row["kind"] not in SOURCE_KINDS:
                if source:
                    raise SourceConfigError(f"source {row['name']!r} has nothing to pull")
                continue
            adapter = build_adapter(row, os.environ)
            try:
                reports.append(
                    sync_source(
                        row["id"],
                        row["name"],
                        adapter,
                        store=store,
                        clock=self.clock,
                        full=full,
                        progress=progress,
                    )
                )
            finally:
                adapter.close()
        return reports

    def warning_store(self) -> DbWarningStore:
        return DbWarningStore(self.engine)

    def compute_warnings(self, source: str | None = None) -> list[WarningReport]:
        """Every customer's warning level, for one source or all; changes queue their pushes.

        :raises SourceNotFound:
        """
        store = self.sync_store()
        every = store.sources()
        rows = [store.source(source)] if source else every
        thresholds = self.reads.active_thresholds()
        warning_store = self.warning_store()
        reports = []
        for row in rows:
            reports.append(
                compute_warnings(
                    row["id"],
                    row["name"],
                    store=warning_store,
                    thresholds=thresholds,
                    rates=self.rates,
                    clock=self.clock,
                    targets=push_targets_for(row, every),
                )
            )
        return reports

    def push(self, targets: Mapping[str, PushTarget] | None = None) -> list[PushReport]:
        """Deliver the outbox to every push target (or to `targets`, built by the caller)."""
        own: list[PushTarget] = []
        if targets is None:
            built: dict[str, PushTarget] = {}
            for row in self.sync_store().sources():
                if row["kind"] in PUSH_KINDS and (row["settings"] or {}).get("push", True):
                    adapter = cast(PushTarget, build_adapter(row, os.environ))
                    built[row["name"]] = adapter
                    own.append(adapter)
            targets = built
            callback = self.callback_target()
            if callback is not None:
                built[CALLBACK] = callback
                own.append(callback)
        try:
            return push_pending(targets, store=self.warning_store(), clock=self.clock)
        finally:
            for adapter in own:
                adapter.close()

    def callback_target(self) -> CallbackTarget | None:
        url, secret = self.settings.callback_url, self.settings.callback_secret
        return None if url is None or secret is None else CallbackTarget(url, secret)

    def nightly(self) -> None:
        """Pull every source, decide held orders again, work out the warnings, push the
        changes (warnings and hold notices)."""
        self.sync()
        self.writes.reevaluate_holds(ReevaluateHolds())
        self.compute_warnings()
        self.push()

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

    def init_db(self) -> int:
        """Migrate the schema, ensure the default source and thresholds; return their version."""
        self.migrate()
        now = self.clock()
        admin.ensure_source(self.engine, admin.DEFAULT_SOURCE, "csv", now)
        return admin.ensure_thresholds(
            self.engine, thresholds_document(self.settings.thresholds), now
        )


SOURCE_KINDS = ("csv-folder", "tryton", "nav-soap", "zoho-crm")
# Sources that can show warnings to people: their adapters are also push targets.
PUSH_KINDS = ("tryton", "nav-soap", "zoho-crm")
# Zoho field names a source may set (the org's own API names), passed to the adapter as is.
ZOHO_FIELDS = (
    "number_field",
    "credit_limit_field",
    "currency_field",
    "level_field",
    "hold_field",
    "task_key_field",
)


def push_targets_for(row: Mapping[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """Where a change for a customer of source `row` goes: the source itself when it takes
    pushes, and every source (a CRM) whose `warnings_for` setting names it."""
    targets = []
    if row["kind"] in PUSH_KINDS and (row["settings"] or {}).get("push", True):
        targets.append(row["name"])
    for other in rows:
        settings = other["settings"] or {}
        named = settings.get("warnings_for") or []
        named = [named] if isinstance(named, str) else named
        if other["kind"] in PUSH_KINDS and row["name"] in named and other["name"] != row["name"]:
            targets.append(other["name"])
    return targets


class SourceConfigError(ValueError):
    """A source's settings cannot make an adapter; the message says what to set."""


def _check_source(kind: str, url: str | None, settings: dict[str, Any]) -> None:
    if kind == "csv-folder":
        if not settings.get("path"):
            raise SourceConfigError("a csv-folder source needs --path, the export folder")
    elif kind == "tryton":
        missing = [k for k in ("database", "username_env", "password_env") if not settings.get(k)]
        if not url or missing:
            raise SourceConfigError(
                "a tryton source needs --url, --database, --username-env and --password-env"
            )
        overlap = settings.get("overlap_seconds", 0)
        if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
            raise SourceConfigError("--overlap-seconds must be a whole number of seconds, >= 0")
    elif kind == "nav-soap":
        missing = [
            k for k in ("username_env", "password_env", "local_currency") if not settings.get(k)
        ]
        if not url or missing:
            raise SourceConfigError(
                "a nav-soap source needs --url (the page web services, ending in /Page/), "
                "--username-env, --password-env and --local-currency"
            )
    elif kind == "zoho-crm":
        needed = ("client_id_env", "client_secret_env", "refresh_token_env")
        if any(not settings.get(k) for k in needed):
            raise SourceConfigError(
                "a zoho-crm source needs --client-id-env, --client-secret-env and "
                "--refresh-token-env (the variables holding its OAuth client and refresh token)"
            )
    else:
        raise SourceConfigError(f"unknown source kind {kind!r}; use one of {SOURCE_KINDS}")


def build_adapter(row: dict[str, Any], environ: Mapping[str, str]) -> SourceAdapter:
    """Make the adapter for a source row; credentials come from the env vars it names.

    :raises SourceConfigError: naming the missing variable.
    """
    settings = row["settings"] or {}
    if row["kind"] == "csv-folder":
        return CsvFolderSource(Path(settings["path"]))

    def secret(key: str) -> str:
        name = settings[key]
        value = environ.get(name)
        if not value:
            raise SourceConfigError(
                f"source {row['name']!r} reads its {key.removesuffix('_env')} from "
                f"${name}, which is not set"
            )
        return value

    if row["kind"] == "nav-soap":
        from adapters.nav_soap import NavSoapAdapter

        return NavSoapAdapter(
            row["url"],
            secret("username_env"),
            secret("password_env"),
            local_currency=settings["local_currency"],
            **{k: settings[k] for k in ("warning_field", "note_field") if k in settings},
        )
    if row["kind"] == "zoho-crm":
        from adapters.zoho import ZohoCrmAdapter

        options: dict[str, Any] = {k: settings[k] for k in ZOHO_FIELDS if k in settings}
        if "overlap_seconds" in settings:
            options["overlap"] = timedelta(seconds=settings["overlap_seconds"])
        return ZohoCrmAdapter(
            secret("client_id_env"),
            secret("client_secret_env"),
            secret("refresh_token_env"),
            dc=settings.get("dc", "us"),
            accounts_url=row["url"],
            currency=settings.get("currency"),
            **options,
        )
    if row["kind"] == "tryton":
        username, password = secret("username_env"), secret("password_env")
        from adapters.tryton import TrytonAdapter

        # Without a setting, the adapter's own default overlap applies.
        extra: dict[str, Any] = {}
        if "overlap_seconds" in settings:
            extra["overlap"] = timedelta(seconds=settings["overlap_seconds"])
        return TrytonAdapter(row["url"], settings["database"], username, password, **extra)
    raise SourceConfigError(f"source {row['name']!r} has unknown kind {row['kind']!r}")


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
