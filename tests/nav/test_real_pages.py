"""NAV as real installations publish it: the pages' WSDLs saved from live NAV 2013 and NAV 2016
servers (tests/nav/wsdl/, each naming its public source), answers carrying every field of the
page in the page's order, standard Customer pages without warning fields, and the Customer
List page, which takes no Update. Set up the way an administrator does: `creditgate sources
add --kind nav-soap --wsdl-dir ...`, then `creditgate sync`.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from adapters.http import new_retrying
from adapters.nav import NavSoapAdapter, NavWsdls
from config.sources import SourceConfigError, build_adapter, check_source
from connector.cli import main
from gating.errors import TargetRejected
from gating.push import LEVELS, WarningChange
from tests.nav.conftest import LOCAL, add_customers, days, post_ledger
from tests.nav.server import DETAILED, NAV2013_LEDGER, SAVED, FakeNav, NavServer

D = Decimal
VERSIONS = ["nav2013", "nav2016"]
STEPS = {
    "none": None,
    "reminder": "payment reminder",
    "notice": "call the customer",
    "yellow": "formal overdue notice",
    "orange": "lawyer's letter",
    "red": "start legal action",
}


def serve(nav: FakeNav, customer_page: Path) -> NavServer:
    return NavServer(nav, pages_from=(customer_page, NAV2013_LEDGER, DETAILED))


def saved_folder(tmp_path: Path, customer_page: Path) -> Path:
    """What an administrator saves: each page's WSDL, named after its page."""
    folder = tmp_path / "nav-wsdl"
    folder.mkdir()
    shutil.copy(customer_page, folder / "Customer.wsdl")
    shutil.copy(NAV2013_LEDGER, folder / "CustomerLedgerEntries.wsdl")
    return folder


def adapter_for(server: NavServer, **kwargs: Any) -> NavSoapAdapter:
    return NavSoapAdapter(
        server.url,
        server.username,
        server.password,
        local_currency=LOCAL,
        retrying=new_retrying(3, sleep=lambda s: None),
        timeout=(2.0, 2.0),
        **kwargs,
    )


def change(level: str, n: int = 1) -> WarningChange:
    return WarningChange(
        change_id=f"chg-{n:04d}",
        customer_ref="C10000",
        level=level,
        previous_level="none",
        reasons=("invoice SI-0901 is 45 days overdue",),
        step=STEPS[level],
        hold=level == "red",
        decided_at=datetime(2026, 11, 22, 1, 30, tzinfo=UTC),
    )


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def nav() -> FakeNav:
    return FakeNav()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", database_url)
    monkeypatch.delenv("CREDITGATE_CONFIG", raising=False)
    assert run("init-db").exit_code == 0


# ---- the fixtures are the real pages' shapes ---------------------------------------------------


@pytest.mark.parametrize(
    ("page", "fields", "first", "last"),
    [
        ("nav2013/Customer.wsdl", 55, "No", "VAT_Registration_No"),
        ("nav2016/Customer.wsdl", 57, "No", "Language_Code"),
        ("nav2013/CustomerLedgerEntries.wsdl", 33, "Posting_Date", "Entry_No"),
        ("nav2013/CustomerList.wsdl", 31, "No", "Base_Calendar_Code"),
    ],
)
def test_the_test_server_answers_with_every_field_of_a_real_page_in_its_order(
    nav: FakeNav, page: str, fields: int, first: str, last: str
) -> None:
    add_customers(nav)
    post_ledger(nav)
    with NavServer(nav, pages_from=(SAVED / page,)) as server:
        schema = next(iter(server.pages.values()))
        names = [name for name, _ in schema.fields if name != "Key"]
        record = server._entity(schema, 1 if "Ledger" in page else "C10000", {})

    assert (len(names), names[0], names[-1]) == (fields, first, last)
    # Every field is there, blanks as NAV writes them.
    assert [child.tag.split("}")[1] for child in record][1:] == names
    blanks = {child.tag.split("}")[1]: child.text for child in record}
    if "Customer.wsdl" in page:
        assert (blanks["Blocked"], blanks["Credit_Limit_LCY"], blanks["Address_2"]) == (
            "_blank_",
            "0",
            None,
        )
        assert blanks["Last_Date_Modified"] == "0001-01-01"


