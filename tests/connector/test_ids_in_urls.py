"""Every id the gate takes can be worked through every per-order and per-customer URL, API and
pages alike (issue 13, item 5): ids with "/", "%", spaces, "?", "#" and CJK characters, sent
with "/" as is or as %2F (a WSGI server decodes both to "/" before routing)."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote, unquote

import pytest

from gating.commands import CreateUser
from tests.web.test_pages import PASSWORD, Browser

IDS = ["SO/SL-1", "50%off", "SO 1", "销售/订单-1", "Q?1#2", "a/release/reject"]
# Each id with "/" as is (quote(safe="/")), and those with a "/" also with it sent as %2F.
URL_CASES = [(i, quote(i, safe="/")) for i in IDS] + [
    (i, quote(i, safe="")) for i in IDS if "/" in i
]


@pytest.fixture(params=IDS)
def odd_id(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=URL_CASES, ids=[url for _, url in URL_CASES])
def url_case(request: pytest.FixtureRequest) -> tuple[str, str]:
    """An id and the same id percent-encoded for a URL path, as an ERP's HTTP library sends it."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def odd_customer(loaded: Any, csv_dir: Any, odd_id: str) -> str:
    """A customer whose id is `odd_id`, with 10,000.00 CNY of credit and nothing owed."""
    folder = csv_dir(customers=[(odd_id, "Odd Id Ltd.", "10000.00", "CNY", "", "false", "")])
    result = loaded.import_folder(folder)
    assert [str(e) for e in result.errors] == []
    return odd_id


def _ok(response: Any) -> Any:
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True))
    return response.get_json()


def _post(api: Any, path: str, body: dict[str, Any], role: str = "admin") -> Any:
    return api.client.post(path, json=body, headers=api.keys.header(role))


# --- the API -----------------------------------------------------------------------------------


def test_an_order_event_reaches_the_order(api, url_case):
    odd_id, url_id = url_case
    assert api.gate(odd_id, "C-100", "1000.00").get_json()["outcome"] == "approved"

    answer = _ok(_post(api, f"/api/v1/gate/orders/{url_id}/events", {"event": "cancelled"}, "erp"))

    assert (answer["order_id"], answer["released"]) == (odd_id, "1000.00")
    assert api.exposure("C-100")["reservations"] == "0.00"


def test_release_reject_and_reevaluate_reach_the_held_order(api, url_case):
    odd_id, url_id = url_case
    for suffix in ("", "-2"):
        assert api.gate(odd_id + suffix, "C-300", "1000.00").get_json()["outcome"] == "blocked"
    holds = "/api/v1/admin/holds"

    again = _ok(_post(api, f"{holds}/{url_id}/reevaluate", {}))
    released = _ok(_post(api, f"{holds}/{url_id}/release", {"reason": "paid by wire"}))
    rejected = _ok(_post(api, f"{holds}/{url_id}-2/reject", {"reason": "dispute"}))

    assert again["decision"]["order_id"] == odd_id
    assert (released["action"], released["decision"]["order_id"]) == ("released", odd_id)
    assert released["decision"]["outcome"] == "approved"
    assert (rejected["decision"]["order_id"], rejected["decision"]["outcome"]) == (
        odd_id + "-2",
        "blocked",
    )


@pytest.mark.parametrize("slash", ["/", ""], ids=["slash", "%2F"])
def test_the_credit_position_and_the_customer_hold_reach_the_customer(api, odd_customer, slash):
    url_id = quote(odd_customer, safe=slash)
    credit = api.client.get(
        f"/api/v1/customers/{url_id}/credit", headers=api.keys.header("auditor")
    )
    hold = api.client.put(
        f"/api/v1/admin/customers/{url_id}/hold",
        json={"on_hold": True, "reason": "dispute"},
        headers=api.keys.header("admin"),
    )

    assert _ok(credit)["customer"]["id"] == odd_customer
    assert _ok(hold)["customer_id"] == odd_customer
    codes = [r["code"] for r in api.gate("SO-9", odd_customer, "10.00").get_json()["reasons"]]
    assert codes == ["CUSTOMER_ON_HOLD"]


# --- the pages -------------------------------------------------------------------------------


@pytest.fixture
def browser(api: Any, loaded: Any) -> Browser:
    loaded.writes.create_user(CreateUser("ada", "admin", PASSWORD))
    browser = Browser(api.client.application.test_client())
    assert browser.login("ada").status_code == 302
    return browser


