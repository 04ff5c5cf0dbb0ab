"""People act on the hold list: release (with a cap and an expiry, within their approval tier),
reject, re-evaluate one order or all of them after a sync; and put customers on hold."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from adapters.db.tables import audit_events, hold_resolutions, outbox
from tests.conftest import CUSTOMERS, TODAY, day

HOLDS = "/api/v1/admin/holds"


def act(api: Any, order_id: str, action: str, role: str = "admin", **body: Any) -> Any:
    return api.client.post(f"{HOLDS}/{order_id}/{action}", json=body, headers=api.keys.header(role))


def held_ids(api: Any) -> list[str]:
    listed = api.client.get(HOLDS, headers=api.keys.header("admin")).get_json()
    return [row["order_id"] for row in listed["holds"]]


def codes(answer: dict[str, Any]) -> list[str]:
    return [r["code"] for r in answer["reasons"]]


def exposure(api: Any, customer: str) -> str:
    return str(api.exposure(customer)["total"])


def set_tiers(api: Any, tiers: list[dict[str, str]]) -> None:
    url = "/api/v1/admin/thresholds"
    doc = api.client.get(url, headers=api.keys.header("admin")).get_json()["thresholds"]
    response = api.client.put(
        url,
        json={"reason": "tiers", "thresholds": {**doc, "approval_tiers": tiers}},
        headers=api.keys.header("admin"),
    )
    assert response.status_code == 200, response.get_json()


# --- release --------------------------------------------------------------------------------


def test_a_released_order_is_approved_at_once_and_the_erps_next_call_gets_that_decision(
    api, loaded
):
    # C-300 is blocked by INV-3001, 45 days overdue.
    held = api.gate("SO-1", "C-300", "1000.00").get_json()
    assert held["outcome"] == "blocked" and "SO-1" in held_ids(api)
    before = exposure(api, "C-300")

    response = act(
        api,
        "SO-1",
        "release",
        reason="paid by wire today, receipt attached",
        cap="1500.00",
        expires_on=day(5),
        decision_id=held["decision_id"],
    )

    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["action"] == "released"
    decision = answer["decision"]
    assert decision["outcome"] == "approved" and codes(decision) == ["RELEASED_BY"]
    message = decision["reasons"][0]["message"]
    assert message.startswith("released by admin-test (admin) on 2026-11-22: paid by wire today")
    assert "over OVERDUE_INVOICES" in message and "up to 1,500.00 CNY" in message
    assert "SO-1" not in held_ids(api)
    assert Decimal(exposure(api, "C-300")) == Decimal(before) + 1000  # reserved at once
    again = api.gate("SO-1", "C-300", "1000.00")
    assert again.headers["X-Creditgate-Replayed"] == "true"
    assert again.get_json()["decision_id"] == decision["decision_id"]
    assert codes(again.get_json()) == ["RELEASED_BY"]


def test_an_amendment_within_the_cap_stays_released_and_one_above_it_is_decided_by_the_rules(
    api, loaded
):
    api.gate("SO-1", "C-300", "1000.00")
    act(api, "SO-1", "release", reason="ok", cap="1500.00")

    within = api.gate("SO-1", "C-300", "1400.00").get_json()
    above = api.gate("SO-1", "C-300", "1600.00").get_json()

    assert within["outcome"] == "approved" and codes(within) == ["RELEASED_BY"]
    assert above["outcome"] == "blocked" and codes(above) == ["OVERDUE_INVOICES"]
    rules = api.decision(above["decision_id"]).get_json()["rules"]
    released = next(r for r in rules if r["code"] == "RELEASED_BY")
    assert released["tripped"] is False
    assert "above the release's cap of 1500.00 CNY" in released["message"]
    assert "SO-1" in held_ids(api)  # held again


def test_a_release_lapses_after_its_last_day_with_its_reservation(api, loaded, clock):
    api.gate("SO-1", "C-300", "1000.00")
    act(api, "SO-1", "release", reason="this week only", expires_on=TODAY.isoformat())
    reserved = api.exposure("C-300")["reservations"]

    clock.advance(days=1)
    after = api.gate("SO-1", "C-300", "1000.00").get_json()

    assert reserved == "1000.00"
    assert after["outcome"] == "blocked" and codes(after) == ["OVERDUE_INVOICES"]
    assert api.exposure("C-300")["reservations"] == "0.00"


# --- approval tiers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "role", "status"),
    [
        ("50000.00", "admin", 200),  # below every tier: any role that releases
        ("50000.00", "credit_specialist", 200),
        ("500000.00", "admin", 403),  # above 100,000: the specialist's tier or higher
        ("500000.00", "credit_specialist", 200),
        ("500000.00", "credit_manager", 200),
        ("2000000.00", "credit_specialist", 403),  # above 1,000,000: the manager only
        ("2000000.00", "credit_manager", 200),
    ],
)
def test_a_release_above_a_tier_needs_that_tiers_role_or_a_higher_one(
    api, loaded, amount, role, status
):
    set_tiers(
        api,
        [
            {"amount": "100000.00", "role": "credit_specialist"},
            {"amount": "1000000.00", "role": "credit_manager"},
        ],
    )
    held = api.gate("SO-1", "C-600", amount).get_json()  # C-600 has no limit: review
    assert held["outcome"] == "review"

    response = act(api, "SO-1", "release", role=role, reason="known customer")

    assert response.status_code == status, response.get_json()
    if status == 403:
        assert "needs the role" in response.get_json()["message"]
        assert "SO-1" in held_ids(api)


def test_the_cap_counts_against_the_tiers(api, loaded):
    set_tiers(api, [{"amount": "100000.00", "role": "credit_manager"}])
    api.gate("SO-1", "C-600", "50000.00")

    response = act(api, "SO-1", "release", role="credit_specialist", reason="x", cap="200000")

    assert response.status_code == 403


# --- reject ---------------------------------------------------------------------------------


def test_a_rejected_order_leaves_the_list_and_stays_blocked(api, loaded):
    api.gate("SO-1", "C-600", "100.00")

    response = act(api, "SO-1", "reject", role="credit_manager", reason="no credit terms")
    retried = api.gate("SO-1", "C-600", "100.00").get_json()

    assert response.status_code == 200
    answer = response.get_json()
    assert answer["action"] == "rejected"
    assert answer["decision"]["outcome"] == "blocked"
    assert codes(answer["decision"])[0] == "REJECTED_BY"
    assert retried["outcome"] == "blocked" and codes(retried)[0] == "REJECTED_BY"
    assert "rejected by manager-test (credit_manager)" in retried["reasons"][0]["message"]
    assert "SO-1" not in held_ids(api)


def test_every_action_is_audited_with_its_numbers(api, loaded):
    held = api.gate("SO-1", "C-300", "1000.00").get_json()
    released = act(api, "SO-1", "release", reason="paid", cap="1200.00").get_json()

    with loaded.engine.connect() as conn:
        event = conn.execute(
            select(audit_events).where(audit_events.c.action == "hold_released")
        ).one()
        resolution = conn.execute(select(hold_resolutions)).one()
    assert (event.actor, event.subject) == ("admin-test", "order:default/SO-1")
    assert event.details["held_decision_id"] == held["decision_id"]
    assert event.details["decision_id"] == released["decision"]["decision_id"]
    assert (event.details["cap"], event.details["role"]) == ("1200.00", "admin")
    assert (resolution.action, resolution.reason, resolution.actor) == (
        "release",
        "paid",
        "admin-test",
    )


# --- refusals -------------------------------------------------------------------------------


def test_only_held_orders_can_be_released_and_only_as_seen(api, loaded):
    approved = api.gate("SO-1", "C-100", "100.00").get_json()
    held = api.gate("SO-2", "C-300", "100.00").get_json()
    api.gate("SO-2", "C-300", "100.00")  # decided again: another decision id

    not_held = act(api, "SO-1", "release", reason="x")
    unknown = act(api, "SO-404", "release", reason="x")
    stale = act(api, "SO-2", "release", reason="x", decision_id=held["decision_id"])

    assert approved["outcome"] == "approved"
    assert not_held.status_code == 409 and not_held.get_json()["error"] == "not_held"
    assert unknown.status_code == 404
    assert stale.status_code == 409 and "decided again" in stale.get_json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": "  "}, "reason"),
        ({"reason": "x", "cap": "50.00"}, "cap"),  # below the order's 100.00
        ({"reason": "x", "cap": "-1"}, "cap"),
        ({"reason": "x", "cap": "lots"}, "cap"),
        ({"reason": "x", "cap": "100.001"}, "cap"),  # CNY has two decimals
        ({"reason": "paid\x00"}, "reason"),  # PostgreSQL text cannot hold a NUL
        ({"reason": "x", "expires_on": day(-1)}, "expires_on"),
        ({"reason": "x", "expires_on": "soon"}, "expires_on"),
        ({"reason": "x", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_release_is_refused_naming_the_field_and_changes_nothing(api, loaded, body, field):
    api.gate("SO-1", "C-300", "100.00")

    response = act(api, "SO-1", "release", **body)

    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["fields"]
    assert "SO-1" in held_ids(api)


ENDPOINTS = [
    ("get", HOLDS),
    ("post", f"{HOLDS}/SO-1/release"),
    ("post", f"{HOLDS}/SO-1/reject"),
    ("post", f"{HOLDS}/SO-1/reevaluate"),
    ("post", f"{HOLDS}/reevaluate"),
    ("put", "/api/v1/admin/customers/C-100/hold"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    ("role", "status"),
    [
        (None, 401),
        ("erp", 403),
        ("auditor", 403),
        ("admin", None),
        ("credit_specialist", None),
        ("credit_manager", None),
    ],
)
def test_hold_endpoints_are_for_the_roles_that_release(api, loaded, method, path, role, status):
    api.gate("SO-1", "C-300", "100.00")
    headers = api.keys.header(role) if role else {}
    body = {"reason": "x", "on_hold": True} if "customers" in path else {"reason": "x"}
    if path.endswith("reevaluate"):
        body = {}

    response = getattr(api.client, method)(path, json=body, headers=headers)

    if status is None:
        assert response.status_code == 200, response.get_json()
    else:
        assert response.status_code == status


# --- re-evaluation --------------------------------------------------------------------------


def paid_invoices_of_c300() -> list[tuple[str, ...]]:
    """C-300's three invoices, paid in full (as the next sync brings them)."""
    return [
        ("I-3001", "C-300", "INV-3001", day(-75), day(-45), "CNY", "20000.00", "0.00", ""),
        ("I-3002", "C-300", "INV-3002", day(-61), day(-31), "CNY", "8000.00", "0.00", ""),
        ("I-3003", "C-300", "INV-3003", day(-60), day(-30), "CNY", "5000.00", "0.00", ""),
    ]


