"""Per-group and per-customer overrides, the exposure components and the fail-safe outcome,
set over the thresholds API: the next decision uses them and records which ones it used."""

from __future__ import annotations

from typing import Any

URL = "/api/v1/admin/thresholds"


def change(api: Any, reason: str = "test", **settings: Any) -> dict[str, Any]:
    current = api.client.get(URL, headers=api.keys.header("admin")).get_json()["thresholds"]
    response = api.client.put(
        URL,
        json={"reason": reason, "thresholds": {**current, **settings}},
        headers=api.keys.header("admin"),
    )
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def snapshot(api: Any, decision_id: str) -> dict[str, Any]:
    response = api.client.get(
        f"/api/v1/decisions/{decision_id}", headers=api.keys.header("auditor")
    )
    return dict(response.get_json())


def test_a_customer_override_applies_to_that_customer_only_and_is_recorded(api, loaded):
    # C-300's oldest invoice is 45 days overdue: blocked at 30 days, not at the override's 60.
    change(api, overrides={"customers": {"C-300": {"overdue_days": 60}}})

    own = api.gate("SO-1", "C-300", "100.00").get_json()
    position = api.credit("C-300").get_json()

    assert own["outcome"] == "approved"
    inputs = snapshot(api, own["decision_id"])["inputs"]
    assert inputs["thresholds_version"] == 2
    assert inputs["thresholds_overrides"] == {"customer:C-300": {"overdue_days": 60}}
    assert position["overdue_days"] == 60
    assert position["thresholds_overrides"] == ["customer:C-300"]
    blocking = {i["number"]: i["blocking"] for i in position["overdue_invoices"]}
    assert blocking["INV-3001"] is False and not any(blocking.values())
    other = snapshot(api, api.gate("SO-2", "C-100", "100.00").get_json()["decision_id"])
    assert "thresholds_overrides" not in other["inputs"]


def test_a_group_override_applies_to_its_customers_and_a_customers_own_wins(api, loaded):
    # G-1's customers need a credit manager above 10,000.00 CNY; C-520 is exempted by its own.
    change(
        api,
        overrides={
            "groups": {"G-1": {"approval_tiers": [{"amount": "10000", "role": "credit_manager"}]}},
            "customers": {"C-520": {"approval_tiers": []}},
        },
    )

    in_group = api.gate("SO-1", "C-510", "20000.00").get_json()
    exempted = api.gate("SO-2", "C-520", "20000.00").get_json()
    outside = api.gate("SO-3", "C-100", "20000.00").get_json()

    assert (in_group["outcome"], [r["code"] for r in in_group["reasons"]]) == (
        "review",
        ["APPROVAL_REQUIRED"],
    )
    assert "credit_manager" in in_group["reasons"][0]["message"]
    assert snapshot(api, in_group["decision_id"])["inputs"]["thresholds_overrides"] == {
        "group:G-1": {"approval_tiers": [{"amount": "10000", "role": "credit_manager"}]}
    }
    assert exempted["outcome"] == "approved"
    assert snapshot(api, exempted["decision_id"])["inputs"]["thresholds_overrides"] == {
        "group:G-1": {"approval_tiers": [{"amount": "10000", "role": "credit_manager"}]},
        "customer:C-520": {"approval_tiers": []},
    }
    assert outside["outcome"] == "approved"


def test_leaving_reservations_out_of_exposure_lets_approved_orders_stop_counting(api, loaded):
    # C-800 has 10,000.00 CNY of credit and nothing open.
    assert api.gate("SO-1", "C-800", "6000.00").get_json()["outcome"] == "approved"
    assert api.gate("SO-2", "C-800", "6000.00").get_json()["outcome"] == "blocked"

    change(api, exposure_components=["open_invoices", "unapplied_payments"])
    again = api.gate("SO-2", "C-800", "6000.00").get_json()
    position = api.credit("C-800").get_json()

    assert again["outcome"] == "approved"
    assert again["customer"]["exposure"] == "6000.00"  # this order only: the other is not counted
    assert position["exposure"]["reservations"] == "12000.00"  # still shown, not counted
    assert position["exposure"]["total"] == "0.00"
    assert position["exposure"]["components"] == ["open_invoices", "unapplied_payments"]
    rule = {r["code"]: r for r in snapshot(api, again["decision_id"])["rules"]}[
        "CREDIT_LIMIT_EXCEEDED"
    ]
    assert rule["figures"]["exposure"] == "0.00"


def test_a_customers_own_exposure_components_are_its_own(api, loaded):
    change(
        api,
        overrides={"customers": {"C-800": {"exposure_components": ["open_invoices"]}}},
    )
    api.gate("SO-1", "C-800", "6000.00")

    assert api.gate("SO-2", "C-800", "6000.00").get_json()["outcome"] == "approved"
    assert api.gate("SO-3", "C-200", "9000.00").get_json()["outcome"] == "approved"
    assert api.gate("SO-4", "C-200", "1.00").get_json()["outcome"] == "blocked"


def test_bad_overrides_are_refused_naming_the_setting_under_its_party(api):
    current = api.client.get(URL, headers=api.keys.header("admin")).get_json()["thresholds"]
    document = {
        **current,
        "exposure_components": ["reservations"],
        "fail_safe_outcome": "maybe",
        "overrides": {
            "customers": {
                "C-300": {"overdue_days": -1, "base_currency": "USD", "colour": "red"},
                "C-400": {},
            },
            "groups": {"G-1": {"warnings": {"red_days": "soon"}}},
            "suppliers": {},
        },
    }

    response = api.client.put(
        URL, json={"reason": "typo", "thresholds": document}, headers=api.keys.header("admin")
    )

    assert response.status_code == 422
    fields = response.get_json()["fields"]
    assert set(fields) == {
        "thresholds.exposure_components",
        "thresholds.fail_safe_outcome",
        "thresholds.overrides.customers.C-300.overdue_days",
        "thresholds.overrides.customers.C-300.base_currency",
        "thresholds.overrides.customers.C-300.colour",
        "thresholds.overrides.customers.C-400",
        "thresholds.overrides.groups.G-1.warnings.red_days",
        "thresholds.overrides.suppliers",
    }
    assert fields["thresholds.overrides.customers.C-300.base_currency"] == [
        "holds for everyone and cannot be overridden"
    ]
    assert fields["thresholds.exposure_components"] == [
        "must include open_invoices: they are the exposure"
    ]
    assert api.client.get(URL, headers=api.keys.header("admin")).get_json()["version"] == 1


def test_the_fail_safe_outcome_comes_from_the_thresholds_once_a_decision_has_read_them(api, loaded):
    services = api.client.application.extensions["creditgate"]
    assert services.gate.fail_safe_outcome == "review"  # the server's setting, nothing read yet
    change(api, fail_safe_outcome="blocked")

    api.gate("SO-1", "C-100", "1.00")

    assert services.gate.fail_safe_outcome == "blocked"
    change(api, fail_safe_outcome=None)
    api.gate("SO-2", "C-100", "1.00")
    assert services.gate.fail_safe_outcome == "review"
