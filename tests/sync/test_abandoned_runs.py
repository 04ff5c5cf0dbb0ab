"""A sync killed mid-run (SIGKILL, a real process): the run is marked failed by the next run once
its lease has passed, and the gate's STALE_DATA keeps counting from the last run that completed,
so it fires past max_data_age_hours whatever the killed run had loaded."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.db.sync_store import ABANDONED
from connector import create_app
from gating.commands import CreateApiClient
from tests.conftest import DATASET, NOW, write_csv

ROOT = Path(__file__).resolve().parents[2]
MAX_DATA_AGE = timedelta(hours=48)  # the default max_data_age_hours
LEASE = timedelta(minutes=30)  # as documented for a sync run


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "exports"
    path.mkdir()
    for name, rows in DATASET.items():
        write_csv(path, name, rows)
    return path


def _kill_mid_run(services, store_url, source_id, started):
    """Run the hanging sync in a process of its own; SIGKILL it once its first page is in."""
    command = ["-m", "tests.sync.slow_sync", store_url, str(source_id), started.isoformat()]
    process = subprocess.Popen([sys.executable, *command], cwd=ROOT)
    store = services.sync_store()
    deadline = time.monotonic() + 60
    try:
        while True:
            mark = store.watermark(source_id, "groups")
            if mark is not None and mark.last_id == "G-SLOW":
                break
            assert process.poll() is None, "the sync ended by itself"
            assert time.monotonic() < deadline, "the sync stored no page within a minute"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def test_a_killed_sync_is_marked_failed_by_the_next_run_and_the_gate_sees_stale_data(
    services, clock, folder, store_url
):
    services.add_source("files", "csv-folder", settings={"path": str(folder)})
    [complete] = services.sync("files")
    assert complete.ok  # the last complete run: NOW
    store = services.sync_store()
    source_id = store.source("files")["id"]
    key = services.writes.create_api_client(CreateApiClient("erp-files", "erp", source="files")).key
    client = create_app(services).test_client()

    def gate(order_id):
        body = {"order_id": order_id, "customer_id": "C-100", "amount": "1.00", "currency": "CNY"}
        response = client.post(
            "/api/v1/gate/orders", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    started = NOW + timedelta(hours=1)
    _kill_mid_run(services, store_url, source_id, started)
    [killed] = store.runs(source="files", limit=1)
    assert (killed["entity"], killed["status"]) == ("groups", "running")

    # Within its lease the run may still be alive (another host's): nothing marks it.
    assert store.fail_abandoned(started + LEASE - timedelta(minutes=1)) == 0

    # The gate counts the data's age from the last complete run, not from the killed one.
    clock.now = NOW + timedelta(hours=2)
    assert "STALE_DATA" not in [r["code"] for r in gate("AB-1")["reasons"]]
    clock.now = NOW + MAX_DATA_AGE + timedelta(minutes=1)
    stale = gate("AB-2")
    assert stale["outcome"] == "review"
    assert [r["code"] for r in stale["reasons"]] == ["STALE_DATA"]

    # The next run marks the killed one failed, then completes, and the data is fresh again.
    [again] = services.sync("files")
    assert again.ok
    [run] = [r for r in store.runs(source="files", limit=20) if r["id"] == killed["id"]]
    assert run["status"] == "failed"
    assert run["finished_at"] == clock.now
    assert run["errors"] == [{"entity": "groups", "reason": ABANDONED}]
    assert store.runs(source="files", status="running") == []
    assert "STALE_DATA" not in [r["code"] for r in gate("AB-3")["reasons"]]
