"""Retries, amendments and order events: reservations are never counted twice or left behind."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from adapters.db.tables import decisions


def _decision_count(services, order_id):
    with services.engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(decisions).where(decisions.c.order_id == order_id)
        ).scalar_one()


def test_replaying_an_approved_order_returns_the_same_decision_and_reserves_once(api, loaded):
    first = api.gate("SO-1", "C-100", "12500.00")
    again = api.gate("SO-1", "C-100", "12500.00")

    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert first.headers["X-Creditgate-Replayed"] == "false"
    assert again.headers["X-Creditgate-Replayed"] == "true"
    assert api.exposure("C-100") == {
        "open_invoices": "50000.00",
        "unapplied_payments": "5000.00",
        "reservations": "12500.00",
        "total": "57500.00",
    }
    assert _decision_count(loaded, "SO-1") == 1


def test_replaying_an_approved_order_a_day_later_still_returns_the_first_decision(
    api, loaded, clock
):
    first = api.gate("SO-1", "C-100", "12500.00").get_json()
    clock.advance(days=1)

    again = api.gate("SO-1", "C-100", "12500.00").get_json()

    assert again["decision_id"] == first["decision_id"]
    assert again["decided_at"] == "2026-11-22T01:30:00+00:00"
    assert api.exposure("C-100")["reservations"] == "12500.00"


def test_a_blocked_order_is_approved_after_its_limit_is_raised_and_links_the_first_decision(
    api, loaded, csv_dir
):
    blocked = api.gate("SO-2", "C-200", "12500.00").get_json()
    assert blocked["outcome"] == "blocked"
    raised = [("C-200", "Near Limit Ltd.", "120000.00", "CNY", "", "false", "")]
    assert loaded.import_folder(csv_dir(customers=raised)).errors == []

    retry = api.gate("SO-2", "C-200", "12500.00")

    body = retry.get_json()
    assert retry.headers["X-Creditgate-Replayed"] == "false"
    assert body["outcome"] == "approved"
    assert body["decision_id"] != blocked["decision_id"]
    assert body["customer"] == {
        "id": "C-200",
        "currency": "CNY",
        "credit_limit": "120000.00",
        "exposure": "103500.00",
        "available": "16500.00",
    }
    recorded = api.decision(body["decision_id"]).get_json()
    assert recorded["previous_decision_id"] == blocked["decision_id"]
    assert api.decision(blocked["decision_id"]).get_json()["outcome"] == "blocked"
    assert api.exposure("C-200")["reservations"] == "12500.00"
    assert _decision_count(loaded, "SO-2") == 2


def test_a_blocked_order_asked_again_unchanged_is_decided_again_and_recorded(api, loaded):
    first = api.gate("SO-2", "C-200", "12500.00").get_json()

    second = api.gate("SO-2", "C-200", "12500.00").get_json()

    assert second["outcome"] == "blocked"
    assert second["decision_id"] != first["decision_id"]
    assert (
        api.decision(second["decision_id"]).get_json()["previous_decision_id"]
        == (first["decision_id"])
    )
    assert api.exposure("C-200")["reservations"] == "0.00"


def test_a_new_amount_replaces_the_reservation_instead_of_adding_to_it(api):
    first = api.gate("SO-3", "C-100", "10000.00").get_json()

    bigger = api.gate("SO-3", "C-100", "15000.00").get_json()

    assert bigger["outcome"] == "approved"
    assert bigger["decision_id"] != first["decision_id"]
    assert bigger["customer"]["exposure"] == "60000.00"
    assert api.exposure("C-100")["reservations"] == "15000.00"
    smaller = api.gate("SO-3", "C-100", "4000.00").get_json()
    assert smaller["customer"]["exposure"] == "49000.00"
    assert api.exposure("C-100")["reservations"] == "4000.00"
    assert (
        api.decision(smaller["decision_id"]).get_json()["previous_decision_id"]
        == (bigger["decision_id"])
    )


def test_an_amendment_is_judged_without_its_own_old_reservation(api):
    # C-200 has 9,000 left: 8,000 fits; amended to 9,000 it still fits because the 8,000 it
    # already holds is not counted against it a second time.
    assert api.gate("SO-4", "C-200", "8000.00").get_json()["outcome"] == "approved"

    amended = api.gate("SO-4", "C-200", "9000.00").get_json()

    assert amended["outcome"] == "approved"
    assert amended["customer"]["available"] == "0.00"


def test_an_amendment_that_is_blocked_leaves_the_approved_reservation_standing(api):
    approved = api.gate("SO-5", "C-200", "8000.00").get_json()
    assert approved["outcome"] == "approved"

    amended = api.gate("SO-5", "C-200", "9500.00").get_json()

    assert amended["outcome"] == "blocked"
    assert amended["customer"]["exposure"] == "99000.00"  # 91,000 + the standing 8,000
    assert amended["standing_reservation"]["amount"] == "8000.00"
    assert amended["standing_reservation"]["decision_id"] == approved["decision_id"]
    assert api.exposure("C-200")["reservations"] == "8000.00"


def test_cancelling_an_order_releases_its_reservation_and_a_second_cancel_changes_nothing(api):
    api.gate("SO-6", "C-100", "12500.00")
    api.gate("SO-7", "C-100", "1000.00")

    first = api.event("SO-6", "cancelled")
    second = api.event("SO-6", "cancelled")

    assert first.status_code == second.status_code == 200
    assert first.get_json() == {
        "order_id": "SO-6",
        "event": "cancelled",
        "status": "cancelled",
        "released": "12500.00",
        "currency": "CNY",
    }
    assert second.get_json()["released"] == "0.00"
    assert second.get_json()["status"] == "cancelled"
    assert api.exposure("C-100")["reservations"] == "1000.00"


def test_an_invoiced_event_keeps_the_amount_counted_and_a_later_cancel_changes_nothing(api):
    api.gate("SO-8", "C-100", "12500.00")

    first = api.event("SO-8", "invoiced").get_json()
    second = api.event("SO-8", "invoiced").get_json()
    after_cancel = api.event("SO-8", "cancelled").get_json()

    for answer in (first, second, after_cancel):
        assert (answer["status"], answer["released"]) == ("invoiced_awaiting_sync", "0.00")
    assert api.exposure("C-100")["total"] == "57500.00"  # until the invoice is loaded


def test_an_event_for_a_blocked_order_releases_nothing(api):
    api.gate("SO-9", "C-200", "12500.00")

    body = api.event("SO-9", "cancelled").get_json()

    assert body["released"] == "0.00"
    assert api.exposure("C-200")["total"] == "91000.00"


def test_an_imported_invoice_for_the_order_reduces_its_reservation_by_the_invoice_total(
    api, loaded, csv_dir
):
    api.gate("SO-10", "C-100", "20000.00")
    part = ("I-77", "C-100", "INV-77", "2026-11-22", "2026-12-22", "CNY", "8000.00", "8000.00")

    assert loaded.import_folder(csv_dir(invoices=[(*part, "SO-10")])).errors == []

    # 20,000 reserved − 8,000 invoiced = 12,000 still reserved; the invoice itself is open.
    assert api.exposure("C-100") == {
        "open_invoices": "58000.00",
        "unapplied_payments": "5000.00",
        "reservations": "12000.00",
        "total": "65000.00",
    }
    rest = ("I-78", "C-100", "INV-78", "2026-11-22", "2026-12-22", "CNY", "12000.00", "12000.00")
    folder = csv_dir(invoices=[(*part, "SO-10"), (*rest, "SO-10")])
    assert loaded.import_folder(folder).errors == []
    assert api.exposure("C-100")["reservations"] == "0.00"
    assert api.exposure("C-100")["total"] == "65000.00"
    # Fully invoiced: a late cancel releases nothing more.
    assert api.event("SO-10", "cancelled").get_json()["released"] == "0.00"


def test_an_invoice_for_the_order_imported_twice_reduces_the_reservation_once(api, loaded, csv_dir):
    api.gate("SO-11", "C-100", "20000.00")
    row = ("I-79", "C-100", "INV-79", "2026-11-22", "2026-12-22", "CNY", "5000.00", "5000.00")

    loaded.import_folder(csv_dir(invoices=[(*row, "SO-11")]))
    loaded.import_folder(csv_dir(invoices=[(*row, "SO-11")]))

    assert api.exposure("C-100")["reservations"] == "15000.00"
    assert api.exposure("C-100")["open_invoices"] == "55000.00"


def test_cancelling_a_partly_invoiced_order_releases_only_what_is_still_reserved(
    api, loaded, csv_dir
):
    api.gate("SO-12", "C-100", "20000.00")
    row = ("I-80", "C-100", "INV-80", "2026-11-22", "2026-12-22", "CNY", "8000.00", "8000.00")
    loaded.import_folder(csv_dir(invoices=[(*row, "SO-12")]))

    body = api.event("SO-12", "cancelled").get_json()

    assert body["released"] == "12000.00"
    assert api.exposure("C-100")["total"] == "53000.00"


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "thresholds": {
                "base_currency": "CNY",
                "max_data_age_hours": None,  # the clock moves 61 days without a sync
                "overdue_days": 365,  # ... and the group's invoices fall due meanwhile
                "reservation_days": 60,
            }
        }
    ],
)
def test_a_lapsed_reservation_stops_counting_for_the_customer_and_its_group(api, clock):
    # G-1 holds 448,000.00 of its 500,000.00; C-510 reserves 50,000.00 of what is left.
    assert api.gate("SO-G1", "C-510", "50000.00").get_json()["outcome"] == "approved"
    assert api.gate("SO-G2", "C-520", "2000.01").get_json()["outcome"] == "blocked"
    clock.advance(days=61)

    sibling = api.gate("SO-G3", "C-520", "2000.01").get_json()
    retried = api.gate("SO-G1", "C-510", "50000.00")

    assert sibling["outcome"] == "approved"
    assert api.exposure("C-520")["reservations"] == "2000.01"
    assert retried.headers["X-Creditgate-Replayed"] == "false"
    assert retried.get_json()["outcome"] == "blocked"  # 448,000 + 2,000.01 + 50,000 > 500,000
    assert api.exposure("C-510")["reservations"] == "0.00"
