"""The web pages through Flask's test client: logins (hashed passwords, sessions, CSRF, audit),
roles per page, and what each page shows and does on a real database."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from adapters.db.tables import audit_events, users
from gating.commands import CreateUser
from tests.conftest import day

PASSWORD = "correct horse battery staple"


class Browser:
    """A test client that logs in through the form and posts forms with their CSRF token."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def token(self, path: str = "/login") -> str:
        page = self.client.get(path).get_data(as_text=True)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, f"no form on {path}"
        return found.group(1)

    def login(self, name: str, password: str = PASSWORD) -> Any:
        return self.client.post(
            "/login",
            data={"username": name, "password": password, "csrf_token": self.token()},
        )

    def post(self, path: str, data: dict[str, str], page: str = "/") -> Any:
        return self.client.post(path, data={**data, "csrf_token": self.token(page)})

    def text(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return str(response.get_data(as_text=True))


@pytest.fixture
def people(loaded) -> dict[str, str]:
    for name, role in [
        ("ada", "admin"),
        ("otto", "auditor"),
        ("sam", "credit_specialist"),
        ("mona", "credit_manager"),
    ]:
        loaded.writes.create_user(CreateUser(name, role, PASSWORD))
    return {"admin": "ada", "auditor": "otto", "credit_specialist": "sam", "credit_manager": "mona"}


@pytest.fixture
def browser(api, people) -> Browser:
    return Browser(api.client.application.test_client())


def test_a_user_logs_in_with_a_hashed_password_and_the_login_is_audited(browser, loaded):
    wrong = browser.login("ada", "not the password")
    right = browser.login("ada")

    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.get_data(
        as_text=True
    )
    assert right.status_code == 302 and right.headers["Location"] == "/"
    assert "ada · admin" in browser.text("/")
    with loaded.engine.connect() as conn:
        stored = conn.execute(select(users.c.password_hash).where(users.c.username == "ada"))
        actions = conn.execute(
            select(audit_events.c.action, audit_events.c.subject).where(
                audit_events.c.action.in_(["login", "login_failed", "user_created"])
            )
        ).all()
    assert PASSWORD not in stored.scalar_one()
    assert ("login_failed", "user:ada") in actions and ("login", "user:ada") in actions


def test_pages_need_a_login_and_logout_ends_the_session(browser):
    assert browser.client.get("/holds").headers["Location"] == "/login?next=/holds"
    browser.login("ada")

    out = browser.post("/logout", {})

    assert out.status_code == 302
    assert browser.client.get("/").status_code == 302


def test_a_form_without_the_sessions_token_is_refused(browser, api):
    browser.login("ada")
    api.gate("SO-1", "C-300", "100.00")

    forged = browser.client.post(
        "/holds/default/SO-1/release", data={"reason": "from another site", "csrf_token": "x"}
    )

    assert forged.status_code == 400
    assert "SO-1" in browser.text("/holds")


def test_login_does_not_redirect_off_site(browser):
    response = browser.client.post(
        "/login",
        data={
            "username": "ada",
            "password": PASSWORD,
            "next": "https://evil.example/",
            "csrf_token": browser.token(),
        },
    )

    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("admin", {"/", "/customers", "/holds", "/thresholds", "/audit"}),
        ("auditor", {"/", "/customers", "/audit"}),
        ("credit_specialist", {"/", "/customers", "/holds"}),
        ("credit_manager", {"/", "/customers", "/holds"}),
    ],
)
def test_each_role_sees_its_pages(browser, people, role, allowed):
    browser.login(people[role])

    for path in ("/", "/customers", "/holds", "/thresholds", "/audit"):
        status = browser.client.get(path).status_code
        assert status == (200 if path in allowed else 403), (role, path, status)


def test_the_dashboard_shows_totals_aging_and_dso(browser):
    browser.login("ada")

    page = browser.text("/")

    assert 'id="aging"' in page and "<svg" in page
    buckets = dict(re.findall(r'data-bucket="([^"]+)" data-amount="([^"]+)"', page))
    # The dataset's invoices past due: C-300's 20,000.00 (45 days) and 8,000.00 (31) are in
    # 31–60; its 5,000.00 (30 days) in 1–30.
    assert Decimal(buckets["31–60"]) == Decimal("28000.00")
    assert Decimal(buckets["1–30"]) == Decimal("5000.00")
    assert 'id="dso"' in page


