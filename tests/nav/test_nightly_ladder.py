"""Issue 5's night, end to end: a NAV ERP (a real SOAP server on loopback) and a Zoho CRM (the
hosted API answered by `responses`) wired as sources; each night pulls, works out the warnings
and pushes the changes. As the injected clock moves on, one customer climbs from reminder to
red, and each target shows each change exactly once. (The same night against a real Tryton is
tests/tryton/test_push.py.)"""

from __future__ import annotations

import re

import pytest
import responses

from tests.nav.conftest import days
from tests.nav.server import WARNING_FIELDS_CUSTOMER
from tests.zoho import payloads as z
from tests.zoho.conftest import AccountBook, TaskBook

NIGHTS = [  # (days after the first night, the level expected after it)
    (0, "reminder"),  # SI-5001 falls due in 2 days
    (20, "notice"),  # 18 days overdue
    (35, "yellow"),  # 33
    (65, "orange"),  # 63
    (95, "red"),  # 93: and on hold in NAV
]


@pytest.fixture
def zoho():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1"))  # NAV, on loopback, is real
        mock.post(z.TOKEN_URL, json=z.token(0))  # each night's adapter asks once
        mock.get(z.ACCOUNTS, status=204)  # the CRM's own Accounts: none changed
        yield mock


def test_a_customer_climbs_from_reminder_to_red_and_every_target_shows_each_change_once(
    nav, nav_server, zoho, services, clock, monkeypatch
):
    nav.add_customer("C50000", "Soon Due Ltd.", "100000.00")
    nav.post("Invoice", "C50000", "SI-5001", "1000.00", days(-28), due=days(2))
    accounts = AccountBook(zoho, {"C50000": "5725767000000412001"})
    tasks = TaskBook(zoho)
    for name, value in {
        "NAV_USER": nav_server.username, "NAV_PASSWORD": nav_server.password,
        "ZOHO_ID": "1000.ID",
        "ZOHO_SECRET": "secret", "ZOHO_REFRESH": "1000.refresh",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    services.add_source(
        "nav",
        "nav-soap",
        url=nav_server.url,
        settings={"username_env": "NAV_USER", "password_env": "NAV_PASSWORD",
                  "local_currency": "CNY", "wsdl_dir": str(WARNING_FIELDS_CUSTOMER.parent),
                  "warning_field": "Credit_Warning", "note_field": "Credit_Warning_Note"},
    )  # fmt: skip
    services.add_source(
        "crm",
        "zoho-crm",
        settings={"client_id_env": "ZOHO_ID", "client_secret_env": "ZOHO_SECRET",
                  "refresh_token_env": "ZOHO_REFRESH", "dc": "eu", "currency": "CNY",
                  "warnings_for": ["nav"]},
    )  # fmt: skip
    start = clock.now
    seen = []

    for offset, _ in NIGHTS:
        clock.now = start
        clock.advance(days=offset)
        services.nightly()
        levels = {w["customer_id"]: w["level"] for w in services.warning_store().levels()}
        seen.append(levels["C50000"])
    updates_before, tasks_before = nav_server.count("Customer.Update"), len(tasks.tasks)
    services.nightly()  # one more night with nothing new: nothing is pushed again

    assert seen == [level for _, level in NIGHTS]
    # NAV: the level, the step's note and, at red, the hold; one Update per change.
    customer = nav.customers["C50000"]
    assert (customer["Credit_Warning"], customer["Blocked"]) == ("red", "All")
    assert customer["Credit_Warning_Note"].startswith("start legal action; creditgate change ")
    assert nav_server.count("Customer.Update") == updates_before == len(NIGHTS)
    # Zoho: the Account's fields written once per change, and one Task per change.
    assert [u[0]["Credit_Warning_Level"] for u in accounts.updates] == [lvl for _, lvl in NIGHTS]
    assert [u[0]["Credit_Hold"] for u in accounts.updates] == [False] * 4 + [True]
    assert len(tasks.tasks) == tasks_before == len(NIGHTS)
    assert len({t[TaskBook.KEY] for t in tasks.tasks}) == len(NIGHTS)
    # The outbox: every change delivered to both targets, none pending or failed.
    rows = services.warning_store().outbox()
    assert sorted({(r["target"], r["status"]) for r in rows}) == [
        ("crm", "delivered"),
        ("nav", "delivered"),
    ]
    assert len(rows) == 2 * len(NIGHTS)
