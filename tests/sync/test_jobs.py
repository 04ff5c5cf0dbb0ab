"""The jobs over every source (sync/jobs.py), on fakes of their ports: which sources each job
takes, what it builds and closes, and the night's order. tests/sync/test_cli.py runs them on a
real store from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from gating.errors import SourceNotFound
from gating.model import Thresholds
from gating.money import Rates
from gating.sources import Page
from sync.jobs import Jobs, SourceConfigError

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
ROWS = [
    {"id": 1, "name": "default", "kind": "csv", "url": None, "settings": {}},
    {"id": 2, "name": "files", "kind": "csv-folder", "url": None, "settings": {"path": "/x"}},
    {"id": 3, "name": "erp", "kind": "tryton", "url": "http://erp", "settings": {}},
    {"id": 4, "name": "quiet", "kind": "tryton", "url": "http://q", "settings": {"push": False}},
]


class Log(list[str]):
    """What the fakes were asked, in order."""


class FakeAdapter:
    kind = "fake"

    def __init__(self, name: str, log: Log) -> None:
        self.name, self.log, self.closed = name, log, False

    def _pages(self, entity: str) -> Iterator[Page[Any]]:
        self.log.append(f"pull {self.name} {entity}")
        return iter(())

    def groups(self, since: Any) -> Iterator[Page[Any]]:
        return self._pages("groups")

    def customers(self, since: Any) -> Iterator[Page[Any]]:
        return self._pages("customers")

    def invoices(self, since: Any) -> Iterator[Page[Any]]:
        return self._pages("invoices")

    def payments(self, since: Any) -> Iterator[Page[Any]]:
        return self._pages("payments")

    def push(self, change: Any) -> None:
        self.log.append(f"push {self.name}")

    def close(self) -> None:
        self.closed = True


class FakeSources:
    """The sync store's part the jobs use; runs always start and finish."""

    def __init__(self, log: Log, *, broken: bool = False) -> None:
        self.log, self.broken = log, broken

    def source(self, name: str) -> dict[str, Any]:
        for row in ROWS:
            if row["name"] == name:
                return row
        raise SourceNotFound(name)

    def sources(self) -> list[dict[str, Any]]:
        return ROWS

    def watermark(self, source_id: int, entity: Any) -> None:
        return None

    def start_run(self, source_id: int, entity: Any, now: datetime) -> int:
        if self.broken:
            raise RuntimeError("the store is down")
        return 1

    def apply_page(self, *args: Any) -> tuple[int, list[Any]]:
        raise AssertionError("the fake sources send no pages")

    def finish_run(self, *args: Any) -> None:
        pass

    def mark_synced(self, source_id: int, now: datetime) -> None:
        self.log.append(f"synced {source_id}")


class FakeWarnings:
    """No customers, an empty outbox; says which targets each source's changes would go to."""

    def __init__(self, log: Log) -> None:
        self.log = log

    def standings(self, source_id: int, today: Any, tolerance: Any) -> Iterator[Any]:
        self.log.append(f"standings {source_id}")
        return iter(())

    def oldest_overdue(self, *args: Any) -> None:
        return None

    def record(self, changes: Any, checked: Any, targets: Any, *args: Any) -> None:
        self.log.append(f"record for {','.join(targets) or '-'}")

    def due(self, target: str, now: datetime, limit: int = 500) -> list[Any]:
        self.log.append(f"due {target}")
        return []

    def delivered(self, item_id: int, now: datetime) -> None: ...

    def failed(self, item_id: int, error: str) -> None: ...

    def deferred(self, item_id: int, error: str, until: datetime) -> None: ...


