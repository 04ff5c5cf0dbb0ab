"""Fifty orders race for the last credit through a real threaded server: none overspends it."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from adapters.db.tables import decisions
from connector import create_app

ORDERS = 50
AMOUNT = Decimal("700.00")
REMAINING = Decimal("10000.00")  # C-800: limit 10,000.00, nothing owed


@pytest.fixture
def server(loaded):
    app = create_app(loaded)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@pytest.mark.parametrize("settings_overrides", [{"gate_timeout": 10.0}])
def test_racing_orders_never_reserve_more_than_the_remaining_credit(server, keys, loaded):
    start = threading.Barrier(ORDERS)
    headers = {"Authorization": f"Bearer {keys.erp}"}

    def send(n: int) -> tuple[str, int, dict]:
        order_id = f"RACE-{n:02d}"
        body = {"order_id": order_id, "customer_id": "C-800", "amount": str(AMOUNT)}
        body["currency"] = "CNY"
        start.wait(timeout=30)
        with requests.Session() as session:
            response = session.post(
                f"{server}/api/v1/gate/orders", json=body, headers=headers, timeout=60
            )
            return order_id, response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=ORDERS) as pool:
        answers = list(pool.map(send, range(ORDERS)))

    statuses = Counter(status for _, status, _ in answers)
    assert set(statuses) <= {200, 503}, statuses
    for _, status, body in answers:
        if status == 503:
            assert body["decision_id"] is None
            assert [r["code"] for r in body["reasons"]] == ["GATE_UNAVAILABLE"]
    # Fifty decisions take well under a second, so with 10 s to wait for the lock every order
    # is decided: a 503 here means decisions collided instead of queueing.
    assert statuses[503] == 0, statuses
    decided = [(order_id, body) for order_id, status, body in answers if status == 200]
    approved = [body for _, body in decided if body["outcome"] == "approved"]
    assert all(body["outcome"] == "blocked" for _, body in decided if body not in approved)
    assert len(approved) * AMOUNT <= REMAINING
    if statuses[200] == ORDERS:
        assert len(approved) == int(REMAINING // AMOUNT) == 14
    # Every approval saw the reservations of those decided before it.
    exposures = sorted(Decimal(body["customer"]["exposure"]) for body in approved)
    assert exposures == [AMOUNT * (i + 1) for i in range(len(approved))]
    with loaded.engine.connect() as conn:
        per_order = dict(
            conn.execute(
                select(decisions.c.order_id, func.count())
                .where(decisions.c.customer_id == "C-800")
                .group_by(decisions.c.order_id)
            ).all()
        )
    assert per_order == {order_id: 1 for order_id, _ in decided}
    reserved = Decimal(
        requests.get(
            f"{server}/api/v1/customers/C-800/credit",
            headers={"Authorization": f"Bearer {keys.admin}"},
            timeout=30,
        ).json()["exposure"]["reservations"]
    )
    assert reserved == len(approved) * AMOUNT


@pytest.mark.parametrize("settings_overrides", [{"gate_timeout": 10.0}])
def test_refused_amendments_racing_new_orders_never_free_credit_the_erp_still_holds(
    server, keys, loaded
):
    """Five approved orders of 1,000.00 are amended to 20,000.00 (refused: their 1,000.00
    stand) while twenty new orders of 700.00 race for the rest: 5,000 + 7 × 700 fits the
    10,000.00 limit, an eighth would not."""
    headers = {"Authorization": f"Bearer {keys.erp}"}
    held, amended, new = Decimal("1000.00"), Decimal("20000.00"), 20

    def post(order_id: str, amount: Decimal) -> tuple[str, int, dict]:
        body = {"order_id": order_id, "customer_id": "C-800", "amount": str(amount)}
        with requests.Session() as session:
            response = session.post(
                f"{server}/api/v1/gate/orders",
                json={**body, "currency": "CNY"},
                headers=headers,
                timeout=60,
            )
            return order_id, response.status_code, response.json()

    for n in range(5):
        assert post(f"HELD-{n}", held)[2]["outcome"] == "approved"
    calls = [(f"HELD-{n}", amended) for n in range(5)]
    calls += [(f"NEW-{n:02d}", AMOUNT) for n in range(new)]
    start = threading.Barrier(len(calls))

    def send(call: tuple[str, Decimal]) -> tuple[str, int, dict]:
        start.wait(timeout=30)
        return post(*call)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        answers = list(pool.map(send, calls))

    assert Counter(status for _, status, _ in answers) == {200: len(calls)}
    by_id = {order_id: body for order_id, _, body in answers}
    for n in range(5):
        refused = by_id[f"HELD-{n}"]
        assert refused["outcome"] == "blocked"
        assert refused["standing_reservation"]["amount"] == "1000.00"
    approved = [
        b
        for order_id, b in by_id.items()
        if order_id.startswith("NEW") and b["outcome"] == "approved"
    ]
    # What the ERP may go ahead with: the five orders at their approved 1,000.00, and the new
    # orders approved. Before the fix the refusals freed 5,000.00: up to 14 new orders passed.
    assert 5 * held + len(approved) * AMOUNT <= REMAINING
    assert len(approved) == 7
    reserved = Decimal(
        requests.get(
            f"{server}/api/v1/customers/C-800/credit",
            headers={"Authorization": f"Bearer {keys.admin}"},
            timeout=30,
        ).json()["exposure"]["reservations"]
    )
    assert reserved == 5 * held + len(approved) * AMOUNT


def waits_for_the_decision_lock(loaded, customer: str, work) -> bool:
    """Run `work` in a thread while a connection holds `customer`'s decision lock (as a decision
    would, adapters/db/decision_reads.py), for a second; whether it waited, then its result."""
    from sqlalchemy import text

    source_id = loaded.sync_store().source("default")["id"]
    results: list = []
    worker = threading.Thread(target=lambda: results.append(work()))
    with loaded.engine.connect() as decision:
        decision.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"creditgate:customer:{source_id}:{customer}"},
        )
        worker.start()
        worker.join(timeout=1.5)
        waited = worker.is_alive()
        decision.rollback()
    worker.join(timeout=30)
    assert results, "the work did not finish once the lock was released"
    return waited


# The gate writes an order back from what it read under its customer's lock: a cancel or an
# invoice committed in between would be overwritten and its release counted twice. So order
# events and invoice loads take that lock too (PostgreSQL; SQLite has one writer at a time).


@pytest.mark.parametrize("settings_overrides", [{"gate_timeout": 10.0}])
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_an_order_event_waits_for_the_customer_s_decision_lock(api, loaded, backend):
    assert api.gate("EV-1", "C-800", "700.00").get_json()["outcome"] == "approved"

    def cancel() -> int:
        return api.post("/api/v1/gate/orders/EV-1/events", '{"event": "cancelled"}').status_code

    assert waits_for_the_decision_lock(loaded, "C-800", cancel)
    assert api.exposure("C-800")["reservations"] == "0.00"


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_an_invoice_loaded_for_an_order_waits_for_the_customer_s_decision_lock(
    api, loaded, backend, csv_dir
):
    from tests.conftest import day

    assert api.gate("EV-2", "C-800", "700.00").get_json()["outcome"] == "approved"
    invoice = ("I-EV2", "C-800", "EV2", day(0), day(30), "CNY", "700.00", "700.00", "EV-2")
    folder = csv_dir(invoices=[invoice])

    assert waits_for_the_decision_lock(loaded, "C-800", lambda: loaded.import_folder(folder))
    position = api.exposure("C-800")
    assert (position["open_invoices"], position["reservations"]) == ("700.00", "0.00")