def test_after_a_payment_sync_clears_the_overdue_the_hold_is_released_automatically(
    api, loaded, csv_dir
):
    api.gate("SO-1", "C-300", "1000.00")  # overdue: blocked
    api.gate("SO-2", "C-600", "1000.00")  # no credit limit: stays held
    nothing_yet = api.client.post(f"{HOLDS}/reevaluate", json={}, headers=api.keys.header("admin"))
    result = loaded.import_folder(csv_dir(invoices=paid_invoices_of_c300()))
    assert result.errors == []

    response = api.client.post(f"{HOLDS}/reevaluate", json={}, headers=api.keys.header("admin"))

    assert nothing_yet.get_json() == {"checked": 2, "released": [], "errors": []}
    assert response.get_json() == {"checked": 2, "released": ["default/SO-1"], "errors": []}
    assert held_ids(api) == ["SO-2"]
    again = api.gate("SO-1", "C-300", "1000.00")
    assert again.headers["X-Creditgate-Replayed"] == "true"
    assert again.get_json()["outcome"] == "approved" and again.get_json()["reasons"] == []
    record = api.decision(again.get_json()["decision_id"]).get_json()
    assert record["caller"] == "system"
    with loaded.engine.connect() as conn:
        actions = conn.execute(select(audit_events.c.action, audit_events.c.subject)).all()
    assert ("hold_auto_released", "order:default/SO-1") in actions
    assert not any(subject == "order:default/SO-2" for _, subject in actions)