def test_a_customer_page_has_its_breakdown_aging_invoices_and_decisions(browser, api):
    api.gate("SO-1", "C-300", "100.00")
    browser.login("otto")

    page = browser.text("/customers/default/C-300")
    listed = browser.text("/customers?q=c-3")

    assert "INV-3001" in page and "SO-1" in page and "blocked" in page
    assert "C-300" in listed and "C-100" not in listed


def test_a_customer_page_shows_orders_invoiced_awaiting_sync(browser, api):
    api.gate("SO-1", "C-800", "9000.00")
    api.event("SO-1", "invoiced")
    browser.login("otto")

    page = browser.text("/customers/default/C-800")

    assert "Invoiced, awaiting sync" in page
    section = page[page.index("Invoiced, awaiting sync") :]
    assert "SO-1" in section and "9,000.00" in section


def test_releasing_a_held_order_from_the_page_with_a_cap(browser, api):
    held = api.gate("SO-1", "C-300", "100.00").get_json()
    browser.login("mona")
    form = {
        "reason": "paid by wire",
        "cap": "150.00",
        "expires_on": day(3),
        "decision_id": held["decision_id"],
        "back": "/holds",
    }

    asked = browser.post("/holds/default/SO-1/release", form, page="/holds")
    response = browser.post(
        "/holds/default/SO-1/release", {**form, "confirmed": "yes"}, page="/holds"
    )
    again = api.gate("SO-1", "C-300", "100.00").get_json()

    assert asked.status_code == 200 and "Yes, release SO-1 (100.00 CNY)" in asked.get_data(
        as_text=True
    )
    assert response.status_code == 302
    assert "SO-1 (100.00 CNY): released, now approved." in browser.text("/holds")
    assert again["outcome"] == "approved" and again["reasons"][0]["code"] == "RELEASED_BY"
    assert "released by mona (credit_manager)" in again["reasons"][0]["message"]


def test_a_refused_release_is_shown_not_raised(browser, api):
    api.gate("SO-1", "C-300", "100.00")
    browser.login("sam")

    response = browser.post(
        "/holds/default/SO-1/release",
        {"reason": "x", "cap": "50.00", "confirmed": "yes", "back": "/holds"},
        page="/holds",
    )

    assert response.status_code == 422
    assert "below the order" in response.get_data(as_text=True)


def test_a_refused_release_is_said_in_the_readers_language(browser, api):
    api.gate("SO-1", "C-300", "100.00")
    browser.login("sam")
    browser.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"

    below = browser.post(
        "/holds/default/SO-1/release",
        {"reason": "x", "cap": "50.00", "confirmed": "yes", "back": "/holds"},
        page="/holds",
    )

    page = below.get_data(as_text=True)
    assert below.status_code == 422
    assert "低于订单金额 100.00 CNY" in page and "below the order" not in page


def test_an_admin_raises_one_customers_overdue_days_and_sees_what_it_would_change(browser, api):
    api.gate("SO-1", "C-300", "100.00")
    browser.login("ada")
    form = {
        "kind": "customers",
        "ref": "C-300",
        "setting": "overdue_days",
        "value": "60",
        "from": day(0),
        "to": day(0),
    }

    what_if = browser.post("/thresholds/override", {**form, "action": "simulate"}, "/thresholds")
    saved = browser.post(
        "/thresholds/override",
        {**form, "action": "save", "reason": "C-300 pays at 60 days"},
        "/thresholds",
    )

    page = what_if.get_data(as_text=True)
    assert what_if.status_code == 200 and 'id="changed">1<' in page
    assert "blocked → approved" in page
    assert saved.status_code == 302 and saved.headers["Location"] == "/thresholds?diff=2"
    diff = browser.text("/thresholds?diff=2")
    assert "C-300" in diff and "overdue_days" in diff and 'id="active-version">2<' in diff
    assert api.gate("SO-2", "C-300", "100.00").get_json()["outcome"] == "approved"


def test_a_bad_document_is_refused_naming_the_field(browser):
    browser.login("ada")

    response = browser.post(
        "/thresholds",
        {"document": '{"overdue_days": -1}', "reason": "x", "action": "save"},
        "/thresholds",
    )

    assert response.status_code == 422
    assert "overdue_days" in response.get_data(as_text=True)