# ---- sources add, full and incremental sync -----------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_sources_add_with_the_saved_wsdls_then_a_full_and_an_incremental_sync(
    nav: FakeNav, cli_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    add_customers(nav)
    ledger = post_ledger(nav)
    customer_page = SAVED / version / "Customer.wsdl"
    folder = saved_folder(tmp_path, customer_page)
    with serve(nav, customer_page) as server:
        monkeypatch.setenv("NAV_USER", server.username)
        monkeypatch.setenv("NAV_PASSWORD", server.password)
        added = run(
            "sources", "add", "nav", "--kind", "nav-soap", "--url", server.url,
            "--username-env", "NAV_USER", "--password-env", "NAV_PASSWORD",
            "--local-currency", "cny", "--wsdl-dir", str(folder),
        )  # fmt: skip
        full = run("sync", "--source", "nav")
        nav.post("Invoice", "C20000", "SI-0950", "250.00", days(0), due=days(30))
        nav.apply(ledger.unapplied, ledger.current, "300.00", days(0))
        incremental = run("sync", "--source", "nav")

    assert added.exit_code == 0, added.output
    assert full.exit_code == 0, full.output
    assert "nav: ok" in full.output
    assert "customers  read 4, written 4, skipped 0" in full.output
    assert "invoices   read 5, written 5, skipped 0" in full.output
    assert "payments   read 3, written 3, skipped 0" in full.output
    assert incremental.exit_code == 0, incremental.output
    # The four open invoices and credit memos again (one just paid down), and the new one; the
    # payment applied in full since, read though it is closed now.
    assert "invoices   read 5, written" in incremental.output
    assert "payments   read 1, written 1" in incremental.output


@pytest.mark.parametrize("version", VERSIONS)
def test_a_real_page_is_read_with_the_bundled_wsdls_too(nav: FakeNav, version: str) -> None:
    """The bundled WSDLs describe the standard pages; a real page's answer, with its more
    fields in its own order, is read all the same."""
    add_customers(nav)
    ledger = post_ledger(nav)
    with serve(nav, SAVED / version / "Customer.wsdl") as server:
        adapter = adapter_for(server)
        customers = {c.ref: c for p in adapter.customers(None) for c in p.records}
        invoices = {i.ref: i for p in adapter.invoices(None) for i in p.records}
        adapter.close()

    assert customers["C10000"].credit_limit == D("200000.00")
    assert customers["C40000"].on_hold and not customers["C10000"].on_hold
    assert invoices[str(ledger.overdue)].due_date == days(-45)
    assert invoices[str(ledger.paid)].open_amount == 0


# ---- push of every level, with and without the warning fields -----------------------------------


