"""Auditors list and export the record: every decision and every audit event, filtered by what
they ask, in pages that do not skip or repeat, and as CSV for a spreadsheet."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

DECISIONS = "/api/v1/audit/decisions"
EVENTS = "/api/v1/audit/events"


def get(api: Any, path: str, role: str = "auditor", **params: Any) -> Any:
    return api.client.get(path, query_string=params, headers=api.keys.header(role))


def rows(response: Any) -> list[dict[str, str]]:
    """The CSV's rows: UTF-8 starting with a byte order mark, so Excel reads it as UTF-8."""
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/csv"
    data = response.get_data()
    assert data.startswith(codecs.BOM_UTF8)
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.fixture
def decided(api, clock) -> dict[str, str]:
    """Five decisions over two days: order id -> outcome."""
    outcomes = {}
    for order_id, customer, amount in [
        ("SO-1", "C-100", "1000.00"),  # approved
        ("SO-2", "C-300", "1000.00"),  # blocked: overdue
        ("SO-3", "C-600", "1000.00"),  # review: no limit
    ]:
        outcomes[order_id] = api.gate(order_id, customer, amount).get_json()["outcome"]
    clock.advance(days=1)
    for order_id, customer, amount in [
        ("SO-4", "C-100", "2000.00"),
        ("SO-5", "C-200", "50000.00"),  # blocked: over the limit
    ]:
        outcomes[order_id] = api.gate(order_id, customer, amount).get_json()["outcome"]
    return outcomes


@pytest.mark.parametrize("path", [DECISIONS, DECISIONS + ".csv", EVENTS, EVENTS + ".csv"])
@pytest.mark.parametrize(
    ("role", "status"), [("auditor", 200), ("admin", 200), ("erp", 403), (None, 401)]
)
def test_auditors_and_admins_may_read_the_record_and_no_one_else(api, path, role, status):
    headers = api.keys.header(role) if role else {}

    assert api.client.get(path, headers=headers).status_code == status


def test_decisions_newest_first_with_what_was_decided_and_under_which_version(api, decided):
    body = get(api, DECISIONS).get_json()

    assert [d["order_id"] for d in body["decisions"]] == ["SO-5", "SO-4", "SO-3", "SO-2", "SO-1"]
    assert {d["order_id"]: d["outcome"] for d in body["decisions"]} == decided
    first = body["decisions"][-1]
    assert first["customer_id"] == "C-100" and first["caller"] == "erp-test"
    assert first["thresholds_version"] == 1 and first["reason_codes"] == []
    assert first["decided_at"] == "2026-11-22T01:30:00+00:00"
    assert body["next"] is None


@pytest.mark.parametrize(
    ("params", "orders"),
    [
        ({"outcome": "blocked"}, ["SO-5", "SO-2"]),
        ({"customer_id": "C-100"}, ["SO-4", "SO-1"]),
        ({"order_id": "SO-3"}, ["SO-3"]),
        ({"reason": "OVERDUE_INVOICES"}, ["SO-2"]),
        ({"reason": "OVERDUE"}, []),  # a whole code, never part of one
        ({"reason": "CREDIT_LIMIT_EXCEEDED", "outcome": "blocked"}, ["SO-5"]),
        ({"from": "2026-11-23"}, ["SO-5", "SO-4"]),
        ({"to": "2026-11-22"}, ["SO-3", "SO-2", "SO-1"]),
        ({"from": "2026-11-22", "to": "2026-11-22", "customer_id": "C-100"}, ["SO-1"]),
        ({"source": "nowhere"}, []),
    ],
)
def test_decisions_are_filtered_by_what_the_auditor_asks(api, decided, params, orders):
    body = get(api, DECISIONS, **params).get_json()

    assert [d["order_id"] for d in body["decisions"]] == orders


@pytest.mark.parametrize("settings_overrides", [{"timezone": "Asia/Shanghai"}])
def test_a_day_is_a_day_in_the_business_time_zone(api, clock):
    clock.now = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)  # 01:00 on the 23rd in Shanghai
    api.gate("SO-LATE", "C-100", "10.00")

    on_22 = get(api, DECISIONS, **{"from": "2026-11-22", "to": "2026-11-22"}).get_json()
    on_23 = get(api, DECISIONS, **{"from": "2026-11-23", "to": "2026-11-23"}).get_json()

    assert on_22["decisions"] == []
    assert [d["order_id"] for d in on_23["decisions"]] == ["SO-LATE"]
    assert on_23["decisions"][0]["decided_at"] == "2026-11-23T01:00:00+08:00"


