"""`creditgate sources add --kind zoho-crm`: field names and triggers as options, and a test
call per OAuth scope that names the one the refresh token lacks (Zoho answers on loopback
through `responses`; no hosted service is called)."""

from __future__ import annotations

import os

import pytest
import responses

from adapters.zoho import ZohoCrmAdapter
from config.settings import Settings
from config.sources import build_adapter
from config.wiring import build_services
from tests.sync.test_cli import env, run  # noqa: F401  (env is a fixture)
from tests.zoho import payloads as z
from tests.zoho.conftest import calls_to, query, tokens

ADD = (
    "sources", "add", "crm", "--kind", "zoho-crm", "--dc", "eu", "--currency", "EUR",
    "--client-id-env", "ZOHO_ID", "--client-secret-env", "ZOHO_SECRET",
    "--refresh-token-env", "ZOHO_REFRESH",
)  # fmt: skip
TASKS_GET = z.TASKS
SCOPE_MISMATCH = z.error("OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")


@pytest.fixture
def secrets(monkeypatch):
    monkeypatch.setenv("ZOHO_ID", z.CLIENT_ID)
    monkeypatch.setenv("ZOHO_SECRET", z.CLIENT_SECRET)
    monkeypatch.setenv("ZOHO_REFRESH", z.REFRESH_TOKEN)


def org_with_every_scope(zoho: responses.RequestsMock) -> None:
    """Every read the check makes finds nothing, as in an org without the probe value."""
    tokens(zoho)
    zoho.get(z.ACCOUNTS, status=204)
    zoho.get(z.SEARCH, status=204)
    zoho.get(TASKS_GET, status=204)
    zoho.post(z.COQL, status=204)


def stored(name: str = "crm") -> dict:
    services = build_services(Settings.from_env(os.environ))
    rows = services.sync_store().sources()
    services.engine.dispose()
    return {row["name"]: row for row in rows}.get(name, {})


def test_sources_add_checks_each_scope_with_one_read_and_stores_the_options(env, secrets, zoho):  # noqa: F811
    org_with_every_scope(zoho)

    added = run(
        *ADD, "--number-field", "ERP_No", "--level-field", "Kreditstufe",
        "--hold-field", "Liefersperre", "--task-key-field", "CG_Change",
        "--credit-limit-field", "Kreditlimit", "--trigger", "workflow", "--trigger", "approval",
    )  # fmt: skip

    assert added.exit_code == 0, added.output
    order = [(c.request.method, c.request.url.split("?")[0]) for c in zoho.calls]
    assert order == [
        ("POST", z.TOKEN_URL),
        ("GET", z.ACCOUNTS),  # ZohoCRM.modules.accounts.READ, and the field names
        ("GET", z.SEARCH),  # ZohoSearch.securesearch.READ
        ("GET", TASKS_GET),  # ZohoCRM.modules.tasks.READ
        ("POST", z.COQL),  # ZohoCRM.coql.READ
        ("GET", z.ORG),  # ZohoCRM.org.READ: no --currency-field, multi-currency is asked
    ]
    assert query(calls_to(zoho, z.ACCOUNTS)[0])["fields"] == "ERP_No,Kreditlimit"
    row = stored()
    adapter = build_adapter(row, os.environ)
    assert isinstance(adapter, ZohoCrmAdapter)
    assert (adapter.number_field, adapter.credit_limit_field) == ("ERP_No", "Kreditlimit")
    assert (adapter.level_field, adapter.hold_field) == ("Kreditstufe", "Liefersperre")
    assert adapter.task_key_field == "CG_Change"
    assert adapter.triggers == ["workflow", "approval"]


@pytest.mark.parametrize(
    ("refused", "scope"),
    [
        (z.ACCOUNTS, "ZohoCRM.modules.accounts.READ"),
        (z.SEARCH, "ZohoSearch.securesearch.READ"),
        (TASKS_GET, "ZohoCRM.modules.tasks.READ"),
        (z.COQL, "ZohoCRM.coql.READ"),
        (z.ORG, "ZohoCRM.org.READ"),
    ],
)
def test_sources_add_names_the_missing_scope_and_adds_nothing(env, secrets, zoho, refused, scope):  # noqa: F811
    org_with_every_scope(zoho)
    method = responses.POST if refused == z.COQL else responses.GET
    zoho.replace(method, refused, status=401, json=SCOPE_MISMATCH)

    added = run(*ADD)

    assert added.exit_code == 1
    assert f"the refresh token lacks the scope {scope}" in added.output
    assert stored() == {}


def test_a_wrong_field_name_is_refused_with_zoho_s_answer(env, secrets, zoho):  # noqa: F811
    org_with_every_scope(zoho)
    invalid = z.error("INVALID_DATA", "the field api name given seems to be invalid")
    zoho.replace(responses.GET, z.ACCOUNTS, status=400, json=invalid)

    added = run(*ADD, "--number-field", "ERP_Nummer")

    assert added.exit_code == 1 and "INVALID_DATA" in added.output
    assert stored() == {}


def test_by_default_no_trigger_is_stored_and_trigger_none_turns_them_off(env, secrets, zoho):  # noqa: F811
    org_with_every_scope(zoho)

    assert run(*ADD).exit_code == 0
    quiet = run(*ADD[:2], "quiet", *ADD[3:], "--trigger", "none")

    assert quiet.exit_code == 0, quiet.output
    assert "triggers" not in stored()["settings"]
    adapter = build_adapter(stored("quiet"), os.environ)
    assert isinstance(adapter, ZohoCrmAdapter) and adapter.triggers == []
    default = build_adapter(stored(), os.environ)
    assert isinstance(default, ZohoCrmAdapter) and default.triggers is None


def test_a_field_name_zoho_could_not_have_is_refused_before_any_call(env, secrets, zoho):  # noqa: F811
    added = run(*ADD, "--level-field", "Credit Warning")

    assert added.exit_code == 1 and "--level-field must be a Zoho field API name" in added.output
    assert len(zoho.calls) == 0


def test_a_currency_field_skips_the_organisation_check(env, secrets, zoho):  # noqa: F811
    org_with_every_scope(zoho)

    assert run(*ADD, "--currency-field", "Currency").exit_code == 0

    assert calls_to(zoho, z.ORG) == []


def test_a_data_centre_zoho_does_not_list_is_refused_even_without_the_check(env, secrets, zoho):  # noqa: F811
    # Zoho's SDK for v8 and Zoho Accounts list no UK data centre.
    added = run(*[a if a != "eu" else "uk" for a in ADD], "--skip-check")

    assert added.exit_code == 1
    assert "--dc takes one of us, eu, in, au, jp, cn, ca, sa" in added.output
    assert stored() == {}
