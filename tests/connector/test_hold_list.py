"""The hold list's read (config/reads.py hold_list, adapters/db/holds.py): paged, filtered and
sorted in SQL, with the count and the held amount per currency of everything that matches, and
each hold's age since the FIRST held decision of the order's current hold."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from gating.holdlist import HoldQuery
from tests.conftest import write_csv


@pytest.fixture
def held(api, loaded, tmp_path) -> Any:
    """Five held orders in two currencies, one for a customer not synced yet, one for a
    customer with a Chinese name; and one approved order that is not held."""
    folder = tmp_path / "more"
    folder.mkdir()
    write_csv(
        folder,
        "customers",
        [("C-CN1", "上海华东贸易有限公司", "", "CNY", "", "false", "")],
        ("customer_id", "name", "credit_limit", "currency", "group_id", "on_hold", "hold_reason"),
    )
    assert [str(e) for e in loaded.import_folder(folder).errors] == []
    for order, customer, amount, currency in [
        ("SO-OK", "C-100", "1000.00", "CNY"),  # approved: not held
        ("SO-1", "C-300", "1000.00", "CNY"),  # blocked: overdue
        ("SO-2", "C-600", "2000.00", "CNY"),  # review: no limit
        ("SO-3", "C-300", "50.00", "USD"),  # blocked: overdue
        ("SO-4", "C-200", "50000.00", "CNY"),  # blocked: over the limit
        ("SO-5", "C-NEW", "9000.00", "CNY"),  # review: not synced yet, above the trial
        ("SO-6", "C-CN1", "3000.00", "CNY"),  # review: no limit
    ]:
        assert api.gate(order, customer, amount, currency).status_code == 200
    return loaded


def listed(services: Any, page: int = 1, size: int = 50, **query: Any) -> Any:
    return services.reads.hold_list(HoldQuery(**query), page, size)


def ids(found: Any) -> list[str]:
    return [r["order_id"] for r in found.rows]


def test_every_held_order_newest_first_with_the_count_and_totals_per_currency(held):
    found = listed(held)

    assert ids(found) == ["SO-6", "SO-5", "SO-4", "SO-3", "SO-2", "SO-1"]
    assert found.total == 6 and found.pages == 1
    assert found.totals == {"CNY": Decimal("65000.00"), "USD": Decimal("50.00")}


@pytest.mark.parametrize(("page", "orders"), [(1, ["SO-6", "SO-5"]), (3, ["SO-2", "SO-1"])])
def test_a_page_of_two(held, page, orders):
    found = held.reads.hold_list(HoldQuery(), page, 2)

    assert ids(found) == orders and found.total == 6 and found.pages == 3


@pytest.mark.parametrize(
    ("query", "orders", "totals"),
    [
        ({"outcome": "review"}, ["SO-6", "SO-5", "SO-2"], {"CNY": "14000.00"}),
        ({"reason": "OVERDUE_INVOICES"}, ["SO-3", "SO-1"], {"CNY": "1000.00", "USD": "50.00"}),
        ({"reason": "OVERDUE"}, [], {}),  # a whole code, never a part of one
        ({"currency": "USD"}, ["SO-3"], {"USD": "50.00"}),
        ({"customer": "C-300"}, ["SO-3", "SO-1"], {"CNY": "1000.00", "USD": "50.00"}),
        ({"customer": "payer"}, ["SO-3", "SO-1"], {"CNY": "1000.00", "USD": "50.00"}),
        ({"customer": "华东"}, ["SO-6"], {"CNY": "3000.00"}),  # any part of a Chinese name
        ({"customer": "C-NEW"}, ["SO-5"], {"CNY": "9000.00"}),  # not synced: by its id
        ({"customer": "%"}, [], {}),  # a LIKE wildcard is a character like any other
        (
            {"amount_min": Decimal("2000"), "amount_max": Decimal("9000")},
            ["SO-6", "SO-5", "SO-2"],
            {"CNY": "14000.00"},
        ),
        ({"amount_min": Decimal("9000.01")}, ["SO-4"], {"CNY": "50000.00"}),
        (
            {"source": "default", "outcome": "blocked"},
            ["SO-4", "SO-3", "SO-1"],
            {"CNY": "51000.00", "USD": "50.00"},
        ),
        ({"source": "elsewhere"}, [], {}),
    ],
)
def test_the_hold_list_is_filtered_with_its_count_and_totals(held, query, orders, totals):
    found = listed(held, **query)

    assert ids(found) == orders
    assert found.total == len(orders)
    assert found.totals == {c: Decimal(v) for c, v in totals.items()}


@pytest.mark.parametrize(
    ("sort", "orders"),
    [
        ("amount_high", ["SO-4", "SO-5", "SO-6", "SO-2", "SO-1", "SO-3"]),
        ("amount_low", ["SO-3", "SO-1", "SO-2", "SO-6", "SO-5", "SO-4"]),
        # by name; a customer not synced sorts by its id (C-NEW), ties newest first
        ("customer", ["SO-5", "SO-4", "SO-2", "SO-3", "SO-1", "SO-6"]),
    ],
)
def test_the_hold_list_is_sorted(held, sort, orders):
    assert ids(listed(held, sort=sort)) == orders


def test_each_row_says_who_how_much_and_how_late(held):
    rows = {r["order_id"]: r for r in listed(held).rows}

    slow, new = rows["SO-1"], rows["SO-5"]
    assert slow["customer_name"] == "Slow Payer GmbH" and slow["days_overdue"] == 45
    assert slow["response"]["customer"]["credit_limit"] == "300000.00"
    assert [r["code"] for r in slow["response"]["reasons"]] == ["OVERDUE_INVOICES"]
    assert rows["SO-4"]["days_overdue"] is None
    assert new["customer_name"] is None and new["customer_key"] is None  # not synced yet


def test_a_holds_age_counts_from_its_first_held_decision_not_the_last(api, held, clock):
    first = listed(held, customer="C-300", currency="CNY").rows[0]["held_since"]
    clock.advance(days=3)
    api.gate("SO-1", "C-300", "1000.00")  # the ERP retries: decided again, held again
    clock.advance(days=2)

    row = listed(held, customer="C-300", currency="CNY").rows[0]

    assert row["order_id"] == "SO-1"
    assert row["held_since"] == first and row["held_days"] == 5
    assert row["decided_at"] == first + timedelta(days=3)  # its last decision is younger


def test_a_release_ends_a_hold_and_a_later_refusal_starts_a_new_one(api, held, clock):
    api.client.post(
        "/api/v1/admin/holds/SO-2/release",
        json={"reason": "limit coming", "cap": "2500.00"},
        headers=api.keys.header("admin"),
    )
    clock.advance(days=4)
    api.gate("SO-2", "C-600", "3000.00")  # amended above the cap: held again

    row = listed(held, customer="C-600").rows[0]

    assert row["order_id"] == "SO-2" and row["held_days"] == 0
    assert listed(held, customer="C-300").rows[0]["held_days"] == 4


@pytest.mark.parametrize(
    ("query", "orders"),
    [
        ({"held_days_min": 2}, ["SO-1"]),
        ({"held_days_max": 1}, ["SO-6", "SO-5", "SO-4", "SO-3", "SO-2"]),
        ({"held_days_min": 2, "held_days_max": 2}, ["SO-1"]),
        ({"held_days_min": 3}, []),
    ],
)
def test_the_hold_list_is_filtered_by_age(api, loaded, clock, query, orders):
    api.gate("SO-1", "C-300", "1000.00")
    clock.advance(days=2)
    for n, customer in [(2, "C-600"), (3, "C-300"), (4, "C-200"), (5, "C-600"), (6, "C-600")]:
        api.gate(f"SO-{n}", customer, "50000.00" if n == 4 else "1000.00")
    api.gate("SO-1", "C-300", "1000.00")  # re-decided today: still two days held

    assert ids(listed(loaded, **query)) == orders


def test_sorted_by_age_the_longest_held_first(api, loaded, clock):
    api.gate("SO-A", "C-300", "1000.00")
    clock.advance(days=1)
    api.gate("SO-B", "C-300", "1000.00")
    clock.advance(days=1)
    api.gate("SO-A", "C-300", "1000.00")  # decided again: its hold is still the older

    assert ids(listed(loaded, sort="held_longest")) == ["SO-A", "SO-B"]
    assert ids(listed(loaded, sort="held_shortest")) == ["SO-B", "SO-A"]
