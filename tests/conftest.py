"""Shared fixtures for the API and integration tests: a real database, a fixed clock, a dataset.

Every test that uses the database runs twice, on SQLite and on PostgreSQL, each time on a fresh
database of its own (tests/databases.py says where PostgreSQL comes from, and when that leg is
skipped).

The dataset (today is 2026-11-22, thresholds in CNY, trial amount 5,000.00 CNY):

| customer | limit | exposure | why it is there |
| --- | --- | --- | --- |
| C-100 | 200,000.00 CNY | 45,000.00 (50,000 open − 5,000 unapplied) | healthy |
| C-200 | 100,000.00 CNY | 91,000.00 | 9,000.00 left |
| C-300 | 300,000.00 CNY | 33,000.00 | INV-3001 45 and INV-3002 31 days overdue |
| C-400 | 150,000.00 CNY | 0.00 | on hold: delivery dispute |
| C-510 | 400,000.00 CNY | 300,000.00 | group G-1 (limit 500,000.00) |
| C-520 | 300,000.00 CNY | 148,000.00 (150,000 − credit note 2,000) | group G-1: 448,000.00 in all |
| C-600 | none | 0.00 | no credit limit |
| C-800 | 10,000.00 CNY | 0.00 | the race |
| C-900 | 10,000.00 USD | 0.00 | credit in another currency (1 USD = 7.10 CNY) |
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from adapters.csv_folder.reader import COLUMNS
from config.settings import Settings
from config.wiring import Services, build_services
from connector import create_app
from connector.demo import CUSTOMERS as DEMO_CUSTOMERS
from connector.demo import demo_invoices, demo_payments
from gating.commands import CreateApiClient
from tests import databases

# 09:30 in Shanghai, 01:30 UTC: the same calendar day in both zones.
NOW = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)
TODAY = date(2026, 11, 22)

THRESHOLDS = {"base_currency": "CNY", "trial_amount": "5000.00"}
# The tests' own audit key (adapters/db/macs.py): in the settings fixture, and in the environment
# of every test, so the CLI and subprocesses a test starts sign and verify with the same key.
AUDIT_KEY = "tests-only-audit-key-0123456789abcdef"
RATES = {"USD": Decimal("7.10"), "EUR": Decimal("7.80")}

# The import's own column lists, plus the optional hold_reason the dataset uses.
HEADERS = {**COLUMNS, "customers": (*COLUMNS["customers"], "hold_reason")}


def day(offset: int) -> str:
    """An ISO date `offset` days from TODAY."""
    return (TODAY + timedelta(days=offset)).isoformat()


GROUPS = [
    ("G-1", "Acme Holdings", "500000.00", "CNY"),
    ("G-2", "Beta Holdings", "1000000.00", "CNY"),
]
# The demo's customers but its big buyer C-700, plus two of the tests' own.
CUSTOMERS = [
    *(row for row in DEMO_CUSTOMERS if row[0] != "C-700"),
    ("C-800", "Race Co.", "10000.00", "CNY", "", "false", ""),
    ("C-900", "Dollar Buyer Inc.", "10000.00", "USD", "", "false", ""),
]
# The demo's invoices and its payment, plus a payment applied in full for C-200.
INVOICES = demo_invoices(TODAY)
PAYMENTS = [*demo_payments(TODAY), ("P-2", "C-200", day(-3), "CNY", "10000.00", "0.00")]
DATASET = {"groups": GROUPS, "customers": CUSTOMERS, "invoices": INVOICES, "payments": PAYMENTS}


class FixedClock:
    """A settable clock: `now` is the instant; calling it gives it in the business time zone."""

    def __init__(self, now: datetime, zone: ZoneInfo) -> None:
        assert now.tzinfo is not None
        self.now = now
        self.zone = zone

    def __call__(self) -> datetime:
        return self.now.astimezone(self.zone)

    def advance(self, *, days: float = 0, hours: float = 0, seconds: float = 0) -> None:
        self.now += timedelta(days=days, hours=hours, seconds=seconds)


def write_csv(folder: Path, name: str, rows: Sequence[Sequence[str]], header: Sequence[str] = ()):
    """Write `name`.csv with the standard header (or `header`) and `rows`; return the path."""
    path = folder / f"{name}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header or HEADERS[name])
        writer.writerows(rows)
    return path


@pytest.fixture
def csv_dir(tmp_path: Path) -> Callable[..., Path]:
    """Make a fresh folder holding the given files: csv_dir(customers=[...], invoices=[...])."""
    made = 0

    def make(**files: Sequence[Sequence[str]]) -> Path:
        nonlocal made
        made += 1
        folder = tmp_path / f"import-{made}"
        folder.mkdir()
        for name, rows in files.items():
            write_csv(folder, name, rows)
        return folder

    return make


@pytest.fixture(autouse=True)
def audit_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITGATE_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.delenv("CREDITGATE_AUDIT_KEY_FILE", raising=False)
    monkeypatch.delenv("CREDITGATE_AUDIT_KEYS_OLD", raising=False)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override per test with @pytest.mark.parametrize("settings_overrides", [{...}])."""
    return {}


