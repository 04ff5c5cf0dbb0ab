"""Composition root: build the engine, store and clock from Settings (the only place that does)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from adapters.csv_export import read_folder
from adapters.db import admin
from adapters.db.engine import create_schema, drop_schema, make_engine, ping
from adapters.db.imports import DbImportStore
from adapters.db.unit_of_work import SqlAlchemyUnitOfWork
from config.settings import Settings
from config.thresholds import thresholds_document
from gating.money import Rates
from gating.ports import Clock
from sync.file_import import ImportResult, import_folder


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

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.clock)

    def read_uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self.clock, read_only=True)

    def find_client(self, key: str) -> admin.ApiClient | None:
        return admin.find_client(self.engine, key)

    def create_api_client(self, name: str, role: str, **kwargs: Any) -> admin.IssuedKey:
        return admin.create_api_client(self.engine, name, role, self.clock(), **kwargs)

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

    def set_thresholds(self, document: dict[str, Any], created_by: str, reason: str) -> int:
        """:raises InvalidThresholds:"""
        return admin.add_thresholds(self.engine, document, created_by, reason, self.clock())

    def reset_database(self) -> None:
        """Drop every table: only for the demo database."""
        drop_schema(self.engine)

    def init_db(self) -> int:
        """Create the schema, the default source and the thresholds version; return the version."""
        create_schema(self.engine)
        now = self.clock()
        admin.ensure_source(self.engine, admin.DEFAULT_SOURCE, "csv", now)
        return admin.ensure_thresholds(
            self.engine, thresholds_document(self.settings.thresholds), now
        )


def build_services(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> Services:
    engine = make_engine(settings.database_url, timeout=settings.gate_timeout)
    rates = Rates(settings.rates_reference, dict(settings.rates))
    return Services(settings, engine, clock or system_clock(settings), rates)
