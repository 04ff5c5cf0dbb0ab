"""Ids with "/", "%", spaces, "?", "#" and CJK characters work through real gunicorn, which
decodes %2F to "/" before the app routes (issue 13, item 5; tests/connector/test_ids_in_urls.py
covers every URL through the test client)."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import pytest
import requests

from gating.commands import CreateUser
from tests.conftest import RATES, THRESHOLDS
from tests.production.gunicorn import gunicorn, write_config
from tests.web.test_pages import PASSWORD

IDS = ["SO/SL-1", "50%off", "SO 1", "销售/订单-1", "Q?1#2"]
CUSTOMER = "客户/1 50%?#"


@pytest.fixture
def server(loaded, tmp_path, csv_dir):
    folder = csv_dir(customers=[(CUSTOMER, "Odd Id Ltd.", "10000.00", "CNY", "", "false", "")])
    assert loaded.import_folder(folder).errors == []
    loaded.writes.create_user(CreateUser("ada", "admin", PASSWORD))
    config = write_config(tmp_path / "creditgate.toml", THRESHOLDS, {"reference": "CNY", **RATES})
    env = {
        "CREDITGATE_DATABASE_URL": loaded.settings.database_url,
        "CREDITGATE_CONFIG": str(config),
        "CREDITGATE_LOG_LEVEL": "WARNING",
    }
    app = "tests.production.fixed_clock_wsgi:app"  # the dataset is dated around its NOW
    with gunicorn(env, tmp_path / "gunicorn.log", workers=1, app=app) as base:
        yield base


@pytest.mark.slow
def test_every_kind_of_id_is_worked_through_gunicorn(server, keys):
    erp, admin = keys.header("erp"), keys.header("admin")
    for order_id in IDS:
        for suffix, customer in (("", "C-100"), ("-held", "C-300")):
            body = {"order_id": order_id + suffix, "customer_id": customer, "amount": "10.00"}
            gated = requests.post(
                f"{server}/api/v1/gate/orders", json={**body, "currency": "CNY"}, headers=erp
            )
            assert gated.status_code == 200, gated.text
        event = requests.post(
            f"{server}/api/v1/gate/orders/{quote(order_id, safe='')}/events",
            json={"event": "cancelled"},
            headers=erp,
        )
        released = requests.post(
            f"{server}/api/v1/admin/holds/{quote(order_id + '-held', safe='/')}/release",
            json={"reason": "paid"},
            headers=admin,
        )
        assert (event.status_code, event.json()["order_id"]) == (200, order_id)
        assert released.status_code == 200, released.text
        assert released.json()["decision"]["order_id"] == order_id + "-held"

    credit = requests.get(
        f"{server}/api/v1/customers/{quote(CUSTOMER, safe='/')}/credit", headers=admin
    )
    assert credit.status_code == 200, credit.text
    assert credit.json()["customer"]["id"] == CUSTOMER

    with requests.Session() as browser:
        login = browser.get(f"{server}/login").text
        (token,) = re.findall(r'name="csrf_token" value="([^"]+)"', login)
        form = {"username": "ada", "password": PASSWORD, "csrf_token": html.unescape(token)}
        assert browser.post(f"{server}/login", data=form, allow_redirects=False).status_code == 302
        page = browser.get(f"{server}/customers/default/{quote(CUSTOMER, safe='')}")
    assert page.status_code == 200
    assert html.escape(CUSTOMER) in page.text