def _links(page: str, pattern: str) -> list[str]:
    """The addresses in `page`'s href or action attributes that match `pattern`."""
    found = re.findall(r'(?:href|action)="([^"]+)"', page)
    return [html.unescape(a) for a in found if re.search(pattern, html.unescape(a))]


def test_the_customer_page_and_its_hold_form_reach_the_customer(browser, odd_customer):
    listing = browser.text("/customers?q=" + quote(odd_customer))
    (page_url,) = _links(listing, r"^/customers/default/")
    page = browser.text(page_url)
    (form,) = _links(page, r"/hold$")

    done = browser.post(form, {"on_hold": "true", "reason": "dispute"}, page=page_url)

    assert html.escape(odd_customer) in page
    assert done.status_code == 302
    assert unquote(done.headers["Location"]) == f"/customers/default/{odd_customer}"
    assert "on hold" in browser.text(done.headers["Location"])


def test_the_hold_list_forms_reach_the_held_order(browser, api, odd_id):
    for suffix in ("", "-2", "-3"):
        assert api.gate(odd_id + suffix, "C-300", "1000.00").get_json()["outcome"] == "blocked"
    holds = browser.text("/holds")
    actions = {
        (order, action): url
        for order in (odd_id, odd_id + "-2", odd_id + "-3")
        for action in ("release", "reject", "reevaluate")
        for url in _links(holds, "^/holds/default/" + re.escape(quote(order, safe="/")) + "/")
        if url.endswith("/" + action)
    }

    said = []
    for (order, action), data in [
        ((odd_id, "release"), {"reason": "paid"}),
        ((odd_id + "-2", "reject"), {"reason": "no"}),
        ((odd_id + "-3", "reevaluate"), {}),
    ]:
        done = browser.post(actions[order, action], {**data, "confirmed": "yes"}, page="/holds")
        assert done.status_code == 302
        said.append(
            re.findall(
                r'<div class="flash [^"]*" role="[^"]*">([^<]*)</div>',
                browser.text(done.headers["Location"]),
            )
        )

    assert said == [
        [html.escape(f"{odd_id} (1,000.00 CNY): released, now approved.")],
        [html.escape(f"{odd_id}-2 (1,000.00 CNY): rejected, now blocked.")],
        [html.escape(f"{odd_id}-3 (1,000.00 CNY): decided again, now blocked.")],
    ]
    held = [
        h["order_id"]
        for h in api.client.get("/api/v1/admin/holds", headers=api.keys.header("admin")).get_json()[
            "holds"
        ]
    ]
    assert held == [odd_id + "-3"]


def test_a_login_goes_back_to_the_customer_page_asked_for(api, loaded, odd_customer):
    loaded.writes.create_user(CreateUser("ada", "admin", PASSWORD))
    browser = Browser(api.client.application.test_client())
    asked = "/customers/default/" + quote(odd_customer, safe="/")

    to_login = browser.client.get(asked)
    login_page = browser.text(to_login.headers["Location"])
    (next_field,) = re.findall(r'name="next" value="([^"]*)"', login_page)
    back = browser.client.post(
        "/login",
        data={
            "username": "ada",
            "password": PASSWORD,
            "next": html.unescape(next_field),
            "csrf_token": browser.token(),
        },
    )

    assert back.status_code == 302
    assert html.escape(odd_customer) in browser.text(back.headers["Location"])


# --- ids no URL can carry are refused where they enter ------------------------------------------


@pytest.mark.parametrize("bad", ["/SO-1", "SO-1/", "SO//1", ".", "..", "SO/../1", "SO/./1"])
@pytest.mark.parametrize("field", ["order_id", "customer_id"])
def test_the_gate_refuses_an_id_no_url_can_carry(api, bad, field):
    ids = {"order_id": "SO-1", "customer_id": "C-100", field: bad}

    response = api.gate(ids["order_id"], ids["customer_id"], "10.00")

    assert response.status_code == 422
    assert list(response.get_json()["fields"]) == [field]
    assert api.exposure("C-100")["reservations"] == "0.00"


def test_a_path_id_is_held_to_the_gates_rules(api):
    # The test client does not resolve dot segments as browsers do: the view sees "SO/../1".
    response = _post(api, "/api/v1/gate/orders/SO/../1/events", {"event": "cancelled"}, "erp")

    assert response.status_code == 422
    assert list(response.get_json()["fields"]) == ["order_id"]
