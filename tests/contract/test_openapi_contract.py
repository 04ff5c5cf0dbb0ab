"""The API against its OpenAPI document: every operation, with every role's key and with none.

schemathesis (4.x, its Python API inside pytest) reads the document connector/openapi.py generates,
generates requests from it, schema-valid ones and invalid ones, and sends them to the app on a
real SQLite database with the test dataset loaded (tests/conftest.py's `loaded`) and a few
orders gated. Each response must pass the checks below; a failure names the operation and the
role in the test id (`test_generated_requests[POST /api/v1/gate/orders][erp]`) and prints a curl
line that reproduces it (the key shows as [Filtered]: use one of that role).

- no 5xx, ever, for anything a client sends (not_a_server_error);
- the status code is one the operation documents, 401 and 403 included (status_code_conformance);
- the content type, headers and body match what the document says for that status;
- invalid input is refused with a 4xx (negative_data_rejection); a method the path does not
  have gets 405 with an Allow header; a documented key is not ignored (ignored_auth); ...

Not checked: that every schema-valid request is accepted (positive_data_acceptance). The app
refuses with a documented 422, naming the field, what a JSON schema cannot say: a source that
does not exist, `to` before `from`, a currency that is not ISO 4217 or an amount finer than its
minor unit, and the thresholds document's rules across fields (gating.policy).

Besides what the document describes, half the generated cases are made hostile
(tests/contract/hostile.py): a lone surrogate in a string or a key, a key given twice, a number
with an exponent, or a non-ASCII header value; each must be refused with a 4xx, never a 5xx.

Generated ids rarely name a record, so `test_real_records` also sends hand-made requests on the
records the database holds (customers, decisions, held orders) and checks their answers the same
way.

Every test item gets a database of its own: one operation's side effects (a thresholds change,
a customer put on hold, a release) never reach another's. Generation is deterministic (a fixed
seed, derandomized), so a run repeats exactly.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from schemathesis.config import SchemathesisConfig

from config.settings import Settings
from config.wiring import Services, build_services
from connector import create_app, openapi
from gating.commands import CreateApiClient
from tests.conftest import Keys, day
from tests.contract import hostile

# The audit exports, in the format their address's extension names.
DECISIONS_EXPORT = "/api/v1/audit/decisions.{file_format}"
EVENTS_EXPORT = "/api/v1/audit/events.{file_format}"
CSV = {"file_format": "csv"}

# Every API role, and a request without a key at all.
ROLES = ("erp", "admin", "auditor", "credit_specialist", "credit_manager", "metrics", "none")

# A deeper or different run: CREDITGATE_CONTRACT_EXAMPLES=200 CREDITGATE_CONTRACT_SEED=7 pytest ...
CONFIG: dict[str, Any] = {
    "seed": int(os.environ.get("CREDITGATE_CONTRACT_SEED", "20261122")),
    # Database calls make some examples slow, and the thresholds document is a big input.
    "suppress-health-check": ["all"],
    "generation": {
        "mode": "all",  # schema-valid requests and invalid ones
        # per operation and role, on top of the examples and coverage phases' cases
        "max-examples": int(os.environ.get("CREDITGATE_CONTRACT_EXAMPLES", "25")),
        "deterministic": True,
        "database": "none",  # no .hypothesis/ folder in the work tree
        # The key is the test's, per role: generated Authorization headers would replace it.
        # ignored_auth and the "none" role check requests without one.
        "with-security-parameters": False,
    },
    "checks": {"positive_data_acceptance": {"enabled": False}},  # why: the module's docstring
}


class CurrentApp:
    """The WSGI app schemathesis sends to: the current test's, on that test's own database."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None, "no app: use the `app` fixture"
        return self.app(environ, start_response)


current = CurrentApp()
# The document the app serves, generated from its routes; the services are never connected.
_routes_only = create_app(build_services(Settings(database_url="sqlite://")))
schema = schemathesis.openapi.from_dict(
    openapi.document(_routes_only), config=SchemathesisConfig.from_dict(CONFIG)
)
schema.app = current
hostile.register(schema)  # lone surrogates, keys twice, exponents, non-ASCII headers

# Orders gated before each test, so lists, holds and decisions have records to show.
ORDERS = {
    "SO-OK": ("C-100", "1000.00", "CNY"),  # approved, reserved
    "SO-OVERDUE": ("C-300", "1000.00", "CNY"),  # blocked: INV-3001 45 days overdue
    "SO-OVER": ("C-200", "20000.00", "CNY"),  # over the limit: 9,000.00 left
    "SO-HOLD": ("C-400", "500.00", "CNY"),  # customer on hold
    "SO-GROUP": ("C-510", "150000.00", "CNY"),  # past the group's limit
    "SO-USD": ("C-900", "100.00", "USD"),  # credit in another currency
    "SO-NOLIMIT": ("C-600", "100.00", "CNY"),  # no credit limit
    "SO-UNKNOWN": ("C-999", "100.00", "CNY"),  # no such customer
}


def bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


@contextlib.contextmanager
def as_role(role: str) -> Iterator[None]:
    """Name the role in a failure: the curl line schemathesis prints hides the key."""
    try:
        yield
    except BaseException as exc:  # FailureGroup is a BaseExceptionGroup
        if role == "none":
            exc.add_note("sent without an API key")
        else:
            exc.add_note(f"sent with the key of a {role!r} API client ([Filtered] in curl)")
        raise


@pytest.fixture
def app(loaded: Services) -> Iterator[Flask]:
    app = create_app(loaded)
    current.app = app
    yield app
    current.app = None


@pytest.fixture
def gated(app: Flask, keys: Keys, loaded: Services) -> dict[str, dict[str, Any]]:
    """ORDERS gated by the ERP: each order's decision, by order id; and the warning levels."""
    client: FlaskClient = app.test_client()
    decisions = {}
    for order_id, (customer_id, amount, currency) in ORDERS.items():
        body = {
            "order_id": order_id,
            "customer_id": customer_id,
            "amount": amount,
            "currency": currency,
        }
        response = client.post("/api/v1/gate/orders", json=body, headers=bearer(keys.erp))
        assert response.status_code == 200, response.get_json()
        decisions[order_id] = response.get_json()
    loaded.compute_warnings()
    return decisions


@pytest.fixture
def role_key(loaded: Services, keys: Keys, role: str) -> str | None:
    """The API key of `role` ("none": no key sent)."""
    if role == "none":
        return None
    if role == "metrics":
        return str(loaded.writes.create_api_client(CreateApiClient("metrics-test", "metrics")).key)
    return str(getattr(keys, role))


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
def test_generated_requests(
    case: Any, role: str, role_key: str | None, gated: dict[str, Any]
) -> None:
    with as_role(role):
        case.call_and_validate(headers=bearer(role_key))


def _send(
    role_key: str | None,
    method: str,
    path: str,
    *,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, Any] | None = None,
    body: Any = None,
) -> Any:
    """One hand-made request, checked like a generated one."""
    operation = schema[path][method]
    parts: dict[str, Any] = {"path_parameters": path_parameters or {}, "query": query or {}}
    if body is not None:
        parts["body"] = body
        parts["media_type"] = "application/json"
    case = operation.Case(**parts)
    return case.call_and_validate(headers=bearer(role_key))


