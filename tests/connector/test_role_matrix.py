"""Every API endpoint × every role: 401 without a key, 403 for a role it is not for, and past
authorization (any status but 401, 403 and 5xx) for the roles it is for. The table must name
every route the app serves, so a new endpoint cannot ship without deciding who may call it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gating.commands import CreateApiClient

RELEASERS = {"admin", "credit_specialist", "credit_manager"}
READERS = {"admin", "auditor"}
EVERY_API_ROLE = {"erp", "admin", "auditor", "credit_specialist", "credit_manager"}

ALLOWED: dict[tuple[str, str], set[str]] = {
    ("post", "/api/v1/gate/orders"): {"erp"},
    ("post", "/api/v1/gate/orders/{order_id}/events"): {"erp"},
    ("get", "/api/v1/customers/{customer_id}/credit"): READERS | RELEASERS,
    ("get", "/api/v1/decisions/{decision_id}"): READERS | RELEASERS,
    ("get", "/api/v1/sync/runs"): {"admin"},
    ("get", "/api/v1/warnings"): READERS,
    ("get", "/api/v1/outbox"): READERS,
    ("get", "/api/v1/admin/thresholds"): {"admin"},
    ("put", "/api/v1/admin/thresholds"): {"admin"},
    ("get", "/api/v1/admin/thresholds/versions"): {"admin"},
    ("post", "/api/v1/admin/thresholds/simulate"): {"admin"},
    ("get", "/api/v1/admin/thresholds/shadow"): {"admin"},
    ("get", "/api/v1/admin/holds"): RELEASERS,
    ("post", "/api/v1/admin/holds/{order_id}/release"): RELEASERS,
    ("post", "/api/v1/admin/holds/{order_id}/reject"): RELEASERS,
    ("post", "/api/v1/admin/holds/{order_id}/reevaluate"): RELEASERS,
    ("post", "/api/v1/admin/holds/reevaluate"): RELEASERS,
    ("put", "/api/v1/admin/customers/{customer_id}/hold"): RELEASERS,
    ("get", "/api/v1/audit/decisions"): READERS,
    ("get", "/api/v1/audit/events"): READERS,
    ("get", "/api/v1/audit/decisions.{file_format}"): READERS,
    ("get", "/api/v1/audit/events.{file_format}"): READERS,
    ("get", "/api/v1/openapi.json"): EVERY_API_ROLE,
    ("get", "/metrics"): {"admin", "auditor", "metrics"},
}
OPEN = {("get", "/healthz")}  # for load balancers: says only whether the database answers

ROLES = ["erp", "admin", "auditor", "credit_specialist", "credit_manager", "metrics"]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X-1", path)


def _served(app: Any) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith(("web.", "apipage.")):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                out.add((method.lower(), path))
    return out


@pytest.fixture
def keys_by_role(api, services) -> dict[str, dict[str, str]]:
    metrics = services.writes.create_api_client(CreateApiClient("metrics-test", "metrics")).key
    headers = {role: api.keys.header(role) for role in ROLES if role != "metrics"}
    headers["metrics"] = {"Authorization": f"Bearer {metrics}"}
    return headers


def test_the_table_names_every_route_the_app_serves(api):
    assert _served(api.client.application) == set(ALLOWED) | OPEN


@pytest.mark.parametrize(("method", "path"), sorted(ALLOWED))
def test_each_endpoint_answers_each_role_as_the_table_says(api, keys_by_role, method, path):
    url = _concrete(path)
    body = {} if method in ("post", "put") else None

    anonymous = getattr(api.client, method)(url, json=body)
    assert anonymous.status_code == 401, (method, path)
    for role in ROLES:
        response = getattr(api.client, method)(url, json=body, headers=keys_by_role[role])
        status = response.status_code
        response.get_data()  # a streamed export runs to its end within its request
        if role in ALLOWED[(method, path)]:
            assert status not in (401, 403) and status < 500, (method, path, role, status)
        else:
            assert status == 403, (method, path, role, status)
