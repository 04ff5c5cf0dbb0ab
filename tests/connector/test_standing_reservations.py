"""Credit is never counted twice nor nowhere: a refused amendment leaves the earlier approval's
reservation standing, and an invoiced order counts until its invoice is loaded (issue 13, 1-2)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from adapters.db.tables import decisions, orders
from tests.conftest import NOW, day

HOLDS = "/api/v1/admin/holds"


def act(api: Any, order_id: str, action: str, role: str = "admin", **body: Any) -> Any:
    return api.client.post(f"{HOLDS}/{order_id}/{action}", json=body, headers=api.keys.header(role))


def order_row(services: Any, order_id: str) -> Any:
    with services.engine.connect() as conn:
        return conn.execute(select(orders).where(orders.c.external_id == order_id)).one()


# --- 1. a refused amendment -----------------------------------------------------------------


def test_the_issues_case_a_refused_amendment_keeps_the_approved_amount_counted(api, loaded):
    """C-800: limit 10,000.00, nothing owed. A 5,000 approved; A amended to 11,000 is blocked;
    B 9,000 must be blocked too: the ERP still holds A at 5,000."""
    approved = api.gate("A", "C-800", "5000.00").get_json()

    amended = api.gate("A", "C-800", "11000.00").get_json()
    other = api.gate("B", "C-800", "9000.00").get_json()

    assert approved["outcome"] == "approved"
    assert amended["outcome"] == "blocked"
    assert [r["code"] for r in amended["reasons"]] == ["CREDIT_LIMIT_EXCEEDED"]
    assert amended["customer"]["exposure"] == "5000.00"
    assert amended["customer"]["available"] == "5000.00"
    assert amended["standing_reservation"] == {
        "amount": "5000.00",
        "currency": "CNY",
        "customer_id": "C-800",
        "decision_id": approved["decision_id"],
        "expires_at": (NOW + timedelta(days=60)).isoformat(),
    }
    assert other["outcome"] == "blocked"
    assert other["customer"]["exposure"] == "5000.00"
    assert "standing_reservation" not in other
    assert api.exposure("C-800")["reservations"] == "5000.00"
    # The decision record says so too, in its answer and its snapshot.
    with loaded.engine.connect() as conn:
        stored = conn.execute(
            select(decisions.c.response, decisions.c.snapshot).where(
                decisions.c.id == amended["decision_id"]
            )
        ).one()
    assert stored.response == amended
    assert stored.snapshot["standing_reservation"] == amended["standing_reservation"]
    assert api.decision(amended["decision_id"]).get_json()["response"] == amended


def test_a_held_amendment_keeps_the_approval_standing_until_a_person_releases_it(api, loaded):
    api.gate("A", "C-800", "5000.00")

    amended = api.gate("A", "C-800", "10000.01").get_json()
    released = act(api, "A", "release", reason="paid by wire").get_json()

    assert amended["standing_reservation"]["amount"] == "5000.00"
    assert released["decision"]["outcome"] == "approved"
    # Approved at the new amount: it replaces the standing 5,000, never adds to it.
    assert api.exposure("C-800")["reservations"] == "10000.01"
    assert order_row(loaded, "A").reserved_by == released["decision"]["decision_id"]


def test_a_rejected_amendment_keeps_the_approval_until_the_erp_cancels_the_order(api, loaded):
    approved = api.gate("A", "C-800", "5000.00").get_json()
    api.gate("A", "C-800", "11000.00")

    rejected = act(api, "A", "reject", role="credit_manager", reason="no").get_json()
    retried = api.gate("A", "C-800", "11000.00").get_json()

    assert rejected["decision"]["outcome"] == "blocked"
    assert rejected["decision"]["standing_reservation"]["decision_id"] == approved["decision_id"]
    assert retried["standing_reservation"]["decision_id"] == approved["decision_id"]
    assert api.exposure("C-800")["reservations"] == "5000.00"
    assert api.gate("B", "C-800", "5000.01").get_json()["outcome"] == "blocked"

    cancelled = api.event("A", "cancelled").get_json()

    assert (cancelled["status"], cancelled["released"]) == ("cancelled", "5000.00")
    assert api.exposure("C-800")["reservations"] == "0.00"
    assert api.gate("B", "C-800", "10000.00").get_json()["outcome"] == "approved"


def test_reevaluating_a_held_amendment_keeps_the_approval_standing(api, loaded):
    api.gate("A", "C-800", "5000.00")
    api.gate("A", "C-800", "11000.00")

    again = act(api, "A", "reevaluate").get_json()
    batch = api.client.post(f"{HOLDS}/reevaluate", json={}, headers=api.keys.header("admin"))

    assert again["decision"]["outcome"] == "blocked"
    assert again["decision"]["standing_reservation"]["amount"] == "5000.00"
    assert batch.status_code == 200
    assert api.exposure("C-800")["reservations"] == "5000.00"


def test_a_refused_move_to_another_customer_leaves_the_order_with_its_approval(api, loaded):
    approved = api.gate("A", "C-800", "5000.00").get_json()

    moved = api.gate("A", "C-200", "9500.00").get_json()  # C-200 has 9,000 left

    assert moved["outcome"] == "blocked"
    assert moved["customer"]["exposure"] == "91000.00"
    assert moved["standing_reservation"]["customer_id"] == "C-800"
    assert api.exposure("C-800")["reservations"] == "5000.00"
    assert api.exposure("C-200")["reservations"] == "0.00"
    row = order_row(loaded, "A")
    assert (row.customer_ref, row.last_decision_id) == ("C-800", approved["decision_id"])
    assert api.gate("A", "C-800", "5000.00").headers["X-Creditgate-Replayed"] == "true"


def test_a_standing_reservation_lapses_with_its_approval(api, loaded, clock, dataset_dir):
    api.gate("A", "C-800", "5000.00")
    api.gate("A", "C-800", "11000.00")
    clock.advance(days=60, seconds=1)
    assert loaded.import_folder(dataset_dir).errors == []  # fresh data, no STALE_DATA

    other = api.gate("B", "C-800", "10000.00").get_json()

    assert other["outcome"] == "approved"
    assert api.exposure("C-800")["reservations"] == "10000.00"
    row = order_row(loaded, "A")
    # Still held for a person: only the approval standing behind the amendment lapsed.
    assert (row.status, row.reserved, row.expires_at) == ("open", 0, None)


def _invoice(number: str, total: str, order_id: str) -> tuple[str, ...]:
    return (f"I-{number}", "C-800", number, day(0), day(30), "CNY", total, total, order_id)


def test_an_invoice_for_a_held_amendment_reduces_the_approval_standing_behind_it(
    api, loaded, csv_dir
):
    api.gate("A", "C-800", "5000.00")
    api.gate("A", "C-800", "11000.00")  # blocked: 5,000 stands

    loaded.import_folder(csv_dir(invoices=[_invoice("INV-A1", "3000.00", "A")]))
    part = api.exposure("C-800")
    loaded.import_folder(
        csv_dir(invoices=[_invoice("INV-A1", "3000.00", "A"), _invoice("INV-A2", "2000.00", "A")])
    )
    full = api.exposure("C-800")

    # Counted once: what is invoiced as the invoice, the rest of the approval as reserved.
    assert (part["open_invoices"], part["reservations"]) == ("3000.00", "2000.00")
    assert (full["open_invoices"], full["reservations"]) == ("5000.00", "0.00")
    row = order_row(loaded, "A")
    assert (row.status, row.last_outcome, row.expires_at) == ("open", "blocked", None)


# --- 2. the invoiced event ------------------------------------------------------------------


def test_an_invoiced_order_counts_until_its_invoice_is_imported(api, loaded, csv_dir):
    api.gate("A", "C-800", "9000.00")

    answer = api.event("A", "invoiced")
    other = api.gate("B", "C-800", "9000.00").get_json()
    position = api.credit("C-800").get_json()

    assert answer.status_code == 200
    assert answer.get_json() == {
        "order_id": "A",
        "event": "invoiced",
        "status": "invoiced_awaiting_sync",
        "released": "0.00",
        "currency": "CNY",
        "counted_until": (NOW + timedelta(hours=48)).isoformat(),
    }
    assert other["outcome"] == "blocked"  # 9,000 + 9,000 > 10,000: A still counts
    assert position["exposure"]["reservations"] == "9000.00"
    assert position["invoiced_awaiting_sync"] == [
        {
            "order_id": "A",
            "amount": "9000.00",
            "currency": "CNY",
            "counted_until": (NOW + timedelta(hours=48)).isoformat(),
        }
    ]

    imported = loaded.import_folder(csv_dir(invoices=[_invoice("INV-A", "9000.00", "A")]))

    assert imported.errors == []
    after = api.credit("C-800").get_json()
    assert after["invoiced_awaiting_sync"] == []
    # Counted once: as the open invoice now, not as a reservation as well.
    assert (after["exposure"]["open_invoices"], after["exposure"]["reservations"]) == (
        "9000.00",
        "0.00",
    )
    assert order_row(loaded, "A").status == "invoiced"


def test_a_partial_invoice_leaves_the_rest_of_an_invoiced_order_counted(api, loaded, csv_dir):
    api.gate("A", "C-800", "9000.00")
    api.event("A", "invoiced")

    loaded.import_folder(csv_dir(invoices=[_invoice("INV-A1", "4000.00", "A")]))

    position = api.credit("C-800").get_json()
    assert position["exposure"]["reservations"] == "5000.00"
    assert [o["amount"] for o in position["invoiced_awaiting_sync"]] == ["5000.00"]


def test_an_invoiced_order_whose_invoice_never_comes_lapses_after_the_data_age_bound(
    api, loaded, clock, dataset_dir
):
    api.gate("A", "C-800", "9000.00")
    api.event("A", "invoiced")
    clock.advance(hours=48)
    assert loaded.import_folder(dataset_dir).errors == []  # a sync without A's invoice

    at_bound = api.gate("B", "C-800", "9000.00").get_json()
    clock.advance(seconds=1)
    after = api.gate("B", "C-800", "9000.00").get_json()

    assert at_bound["outcome"] == "blocked"
    assert after["outcome"] == "approved"
    assert api.exposure("C-800")["reservations"] == "9000.00"
    row = order_row(loaded, "A")
    assert (row.status, row.reserved) == ("invoiced", 0)


@pytest.mark.parametrize(
    "settings_overrides",
    [{"thresholds": {"base_currency": "CNY", "max_data_age_hours": None}}],
)
def test_without_a_data_age_bound_an_invoiced_order_counts_until_its_own_expiry(api, loaded):
    api.gate("A", "C-800", "9000.00")

    answer = api.event("A", "invoiced").get_json()

    assert answer["counted_until"] == (NOW + timedelta(days=60)).isoformat()
