"""The hold list: every order the gate held (review or blocked) and still open, with the
reasons, for admins; an order leaves it when a later decision approves it or it is closed."""

from __future__ import annotations

from typing import Any

import pytest

URL = "/api/v1/admin/holds"


def holds(api: Any, role: str = "admin", **params: Any) -> Any:
    return api.client.get(URL, query_string=params, headers=api.keys.header(role))


@pytest.fixture
def held(api) -> None:
    api.gate("SO-OK", "C-100", "1000.00")  # approved: not held
    api.gate("SO-OVERDUE", "C-300", "1000.00")  # blocked
    api.gate("SO-NOLIMIT", "C-600", "1000.00")  # review
    api.gate("SO-OVER", "C-200", "50000.00")  # blocked


@pytest.mark.parametrize(("role", "status"), [("erp", 403), ("auditor", 403), (None, 401)])
def test_only_admins_see_the_hold_list(api, role, status):
    headers = api.keys.header(role) if role else {}

    assert api.client.get(URL, headers=headers).status_code == status


def test_held_orders_newest_first_with_their_reasons(api, held):
    body = holds(api).get_json()

    assert [(h["order_id"], h["outcome"]) for h in body["holds"]] == [
        ("SO-OVER", "blocked"),
        ("SO-NOLIMIT", "review"),
        ("SO-OVERDUE", "blocked"),
    ]
    over = body["holds"][0]
    assert (over["customer_id"], over["amount"], over["currency"]) == ("C-200", "50000.00", "CNY")
    assert [r["code"] for r in over["reasons"]] == ["CREDIT_LIMIT_EXCEEDED"]
    assert over["reasons"][0]["message"]
    assert body["next"] is None


def test_an_order_leaves_the_list_when_approved_again_or_cancelled(api, held):
    api.gate("SO-OVER", "C-200", "100.00")  # the ERP retries with less: approved
    api.client.post(
        "/api/v1/gate/orders/SO-NOLIMIT/events",
        json={"event": "cancelled"},
        headers=api.keys.header("erp"),
    )

    assert [h["order_id"] for h in holds(api).get_json()["holds"]] == ["SO-OVERDUE"]


@pytest.mark.parametrize(
    ("params", "orders"),
    [
        ({"outcome": "review"}, ["SO-NOLIMIT"]),
        ({"customer_id": "C-300"}, ["SO-OVERDUE"]),
        ({"source": "default", "outcome": "blocked"}, ["SO-OVER", "SO-OVERDUE"]),
        ({"source": "elsewhere"}, []),
    ],
)
def test_the_hold_list_is_filtered(api, held, params, orders):
    assert [h["order_id"] for h in holds(api, **params).get_json()["holds"]] == orders


def test_pages_of_the_hold_list(api, held):
    first = holds(api, limit=2).get_json()
    second = holds(api, limit=2, before=first["next"]).get_json()

    assert [h["order_id"] for h in first["holds"]] == ["SO-OVER", "SO-NOLIMIT"]
    assert [h["order_id"] for h in second["holds"]] == ["SO-OVERDUE"]
    assert second["next"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [({"outcome": "approved"}, "outcome"), ({"limit": 0}, "limit"), ({"x": 1}, "x")],
)
def test_a_bad_filter_is_a_422_naming_it(api, params, field):
    response = holds(api, **params)

    assert response.status_code == 422
    assert field in response.get_json()["fields"]
