"""Request ids, the access log, request and decision metrics, and the health check."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, g, jsonify, request

from connector import answers, metrics
from connector.context import ViewServices
from connector.logs import REQUEST_ID_HEADER, describe, request_id_from
from connector.openapi import documented

access_log = logging.getLogger("creditgate.access")
log = logging.getLogger(__name__)

GATE_ENDPOINT = "gate.gate"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def init_app(app: Flask, services: ViewServices) -> None:
    """Tag every request with an id, log it once when answered, count it, serve /healthz."""
    measures, registry = metrics.new_metrics()
    app.extensions["creditgate.metrics"] = measures
    app.extensions["creditgate.registry"] = registry
    app.register_blueprint(metrics.bp)

    @app.before_request
    def _start() -> None:
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        started = g.get("started")
        elapsed = time.perf_counter() - started if started is not None else 0.0
        response.headers[REQUEST_ID_HEADER] = g.get("request_id") or "-"
        _count(measures, response, elapsed)
        _access(response, elapsed)
        return response

    @app.get("/healthz")
    @documented(
        answer=answers.Health,
        errors={503: ("The database did not answer in time", answers.Health)},
    )
    def healthz() -> Any:
        """Liveness and database state, for load balancers: unauthenticated on purpose

        Runs `SELECT 1`, waiting no longer than the gate timeout. Reveals no address and no error
        text: only the error's class name."""
        try:
            metrics.call_within(services.reads.check_database, services.settings.gate_timeout)
        except Exception as exc:
            log.warning("health check: the database did not answer: %s", describe(exc))
            body = {"status": "unavailable", "database": "unreachable", "error": type(exc).__name__}
            return jsonify(body), 503
        return jsonify({"status": "ok", "database": "ok"})


def _count(measures: metrics.Metrics, response: Response, elapsed: float) -> None:
    endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
    method = request.method if request.method in _METHODS else "other"
    measures.http_requests.labels(method, endpoint, str(response.status_code)).inc()
    if endpoint != GATE_ENDPOINT or response.status_code not in (200, 503):
        return
    measures.decision_seconds.observe(elapsed)
    if response.status_code == 503:
        measures.gate_unavailable.inc()
    elif (decision := g.get("decision")) is not None:
        # Set by the gate for a new decision only: a replay returns one recorded earlier.
        outcome = decision.outcome.value
        measures.decision_outcomes.labels(outcome).inc()
        for code in decision.reason_codes or ("none",):
            measures.decisions.labels(outcome, code).inc()


def _access(response: Response, elapsed: float) -> None:
    client = g.get("client")
    fields: dict[str, Any] = {
        "method": _printable(request.method, 16),
        "path": _printable(request.path, 300),
        "status": response.status_code,
        "duration_ms": round(elapsed * 1000, 2),
    }
    if client is not None:
        fields["client"] = client.name
        fields["role"] = client.role
    access_log.info(
        "%s %s %s %.1fms",
        fields["method"],
        fields["path"],
        fields["status"],
        fields["duration_ms"],
        extra=fields,
    )


def _printable(text: str, limit: int) -> str:
    """No control characters: a path with an encoded newline must not forge a log line."""
    clipped = text[:limit]
    if clipped.isprintable():
        return clipped
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in clipped)