def test_pages_follow_each_other_without_skipping_or_repeating(api, decided):
    seen, before, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"before": before} if before else {})}
        body = get(api, DECISIONS, **params).get_json()
        seen += [d["order_id"] for d in body["decisions"]]
        pages += 1
        before = body["next"]
        if before is None:
            break
        api.gate(f"SO-NEW-{pages}", "C-100", "1.00")  # newer decisions do not shift the pages

    assert seen == ["SO-5", "SO-4", "SO-3", "SO-2", "SO-1"]
    assert pages == 3


def test_the_csv_export_holds_every_match_oldest_first(api, decided):
    response = get(api, DECISIONS + ".csv", outcome="blocked")
    assert "Content-Length" not in response.headers  # streamed as it is read, not built whole

    exported = rows(response)
    assert response.headers["Content-Disposition"] == 'attachment; filename="decisions.csv"'
    assert [r["order_id"] for r in exported] == ["SO-2", "SO-5"]
    assert exported[0]["reason_codes"] == "OVERDUE_INVOICES"
    assert list(exported[0]) == [
        "decision_id",
        "decided_at",
        "source",
        "order_id",
        "customer_id",
        "amount",
        "currency",
        "outcome",
        "reason_codes",
        "credit_currency",
        "credit_limit",
        "exposure",
        "available",
        "thresholds_version",
        "caller",
        "previous_decision_id",
    ]
    listed = get(api, DECISIONS, outcome="blocked").get_json()["decisions"]
    assert [r["decision_id"] for r in exported] == [d["decision_id"] for d in reversed(listed)]


@pytest.mark.parametrize("path", [DECISIONS + ".csv", "/api/v1/audit/events.csv"])
@pytest.mark.parametrize("name", ["limit", "before"])
def test_an_export_takes_every_match_so_a_page_is_refused_not_ignored(api, decided, path, name):
    """An export streams every matching row: `limit` or `before` would be ignored, so a client
    counting on them is told (the API document lists neither for the exports)."""
    response = get(api, path, **{name: "1"})

    assert response.status_code == 422
    assert set(response.get_json()["fields"]) == {name}


def test_the_csv_export_streams_more_rows_than_one_chunk(api, clock):
    for n in range(1203):
        api.gate(f"SO-{n:04d}", "C-100", "0.01")

    exported = rows(get(api, DECISIONS + ".csv", customer_id="C-100"))

    assert len(exported) == 1203
    assert exported[0]["order_id"] == "SO-0000" and exported[-1]["order_id"] == "SO-1202"


def test_text_a_spreadsheet_would_run_as_a_formula_is_neutralised(api):
    api.gate("=HYPERLINK(1)", "C-100", "1.00")

    (row,) = rows(get(api, DECISIONS + ".csv"))

    assert row["order_id"] == "'=HYPERLINK(1)"
    listed = get(api, DECISIONS).get_json()["decisions"]
    assert listed[0]["order_id"] == "=HYPERLINK(1)"  # the JSON keeps it as it was


def test_events_list_threshold_changes_and_api_keys_with_who_and_what(api):
    document = api.client.get(
        "/api/v1/admin/thresholds", headers=api.keys.header("admin")
    ).get_json()["thresholds"]
    api.client.put(
        "/api/v1/admin/thresholds",
        json={"reason": "longer terms", "thresholds": {**document, "overdue_days": 45}},
        headers=api.keys.header("admin"),
    )

    body = get(api, EVENTS).get_json()
    changed = get(api, EVENTS, action="thresholds_changed").get_json()["events"]
    keys = get(api, EVENTS, action="api_key_created", actor="cli").get_json()["events"]
    exported = rows(get(api, EVENTS + ".csv", action="thresholds_changed"))

    assert body["events"][0]["action"] == "thresholds_changed"
    assert [(e["actor"], e["subject"], e["details"]) for e in changed] == [
        ("admin-test", "thresholds:2", {"reason": "longer terms"})
    ]
    assert {e["subject"] for e in keys} >= {"api_client:erp-test", "api_client:admin-test"}
    assert [(r["actor"], r["details"]) for r in exported] == [
        ("admin-test", '{"reason": "longer terms"}')
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-11-23", "to": "2026-11-22"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"outcome": "maybe"}, "outcome"),
        ({"reason": "overdue"}, "reason"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"before": 0}, "before"),
        ({"colour": "red"}, "colour"),
        ({"customer_id": "C\x00"}, "customer_id"),
    ],
)
@pytest.mark.parametrize("path", [DECISIONS, DECISIONS + ".csv"])
def test_a_bad_filter_is_a_422_naming_it(api, path, params, field):
    response = get(api, path, **params)

    assert response.status_code == 422
    assert field in response.get_json()["fields"]
