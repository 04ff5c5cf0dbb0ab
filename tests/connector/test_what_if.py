"""What-if: a proposed thresholds document replayed on a period's recorded decisions gives the
counts a hand calculation gives."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import TODAY, day

URL = "/api/v1/admin/thresholds/simulate"


def current(api: Any) -> dict[str, Any]:
    response = api.client.get("/api/v1/admin/thresholds", headers=api.keys.header("admin"))
    return dict(response.get_json()["thresholds"])


def simulate(api: Any, role: str = "admin", **body: Any) -> Any:
    return api.client.post(URL, json=body, headers=api.keys.header(role))


@pytest.fixture
def history(api, loaded, csv_dir, clock):
    """Today's decisions, by hand:

    | order | customer | amount | recorded | why |
    | SO-1 | C-300 | 100.00 | blocked | INV-3001 45 days overdue (asked twice: counted once) |
    | SO-2 | C-300 | 200.00 | blocked | the same |
    | SO-3 | C-100 | 100.00 | approved | INV-1009, 10 days overdue, is within 30 days |
    | SO-4 | C-600 | 100.00 | review | no credit limit |
    | SO-5 | C-200 | 20000.00 | blocked | 91,000.00 + 20,000.00 over the 100,000.00 limit |
    and tomorrow's SO-6 (C-100), outside the period.
    """
    late = ("I-1009", "C-100", "INV-1009", day(-40), day(-10), "CNY", "300.00", "300.00", "")
    assert loaded.import_folder(csv_dir(invoices=[late])).errors == []
    for order, customer, amount in [
        ("SO-1", "C-300", "100.00"),
        ("SO-1", "C-300", "100.00"),
        ("SO-2", "C-300", "200.00"),
        ("SO-3", "C-100", "100.00"),
        ("SO-4", "C-600", "100.00"),
        ("SO-5", "C-200", "20000.00"),
    ]:
        api.gate(order, customer, amount)
    clock.advance(days=1)
    api.gate("SO-6", "C-100", "100.00")
    return api


def test_raising_one_customers_overdue_days_frees_its_orders(history):
    document = {**current(history), "overrides": {"customers": {"C-300": {"overdue_days": 60}}}}

    response = simulate(history, thresholds=document, **{"from": TODAY.isoformat()}, to=day(0))

    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert (result["decisions"], result["changed"], result["approximate"]) == (5, 2, 0)
    assert result["transitions"] == {"blocked → approved": 2}
    assert result["reasons_removed"] == {"OVERDUE_INVOICES": 2}
    assert result["reasons_added"] == {}
    assert result["amounts"] == {"blocked → approved": {"CNY": "300.00"}}
    assert sorted(o["order_id"] for o in result["orders"]) == ["SO-1", "SO-2"]
    assert all(o["would_be"] == "approved" for o in result["orders"])


def test_lowering_the_overdue_days_blocks_an_order_the_record_approved(history):
    document = {**current(history), "overdue_days": 5}

    result = simulate(history, thresholds=document, **{"from": day(0)}, to=day(0)).get_json()

    # SO-3: INV-1009 is 10 days overdue, more than 5. C-300's orders stay blocked.
    assert (result["decisions"], result["changed"]) == (5, 1)
    assert result["transitions"] == {"approved → blocked": 1}
    assert result["reasons_added"] == {"OVERDUE_INVOICES": 1}
    (order,) = result["orders"]
    assert (order["order_id"], order["amount"], order["would_have"]) == (
        "SO-3",
        "100.00",
        ["OVERDUE_INVOICES"],
    )


def test_a_review_band_and_a_limitless_review_off_change_two_kinds_of_decision(history):
    # A 15 % band: SO-5's 111,000.00 is within 115,000.00 of the limit: review, not blocked.
    document = {**current(history), "review_band": "0.15"}

    result = simulate(history, thresholds=document, **{"from": day(0)}, to=day(1)).get_json()

    # Tomorrow's SO-6 is in this period: six decisions.
    assert (result["decisions"], result["changed"]) == (6, 1)
    assert result["transitions"] == {"blocked → review": 1}
    assert result["amounts"] == {"blocked → review": {"CNY": "20000.00"}}


def test_the_live_rules_change_nothing(history):
    result = simulate(history, thresholds=current(history), **{"from": day(0)}, to=day(1))

    assert result.get_json()["changed"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "2026-11-01", "to": "2026-11-30"}, "thresholds"),
        ({"thresholds": {}, "to": "2026-11-30"}, "from"),
        ({"thresholds": {}, "from": "2026-11-30", "to": "2026-11-01"}, "to"),
        ({"thresholds": {}, "from": "2024-01-01", "to": "2026-11-30"}, "to"),
    ],
)
def test_a_bad_request_is_a_422_naming_the_field(api, body, field):
    response = simulate(api, **body)

    assert response.status_code == 422
    assert field in response.get_json()["fields"]


def test_a_bad_proposal_is_named_like_a_put(api):
    document = {**current(api), "overdue_days": -1}

    response = simulate(api, thresholds=document, **{"from": day(0)}, to=day(0))

    assert response.status_code == 422
    assert "thresholds.overdue_days" in response.get_json()["fields"]


@pytest.mark.parametrize(
    ("role", "status"), [("erp", 403), ("auditor", 403), ("credit_manager", 403)]
)
def test_only_admins_simulate(api, role, status):
    assert simulate(api, role=role, thresholds={}, **{"from": day(0)}, to=day(0)).status_code == (
        status
    )


# --- shadow mode ----------------------------------------------------------------------------


def put(api: Any, document: dict[str, Any]) -> Any:
    return api.client.put(
        "/api/v1/admin/thresholds",
        json={"reason": "try the Q1 terms beside the live ones", "thresholds": document},
        headers=api.keys.header("admin"),
    )


def test_a_shadow_version_records_what_it_would_decide_without_changing_answers(api, loaded, clock):
    live = current(api)
    proposal = {**live, "overdue_days": 60}
    response = put(api, {**live, "shadow": {"name": "Q1", "until": day(1), "thresholds": proposal}})
    assert response.status_code == 200, response.get_json()

    blocked = api.gate("SO-1", "C-300", "100.00").get_json()  # 45 days overdue
    approved = api.gate("SO-2", "C-100", "100.00").get_json()
    clock.advance(days=2)  # past the shadow's last day
    after = api.gate("SO-3", "C-300", "100.00").get_json()

    assert blocked["outcome"] == "blocked"  # the answer is the live rules'
    snapshot = api.decision(blocked["decision_id"]).get_json()
    assert snapshot["shadow"] == {"name": "Q1", "outcome": "approved", "reason_codes": []}
    assert "shadow" not in api.decision(after["decision_id"]).get_json()
    report = api.client.get(
        f"/api/v1/admin/thresholds/shadow?from={day(0)}&to={day(2)}",
        headers=api.keys.header("admin"),
    ).get_json()
    assert (report["decisions"], report["changed"]) == (2, 1)
    assert report["transitions"] == {"blocked → approved": 1}
    assert [o["order_id"] for o in report["orders"]] == ["SO-1"]
    assert approved["outcome"] == "approved"


@pytest.mark.parametrize(
    ("shadow", "field"),
    [
        ({"name": "Q1", "until": "soon", "thresholds": "LIVE"}, "thresholds.shadow.until"),
        ({"name": " ", "until": "2026-12-31", "thresholds": "LIVE"}, "thresholds.shadow.name"),
        ({"name": "Q1", "until": "2026-12-31"}, "thresholds.shadow"),
        (
            {"name": "Q1", "until": "2026-12-31", "thresholds": {"overdue_days": 60}},
            "thresholds.shadow.thresholds.base_currency",
        ),
    ],
)
def test_a_bad_shadow_is_named(api, shadow, field):
    live = current(api)
    if shadow.get("thresholds") == "LIVE":
        shadow = {**shadow, "thresholds": live}

    response = put(api, {**live, "shadow": shadow})

    assert response.status_code == 422
    assert field in response.get_json()["fields"]
