"""The scheduler's periodic seal: a failure is an error in the log and a metric, not a silent
loop; success is counted too."""

from __future__ import annotations

import functools
import logging

from prometheus_client import CollectorRegistry

from adapters.db import audit_chain, macs
from adapters.db.engine import make_engine
from connector.metrics import SchedulerMetrics
from sync.scheduler import run_seal
from tests.conftest import AUDIT_KEY, NOW


def seals(registry: CollectorRegistry, result: str) -> float | None:
    return registry.get_sample_value("creditgate_audit_seals_total", {"result": result})


def test_a_failed_seal_is_logged_as_an_error_and_counted(tmp_path, caplog):
    # A database without the schema: sealing fails on every run, as a broken store would.
    engine = make_engine(f"sqlite:///{tmp_path}/empty.db")
    macs.bind(engine, macs.Keyring([AUDIT_KEY]))
    registry = CollectorRegistry()
    metrics = SchedulerMetrics(registry)

    with caplog.at_level(logging.ERROR):
        first = run_seal(functools.partial(audit_chain.seal, engine, NOW), metrics.count_seal)
        second = run_seal(functools.partial(audit_chain.seal, engine, NOW), metrics.count_seal)

    assert first is None and second is None
    assert seals(registry, "failed") == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["sealing the audit trail failed"] * 2
    assert errors[0].exc_info is not None
    engine.dispose()


def test_a_seal_that_works_is_counted_ok(loaded):
    registry = CollectorRegistry()
    metrics = SchedulerMetrics(registry)

    sealed = run_seal(functools.partial(audit_chain.seal, loaded.engine, NOW), metrics.count_seal)

    assert sealed is not None and sealed > 0
    assert seals(registry, "ok") == 1 and not seals(registry, "failed")
