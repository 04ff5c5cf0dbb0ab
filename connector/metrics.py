"""Prometheus metrics: gate decisions and latency, HTTP requests, and sync runs read from the store.

Under gunicorn each worker is a process with its own counters. When PROMETHEUS_MULTIPROC_DIR
is set (before prometheus_client is imported, which is why it is an environment variable and
not a setting), prometheus_client writes every worker's values to files there and /metrics
adds them up; config/gunicorn_conf.py clears the directory at start and tidies after workers.
Sync-run figures come from the database at scrape time, so they are the same whichever
worker, process or host answers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from connector.auth import requires
from connector.context import ViewReads, services
from connector.logs import describe
from connector.openapi import documented

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

DECISION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
FINISHED_RUN_STATUSES = ("succeeded", "succeeded_with_errors", "failed")

T = TypeVar("T")


def multiprocess_mode() -> bool:
    """Whether prometheus_client chose file-backed values when it was imported."""
    return values.ValueClass is not values.MutexValue


class Metrics:
    """The in-process metrics; `registry` is None in multiprocess mode (files hold the values)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.decisions = Counter(
            "creditgate_decisions_total",
            "Recorded gate decisions, once per reason code (reason=none: approved, no reasons)",
            ["outcome", "reason"],
            registry=registry,
        )
        self.decision_outcomes = Counter(
            "creditgate_decision_outcomes_total",
            "Recorded gate decisions by outcome, once per decision",
            ["outcome"],
            registry=registry,
        )
        self.decision_seconds = Histogram(
            "creditgate_decision_seconds",
            "Time to answer a gate call with a decision (200) or the fail-safe (503)",
            buckets=DECISION_BUCKETS,
            registry=registry,
        )
        self.gate_unavailable = Counter(
            "creditgate_gate_unavailable_total",
            "Gate calls answered 503 with the fail-safe outcome",
            registry=registry,
        )
        self.http_requests = Counter(
            "creditgate_http_requests_total",
            "HTTP requests by method, Flask endpoint and status",
            ["method", "endpoint", "status"],
            registry=registry,
        )


class SchedulerMetrics:
    """The scheduler's own: `creditgate scheduler --metrics-port` serves them, and with
    PROMETHEUS_MULTIPROC_DIR shared with the web workers their /metrics shows them too."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.seals = Counter(
            "creditgate_audit_seals_total",
            "Periodic seals of the audit trail by result (ok, failed)",
            ["result"],
            registry=registry,
        )

    def count_seal(self, result: str) -> None:
        self.seals.labels(result=result).inc()


_process_metrics: Metrics | None = None
_process_lock = threading.Lock()


def new_metrics() -> tuple[Metrics, CollectorRegistry | None]:
    """One set of metrics per app, or the process's only set in multiprocess mode.

    Tests build many apps in one process: each gets its own registry, so nothing is
    registered twice and counts do not leak from one test to the next. In multiprocess mode
    values live in files keyed by metric name and pid, so two sets in a process would
    overwrite each other's numbers: there is exactly one.
    """
    global _process_metrics
    if multiprocess_mode():
        with _process_lock:
            if _process_metrics is None:
                _process_metrics = Metrics(None)
            return _process_metrics, None
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return Metrics(registry), registry


def call_within(fn: Callable[[], T], timeout: float) -> T:
    """Run `fn` in a daemon thread and wait at most `timeout` seconds for it.

    A hung database socket can outlast every driver timeout; this bounds the caller's wait
    and leaves the thread to finish (or fail) on its own.

    :raises TimeoutError: if `fn` has not returned in time; else whatever `fn` raised.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=run, name="creditgate-bounded-call", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


class SyncRunCollector(Collector):
    """Reads sync-run totals and last successful syncs from the store when scraped, waiting at
    most `timeout` seconds for it."""

    def __init__(self, reads: ViewReads, timeout: float) -> None:
        self.reads = reads
        self.timeout = timeout

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def _families(self) -> tuple[CounterMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            CounterMetricFamily(
                "creditgate_sync_runs_total",
                "Finished sync and import runs by source, entity and status (from the store)",
                labels=["source", "entity", "status"],
            ),
            GaugeMetricFamily(
                "creditgate_source_last_success_timestamp_seconds",
                "Unix time of the source's last complete successful sync or import",
                labels=["source"],
            ),
            GaugeMetricFamily(
                "creditgate_metrics_database_up",
                "1 if the store answered this scrape's queries, else 0",
            ),
        )

    def collect(self) -> Iterator[Metric]:
        runs, last, up = self._families()
        try:
            counts, sources = call_within(self.reads.sync_figures, self.timeout)
        except Exception as exc:
            log.warning("metrics: the store did not answer: %s", describe(exc))
            up.add_metric([], 0)
            yield up
            return
        for source, entity, status, count in counts:
            if status in FINISHED_RUN_STATUSES:
                runs.add_metric([source, entity, status], count)
        for row in sources:
            if row["last_success_at"] is not None:
                last.add_metric([row["name"]], row["last_success_at"].timestamp())
        up.add_metric([], 1)
        yield from (runs, last, up)


def scrape_registry(
    app_registry: CollectorRegistry | None, reads: ViewReads, timeout: float
) -> CollectorRegistry:
    """What one scrape exports: this process's (or every worker's) metrics plus the store's."""
    registry = CollectorRegistry()
    if app_registry is None:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(app_registry))
    registry.register(SyncRunCollector(reads, timeout))
    return registry


class _Forward(Collector):
    """Lets a per-scrape registry include the app's long-lived one."""

    def __init__(self, inner: CollectorRegistry) -> None:
        self.inner = inner

    def collect(self) -> Iterable[Metric]:
        return self.inner.collect()


@bp.get("/metrics")
@requires("admin", "auditor", "metrics")
@documented(media="text/plain")
def scrape() -> Response:
    """Prometheus metrics

    The Prometheus text format: gate decisions by outcome and reason, gate latency, fail-safe
    answers, HTTP requests by endpoint, and sync runs and the last successful sync per source
    (read from the database at scrape time). Under gunicorn with PROMETHEUS_MULTIPROC_DIR set,
    counts add up every worker's."""
    application = services()
    registry = scrape_registry(
        current_app.extensions["creditgate.registry"],
        application.reads,
        application.settings.gate_timeout,
    )
    return Response(generate_latest(registry), mimetype=None, content_type=CONTENT_TYPE_LATEST)
