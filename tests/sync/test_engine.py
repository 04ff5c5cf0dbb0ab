"""The sync engine over a CSV-folder source and over a source that fails midway."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from adapters.db.tables import invoices, sync_runs
from gating.commands import CreateApiClient
from gating.records import CustomerData, InvoiceData, RecordError
from gating.sources import Page, Watermark
from sync.engine import sync_source
from sync.scheduler import run_exclusively
from tests.conftest import CUSTOMERS, DATASET, GROUPS, INVOICES, PAYMENTS, day, write_csv


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "exports"
    path.mkdir()
    for name, rows in DATASET.items():
        write_csv(path, name, rows)
    return path


@pytest.fixture
def csv_source(services, folder):
    services.add_source("files", "csv-folder", settings={"path": str(folder)})
    return "files"


def _touch_later(path, seconds=5):
    stamp = path.stat().st_mtime + seconds
    os.utime(path, (stamp, stamp))


def _exposure(services, customer):
    from gating.services import credit_position

    position = credit_position(
        "files", customer, uow=services.read_uow(), clock=services.clock, rates=services.rates
    )
    return position["exposure"]["total"]


def test_a_full_sync_of_a_folder_loads_everything_and_marks_the_source_fresh(services, csv_source):
    [report] = services.sync("files")

    assert report.ok
    assert [(p.entity, p.read, p.skipped) for p in report.entities] == [
        ("groups", len(GROUPS), 0),
        ("customers", len(CUSTOMERS), 0),
        ("invoices", len(INVOICES), 0),
        ("payments", len(PAYMENTS), 0),
    ]
    assert _exposure(services, "C-100") == Decimal("45000.00")
    assert _exposure(services, "C-520") == Decimal("148000.00")
    assert services.sync_store().source("files")["last_success_at"] == services.clock()


def test_an_incremental_sync_reads_only_the_files_that_changed(services, csv_source, folder):
    services.sync("files")
    [quiet] = services.sync("files")
    assert [p.read for p in quiet.entities] == [0, 0, 0, 0]

    paid = [row if row[0] != "I-1001" else (*row[:7], "0.00", "") for row in INVOICES]
    write_csv(folder, "invoices", paid)
    _touch_later(folder / "invoices.csv")
    [again] = services.sync("files")

    assert [p.read for p in again.entities] == [0, 0, len(INVOICES), 0]
    assert _exposure(services, "C-100") == Decimal("-5000.00")  # paid; 5000 unapplied remains


def test_a_bad_record_is_skipped_and_reported_and_the_rest_lands(services, csv_source, folder):
    bad = [*INVOICES, ("I-BAD", "C-100", "INV-BAD", "yesterday", day(5), "CNY", "1", "1", "")]
    ghost = ("I-GHOST", "C-404", "INV-GHOST", day(-1), day(5), "CNY", "10.00", "10.00", "")
    write_csv(folder, "invoices", [*bad, ghost])

    [report] = services.sync("files")

    invoices_part = report.entities[2]
    assert invoices_part.read == len(INVOICES) + 2
    reasons = sorted(f"{e.record_id}: {e.reason}" for e in invoices_part.errors)
    assert reasons[0].startswith("I-BAD: issue_date 'yesterday' is not an ISO date")
    assert reasons[1] == "I-GHOST: customer 'C-404' does not exist"
    assert report.ok  # skipped records do not fail the run
    runs = services.sync_store().runs(source="files")
    invoice_run = next(r for r in runs if r["entity"] == "invoices")
    assert invoice_run["status"] == "succeeded_with_errors"
    assert invoice_run["skipped"] == 2
    assert {e.get("line") for e in invoice_run["errors"]} == {len(INVOICES) + 2, None}


def _d(offset):
    return date.fromisoformat(day(offset))


class FlakySource:
    """A source whose invoices fail after `fail_after` pages; records what each run asked for."""

    kind = "flaky"

    def __init__(self, fail_after: int | None) -> None:
        self.fail_after = fail_after
        self.asked: list[Watermark | None] = []
        start = datetime(2026, 11, 1, tzinfo=UTC)
        self.rows = [
            InvoiceData(
                f"F-{i}",
                "C-100",
                f"FL-{i}",
                _d(-3),
                _d(30),
                "CNY",
                Decimal("100.00"),
                Decimal("100.00"),
            )
            for i in range(10)
        ]
        self.marks = [Watermark(start + timedelta(minutes=i), f"F-{i}") for i in range(10)]

    def groups(self, since):
        return iter(())

    def customers(self, since):
        yield Page([CustomerData("C-100", "Healthy", Decimal("200000.00"), "CNY")], (), None)

    def invoices(self, since: Watermark | None) -> Iterator[Page[Any]]:
        self.asked.append(since)
        first = 0 if since is None else int(since.last_id.split("-")[1]) + 1
        for n, start in enumerate(range(first, 10, 3)):
            if self.fail_after is not None and n >= self.fail_after:
                raise ConnectionError("source went away")
            end = min(start + 3, 10)
            errors = [RecordError("invoice", "F-X", "no party code")] if start == 0 else []
            yield Page(self.rows[start:end], errors, self.marks[end - 1])

    def payments(self, since):
        return iter(())

    def close(self):
        pass


def _sync(services, adapter):
    source = services.sync_store().source("files")
    return sync_source(
        source["id"], "files", adapter, store=services.sync_store(), clock=services.clock
    )


def _loaded(services):
    with services.engine.connect() as conn:
        return sorted(
            conn.execute(
                select(invoices.c.external_id).where(invoices.c.external_id.like("F-%"))
            ).scalars()
        )


def test_a_source_failing_midway_keeps_committed_pages_and_the_next_run_resumes(
    services, csv_source
):
    flaky = FlakySource(fail_after=2)

    first = _sync(services, flaky)

    assert not first.ok
    assert first.entities[-1].failure == "ConnectionError: source went away"
    assert _loaded(services) == [f"F-{i}" for i in range(6)]  # two pages of three landed
    assert services.sync_store().source("files")["last_success_at"] is None
    flaky.fail_after = None
    second = _sync(services, flaky)
    assert second.ok
    assert flaky.asked[-1] == Watermark(flaky.marks[5].changed_at, "F-5")  # resumed after F-5
    assert _loaded(services) == sorted(f"F-{i}" for i in range(10))
    assert _exposure(services, "C-100") == Decimal("1000.00")  # each invoice counted once
    with services.engine.connect() as conn:
        statuses = conn.execute(
            select(sync_runs.c.entity, sync_runs.c.status).order_by(sync_runs.c.id)
        ).all()
    ok = "succeeded"
    assert statuses == [
        ("groups", ok),
        ("customers", ok),
        ("invoices", "failed"),  # payments never started
        ("groups", ok),
        ("customers", ok),
        ("invoices", ok),
        ("payments", ok),
    ]


def test_replaying_a_page_changes_nothing(services, csv_source):
    flaky = FlakySource(fail_after=None)
    _sync(services, flaky)
    before = _exposure(services, "C-100")
    page = Page(flaky.rows[:3], (), flaky.marks[2])
    source_id = services.sync_store().source("files")["id"]

    services.sync_store().apply_page(source_id, "invoices", page, services.clock())

    assert _exposure(services, "C-100") == before


def test_the_gate_sees_stale_data_until_the_source_syncs_again(services, csv_source, clock):
    from connector import create_app

    key = services.writes.create_api_client(CreateApiClient("erp-files", "erp", source="files")).key
    erp = {"Authorization": f"Bearer {key}"}
    services.sync("files")
    client = create_app(services).test_client()
    clock.advance(hours=49)
    body = {
        "order_id": "SO-S1",
        "customer_id": "C-100",
        "amount": "10.00",
        "currency": "CNY",
        "source": "files",
    }
    stale = client.post("/api/v1/gate/orders", json=body, headers=erp).get_json()
    services.sync("files")
    body["order_id"] = "SO-S2"
    fresh = client.post("/api/v1/gate/orders", json=body, headers=erp).get_json()

    assert [r["code"] for r in stale["reasons"]] == ["STALE_DATA"]
    assert fresh["outcome"] == "approved"


def test_two_schedulers_started_together_run_the_nightly_job_once(services):
    ran: list[str] = []
    start = threading.Barrier(2)

    def job():
        ran.append(threading.current_thread().name)
        time.sleep(0.3)

    def scheduler(name):
        start.wait()
        run_exclusively(job, lease=services.sync_store(), holder=name, clock=services.clock)

    threads = [threading.Thread(target=scheduler, args=(f"s{i}",), name=f"s{i}") for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(ran) == 1
    assert run_exclusively(job, lease=services.sync_store(), holder="s3", clock=services.clock)
    assert len(ran) == 2  # released after the first run


def test_a_lease_left_by_a_dead_scheduler_expires(services, clock):
    store = services.sync_store()
    assert store.try_lock("nightly-sync", "dead", clock(), timedelta(hours=6))
    assert not store.try_lock("nightly-sync", "alive", clock(), timedelta(hours=6))
    clock.advance(hours=7)
    assert store.try_lock("nightly-sync", "alive", clock(), timedelta(hours=6))


def test_sync_runs_are_listed_for_admins_only(services, csv_source, keys):
    from connector import create_app

    services.sync("files")
    client = create_app(services).test_client()

    admin = client.get("/api/v1/sync/runs?source=files", headers=keys.header("admin"))
    auditor = client.get("/api/v1/sync/runs", headers=keys.header("auditor"))
    bad = client.get("/api/v1/sync/runs?status=maybe", headers=keys.header("admin"))

    assert admin.status_code == 200
    assert [r["entity"] for r in admin.get_json()["runs"]] == [
        "payments",
        "invoices",
        "customers",
        "groups",
    ]
    assert auditor.status_code == 403
    assert bad.status_code == 422
    assert "status" in bad.get_json()["fields"]


def test_an_invoice_cancelled_at_the_source_leaves_exposure(services, csv_source):
    services.sync("files")
    source_id = services.sync_store().source("files")["id"]
    store, now = services.sync_store(), services.clock()
    invoice = InvoiceData(
        "I-C1", "C-100", "INV-C1", _d(-3), _d(30), "CNY", Decimal("700.00"), Decimal("700.00")
    )
    store.apply_page(source_id, "invoices", Page([invoice]), now)
    assert _exposure(services, "C-100") == Decimal("45700.00")

    cancelled = InvoiceData(**{**invoice.__dict__, "cancelled": True})
    store.apply_page(source_id, "invoices", Page([cancelled]), now)

    assert _exposure(services, "C-100") == Decimal("45000.00")


def test_progress_reports_the_expected_totals_from_the_folder(services, csv_source):
    calls = []

    services.sync("files", progress=lambda *args: calls.append(args))

    starts = {entity: total for entity, read, _, total in calls if read == 0}
    assert starts == {
        "groups": len(GROUPS),
        "customers": len(CUSTOMERS),
        "invoices": len(INVOICES),
        "payments": len(PAYMENTS),
    }
    assert calls[-1] == ("payments", len(PAYMENTS), len(PAYMENTS), len(PAYMENTS))
