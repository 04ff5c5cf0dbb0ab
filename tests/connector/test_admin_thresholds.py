"""Admins read and change the thresholds over the API; every change is a new version with who,
when and why, refused whole (each bad field named) when it cannot be used, and the next
decision uses it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from adapters.db.tables import audit_events, thresholds_versions

URL = "/api/v1/admin/thresholds"


def put(api: Any, body: Any, role: str = "admin") -> Any:
    return api.client.put(URL, json=body, headers=api.keys.header(role))


def active(api: Any) -> dict[str, Any]:
    response = api.client.get(URL, headers=api.keys.header("admin"))
    assert response.status_code == 200
    return dict(response.get_json())


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", URL), ("put", URL), ("get", URL + "/versions")],
)
@pytest.mark.parametrize(("role", "status"), [("erp", 403), ("auditor", 403), (None, 401)])
def test_only_admins_may_read_or_change_the_thresholds(api, method, path, role, status):
    headers = api.keys.header(role) if role else {}
    body = {"reason": "try", "thresholds": {}} if method == "put" else None

    response = getattr(api.client, method)(path, json=body, headers=headers)

    assert response.status_code == status


def test_the_active_version_is_the_one_made_from_the_configuration(api):
    body = active(api)

    assert body["version"] == 1
    assert body["created_by"] == "config"
    assert body["thresholds"]["overdue_days"] == 30
    assert body["thresholds"]["base_currency"] == "CNY"  # the suite's CREDITGATE_CONFIG
    assert body["created_at"].endswith("+00:00")  # in the business time zone (UTC here)


def test_a_change_is_a_new_version_with_who_and_why_and_the_next_decision_uses_it(
    api, loaded, clock
):
    # C-300 has an invoice 45 days overdue: blocked at 30 days, not at 60.
    assert api.gate("SO-1", "C-300", "100.00").get_json()["outcome"] == "blocked"
    document = {**active(api)["thresholds"], "overdue_days": 60}

    response = put(api, {"reason": "Q4 terms for slow payers", "thresholds": document})

    assert response.status_code == 200
    body = response.get_json()
    assert (body["version"], body["created_by"], body["reason"]) == (
        2,
        "admin-test",
        "Q4 terms for slow payers",
    )
    assert body["thresholds"]["overdue_days"] == 60
    assert body["created_at"] == clock().isoformat()
    decided = api.gate("SO-2", "C-300", "100.00").get_json()
    assert decided["outcome"] == "approved"
    record = api.client.get(
        f"/api/v1/decisions/{decided['decision_id']}", headers=api.keys.header("auditor")
    ).get_json()
    assert record["thresholds_version"] == 2
    with loaded.engine.connect() as conn:
        event = conn.execute(select(audit_events).order_by(audit_events.c.id.desc())).first()
    assert (event.actor, event.action, event.subject) == (
        "admin-test",
        "thresholds_changed",
        "thresholds:2",
    )
    assert event.details == {"reason": "Q4 terms for slow payers"}


def test_amounts_sent_as_numbers_are_kept_exactly_as_written(api):
    document = {**active(api)["thresholds"], "overdue_tolerance": "@1", "review_band": "@2"}
    # JSON numbers as the client wrote them (a float would already have lost "0.10").
    raw = json.dumps({"reason": "ignore small remainders", "thresholds": document})
    raw = raw.replace('"@1"', "0.10").replace('"@2"', "0.050")

    response = api.client.put(
        URL, data=raw, headers={**api.keys.header("admin"), "Content-Type": "application/json"}
    )
    body = response.get_json()

    assert body["thresholds"]["overdue_tolerance"] == "0.10"
    assert body["thresholds"]["review_band"] == "0.050"
    assert active(api)["thresholds"]["overdue_tolerance"] == "0.10"


def test_a_bad_document_is_refused_whole_naming_every_bad_field(api, loaded):
    document = {
        **active(api)["thresholds"],
        "overdue_days": -1,
        "base_currency": "XXXX",
        "surprise": True,
    }
    del document["reservation_days"]

    response = put(api, {"reason": "typo", "thresholds": document})

    assert response.status_code == 422
    fields = response.get_json()["fields"]
    assert set(fields) == {
        "thresholds.overdue_days",
        "thresholds.base_currency",
        "thresholds.surprise",
        "thresholds.reservation_days",
    }
    assert fields["thresholds.reservation_days"] == ["missing"]
    with loaded.engine.connect() as conn:
        assert conn.execute(select(thresholds_versions.c.version)).scalars().all() == [1]
    assert active(api)["version"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"thresholds": {}}, "reason"),
        ({"reason": "   ", "thresholds": {}}, "reason"),
        ({"reason": "x"}, "thresholds"),
        ({"reason": "x", "thresholds": []}, "thresholds"),
        ({"reason": "x", "thresholds": {}, "extra": 1}, "extra"),
    ],
)
def test_the_envelope_is_validated_before_the_document(api, body, field):
    response = put(api, body)

    assert response.status_code == 422
    assert field in response.get_json()["fields"]


@pytest.mark.parametrize("raw", [b"", b"[1, 2]", b"{not json"])
def test_a_body_that_is_not_a_json_object_is_a_400(api, raw):
    response = api.client.put(
        URL, data=raw, headers={**api.keys.header("admin"), "Content-Type": "application/json"}
    )

    assert response.status_code == 400


def test_the_versions_list_newest_first_with_a_limit(api):
    document = active(api)["thresholds"]
    for days in (40, 50):
        put(api, {"reason": f"try {days}", "thresholds": {**document, "overdue_days": days}})

    listed = api.client.get(URL + "/versions", headers=api.keys.header("admin")).get_json()
    two = api.client.get(URL + "/versions?limit=2", headers=api.keys.header("admin"))
    bad = api.client.get(URL + "/versions?limit=0", headers=api.keys.header("admin"))

    assert [(v["version"], v["reason"]) for v in listed["versions"]] == [
        (3, "try 50"),
        (2, "try 40"),
        (1, "thresholds from defaults and CREDITGATE_CONFIG"),
    ]
    assert [v["version"] for v in two.get_json()["versions"]] == [3, 2]
    assert bad.status_code == 422 and "limit" in bad.get_json()["fields"]


def test_a_change_made_from_an_older_version_is_refused_not_silently_undoing_another(api):
    document = active(api)["thresholds"]
    first = put(api, {"reason": "one", "thresholds": {**document, "overdue_days": 40}})
    stale = put(
        api,
        {"reason": "two", "base_version": 1, "thresholds": {**document, "overdue_days": 50}},
    )
    fresh = put(
        api,
        {"reason": "two", "base_version": 2, "thresholds": {**document, "overdue_days": 50}},
    )

    assert first.status_code == 200
    assert stale.status_code == 409 and "changed since version 1" in stale.get_json()["message"]
    assert fresh.status_code == 200 and fresh.get_json()["version"] == 3
