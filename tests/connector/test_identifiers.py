"""Ids are matched exactly, case included; one with whitespace at either end is refused at the
API and trimmed by files and syncs, so "C-100 " never passes for a customer of its own (issue 13,
item 20)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from adapters.db.tables import decisions, orders

GATE = "/api/v1/gate/orders"


def _count(services, table):
    with services.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_padded_customer_id_cannot_open_a_second_trial_allowance(api, loaded):
    """trial_amount is 5,000.00 CNY (tests/conftest.py): one unsynced customer gets it once."""
    first = api.gate("SO-1", "C-NEW", "5000.00").get_json()

    padded = [api.gate(f"SO-{i}", ref, "5000.00") for i, ref in enumerate(["C-NEW ", " C-NEW"])]
    same = api.gate("SO-4", "C-NEW", "0.01").get_json()

    assert first["outcome"] == "approved"
    assert [r["code"] for r in first["reasons"]] == ["UNKNOWN_CUSTOMER"]
    for response in padded:
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["fields"] == {
            "customer_id": ["must not begin or end with whitespace: ids are matched exactly"]
        }
    assert same["outcome"] == "review"  # 5,000.01 is over the trial amount
    assert _count(loaded, decisions) == 2


@pytest.mark.parametrize("ref", ["SO-1 ", "\tSO-1", "SO-1\u3000", "\u00a0SO-1"])
def test_a_padded_order_id_is_refused_naming_it(api, loaded, ref):
    response = api.gate(ref, "C-100", "100.00")

    assert response.status_code == 422
    assert list(response.get_json()["fields"]) == ["order_id"]
    assert _count(loaded, orders) == 0


def test_an_event_for_a_padded_order_id_does_not_touch_the_order_without_the_space(api, loaded):
    api.gate("SO-1", "C-100", "100.00")

    response = api.post("/api/v1/gate/orders/SO-1%20/events", json.dumps({"event": "cancelled"}))

    assert response.status_code == 404
    assert api.exposure("C-100")["reservations"] == "100.00"


def test_an_order_stored_with_a_padded_id_before_the_rule_can_still_be_cancelled(api, loaded):
    # Gated before ids with surrounding whitespace were refused: its path still reaches it.
    api.gate("SO-1", "C-100", "100.00")
    with loaded.engine.begin() as conn:
        conn.execute(
            update(orders).where(orders.c.external_id == "SO-1").values(external_id="SO-1 ")
        )

    response = api.post("/api/v1/gate/orders/SO-1%20/events", json.dumps({"event": "cancelled"}))

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["released"] == "100.00"
    assert api.exposure("C-100")["reservations"] == "0.00"


def test_ids_inside_spaces_and_case_are_kept_as_sent(api, loaded):
    """An id may hold spaces inside; case is the ERP's own (c-100 is not C-100)."""
    inner = api.gate("SO 1", "C-100", "100.00").get_json()
    lower = api.gate("SO-2", "c-100", "100.00").get_json()

    assert inner["outcome"] == "approved" and inner["order_id"] == "SO 1"
    assert [r["code"] for r in lower["reasons"]] == ["UNKNOWN_CUSTOMER"]


def test_an_imported_customer_id_is_stored_trimmed_and_gated_by_its_exact_id(api, loaded, csv_dir):
    customers = [(" C-1000 ", "Padded Ltd.", "10000.00", "CNY", "", "false", "")]

    assert loaded.import_folder(csv_dir(customers=customers)).errors == []

    known = api.gate("SO-1", "C-1000", "100.00").get_json()
    assert known["outcome"] == "approved"
    assert known["customer"]["id"] == "C-1000"
    assert api.gate("SO-2", "C-1000 ", "100.00").status_code == 422
