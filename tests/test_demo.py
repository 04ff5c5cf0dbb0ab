"""The demo shows what the README promises: each demo order gets its advertised outcome."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from config.settings import Settings
from config.wiring import build_services
from connector import create_app
from connector.demo import (
    DEMO_ADMIN_KEY,
    DEMO_AUDITOR_KEY,
    DEMO_ERP_KEY,
    DEMO_USERS,
    ORDERS,
    prepare_demo,
)


def test_every_demo_order_gets_the_outcome_and_reason_the_demo_advertises(tmp_path):
    clock = lambda: datetime(2026, 11, 22, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))  # noqa: E731
    services = build_services(Settings(database_url=f"sqlite:///{tmp_path}/demo.db"), clock=clock)
    info = prepare_demo(services)
    client = create_app(services).test_client()
    erp = {"Authorization": f"Bearer {DEMO_ERP_KEY}"}
    seen = []
    for _, order_id, customer, amount, outcome, reason in ORDERS:
        body = {"order_id": order_id, "customer_id": customer, "amount": amount, "currency": "CNY"}
        answer = client.post("/api/v1/gate/orders", json=body, headers=erp).get_json()
        codes = [r["code"] for r in answer["reasons"]]
        seen.append((order_id, answer["outcome"], codes))
        assert answer["outcome"] == outcome, (order_id, answer)
        assert codes == ([reason] if reason else []), (order_id, answer)
    assert {o for _, o, _ in seen} == {"approved", "blocked", "review"}
    assert len(info["curls"]("http://127.0.0.1:8000")) == len(ORDERS) + 3
    auditor = {"Authorization": f"Bearer {DEMO_AUDITOR_KEY}"}
    position = client.get("/api/v1/customers/C-300/credit", headers=auditor).get_json()
    assert position["exposure"]["total"] == "33000.00"
    assert [i["days_overdue"] for i in position["overdue_invoices"]] == [45, 31, 30]
    warnings = client.get("/api/v1/warnings", headers=auditor).get_json()["warnings"]
    levels = {w["customer_id"]: w["level"] for w in warnings}
    assert levels["C-300"] == "yellow" and levels["C-400"] == "red" and levels["C-100"] == "none"
    admin = {"Authorization": f"Bearer {DEMO_ADMIN_KEY}"}
    thresholds = client.get("/api/v1/admin/thresholds", headers=admin).get_json()
    assert (thresholds["created_by"], thresholds["thresholds"]["base_currency"]) == ("demo", "CNY")
    services.engine.dispose()


def test_the_demo_users_log_in_and_find_held_orders(tmp_path):
    clock = lambda: datetime(2026, 11, 22, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))  # noqa: E731
    services = build_services(Settings(database_url=f"sqlite:///{tmp_path}/demo.db"), clock=clock)
    prepare_demo(services)
    client = create_app(services).test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    role, password = DEMO_USERS["demo-manager"]

    login = client.post(
        "/login", data={"username": "demo-manager", "password": password, "csrf_token": token}
    )
    holds = client.get("/holds").get_data(as_text=True)

    assert role == "credit_manager" and login.status_code == 302
    assert 'data-order="SO-3"' in holds and 'data-order="SO-6"' in holds
    services.engine.dispose()
