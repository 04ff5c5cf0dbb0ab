"""The webhook contract of DESIGN.md: every field of the 200 answer, typed, with exact amounts."""

from __future__ import annotations

import re

import pytest

AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
ISO_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")


def test_approved_answer_has_every_contract_field_with_amounts_as_strings(api):
    response = api.gate("SO-1001", "C-100", "12500.00")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.get_json()
    assert list(body) == [
        "decision_id",
        "order_id",
        "outcome",
        "reasons",
        "customer",
        "decided_at",
    ]
    assert isinstance(body["decision_id"], str)
    assert len(body["decision_id"]) == 36
    assert body["order_id"] == "SO-1001"
    assert body["outcome"] == "approved"
    assert body["reasons"] == []
    assert ISO_OFFSET.match(body["decided_at"])
    customer = body["customer"]
    assert set(customer) == {"id", "currency", "credit_limit", "exposure", "available"}
    for name in ("credit_limit", "exposure", "available"):
        assert isinstance(customer[name], str), name
        assert AMOUNT.match(customer[name]), customer[name]
    # 50,000 open − 5,000 unapplied + this order's 12,500 reservation.
    assert customer == {
        "id": "C-100",
        "currency": "CNY",
        "credit_limit": "200000.00",
        "exposure": "57500.00",
        "available": "142500.00",
    }


def test_an_approved_order_counts_in_the_exposure_it_reports_and_in_the_credit_position(api):
    first = api.gate("SO-1", "C-100", "12500.00").get_json()
    second = api.gate("SO-2", "C-100", "2500.50").get_json()

    assert first["customer"]["exposure"] == "57500.00"
    assert second["customer"]["exposure"] == "60000.50"
    assert second["customer"]["available"] == "139999.50"
    assert api.exposure("C-100") == {
        "open_invoices": "50000.00",
        "unapplied_payments": "5000.00",
        "reservations": "15000.50",
        "total": "60000.50",
    }


def test_a_blocked_order_is_left_out_of_exposure_and_available_and_reserves_nothing(api):
    body = api.gate("SO-2", "C-200", "12500.00").get_json()

    assert body["outcome"] == "blocked"
    assert body["reasons"] == [
        {
            "code": "CREDIT_LIMIT_EXCEEDED",
            "message": "exposure 91,000.00 CNY + order 12,500.00 CNY exceeds the credit limit "
            "100,000.00 CNY by 3,500.00 CNY",
        }
    ]
    assert body["customer"] == {
        "id": "C-200",
        "currency": "CNY",
        "credit_limit": "100000.00",
        "exposure": "91000.00",
        "available": "9000.00",
    }
    assert api.exposure("C-200")["reservations"] == "0.00"


def test_an_order_that_uses_exactly_the_remaining_credit_is_approved(api):
    body = api.gate("SO-3", "C-200", "9000.00").get_json()

    assert body["outcome"] == "approved"
    assert body["customer"]["exposure"] == "100000.00"
    assert body["customer"]["available"] == "0.00"


def test_overdue_invoices_block_with_the_count_and_the_oldest_invoice(api):
    body = api.gate("SO-4", "C-300", "1000.00").get_json()

    assert body["outcome"] == "blocked"
    # INV-3003 is exactly 30 days overdue and so does not count.
    assert body["reasons"] == [
        {
            "code": "OVERDUE_INVOICES",
            "message": "2 invoices overdue more than 30 days (oldest INV-3001, 45 days)",
        }
    ]
    assert body["customer"]["exposure"] == "33000.00"


def test_customer_on_hold_is_blocked_with_the_hold_reason(api):
    body = api.gate("SO-5", "C-400", "1.00").get_json()

    assert body["outcome"] == "blocked"
    assert body["reasons"] == [
        {"code": "CUSTOMER_ON_HOLD", "message": "customer C-400 is on hold: delivery dispute"}
    ]


def test_group_limit_blocks_an_order_the_customer_limit_would_allow(api):
    body = api.gate("SO-6", "C-520", "60000.00").get_json()

    assert body["outcome"] == "blocked"
    assert [r["code"] for r in body["reasons"]] == ["GROUP_LIMIT_EXCEEDED"]
    assert "exceeds the group limit 500,000.00 CNY by 8,000.00 CNY" in body["reasons"][0]["message"]
    assert body["customer"]["exposure"] == "148000.00"
    assert body["customer"]["available"] == "152000.00"


def test_customer_without_credit_limit_goes_to_review_with_null_limit_and_available(api):
    body = api.gate("SO-7", "C-600", "1000.00").get_json()

    assert body["outcome"] == "review"
    assert [r["code"] for r in body["reasons"]] == ["NO_CREDIT_LIMIT"]
    assert body["customer"] == {
        "id": "C-600",
        "currency": "CNY",
        "credit_limit": None,
        "exposure": "0.00",
        "available": None,
    }


def test_unknown_customer_within_the_trial_amount_is_approved_without_a_customer_block(api):
    first = api.gate("SO-8", "C-NEW", "3000.00").get_json()
    second = api.gate("SO-9", "C-NEW", "2500.00").get_json()

    assert first["outcome"] == "approved"
    assert first["customer"] is None
    assert [r["code"] for r in first["reasons"]] == ["UNKNOWN_CUSTOMER"]
    # 3,000 already held of the 5,000 trial amount: 5,500 is too much.
    assert second["outcome"] == "review"
    assert "5,500.00 CNY exceeds the trial amount 5,000.00 CNY" in second["reasons"][0]["message"]


def test_order_in_another_currency_is_counted_in_the_customers_credit_currency(api):
    body = api.gate("SO-10", "C-900", "7100.00", "CNY").get_json()

    assert body["outcome"] == "approved"
    assert body["customer"] == {
        "id": "C-900",
        "currency": "USD",
        "credit_limit": "10000.00",
        "exposure": "1000.00",
        "available": "9000.00",
    }


@pytest.mark.parametrize(
    ("settings_overrides", "expected"),
    [
        ({"timezone": "Asia/Shanghai"}, "2026-11-22T09:30:00+08:00"),
        ({"timezone": "UTC"}, "2026-11-22T01:30:00+00:00"),
        ({"timezone": "America/New_York"}, "2026-11-21T20:30:00-05:00"),
    ],
)
def test_decided_at_is_given_in_the_configured_time_zone(api, expected):
    body = api.gate("SO-11", "C-100", "100.00").get_json()

    assert body["decided_at"] == expected
    recorded = api.decision(body["decision_id"]).get_json()
    assert recorded["decided_at"] == expected
    assert recorded["response"]["decided_at"] == expected
