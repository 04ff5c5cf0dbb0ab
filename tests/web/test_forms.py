"""The pages hold ids and forms to the API's rules: the same schemas (connector/web/forms.py), so
what the API refuses a page refuses too, each in its own way (a 404 for an id in the address
that no record can have, a message on the page for a form)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.db.tables import thresholds_versions
from tests.conftest import day
from tests.web.test_pages import Browser, browser, people  # noqa: F401 (fixtures)

# Tab, carriage return, line feed, as sent in an address: what the API refused and the pages let
# through before they loaded the API's schemas.
BLANKS = ["%09", "%0D", "%0A"]


def _admin_post(api: Any, path: str, body: dict[str, Any]) -> Any:
    return api.client.post(path, json=body, headers=api.keys.header("admin"))


@pytest.mark.parametrize("blank", BLANKS)
def test_a_tab_or_line_break_in_an_order_id_is_refused_by_the_page_as_by_the_api(
    browser,  # noqa: F811
    api,
    blank,
):
    api.gate("SO-1", "C-300", "100.00")
    browser.login("ada")
    order = f"SO-1{blank}"

    by_api = _admin_post(api, f"/api/v1/admin/holds/{order}/reject", {"reason": "x"})
    by_page = browser.post(f"/holds/default/{order}/reject", {"reason": "x"}, "/holds")

    # Werkzeug's routes never match a line feed (a 404 before any view); the rest reach it.
    assert by_api.status_code == (404 if blank == "%0A" else 422)
    assert by_page.status_code == 404, by_page.status_code
    assert "SO-1" in browser.text("/holds")  # still held


@pytest.mark.parametrize("blank", BLANKS)
@pytest.mark.parametrize(
    "path",
    [
        "/customers/default/C-100{blank}/hold",
        "/customers/def{blank}ault/C-100/hold",
        "/holds/def{blank}ault/SO-1/release",
    ],
)
def test_a_tab_or_line_break_anywhere_in_a_pages_address_is_a_404(browser, api, path, blank):  # noqa: F811
    api.gate("SO-1", "C-300", "100.00")
    browser.login("ada")

    response = browser.post(path.format(blank=blank), {"on_hold": "true", "reason": "x"})

    assert response.status_code == 404, response.status_code


def test_a_decision_id_with_a_tab_is_refused_like_one_no_record_can_have(browser, api):  # noqa: F811
    held = api.gate("SO-1", "C-300", "100.00").get_json()
    browser.login("ada")

    response = browser.post(
        "/holds/default/SO-1/reject",
        {"reason": "x", "decision_id": held["decision_id"].replace("-", "\t", 1)},
        "/holds",
    )

    assert response.status_code == 404, response.status_code


def test_a_cap_finer_than_any_currency_is_refused_as_the_api_refuses_it(browser, api):  # noqa: F811
    api.gate("SO-1", "C-300", "100.00")
    browser.login("ada")

    by_api = _admin_post(
        api, "/api/v1/admin/holds/SO-1/release", {"reason": "paid", "cap": "150.0001"}
    )
    by_page = browser.post(
        "/holds/default/SO-1/release", {"reason": "paid", "cap": "150.0001"}, "/holds"
    )

    assert by_api.status_code == 422 and by_page.status_code == 422
    page = by_page.get_data(as_text=True)
    assert "Not an amount in the order&#39;s currency" in page
    assert "at most 3 decimal places" in page and 'value="150.0001"' in page
    assert api.gate("SO-1", "C-300", "100.00").get_json()["outcome"] != "approved"


@pytest.mark.parametrize(
    "address",
    ["/audit?customer_id=C-3%0900", "/audit?outcome=maybe", "/audit/events.csv?actor=a%0Ab"],
)
def test_an_audit_filter_the_api_refuses_is_a_400_naming_it(browser, api, address):  # noqa: F811
    name = address.partition("?")[2].partition("=")[0]
    url = "/api/v1/audit/decisions" if name != "actor" else "/api/v1/audit/events"
    by_api = api.client.get(
        url + "?" + address.partition("?")[2], headers=api.keys.header("auditor")
    )
    browser.login("otto")

    response = browser.client.get(address)

    assert by_api.status_code == 422
    assert response.status_code == 400, response.status_code
    assert name in response.get_data(as_text=True)


def test_a_nul_in_a_field_whose_schema_lets_it_through_is_still_refused(browser):  # noqa: F811
    # AuditEventsQuerySchema's action and ThresholdsChangeSchema's reason take any text: the
    # forms refuse control characters before the schema (connector/web/forms.py), as before.
    browser.login("ada")

    audit = browser.client.get("/audit?action=a%00b")
    saved = browser.post(
        "/thresholds/override",
        {"kind": "customers", "ref": "C-300", "setting": "overdue_days", "value": "60",
         "action": "save", "reason": "a\x00b"},
        "/thresholds",
    )  # fmt: skip

    assert audit.status_code == 400 and "action" in audit.get_data(as_text=True)
    assert saved.status_code == 422
    assert "at most 2,000 characters of plain text" in saved.get_data(as_text=True)


def test_a_forged_base_version_is_refused_not_ignored(browser, loaded):  # noqa: F811
    browser.login("ada")
    form = {"kind": "customers", "ref": "C-300", "setting": "overdue_days", "value": "60"}

    response = browser.post(
        "/thresholds/override",
        {**form, "action": "save", "reason": "mine", "base_version": "one"},
        "/thresholds",
    )

    assert response.status_code == 422
    assert "base_version: Not a valid integer." in response.get_data(as_text=True)
    with loaded.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(thresholds_versions)).scalar()
    assert count == 1


def test_an_audit_period_ending_before_it_begins_is_a_400_a_day_that_is_none_is_left_out(
    browser,  # noqa: F811
):
    browser.login("otto")

    backwards = browser.client.get(f"/audit?from={day(0)}&to={day(-3)}")
    unusable = browser.client.get(f"/audit?from=someday&to={day(0)}")

    assert backwards.status_code == 400
    assert "to: must not be before &#39;from&#39;" in backwards.get_data(as_text=True)
    assert unusable.status_code == 200


@pytest.mark.parametrize(
    ("who", "address", "status"),
    [("ada", "/customers/default/C%09100", 404), ("ada", "/audit?outcome=maybe", 400),
     ("sam", "/thresholds", 403)],
)  # fmt: skip
def test_each_pages_refusals_are_html_pages(browser, who, address, status):  # noqa: F811
    browser.login(who)

    response = browser.client.get(address)

    assert response.status_code == status
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.get_data(as_text=True).startswith("<!doctype html>")