def test_an_auditor_downloads_the_days_decisions_and_verifies_the_trail(browser, api):
    api.gate("SO-1", "C-300", "100.00")
    api.gate("SO-2", "C-100", "100.00")
    browser.login("otto")

    exported = browser.client.get(f"/audit/decisions.csv?from={day(0)}&to={day(0)}")
    verified = browser.post("/audit/verify", {}, "/audit")

    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert sorted(r["order_id"] for r in rows) == ["SO-1", "SO-2"]
    assert verified.status_code == 302
    assert "The audit trail holds" in browser.text("/audit")


def test_users_are_created_with_a_role_and_a_long_password(loaded):
    with pytest.raises(ValueError, match="at least 12"):
        loaded.writes.create_user(CreateUser("bob", "admin", "short"))
    with pytest.raises(ValueError, match="role must be one of"):
        loaded.writes.create_user(CreateUser("bob", "erp", PASSWORD))
    loaded.writes.create_user(CreateUser("bob", "auditor", PASSWORD))
    with pytest.raises(ValueError, match="exists already"):
        loaded.writes.create_user(CreateUser("bob", "auditor", PASSWORD))


@pytest.mark.parametrize(
    "path",
    [
        "/customers?page=99999999999999999999",
        "/customers?page=-3",
        "/audit?from=9999-12-31&to=0001-01-01",
        "/audit/decisions.csv?from=9999-12-31",
        "/customers/default/C-404",
        "/customers/nowhere/C-100",
    ],
)
def test_odd_addresses_never_get_a_500(browser, path):
    browser.login("ada")

    response = browser.client.get(path)

    assert response.status_code in (200, 404), (path, response.status_code)
    response.get_data()


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"reason": "x", "expires_on": "9999-12-31"}, "this side of the year 9999"),
        ({"reason": "x", "expires_on": "2020-01-01"}, "in the past"),
        ({"reason": "x", "cap": "1e400"}, "cap"),
        ({"reason": ""}, "Say why"),
    ],
)
def test_a_bad_release_form_is_shown_not_a_500(browser, api, form, message):
    api.gate("SO-1", "C-300", "100.00")
    browser.login("ada")

    response = browser.post(
        "/holds/default/SO-1/release", {**form, "confirmed": "yes"}, page="/holds"
    )

    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/customers?q=a%00b", None),
        ("get", "/audit?customer_id=a%00b", None),
        ("get", "/customers/default/C%00", None),
        ("post", "/holds/default/SO%00/reject", {"reason": "x"}),
        ("post", "/holds/default/SO-1/reject", {"reason": "a\x00b"}),
    ],
)
def test_control_characters_are_refused_not_a_500(browser, api, method, path, data):
    api.gate("SO-1", "C-300", "100.00")
    browser.login("ada")

    if method == "get":
        response = browser.client.get(path)
    else:
        response = browser.post(path, data, page="/holds")

    assert response.status_code in (302, 400, 404, 422), response.status_code


def test_a_failed_login_with_a_nul_or_an_unknown_name_records_no_name(browser, loaded):
    browser.client.post(
        "/login", data={"username": "a\x00b", "password": "x", "csrf_token": browser.token()}
    )
    browser.client.post(
        "/login",
        data={"username": "my secret pw", "password": "x", "csrf_token": browser.token()},
    )

    with loaded.engine.connect() as conn:
        subjects = (
            conn.execute(
                select(audit_events.c.subject).where(audit_events.c.action == "login_failed")
            )
            .scalars()
            .all()
        )
    assert subjects == ["user:?", "user:?"]


def test_two_admins_editing_at_once_cannot_undo_each_others_change(browser, api):
    browser.login("ada")
    page = browser.text("/thresholds")
    base = re.search(r'name="base_version" value="(\d+)"', page).group(1)
    form = {"kind": "customers", "ref": "C-300", "setting": "overdue_days", "value": "60"}
    api.client.put(  # another admin saves first, over the API
        "/api/v1/admin/thresholds",
        json={
            "reason": "other",
            "thresholds": {
                **api.client.get(
                    "/api/v1/admin/thresholds", headers=api.keys.header("admin")
                ).get_json()["thresholds"],
                "overdue_days": 45,
            },
        },
        headers=api.keys.header("admin"),
    )

    response = browser.post(
        "/thresholds/override",
        {**form, "action": "save", "reason": "mine", "base_version": base},
        "/thresholds",
    )

    assert response.status_code == 409
    assert "changed since version 1" in response.get_data(as_text=True)
