"""What auditors and admins read: recorded decisions, credit positions, the OpenAPI document."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, exc, select, update

from adapters.db.tables import audit_events, decisions
from config.thresholds import thresholds_document
from gating.commands import ChangeThresholds

RULE_CODES = [
    "CUSTOMER_ON_HOLD",
    "OVERDUE_INVOICES",
    "CREDIT_LIMIT_EXCEEDED",
    "GROUP_LIMIT_EXCEEDED",
    "UNKNOWN_CUSTOMER",
    "NO_CREDIT_LIMIT",
    "STALE_DATA",
    "APPROVAL_REQUIRED",
]


def test_a_recorded_decision_shows_its_inputs_every_rule_thresholds_version_and_caller(api):
    answer = api.gate("SO-1", "C-200", "12500.00").get_json()

    response = api.decision(answer["decision_id"])

    assert response.status_code == 200
    record = response.get_json()
    assert record["decision_id"] == answer["decision_id"]
    assert (record["source"], record["order_id"], record["customer_id"]) == (
        "default",
        "SO-1",
        "C-200",
    )
    assert record["outcome"] == "blocked"
    assert record["reason_codes"] == ["CREDIT_LIMIT_EXCEEDED"]
    assert record["thresholds_version"] == 1
    assert record["caller"] == "erp-test"
    assert record["previous_decision_id"] is None
    assert record["response"] == answer
    assert record["reserved"] is None
    assert [rule["code"] for rule in record["rules"]] == RULE_CODES
    tripped = {rule["code"]: rule["tripped"] for rule in record["rules"]}
    assert tripped == {code: code == "CREDIT_LIMIT_EXCEEDED" for code in RULE_CODES}
    limit_rule = record["rules"][2]
    assert limit_rule["outcome"] == "blocked"
    assert limit_rule["figures"] == {
        "exposure": "91000.00",
        "order": "12500.00",
        "after": "103500.00",
        "limit": "100000.00",
        "review_band": "0",
        "currency": "CNY",
    }
    inputs = record["inputs"]
    assert inputs["today"] == "2026-11-22"
    assert inputs["order"]["amount"] == "12500.00"
    assert inputs["order"]["currency"] == "CNY"
    assert inputs["thresholds_version"] == 1
    assert inputs["customer"]["credit_limit"] == "100000.00"
    assert inputs["customer"]["exposure_before"] == {
        "open_invoices": "91000.00",
        "unapplied_payments": "0.00",
        "reservations": "0.00",
        "total": "91000.00",
        "components": ["open_invoices", "unapplied_payments", "reservations"],
    }


def test_an_approved_decision_records_what_it_reserved(api):
    answer = api.gate("SO-2", "C-100", "12500.00").get_json()

    record = api.decision(answer["decision_id"]).get_json()

    assert record["reserved"] == {"amount": "12500.00", "currency": "CNY"}
    assert record["outcome"] == "approved"
    assert record["reason_codes"] == []
    assert not any(rule["tripped"] for rule in record["rules"])


def test_a_decision_records_the_thresholds_version_it_used(api, loaded):
    before = api.gate("SO-3", "C-100", "100.00").get_json()
    version = loaded.writes.change_thresholds(
        ChangeThresholds(
            thresholds_document({"base_currency": "CNY", "overdue_days": 60}), "admin", "test"
        )
    )
    after = api.gate("SO-4", "C-300", "100.00").get_json()

    assert version == 2
    assert api.decision(before["decision_id"]).get_json()["thresholds_version"] == 1
    assert api.decision(after["decision_id"]).get_json()["thresholds_version"] == 2
    # With 60 days of grace, C-300's invoices 45 and 31 days overdue no longer block.
    assert after["outcome"] == "approved"


@pytest.mark.parametrize(
    "statement",
    [
        update(decisions).values(outcome="approved"),
        delete(decisions),
        update(audit_events).values(actor="someone else"),
        delete(audit_events),
    ],
    ids=["update decisions", "delete decisions", "update audit", "delete audit"],
)
def test_the_decision_log_and_audit_trail_refuse_update_and_delete(api, loaded, statement):
    answer = api.gate("SO-5", "C-200", "12500.00").get_json()
    api.gate("SO-6", "C-100", "100.00")
    api.event("SO-6", "cancelled")

    with pytest.raises(exc.DBAPIError, match="append-only"), loaded.engine.begin() as conn:
        conn.execute(statement)

    with loaded.engine.connect() as conn:
        assert conn.execute(select(decisions.c.outcome)).scalars().all() == [
            "blocked",
            "approved",
        ]
        assert "cli" in conn.execute(select(audit_events.c.actor)).scalars().all()
    assert api.decision(answer["decision_id"]).get_json()["outcome"] == "blocked"


def test_credit_position_lists_overdue_invoices_and_which_ones_block(api):
    response = api.credit("C-300", role="auditor")

    assert response.status_code == 200
    body = response.get_json()
    assert body["customer"] == {"id": "C-300", "name": "Slow Payer GmbH", "source": "default"}
    assert body["currency"] == "CNY"
    assert body["credit_limit"] == "300000.00"
    assert body["available"] == "267000.00"
    assert body["exposure"] == {
        "open_invoices": "33000.00",
        "unapplied_payments": "0.00",
        "reservations": "0.00",
        "total": "33000.00",
        "components": ["open_invoices", "unapplied_payments", "reservations"],
    }
    assert [(i["number"], i["days_overdue"], i["blocking"]) for i in body["overdue_invoices"]] == [
        ("INV-3001", 45, True),
        ("INV-3002", 31, True),
        ("INV-3003", 30, False),
    ]
    assert body["overdue_invoices"][0]["open_amount"] == "20000.00"
    assert body["overdue_invoices"][0]["due_date"] == "2026-10-08"
    assert body["on_hold"] is False
    assert body["group"] is None
    assert body["thresholds_version"] == 1
    assert body["last_synced_at"] == "2026-11-22T01:30:00+00:00"


def test_credit_position_shows_the_group_with_its_whole_exposure(api):
    body = api.credit("C-510").get_json()

    assert body["group"] == {
        "id": "G-1",
        "name": "Acme Holdings",
        "currency": "CNY",
        "credit_limit": "500000.00",
        "exposure": "448000.00",
        "on_hold": False,
    }


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_every_route_is_in_the_openapi_document_with_each_of_its_methods(api, client):
    response = api.client.get("/api/v1/openapi.json", headers=api.keys.header("erp"))
    assert response.status_code == 200
    paths = response.get_json()["paths"]
    app = client.application

    # The web pages for people are not the API (tests/web covers them), nor is the API page.
    routes = [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint != "static" and not r.endpoint.startswith(("web.", "apipage."))
    ]

    assert len(routes) >= 6
    for rule in routes:
        path = _openapi_path(rule.rule)
        assert path in paths, f"{rule.rule} is not documented"
        methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
        assert methods <= set(paths[path]), (path, methods, set(paths[path]))
    documented = {(p, m) for p, ops in paths.items() for m in ops}
    served = {
        (_openapi_path(r.rule), m.lower())
        for r in routes
        for m in r.methods or ()
        if m not in ("HEAD", "OPTIONS")
    }
    assert documented == served


def test_the_openapi_document_needs_a_key(api):
    assert api.client.get("/api/v1/openapi.json").status_code == 401


def test_healthz_answers_200_without_a_key(api):
    response = api.client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