def test_every_level_is_written_to_the_warning_fields_a_page_has(
    nav: FakeNav, tmp_path: Path
) -> None:
    add_customers(nav)
    customer_page = SAVED / "nav2016-warning-fields" / "Customer.wsdl"
    row = {
        "name": "nav",
        "kind": "nav-soap",
        "settings": {
            "username_env": "NAV_USER",
            "password_env": "NAV_PASSWORD",
            "local_currency": LOCAL,
            "wsdl_dir": str(saved_folder(tmp_path, customer_page)),
            "warning_field": "Credit_Warning",
            "note_field": "Credit_Warning_Note",
        },
    }
    written = []
    with serve(nav, customer_page) as server:
        row["url"] = server.url
        environ = {"NAV_USER": server.username, "NAV_PASSWORD": server.password}
        target = build_adapter(row, environ)
        for n, level in enumerate(LEVELS, start=1):
            target.push(change(level, n))  # type: ignore[attr-defined]
            c = nav.customers["C10000"]
            written.append((c["Credit_Warning"], c["Credit_Warning_Note"], c["Blocked"]))
        target.close()

    assert written == [
        ("none", "no collection step; creditgate change chg-0001", "_blank_"),
        ("reminder", "payment reminder; creditgate change chg-0002", "_blank_"),
        ("notice", "call the customer; creditgate change chg-0003", "_blank_"),
        ("yellow", "formal overdue notice; creditgate change chg-0004", "_blank_"),
        ("orange", "lawyer's letter; creditgate change chg-0005", "_blank_"),
        ("red", "start legal action; creditgate change chg-0006", "All"),
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_without_warning_fields_red_blocks_the_customer_and_the_rest_says_what_to_add(
    nav: FakeNav, version: str, caplog: pytest.LogCaptureFixture
) -> None:
    add_customers(nav)
    outcomes: dict[str, str] = {}
    with serve(nav, SAVED / version / "Customer.wsdl") as server:
        adapter = adapter_for(server)
        for n, level in enumerate(LEVELS, start=1):
            try:
                with caplog.at_level(logging.WARNING, logger="adapters.nav.push"):
                    adapter.push(change(level, n))
                outcomes[level] = "written"
            except TargetRejected as exc:
                outcomes[level] = str(exc)
        updates = server.count("Customer.Update")
        adapter.close()

    assert outcomes["none"] == "written"  # nothing to show, nothing to clear
    assert outcomes["red"] == "written"
    assert nav.customers["C10000"]["Blocked"] == "All"
    assert updates == 1  # only red wrote anything
    for level in ("reminder", "notice", "yellow", "orange"):
        assert f"no field for the level '{level}'" in outcomes[level]
        assert "--warning-field and --note-field" in outcomes[level]
        assert "change page 21 in C/AL" in outcomes[level]
    assert "no field for the level 'red'" in caplog.text and "written: Blocked" in caplog.text


# ---- a page without Update ----------------------------------------------------------------------


def test_a_customer_list_page_is_read_but_a_push_to_it_is_refused_with_what_to_do(
    nav: FakeNav,
) -> None:
    add_customers(nav)
    customer_list = SAVED / "nav2013" / "CustomerList.wsdl"
    with serve(nav, customer_list) as server:
        adapter = adapter_for(server, wsdls=NavWsdls(customer_list, NAV2013_LEDGER, DETAILED))
        customers = [c.ref for p in adapter.customers(None) for c in p.records]
        with pytest.raises(TargetRejected, match="page CustomerList publishes no Update"):
            adapter.push(change("red"))
        calls = list(server.calls)
        adapter.close()

    assert customers == ["C10000", "C20000", "C30000", "C40000"]
    assert "CustomerList.Update" not in calls and nav.customers["C10000"]["Blocked"] == "_blank_"


def test_sources_add_refuses_a_customer_page_without_update_unless_it_is_read_only(
    tmp_path: Path,
) -> None:
    folder = saved_folder(tmp_path, SAVED / "nav2013" / "CustomerList.wsdl")
    settings = {
        "username_env": "NAV_USER",
        "password_env": "NAV_PASSWORD",
        "local_currency": LOCAL,
        "wsdl_dir": str(folder),
    }
    url = "http://nav:7047/DynamicsNAV/WS/CRONUS/Page/"

    with pytest.raises(SourceConfigError, match=r"CustomerList publishes no Update.*--no-push"):
        check_source("nav-soap", url, settings)
    check_source("nav-soap", url, {**settings, "push": False})


def test_sources_add_refuses_warning_fields_the_saved_page_has_not(tmp_path: Path) -> None:
    folder = saved_folder(tmp_path, SAVED / "nav2016" / "Customer.wsdl")
    settings = {
        "username_env": "NAV_USER",
        "password_env": "NAV_PASSWORD",
        "local_currency": LOCAL,
        "wsdl_dir": str(folder),
        "warning_field": "Credit_Warning",
    }

    with pytest.raises(SourceConfigError, match="page Customer has no field Credit_Warning"):
        check_source("nav-soap", "http://nav/Page/", settings)
    with pytest.raises(SourceConfigError, match="is not a folder"):
        check_source("nav-soap", "http://nav/Page/", {**settings, "wsdl_dir": str(tmp_path / "x")})


NOT_A_WSDL = {
    "not XML": "not xml at all",
    "empty": "",
    "a login page": "<html><body><form>Sign in</form></body></html>",
    "XML but not a WSDL": '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>',
}


@pytest.mark.parametrize("content", NOT_A_WSDL.values(), ids=NOT_A_WSDL.keys())
def test_sources_add_refuses_a_saved_file_that_is_not_a_wsdl_naming_it(
    tmp_path: Path, content: str
) -> None:
    folder = saved_folder(tmp_path, SAVED / "nav2016" / "Customer.wsdl")
    (folder / "CustomerLedgerEntries.wsdl").write_text(content, encoding="utf-8")
    settings = {
        "username_env": "NAV_USER",
        "password_env": "NAV_PASSWORD",
        "local_currency": LOCAL,
        "wsdl_dir": str(folder),
    }
    expected = f"{folder / 'CustomerLedgerEntries.wsdl'}: not a WSDL saved from a NAV page"

    with pytest.raises(SourceConfigError) as caught:
        check_source("nav-soap", "http://nav/Page/", settings)
    assert expected in str(caught.value)
    with pytest.raises(ValueError) as made:  # and so does the adapter, made from stored settings
        build_adapter(
            {"name": "nav", "kind": "nav-soap", "url": "http://nav/Page/", "settings": settings},
            {"NAV_USER": "u", "NAV_PASSWORD": "p"},
        )
    assert expected in str(made.value)


def test_the_cli_names_a_saved_file_that_is_not_xml_without_a_traceback(
    cli_env: None, tmp_path: Path
) -> None:
    folder = saved_folder(tmp_path, SAVED / "nav2016" / "Customer.wsdl")
    (folder / "Customer.wsdl").write_text("not xml at all", encoding="utf-8")

    added = run(
        "sources", "add", "nav", "--kind", "nav-soap", "--url", "http://nav/Page/",
        "--username-env", "NAV_USER", "--password-env", "NAV_PASSWORD",
        "--local-currency", "cny", "--wsdl-dir", str(folder),
    )  # fmt: skip

    assert added.exit_code == 1, added.output
    assert f"{folder / 'Customer.wsdl'}: not a WSDL saved from a NAV page: not XML" in added.output
    assert not isinstance(added.exception, AttributeError)
    assert "Traceback" not in added.output


# ---- Windows authentication ---------------------------------------------------------------------


def test_sources_add_with_ntlm_authenticates_as_the_windows_user(
    nav: FakeNav, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On-premises NAV with Windows credentials: NTLM's handshake, run on loopback against
    pyspnego's NTLM acceptor."""
    users = tmp_path / "ntlm-users"
    users.write_text("CRONUS:creditgate:Winter2026!\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    add_customers(nav)
    settings = {
        "username_env": "NAV_USER",
        "password_env": "NAV_PASSWORD",
        "local_currency": LOCAL,
        "auth": "ntlm",
    }
    with NavServer(nav, ntlm_users=users) as server:
        check_source("nav-soap", server.url, settings)
        row = {"name": "nav", "kind": "nav-soap", "url": server.url, "settings": settings}
        good = build_adapter(row, {"NAV_USER": "CRONUS\\creditgate", "NAV_PASSWORD": "Winter2026!"})
        customers = [c.ref for p in good.customers(None) for c in p.records]
        good.close()
        bad = build_adapter(row, {"NAV_USER": "CRONUS\\creditgate", "NAV_PASSWORD": "wrong"})
        with pytest.raises(TargetRejected, match="401"):
            list(bad.customers(None))
        bad.close()

    assert customers == ["C10000", "C20000", "C30000", "C40000"]
    with pytest.raises(SourceConfigError, match="--auth must be basic"):
        check_source("nav-soap", "http://nav/Page/", {**settings, "auth": "kerberos"})