@pytest.mark.parametrize("role", ROLES)
def test_real_records(
    role: str, role_key: str | None, loaded: Services, gated: dict[str, dict[str, Any]]
) -> None:
    def send(method: str, path: str, **parts: Any) -> Any:
        with as_role(role):
            return _send(role_key, method, path, **parts)

    credit = "/api/v1/customers/{customer_id}/credit"
    for customer in ("C-100", "C-200", "C-300", "C-400", "C-510", "C-600", "C-900", "C-999"):
        send("GET", credit, path_parameters={"customer_id": customer})
    for decision in gated.values():
        if decision["decision_id"]:
            path_parameters = {"decision_id": decision["decision_id"]}
            send("GET", "/api/v1/decisions/{decision_id}", path_parameters=path_parameters)

    def lists() -> None:
        for path in (
            "/api/v1/admin/holds",
            "/api/v1/audit/decisions",
            "/api/v1/audit/events",
            "/api/v1/sync/runs",
            "/api/v1/warnings",
            "/api/v1/outbox",
            "/api/v1/admin/thresholds",
            "/api/v1/admin/thresholds/versions",
            "/api/v1/admin/thresholds/shadow",
            "/api/v1/openapi.json",
            "/healthz",
            "/metrics",
        ):
            send("GET", path)
        for export in (DECISIONS_EXPORT, EVENTS_EXPORT):
            for file_format in ("csv", "xlsx"):
                send("GET", export, path_parameters={"file_format": file_format})
        send("GET", "/api/v1/admin/holds", query={"outcome": "blocked", "limit": 1})
        send("GET", "/api/v1/audit/decisions", query={"customer_id": "C-300", "limit": 1})
        send("GET", DECISIONS_EXPORT, path_parameters=CSV, query={"from": day(-1), "to": day(0)})

    lists()

    (active,) = loaded.reads.thresholds_versions(1)
    thresholds = active["document"]
    period = {"from": day(-30), "to": day(0)}
    send("POST", "/api/v1/admin/thresholds/simulate", body={"thresholds": thresholds, **period})
    send("PUT", "/api/v1/admin/thresholds", body={"reason": "unchanged", "thresholds": thresholds})

    hold = "/api/v1/admin/holds/{order_id}"
    send("POST", f"{hold}/reevaluate", path_parameters={"order_id": "SO-OVER"}, body={})
    release = {
        "reason": "paid by wire",
        "cap": "1500.00",
        "expires_on": day(5),
        "decision_id": gated["SO-OVERDUE"]["decision_id"],
    }
    send("POST", f"{hold}/release", path_parameters={"order_id": "SO-OVERDUE"}, body=release)
    reject = {"reason": "dispute goes on"}
    send("POST", f"{hold}/reject", path_parameters={"order_id": "SO-HOLD"}, body=reject)
    send("POST", "/api/v1/admin/holds/reevaluate", body={})
    customer_hold = "/api/v1/admin/customers/{customer_id}/hold"
    on_hold = {"on_hold": True, "reason": "audit"}
    send("PUT", customer_hold, path_parameters={"customer_id": "C-100"}, body=on_hold)

    events = "/api/v1/gate/orders/{order_id}/events"
    cancel = {"event": "cancelled"}
    send("POST", events, path_parameters={"order_id": "SO-OK"}, body=cancel)
    order = {"order_id": "SO-NEW", "customer_id": "C-100", "amount": 10, "currency": "CNY"}
    send("POST", "/api/v1/gate/orders", body=order)
    lists()  # now with the versions, releases, notices and events the requests above made

    # The ends of the calendar, and numbers past what an amount or a row id can be: a 4xx or an
    # answer, never a 500 (each was one).
    for path in ("/api/v1/audit/events", "/api/v1/admin/holds"):
        send("GET", path, query={"before": 2**63})
    send("GET", DECISIONS_EXPORT, path_parameters=CSV, query={"before": 2**63})
    for path, parameters in (
        ("/api/v1/audit/decisions", {}),
        (EVENTS_EXPORT, CSV),
        (EVENTS_EXPORT, {"file_format": "xlsx"}),
        ("/api/v1/admin/thresholds/shadow", {}),
    ):
        for query in (
            {"from": "0001-01-02", "to": "9999-12-30"},
            {"from": "0001-01-01"},
            {"to": "9999-12-31"},
        ):
            send("GET", path, path_parameters=parameters, query=query)
    last_year = {"from": "9999-01-01", "to": "9999-12-30"}
    send("POST", "/api/v1/admin/thresholds/simulate", body={"thresholds": thresholds, **last_year})
    for terms in ({"cap": "1e400"}, {"cap": "20000.0001"}, {"expires_on": "9999-12-31"}):
        body = {"reason": "edge", **terms}
        send("POST", f"{hold}/release", path_parameters={"order_id": "SO-OVER"}, body=body)
    body = {"reason": "edge", "expires_on": "9999-12-30"}
    send("POST", f"{hold}/release", path_parameters={"order_id": "SO-OVER"}, body=body)
    too_big = {**order, "order_id": "SO-BIG", "source": "x" * 70_000}
    send("POST", "/api/v1/gate/orders", body=too_big)


def _documented(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_the_document_served_is_the_one_tested_and_covers_every_endpoint(
    app: Flask, keys: Keys
) -> None:
    response = app.test_client().get("/api/v1/openapi.json", headers=bearer(keys.erp))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == openapi.document(_routes_only)

    paths = openapi.document(_routes_only)["paths"]
    missing = []
    for rule in app.url_map.iter_rules():
        path = _documented(rule.rule)
        if not (path.startswith("/api/") or path in ("/healthz", "/metrics")):
            continue  # the web pages and static files are not the API
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method.lower() not in paths.get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("overdue_days", 1_000_000),
        ("reservation_days", 10_000_000),
        ("max_data_age_hours", 10**20),
        ("overdue_count_cap", 10**20),
        ("overdue_tolerance", "1e400"),
    ],
)
def test_a_thresholds_document_the_api_takes_never_breaks_the_gate(
    app: Flask, keys: Keys, loaded: Services, setting: str, value: Any
) -> None:
    client = app.test_client()
    (active,) = loaded.reads.thresholds_versions(1)
    change = {"reason": "contract", "thresholds": {**active["document"], setting: value}}
    response = client.put("/api/v1/admin/thresholds", json=change, headers=bearer(keys.admin))
    if response.status_code == 422:
        assert f"thresholds.{setting}" in response.get_json()["fields"]
        return
    assert response.status_code == 200, response.get_json()

    order = {"order_id": "SO-1", "customer_id": "C-300", "amount": "10.00", "currency": "CNY"}
    gate = client.post("/api/v1/gate/orders", json=order, headers=bearer(keys.erp))
    credit = client.get("/api/v1/customers/C-300/credit", headers=bearer(keys.admin))
    assert gate.status_code < 500, gate.json
    assert credit.status_code < 500, credit.json
