"""Composition root: build the engine, store and clock from Settings (the only place that does)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine

from adapters.callback import CallbackTarget
from adapters.csv_folder import CsvFolderSource, read_folder
from adapters.db import admin, audit_chain, audit_reads, deadline, holds, macs, nonces, schema
from adapters.db.engine import make_engine, ping
from adapters.db.imports import DbImportStore
from adapters.db.sync_store import DbSyncStore
from adapters.db.unit_of_work import SqlAlchemyUnitOfWork
from adapters.db.warnings_store import DbWarningStore
from config.audit_keys import audit_keyring
from config.pages import Pages
from config.settings import Settings
from config.thresholds import thresholds_document
from gating import holds as hold_actions
from gating.audit import DecisionQuery, EventQuery, Period
from gating.holds import HoldAnswer, ReevaluationReport
from gating.model import Outcome, Thresholds
from gating.money import Rates
from gating.policy import thresholds_from_document
from gating.ports import Clock
from gating.push import PushTarget
from gating.sources import SourceAdapter
from gating.whatif import WhatIf, replay, shadowed
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

    def active_thresholds(self) -> Thresholds:
        with SqlAlchemyUnitOfWork(self.engine, self.clock, read_only=True) as uow:
            return uow.thresholds.active()

    def compute_warnings(self, source: str | None = None) -> list[WarningReport]:
        """Every customer's warning level, for one source or all; changes queue their pushes.

        :raises SourceNotFound:
        """
        store = self.sync_store()
        every = store.sources()
        rows = [store.source(source)] if source else every
        thresholds = self.active_thresholds()
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
        """Pull every source, decide held orders again, work out the warnings, push the
        changes (warnings and hold notices)."""
        self.sync()
        self.reevaluate_holds()
        self.compute_warnings()
        self.push()

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
        from adapters.nav import NavSoapAdapter

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
    return Services(settings, engine, clock or system_clock(settings), rates)