def test_reevaluating_one_order_records_a_decision_even_when_it_stays_held(api, loaded):
    held = api.gate("SO-1", "C-600", "1000.00").get_json()

    answer = act(api, "SO-1", "reevaluate").get_json()

    assert answer["action"] == "reevaluated"
    assert answer["decision"]["outcome"] == "review"
    assert answer["decision"]["decision_id"] != held["decision_id"]
    record = api.decision(answer["decision"]["decision_id"]).get_json()
    assert record["previous_decision_id"] == held["decision_id"]


# --- customer holds ------------------------------------------------------------------------


def test_an_admins_customer_hold_blocks_orders_and_survives_a_sync(api, loaded, csv_dir):
    url = "/api/v1/admin/customers/C-100/hold"
    on = api.client.put(
        url, json={"on_hold": True, "reason": "fraud check"}, headers=api.keys.header("admin")
    )
    blocked = api.gate("SO-1", "C-100", "100.00").get_json()
    loaded.import_folder(csv_dir(customers=[c for c in CUSTOMERS if c[0] == "C-100"]))
    still = api.gate("SO-2", "C-100", "100.00").get_json()
    off = api.client.put(
        url, json={"on_hold": False, "reason": "cleared"}, headers=api.keys.header("admin")
    )
    approved = api.gate("SO-3", "C-100", "100.00").get_json()

    assert on.status_code == 200 and on.get_json()["on_hold"] is True
    assert blocked["outcome"] == "blocked" and codes(blocked) == ["CUSTOMER_ON_HOLD"]
    assert "held by creditgate: fraud check" in blocked["reasons"][0]["message"]
    assert still["outcome"] == "blocked"
    assert off.status_code == 200
    assert approved["outcome"] == "approved"
    with loaded.engine.connect() as conn:
        actions = (
            conn.execute(
                select(audit_events.c.action).where(
                    audit_events.c.subject == "customer:default/C-100"
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["customer_hold_on", "customer_hold_off"]


def test_a_hold_on_an_unknown_customer_is_a_404(api, loaded):
    response = api.client.put(
        "/api/v1/admin/customers/C-404/hold",
        json={"on_hold": True, "reason": "x"},
        headers=api.keys.header("admin"),
    )

    assert response.status_code == 404


def test_without_a_callback_url_nothing_is_queued(api, loaded):
    api.gate("SO-1", "C-300", "100.00")

    answer = act(api, "SO-1", "release", reason="x").get_json()

    assert answer["notified"] is False
    with loaded.engine.connect() as conn:
        assert conn.execute(select(outbox)).all() == []


# --- what a release does not cover ----------------------------------------------------------


def test_a_release_without_a_cap_covers_the_orders_amount_only(api, loaded):
    api.gate("SO-1", "C-300", "1000.00")
    act(api, "SO-1", "release", reason="paid")

    same = api.gate("SO-1", "C-300", "1000.00").get_json()
    more = api.gate("SO-1", "C-300", "9000000.00").get_json()

    assert same["outcome"] == "approved"
    assert more["outcome"] == "blocked" and "RELEASED_BY" not in codes(more)


def test_a_hold_put_on_after_a_release_is_not_overridden_by_it(api, loaded):
    api.gate("SO-1", "C-300", "1000.00")
    act(api, "SO-1", "release", reason="paid", cap="1500.00")
    api.client.put(
        "/api/v1/admin/customers/C-300/hold",
        json={"on_hold": True, "reason": "fraud check"},
        headers=api.keys.header("admin"),
    )

    amended = api.gate("SO-1", "C-300", "1200.00").get_json()

    assert amended["outcome"] == "blocked"
    assert "CUSTOMER_ON_HOLD" in codes(amended) and "RELEASED_BY" not in codes(amended)
    rules = api.decision(amended["decision_id"]).get_json()["rules"]
    released = next(r for r in rules if r["code"] == "RELEASED_BY")
    assert "CUSTOMER_ON_HOLD arose since the release" in released["message"]


def test_a_release_does_not_follow_the_order_to_another_customer(api, loaded):
    api.gate("SO-1", "C-600", "1000.00")  # review: no credit limit
    act(api, "SO-1", "release", reason="known buyer")

    moved = api.gate("SO-1", "C-300", "1000.00").get_json()  # C-300 has overdue invoices

    assert moved["outcome"] == "blocked" and "RELEASED_BY" not in codes(moved)
