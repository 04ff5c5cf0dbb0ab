"""200 orders from 20 client threads race through 4 gunicorn worker processes for the last
credit of 3 customers: no customer is approved past its remaining credit, on either database.

Remaining credit, from the shared dataset (tests/conftest.py):

| customer | remaining | order | orders that fit |
| --- | --- | --- | --- |
| C-200 | 9,000.00 CNY (limit 100,000.00, exposure 91,000.00) | 4,000.00 | 2 |
| C-800 | 10,000.00 CNY (limit 10,000.00, nothing owed) | 4,000.00 | 2 |
| C-520 | 52,000.00 CNY: its group G-1 (500,000.00 − 448,000.00) binds first | 20,000.00 | 2 |

Only two orders fit per customer, so the credit runs out within the first burst, while all four
workers are deciding at once: that is where a missing lock lets a third order through. A decision
alone is too quick for racing requests to overlap reliably (with the PostgreSQL advisory locks
made shared, this test still passed 4 times out of 4), so each one waits HOLD seconds after its
read, inside its transaction (tests/production/fixed_clock_wsgi.py): with locks that do not
exclude, decisions then read the same balance and approve past the limit.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

from adapters.db.tables import decisions
from tests.conftest import RATES, THRESHOLDS
from tests.production.gunicorn import gunicorn, write_config

ORDERS, CLIENTS, WORKERS = 200, 20, 4
HOLD = "0.05"  # seconds; SQLite decides one at a time, so this is 10 s of its run
CUSTOMERS = {
    "C-200": (Decimal("9000.00"), Decimal("4000.00")),
    "C-800": (Decimal("10000.00"), Decimal("4000.00")),
    "C-520": (Decimal("52000.00"), Decimal("20000.00")),
}


LIMIT_CODE = {
    "C-200": "CREDIT_LIMIT_EXCEEDED",
    "C-800": "CREDIT_LIMIT_EXCEEDED",
    "C-520": "GROUP_LIMIT_EXCEEDED",
}


@pytest.fixture
def server(loaded, tmp_path):
    config = write_config(tmp_path / "creditgate.toml", THRESHOLDS, {"reference": "CNY", **RATES})
    env = {
        "CREDITGATE_DATABASE_URL": loaded.settings.database_url,
        "CREDITGATE_CONFIG": str(config),
        "CREDITGATE_GATE_TIMEOUT": "15",
        "CREDITGATE_LOG_LEVEL": "WARNING",
        "CREDITGATE_TEST_HOLD_SECONDS": HOLD,
    }
    # On the dataset's own clock: the data is dated around tests.conftest.NOW.
    app = "tests.production.fixed_clock_wsgi:app"
    with gunicorn(env, tmp_path / "gunicorn.log", workers=WORKERS, app=app) as base:
        yield base


@pytest.mark.slow
def test_orders_racing_across_worker_processes_never_overspend_a_customer(server, keys, loaded):
    customers = list(CUSTOMERS)
    start = threading.Barrier(CLIENTS)
    local = threading.local()

    def send(n: int) -> tuple[str, str, int, dict]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            start.wait(timeout=60)  # every client thread starts sending at once
        customer = customers[n % len(customers)]
        order_id = f"XRACE-{n:03d}"
        body = {
            "order_id": order_id,
            "customer_id": customer,
            "amount": str(CUSTOMERS[customer][1]),
            "currency": "CNY",
        }
        response = local.session.post(
            f"{server}/api/v1/gate/orders",
            json=body,
            headers={"Authorization": f"Bearer {keys.erp}"},
            timeout=60,
        )
        return order_id, customer, response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = list(pool.map(send, range(ORDERS)))

    # Every request got an answer, and with 15 s to wait for a lock, a decision.
    assert Counter(status for *_, status, _ in answers) == {200: ORDERS}
    approved: dict[str, Decimal] = defaultdict(Decimal)
    outcomes: Counter[tuple[str, str]] = Counter()
    exposures: dict[str, list[str]] = defaultdict(list)
    for _, customer, _, body in answers:
        outcomes[(customer, body["outcome"])] += 1
        if body["outcome"] == "approved":
            approved[customer] += CUSTOMERS[customer][1]
            exposures[customer].append(body["customer"]["exposure"])
        else:
            assert [r["code"] for r in body["reasons"]] == [LIMIT_CODE[customer]], body
    # Each approval saw the ones before it: no two show the customer at the same exposure.
    assert all(len(set(seen)) == len(seen) for seen in exposures.values()), exposures
    for customer, (remaining, amount) in CUSTOMERS.items():
        # Never past the remaining credit, and the credit was used up: every order that fit
        # was approved (the orders are all the same size, so the first ones fit).
        assert approved[customer] == (remaining // amount) * amount, (customer, outcomes)
    # The decision log holds exactly one decision per request.
    ids = [body["decision_id"] for *_, body in answers]
    assert len(set(ids)) == ORDERS
    with loaded.engine.connect() as conn:
        logged = conn.execute(
            select(decisions.c.order_id, func.count())
            .where(decisions.c.order_id.like("XRACE-%"))
            .group_by(decisions.c.order_id)
        ).all()
    assert len(logged) == ORDERS and {count for _, count in logged} == {1}
