"""The generated OpenAPI document against the app: every route and method is an operation, with
the route's path parameters, the query parameters of the schema its view declares, and the roles
of tests/connector/test_role_matrix.py; the rules the schemas state reach it; and the API page
shows it to a logged-in person from the installed Swagger UI files, loading nothing from the
internet."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from connector.apipage import SWAGGER_UI
from gating.commands import CreateUser
from tests.connector.test_role_matrix import ALLOWED, OPEN

PASSWORD = "correct horse battery staple"


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the document and the page are the same on either database


def _path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


@pytest.fixture
def document(api) -> dict[str, Any]:
    response = api.client.get("/api/v1/openapi.json", headers=api.keys.header("auditor"))
    assert response.status_code == 200
    found: dict[str, Any] = response.get_json()
    return found


def test_each_route_is_an_operation_with_its_parameters_and_the_role_matrixs_roles(api, document):
    app = api.client.application
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith(("web.", "apipage.")):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            key = (method.lower(), _path(rule.rule))
            served.add(key)
            operation = document["paths"].get(key[1], {}).get(key[0])
            assert operation is not None, f"{method} {rule.rule} is not in the document"

            query = view.api.query().fields.values() if view.api.query else ()
            assert {(p["in"], p["name"]) for p in operation.get("parameters", ())} == {
                *(("path", name) for name in rule.arguments),
                *(("query", field.data_key or field.name) for field in query),
            }, key
            roles = ALLOWED.get(key, set())
            assert key in ALLOWED or key in OPEN, key
            assert set(operation["x-roles"]) == roles, key
            assert operation["security"] == ([{"apiKey": []}] if roles else []), key
            if roles:
                assert operation["summary"].endswith(f"{', '.join(view.roles)})"), key
    documented = {(m, p) for p, operations in document["paths"].items() for m in operations}
    assert documented == served


def test_the_credit_and_decision_reads_name_the_releasers_too(document):
    # The hand-written document said "roles admin, auditor" while the views let these in too.
    for path in ("/api/v1/customers/{customer_id}/credit", "/api/v1/decisions/{decision_id}"):
        summary = document["paths"][path]["get"]["summary"]
        assert "credit_specialist" in summary and "credit_manager" in summary, summary


def test_the_rules_of_the_schemas_reach_the_document(document):
    schemas = document["components"]["schemas"]
    order = schemas["GateOrder"]
    assert order["additionalProperties"] is False
    assert set(order["required"]) == {"order_id", "customer_id", "amount", "currency"}
    order_id = order["properties"]["order_id"]
    assert (order_id["minLength"], order_id["maxLength"]) == (1, 100)
    patterns = [order_id["pattern"], *(p["pattern"] for p in order_id["allOf"])]
    assert len(patterns) == 3  # printable, URL-shaped, no whitespace at either end
    no_space = re.compile(patterns[2])
    assert no_space.match("C-100") and not no_space.match("C-100 ")
    assert not re.match(patterns[1], "a//b") and re.match(patterns[1], "a/b")
    amount = order["properties"]["amount"]["oneOf"]
    assert amount[1] == {"type": "number", "exclusiveMinimum": 0}
    assert re.match(amount[0]["pattern"], "0.01") and not re.match(amount[0]["pattern"], "0.00")
    cap = schemas["Release"]["properties"]["cap"]["oneOf"][1]
    assert cap == {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10**14}
    reason = schemas["Release"]["properties"]["reason"]
    assert (reason["minLength"], reason["maxLength"]) == (1, 2000)
    assert not re.match(reason["pattern"], " ")
    change = schemas["ThresholdsChange"]["properties"]
    assert change["thresholds"]["allOf"] == [{"$ref": "#/components/schemas/ThresholdsDocument"}]
    assert change["base_version"]["maximum"] == 2**31 - 1
    holds = document["paths"]["/api/v1/admin/holds"]["get"]["parameters"]
    limit = next(p["schema"] for p in holds if p["name"] == "limit")
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 1000, 100)
    outcome = next(p["schema"] for p in holds if p["name"] == "outcome")
    assert outcome["enum"] == ["review", "blocked"]
    path = document["paths"]["/api/v1/gate/orders/{order_id}/events"]["post"]["parameters"]
    assert path[0]["required"] is True and path[0]["schema"]["maxLength"] == 100


@pytest.fixture
def logged_in(api, loaded) -> Any:
    loaded.writes.create_user(CreateUser("otto", "auditor", PASSWORD))
    client = api.client.application.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    login = {"username": "otto", "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/login", data=login).status_code == 302
    return client


def test_the_api_page_needs_a_login(api):
    response = api.client.get("/api-docs")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_the_api_page_embeds_the_document_and_loads_only_the_packages_files(logged_in, document):
    response = logged_in.get("/api-docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert not re.search(r"https?://", page)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert (
        response.headers["Cache-Control"] == "no-store"
    )  # the page; its library files may be kept
    embedded = re.search(r'<script type="application/json" id="openapi">(.*?)</script>', page, re.S)
    assert embedded and json.loads(embedded.group(1)) == document
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(sources) == 4
    for source in sources:
        asset = logged_in.get(source)
        assert asset.status_code == 200, source
        name = source.rsplit("/", 1)[1]
        if name != "start.js":
            assert asset.get_data() == (SWAGGER_UI / name).read_bytes()
            assert asset.headers.get("Cache-Control") != "no-store"
        asset.close()  # a file sent from the folder


def test_of_the_packages_folder_only_the_files_the_page_loads_are_served(api):
    folder = "/api-docs/swagger-ui/"
    served = api.client.get(folder + "swagger-ui.css")
    assert served.status_code == 200
    served.close()  # a file sent from the folder
    for other in ("oauth2-redirect.html", "swagger-ui.js", "index.html", "LICENSE", "VERSION"):
        if (SWAGGER_UI / other).exists():
            assert api.client.get(folder + other).status_code == 404, other
    assert (SWAGGER_UI / "oauth2-redirect.html").exists()  # so the loop above refused something


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def served(api, loaded) -> Iterator[str]:
    loaded.writes.create_user(CreateUser("otto", "auditor", PASSWORD))
    httpd = make_server("127.0.0.1", 0, api.client.application, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_the_api_page_renders_every_operation_in_chromium_under_its_policy(served, document):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Chromium")
    problems: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(base_url=served)
        page.goto("/login")
        page.fill("#username", "otto")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        # From here on: the API page's errors, refusals by its policy, requests elsewhere.
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "request",
            lambda r: None if r.url.startswith((served, "data:")) else problems.append(r.url),
        )
        page.goto("/api-docs")
        page.wait_for_selector(".opblock")
        operations = sum(len(ops) for ops in document["paths"].values())
        assert page.locator(".opblock").count() == operations
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "api-page.png"), full_page=False)
        browser.close()
    assert problems == []