def pytest_report_header(config: pytest.Config) -> str:
    return databases.availability()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    outcomes = {}
    for what in ("passed", "failed", "error", "skipped"):
        reports = terminalreporter.stats.get(what, [])
        outcomes[what] = sum(
            1
            for r in reports
            if "[postgresql" in getattr(r, "nodeid", "")
            and getattr(r, "when", "call") != "teardown"
        )
    terminalreporter.write_line(databases.summary(outcomes))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    databases.shutdown()


@pytest.fixture(params=databases.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite" or "postgresql": a test that uses the database runs once on each."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of this test's backend."""
    with databases.fresh_database(backend, tmp_path, migrated=False) as url:
        yield url


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database of this test's backend with the current schema (a template's copy)."""
    with databases.fresh_database(backend, tmp_path, migrated=True) as url:
        yield url


@pytest.fixture
def settings(store_url: str, settings_overrides: Mapping[str, Any]) -> Settings:
    values: dict[str, Any] = {
        "database_url": store_url,
        "timezone": "UTC",
        "thresholds": dict(THRESHOLDS),
        "rates_reference": "CNY",
        "rates": dict(RATES),
        "audit_keys": (AUDIT_KEY,),
        **settings_overrides,
    }
    return Settings(**values)


@pytest.fixture
def clock(settings: Settings) -> FixedClock:
    return FixedClock(NOW, settings.zone)


@pytest.fixture
def services(settings: Settings, clock: FixedClock) -> Iterator[Services]:
    services = build_services(settings, clock=clock)
    services.init_db()
    yield services
    services.engine.dispose()


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "dataset"
    folder.mkdir()
    for name, rows in DATASET.items():
        write_csv(folder, name, rows)
    return folder


@pytest.fixture
def loaded(services: Services, dataset_dir: Path) -> Services:
    """The services with the dataset imported (and nothing skipped)."""
    result = services.import_folder(dataset_dir)
    assert [str(e) for e in result.errors] == []
    return services


@dataclass
class Keys:
    erp: str
    admin: str
    auditor: str
    signed_erp: str
    signing_secret: str
    credit_specialist: str
    credit_manager: str

    def header(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}"}


@pytest.fixture
def keys(services: Services) -> Keys:
    erp = services.writes.create_api_client(CreateApiClient("erp-test", "erp"))
    admin = services.writes.create_api_client(CreateApiClient("admin-test", "admin"))
    auditor = services.writes.create_api_client(CreateApiClient("auditor-test", "auditor"))
    signed = services.writes.create_api_client(CreateApiClient("erp-signed", "erp", signed=True))
    assert signed.client.signing_secret
    specialist = services.writes.create_api_client(
        CreateApiClient("specialist-test", "credit_specialist")
    )
    manager = services.writes.create_api_client(CreateApiClient("manager-test", "credit_manager"))
    return Keys(
        erp=erp.key,
        admin=admin.key,
        auditor=auditor.key,
        signed_erp=signed.key,
        signing_secret=signed.client.signing_secret,
        credit_specialist=specialist.key,
        credit_manager=manager.key,
    )


@pytest.fixture
def client(loaded: Services) -> FlaskClient:
    return create_app(loaded).test_client()


class Api:
    """Thin helpers over the test client; every call returns the Flask response."""

    def __init__(self, client: FlaskClient, keys: Keys) -> None:
        self.client, self.keys = client, keys

    def gate(
        self,
        order_id: str,
        customer_id: str,
        amount: Any,
        currency: str = "CNY",
        *,
        role: str = "erp",
        **extra: Any,
    ) -> Any:
        body = {
            "order_id": order_id,
            "customer_id": customer_id,
            "amount": amount,
            "currency": currency,
            **extra,
        }
        return self.post("/api/v1/gate/orders", json.dumps(body), role=role)

    def post(self, path: str, body: str | bytes, *, role: str = "erp", **headers: str) -> Any:
        return self.client.post(
            path,
            data=body,
            content_type="application/json",
            headers={**self.keys.header(role), **headers},
        )

    def event(self, order_id: str, event: str, *, role: str = "erp") -> Any:
        path = f"/api/v1/gate/orders/{order_id}/events"
        return self.post(path, json.dumps({"event": event}), role=role)

    def credit(self, customer_id: str, *, role: str = "admin") -> Any:
        return self.client.get(
            f"/api/v1/customers/{customer_id}/credit", headers=self.keys.header(role)
        )

    def decision(self, decision_id: str, *, role: str = "auditor") -> Any:
        return self.client.get(f"/api/v1/decisions/{decision_id}", headers=self.keys.header(role))

    def exposure(self, customer_id: str) -> dict[str, str]:
        response = self.credit(customer_id)
        assert response.status_code == 200, response.get_json()
        exposure = response.get_json()["exposure"]
        exposure.pop("components")  # the amounts only; tests of the components read it whole
        return exposure


@pytest.fixture
def api(client: FlaskClient, keys: Keys) -> Api:
    return Api(client, keys)
