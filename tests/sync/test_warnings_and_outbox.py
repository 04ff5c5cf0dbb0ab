"""The warning job over the shared dataset, and the outbox delivering its changes exactly once
to targets that fail, recover, or forget to answer."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from gating.commands import ChangeThresholds
from gating.errors import TargetRejected, TargetUnavailable
from gating.push import WarningChange
from sync.push import push_pending
from sync.warnings import compute_warnings

TARGETS = ("erp", "crm")


class FakeTarget:
    """A target that keeps what it was sent and, like the real ones, ignores a change id it
    has already applied; it can be made to fail."""

    kind = "fake"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.applied: dict[str, WarningChange] = {}
        self.down = 0  # fail this many calls as unavailable
        self.retry_after: float | None = None
        self.refuse: set[str] = set()  # customer refs refused for good
        self.lose_answer = False  # apply, then fail as if the answer never arrived
        self.crash: Exception | None = None  # an error no adapter foresaw, once

    def push(self, change: WarningChange) -> None:
        self.calls.append(change.change_id)
        if self.crash is not None:
            crash, self.crash = self.crash, None
            raise crash
        if self.down:
            self.down -= 1
            raise TargetUnavailable("target is down", retry_after=self.retry_after)
        if change.customer_ref in self.refuse:
            raise TargetRejected(f"no customer {change.customer_ref}")
        self.applied.setdefault(change.change_id, change)
        if self.lose_answer:
            self.lose_answer = False
            raise TargetUnavailable("connection dropped after the target applied it")

    def close(self) -> None:
        pass

    def levels(self) -> dict[str, str]:
        return {c.customer_ref: c.level for c in self.applied.values()}


@pytest.fixture
def job(loaded):
    services = loaded
    source_id = services.warning_store().source_id("default")

    def run():
        return compute_warnings(
            source_id,
            "default",
            store=services.warning_store(),
            thresholds=services.reads.active_thresholds(),
            rates=services.rates,
            clock=services.clock,
            targets=TARGETS,
        )

    return run


def levels(services) -> dict[str, str]:
    return {row["customer_id"]: row["level"] for row in services.warning_store().levels()}


def test_every_customer_gets_its_level_with_the_reasons_and_figures(loaded, job):
    report = job()

    assert report.checked == 9 and report.skipped == []
    assert levels(loaded) == {
        "C-100": "none",
        "C-200": "yellow",  # 91,000.00 of 100,000.00 used
        "C-300": "yellow",  # INV-3001 45 days overdue
        "C-400": "red",  # on hold
        "C-510": "none",
        "C-520": "none",
        "C-600": "none",
        "C-800": "none",
        "C-900": "none",
    }
    reasons = {r["customer_id"]: r["reasons"] for r in loaded.warning_store().levels()}
    assert reasons["C-300"] == ["oldest overdue invoice INV-3001 is 45 days overdue (more than 30)"]
    assert reasons["C-200"] == [
        "exposure 91,000.00 CNY of a limit of 100,000.00: at least 90 % used"
    ]
    assert reasons["C-400"] == ["on hold: delivery dispute"]
    # Only changes are queued: three customers left "none", one row per target each.
    pending = loaded.warning_store().outbox(status="pending")
    assert Counter(r["target"] for r in pending) == {"erp": 3, "crm": 3}


def test_unchanged_levels_queue_nothing_and_a_change_over_time_queues_one_push(loaded, job, clock):
    job()
    first = len(loaded.warning_store().outbox())

    again = job()
    assert again.changed == {} and len(loaded.warning_store().outbox()) == first

    clock.advance(days=16)  # INV-3001: 61 days overdue, orange; C-100's invoices fall due...
    later = job()
    assert later.changed.get("orange") == 1
    assert levels(loaded)["C-300"] == "orange"
    history = [
        r for r in loaded.warning_store().outbox(target="erp") if r["customer_ref"] == "C-300"
    ]
    assert [r["payload"]["level"] for r in reversed(history)] == ["yellow", "orange"]
    assert history[0]["payload"]["step"] == "lawyer's letter"


def test_a_target_down_for_three_runs_then_back_gets_each_change_exactly_once(loaded, job, clock):
    job()
    erp, crm = FakeTarget(), FakeTarget()
    erp.down = 3
    targets = {"erp": erp, "crm": crm}
    store = loaded.warning_store()

    for _ in range(3):
        reports = push_pending(targets, store=store, clock=clock)
        clock.advance(hours=2)  # past any back-off
    assert reports[0].delivered == 0 and reports[0].waiting == 3 and reports[0].error
    assert len(crm.applied) == 3 and len(crm.calls) == 3  # the other target was not held up
    assert erp.applied == {}

    reports = push_pending(targets, store=store, clock=clock)
    again = push_pending(targets, store=store, clock=clock)

    assert reports[0].delivered == 3 and again[0].delivered == 0
    assert erp.levels() == crm.levels() == {"C-200": "yellow", "C-300": "yellow", "C-400": "red"}
    assert len(erp.calls) == 3 + 3  # one failed call per run, then each change once
    assert store.outbox(status="pending") == []
    rows = store.outbox(target="erp")
    assert {r["status"] for r in rows} == {"delivered"}
    assert max(r["attempts"] for r in rows) == 4  # the first row: three failures, one success


def test_a_target_that_asks_to_wait_is_left_alone_until_then(loaded, job, clock):
    job()
    erp = FakeTarget()
    erp.down, erp.retry_after = 1, 600
    store = loaded.warning_store()

    push_pending({"erp": erp}, store=store, clock=clock)
    clock.advance(seconds=599)
    early = push_pending({"erp": erp}, store=store, clock=clock)
    clock.advance(seconds=2)
    late = push_pending({"erp": erp}, store=store, clock=clock)

    assert (early[0].delivered, late[0].delivered) == (0, 3)
    assert len(erp.calls) == 1 + 3  # nothing was sent during the 600 s


@pytest.mark.parametrize("asked", [10**12, float("inf")])
def test_a_target_that_asks_to_wait_for_ever_is_asked_again_within_the_hour(
    loaded, job, clock, asked
):
    job()
    erp, crm = FakeTarget(), FakeTarget()
    erp.down, erp.retry_after = 1, asked
    store = loaded.warning_store()

    first = push_pending({"erp": erp, "crm": crm}, store=store, clock=clock)
    clock.advance(hours=1, seconds=1)
    later = push_pending({"erp": erp, "crm": crm}, store=store, clock=clock)

    assert first[0].waiting == 3 and first[1].delivered == 3  # the other target went on
    assert later[0].delivered == 3


def test_an_error_no_adapter_foresaw_defers_that_target_and_the_others_go_on(loaded, job, clock):
    job()
    erp, crm = FakeTarget(), FakeTarget()
    erp.crash = OverflowError("date value out of range")
    store = loaded.warning_store()

    first = push_pending({"erp": erp, "crm": crm}, store=store, clock=clock)
    clock.advance(hours=1)
    later = push_pending({"erp": erp, "crm": crm}, store=store, clock=clock)

    assert (first[0].delivered, first[0].waiting) == (0, 3)
    assert "OverflowError" in (first[0].error or "")
    assert first[1].delivered == 3
    assert later[0].delivered == 3 and erp.levels() == crm.levels()
    assert store.outbox(status="failed") == []  # waiting, never refused for good


def test_an_answer_lost_after_the_target_applied_the_change_does_not_duplicate_it(
    loaded, job, clock
):
    job()
    erp = FakeTarget()
    erp.lose_answer = True
    store = loaded.warning_store()

    push_pending({"erp": erp}, store=store, clock=clock)
    clock.advance(hours=1)
    push_pending({"erp": erp}, store=store, clock=clock)

    assert len(erp.applied) == 3  # the first change was sent twice and applied once
    assert Counter(erp.calls).most_common(1)[0][1] == 2
    assert store.outbox(status="pending", target="erp") == []


def test_a_change_the_target_refuses_is_failed_and_the_others_go_through(loaded, job, clock):
    job()
    erp = FakeTarget()
    erp.refuse = {"C-300"}
    store = loaded.warning_store()

    report = push_pending({"erp": erp}, store=store, clock=clock)[0]

    assert report.delivered == 2 and report.failed == ["C-300: no customer C-300"]
    failed = store.outbox(status="failed")
    assert [(r["target"], r["customer_ref"], r["last_error"]) for r in failed] == [
        ("erp", "C-300", "no customer C-300")
    ]
    clock.advance(days=1)
    assert push_pending({"erp": erp}, store=store, clock=clock)[0].delivered == 0  # not retried
    # Once the cause is fixed at the target, an admin queues the refused change again.
    erp.refuse = set()
    assert store.requeue_failed(clock(), target="erp") == 1
    assert push_pending({"erp": erp}, store=store, clock=clock)[0].delivered == 1
    assert erp.levels()["C-300"] == "yellow"


def test_the_reasons_use_the_business_days_of_the_injected_clock(loaded, job, clock):
    clock.advance(days=-14)  # INV-3001 31 days overdue, INV-3002 17: still yellow
    job()
    assert levels(loaded)["C-300"] == "yellow"
    clock.now -= timedelta(days=1)  # 30 days: only notice
    job()
    assert levels(loaded)["C-300"] == "notice"


# ---- the read endpoints ---------------------------------------------------------------------


def test_warnings_and_the_outbox_are_listed_for_admins_and_auditors_only(
    api, keys, job, loaded, clock
):
    job()
    erp = FakeTarget()
    erp.refuse = {"C-400"}
    push_pending({"erp": erp}, store=loaded.warning_store(), clock=clock)
    get = api.client.get

    red = get("/api/v1/warnings?level=red", headers=keys.header("auditor"))
    every = get("/api/v1/warnings", headers=keys.header("admin")).get_json()["warnings"]
    failed = get("/api/v1/outbox?status=failed", headers=keys.header("admin"))
    pending = get("/api/v1/outbox?status=pending&target=crm", headers=keys.header("auditor"))

    assert red.status_code == 200
    assert [(w["customer_id"], w["level"], w["reasons"]) for w in red.get_json()["warnings"]] == [
        ("C-400", "red", ["on hold: delivery dispute"])
    ]
    assert len(every) == 9
    assert [(r["customer_ref"], r["last_error"]) for r in failed.get_json()["outbox"]] == [
        ("C-400", "no customer C-400")
    ]
    assert {r["customer_ref"] for r in pending.get_json()["outbox"]} == {"C-200", "C-300", "C-400"}
    assert get("/api/v1/warnings", headers=keys.header("erp")).status_code == 403
    assert get("/api/v1/outbox").status_code == 401
    bad = get("/api/v1/outbox?status=lost", headers=keys.header("admin"))
    assert bad.status_code == 422 and set(bad.get_json()["fields"]) == {"status"}
    bad = get("/api/v1/warnings?level=purple&x=1", headers=keys.header("admin"))
    assert bad.status_code == 422 and set(bad.get_json()["fields"]) == {"level", "x"}


def test_a_groups_and_a_customers_own_settings_set_their_levels(loaded, job):
    document = loaded.reads.thresholds_versions(1)[0]["document"]
    document["overrides"] = {
        # G-1's customers turn yellow from half their limit used (C-510: 75 %, C-520: 49 %).
        "groups": {"G-1": {"warnings": {"yellow_utilization": "0.50"}}},
        # C-300's overdue invoices are 20,000.00, 8,000.00 and 5,000.00: all within its tolerance.
        "customers": {"C-300": {"overdue_tolerance": "25000.00"}},
    }
    loaded.writes.change_thresholds(ChangeThresholds(document, "admin", "per-party ladder"))

    report = job()

    assert report.skipped == []
    found = levels(loaded)
    assert (found["C-510"], found["C-520"]) == ("yellow", "none")
    assert found["C-300"] == "none"
    assert (found["C-200"], found["C-400"]) == ("yellow", "red")  # no override: as before