class FakeConnections:
    """Kinds as config/sources.py's table has them: the default source pulls nothing, the ERPs
    take pushes unless told not to, and a change goes to its own source when it takes them."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.made: list[FakeAdapter] = []
        self.unset: set[str] = set()  # sources whose secret's variable is unset

    def pulls(self, row: Any) -> bool:
        return bool(row["kind"] != "csv")

    def adapter(self, row: Any) -> FakeAdapter:
        if row["name"] in self.unset:
            raise SourceConfigError(f"source {row['name']!r}: set CREDITGATE_TEST_PASSWORD")
        self.made.append(FakeAdapter(row["name"], self.log))
        return self.made[-1]

    def push_target(self, row: Any) -> FakeAdapter | None:
        return self.adapter(row) if self._takes_pushes(row) else None

    def targets_for(self, row: Any, rows: Any) -> list[str]:
        return [row["name"]] if self._takes_pushes(row) else []

    @staticmethod
    def _takes_pushes(row: Any) -> bool:
        return bool(row["kind"] == "tryton" and row["settings"].get("push", True))


@pytest.fixture
def log() -> Log:
    return Log()


def _jobs(log: Log, *, broken: bool = False) -> tuple[Jobs, FakeConnections, FakeAdapter]:
    connections = FakeConnections(log)
    callback = FakeAdapter("callback", log)

    def thresholds() -> Thresholds:
        log.append("thresholds")
        return Thresholds()

    jobs = Jobs(
        sources=FakeSources(log, broken=broken),
        warnings=FakeWarnings(log),
        connections=connections,
        clock=lambda: NOW,
        rates=Rates("CNY"),
        thresholds=thresholds,
        reevaluate_holds=lambda: log.append("holds"),
        notice_targets=lambda: {"callback": callback},
    )
    return jobs, connections, callback


def test_syncing_every_source_skips_the_default_one_and_closes_each_adapter(log):
    jobs, connections, _ = _jobs(log)

    reports = jobs.sync()

    assert [r.source for r in reports] == ["files", "erp", "quiet"]
    assert all(r.ok for r in reports)
    assert [a.name for a in connections.made] == ["files", "erp", "quiet"]
    assert all(adapter.closed for adapter in connections.made)
    assert [line for line in log if line.startswith("synced")] == [
        "synced 2",
        "synced 3",
        "synced 4",
    ]


def test_syncing_one_source_syncs_only_it_and_a_source_with_nothing_to_pull_is_refused(log):
    jobs, connections, _ = _jobs(log)

    [report] = jobs.sync("files")
    with pytest.raises(SourceConfigError, match="source 'default' has nothing to pull"):
        jobs.sync("default")
    with pytest.raises(SourceNotFound, match="no source named 'nope'"):
        jobs.sync("nope")

    assert report.source == "files"
    assert [a.name for a in connections.made] == ["files"]


def test_an_adapter_is_closed_when_its_sync_raises(log):
    jobs, connections, _ = _jobs(log, broken=True)

    with pytest.raises(RuntimeError, match="the store is down"):
        jobs.sync("erp")

    assert [a.closed for a in connections.made] == [True]


def test_warnings_read_the_thresholds_once_and_queue_for_each_sources_targets(log):
    jobs, _, _ = _jobs(log)

    reports = jobs.compute_warnings()
    one = jobs.compute_warnings("erp")

    assert [r.source for r in reports] == ["default", "files", "erp", "quiet"]
    assert [r.source for r in one] == ["erp"]
    assert log.count("thresholds") == 2
    # default, files, erp and quiet (push = false), then erp alone.
    assert [line.removeprefix("record for ") for line in log if line.startswith("record")] == [
        *("-", "-", "erp", "-"),
        "erp",
    ]


def test_push_builds_the_sources_that_take_pushes_and_the_notice_targets_and_closes_them(log):
    jobs, connections, callback = _jobs(log)

    reports = jobs.push()

    assert [r.target for r in reports] == ["erp", "callback"]  # not "quiet": push = false
    assert [line for line in log if line.startswith("due")] == ["due erp", "due callback"]
    assert [a.name for a in connections.made] == ["erp"]
    assert connections.made[0].closed and callback.closed


def test_a_source_that_cannot_be_set_up_fails_alone_and_the_others_are_synced(log):
    jobs, connections, _ = _jobs(log)
    connections.unset = {"files"}

    reports = jobs.sync()

    assert [(r.source, r.ok, r.error) for r in reports] == [
        ("files", False, "source 'files': set CREDITGATE_TEST_PASSWORD"),
        ("erp", True, None),
        ("quiet", True, None),
    ]
    assert "synced 3" in log and "synced 2" not in log
    with pytest.raises(SourceConfigError, match="CREDITGATE_TEST_PASSWORD"):
        jobs.sync("files")  # asked for by name: refused outright


def test_a_push_target_that_cannot_be_set_up_waits_and_the_others_are_pushed(log):
    jobs, connections, callback = _jobs(log)
    connections.unset = {"erp"}

    reports = jobs.push()

    assert [(r.target, r.error) for r in reports] == [
        ("erp", "source 'erp': set CREDITGATE_TEST_PASSWORD"),
        ("callback", None),
    ]
    assert "due callback" in log and "due erp" not in log and callback.closed


def test_push_to_targets_the_caller_built_leaves_them_open(log):
    jobs, connections, callback = _jobs(log)
    own = FakeAdapter("mine", log)

    [report] = jobs.push({"mine": own})

    assert report.target == "mine"
    assert not own.closed and not callback.closed and connections.made == []


def test_the_night_pulls_then_decides_holds_then_works_out_warnings_then_pushes(log):
    jobs, _, _ = _jobs(log)

    jobs.nightly()

    steps = [line.split()[0] for line in log]
    first = {step: steps.index(step) for step in ("synced", "holds", "thresholds", "due")}
    last_sync = len(steps) - 1 - steps[::-1].index("synced")
    assert last_sync < first["holds"] < first["thresholds"] < first["due"]
    assert first["synced"] < first["holds"]
