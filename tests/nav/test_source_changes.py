"""A NAV source changed after it was added (`creditgate sources set`), and one changed with SQL:
the first is what the next adapter is built from, the second builds nothing (its row's MAC does
not verify), so the credentials its settings name are never sent to the url it was given."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from config.sources import SourceConfigError
from config.wiring import Services
from connector.cli import main
from tests.nav.conftest import days
from tests.nav.server import NAV2013_LEDGER, WARNING_FIELDS_CUSTOMER, FakeNav, NavServer


@pytest.fixture
def nav_source(nav_server: NavServer, services: Services, monkeypatch: pytest.MonkeyPatch) -> str:
    """A NAV source added as on the first day: the bundled pages, no warning fields."""
    monkeypatch.setenv("NAV_USER", nav_server.username)
    monkeypatch.setenv("NAV_PASSWORD", nav_server.password)
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", services.settings.database_url)
    monkeypatch.delenv("CREDITGATE_CONFIG", raising=False)
    services.add_source(
        "nav",
        "nav-soap",
        url=nav_server.url,
        settings={"username_env": "NAV_USER", "password_env": "NAV_PASSWORD",
                  "local_currency": "CNY"},
    )  # fmt: skip
    return "nav"


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_warning_fields_set_after_the_source_was_added_are_written_by_the_next_push(
    nav: FakeNav, nav_server: NavServer, services: Services, nav_source: str, tmp_path: Path
) -> None:
    nav.add_customer("C50000", "Soon Due Ltd.", "100000.00")
    nav.post("Invoice", "C50000", "SI-5001", "1000.00", days(-28), due=days(2))
    services.nightly()  # a reminder: the standard page has no field for it
    refused = services.warning_store().outbox(status="failed")
    # The administrator adds the fields to page 21, publishes it and saves its WSDL again.
    folder = tmp_path / "nav-wsdl"
    folder.mkdir()
    shutil.copy(WARNING_FIELDS_CUSTOMER, folder / "Customer.wsdl")
    shutil.copy(NAV2013_LEDGER, folder / "CustomerLedgerEntries.wsdl")

    code, said = cli(
        "sources", "set", nav_source, "--wsdl-dir", str(folder),
        "--warning-field", "Credit_Warning", "--note-field", "Credit_Warning_Note",
    )  # fmt: skip
    services.warning_store().requeue_failed(services.clock())
    services.push()

    assert [r["customer_ref"] for r in refused] == ["C50000"]
    assert "no field for the level 'reminder'" in refused[0]["last_error"]
    assert code == 0, said
    assert "warning_field: (none) -> Credit_Warning" in said
    assert nav.customers["C50000"]["Credit_Warning"] == "reminder"
    assert nav.customers["C50000"]["Credit_Warning_Note"].startswith("payment reminder; ")
    assert [r["status"] for r in services.warning_store().outbox()] == ["delivered"]


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        # The bundled Customer page has no such field.
        (("--warning-field", "Credit_Warning"), "Credit_Warning"),
        # A folder without any of the saved pages.
        (("--wsdl-dir", "{empty}"), "holds none of"),
        # A list page publishes no Update, and the source takes pushes.
        (("--wsdl-dir", "{list}"), "Update"),
    ],
)
def test_a_nav_setting_the_pages_do_not_allow_is_refused_and_the_source_is_unchanged(
    services: Services, nav_source: str, tmp_path: Path, options: tuple[str, ...], refusal: str
) -> None:
    empty, listing = tmp_path / "empty", tmp_path / "list"
    empty.mkdir()
    listing.mkdir()
    shutil.copy(
        Path(__file__).parent / "wsdl" / "nav2013" / "CustomerList.wsdl",
        listing / "Customer.wsdl",
    )
    before = services.sync_store().source(nav_source)

    code, said = cli(
        "sources", "set", nav_source,
        *(o.format(empty=empty, list=listing) for o in options),
    )  # fmt: skip

    assert code == 1, said
    assert refusal in said
    assert services.sync_store().source(nav_source) == before


def _forge(services: Services, statement: str, **values: object) -> None:
    with services.engine.begin() as conn:
        conn.execute(sa.text(statement), values)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE sources SET url = :evil WHERE name = 'nav'",
        # Settings rewritten as JSON text: no warnings pushed there any more.
        "UPDATE sources SET settings = :quiet WHERE name = 'nav'",
    ],
)
def test_a_source_row_changed_with_sql_is_refused_at_sync_warnings_and_push(
    nav: FakeNav, nav_server: NavServer, services: Services, nav_source: str, statement: str
) -> None:
    nav.add_customer("C50000", "Soon Due Ltd.", "100000.00")
    with NavServer(FakeNav()) as attacker:
        quiet = (
            '{"username_env": "NAV_USER", "password_env": "NAV_PASSWORD", '
            '"local_currency": "CNY", "push": false}'
        )
        _forge(services, statement, evil=attacker.url, quiet=quiet)
        calls = len(nav_server.calls)

        with pytest.raises(SourceConfigError) as at_sync:
            services.sync(nav_source)
        # Every source at once (the night): this one fails alone, reported, the others go on.
        [at_nightly] = [r for r in services.sync() if r.source == nav_source]
        at_warnings = {r.source: r for r in services.compute_warnings()}
        at_push = {r.target: r for r in services.push()}
        listed = cli("sources", "list")[1]

        assert attacker.calls == [] and attacker.wsdl_gets == 0
    assert len(nav_server.calls) == calls
    assert not at_nightly.ok
    assert at_push[nav_source].delivered == 0
    for refused in (
        str(at_sync.value),
        at_nightly.error,
        at_warnings[nav_source].error,
        at_warnings["default"].error,  # its warnings could go to a target no one vouches for
        at_push[nav_source].error,
    ):
        assert "source 'nav': its row was changed outside creditgate" in (refused or "")
    assert "CHANGED OUTSIDE CREDITGATE" in listed
    assert services.sync_store().source(nav_source)["genuine"] is False


def test_a_source_row_inserted_with_sql_is_refused(
    nav_server: NavServer, services: Services, nav_source: str
) -> None:
    _forge(
        services,
        "INSERT INTO sources (name, kind, url, settings, created_at, mac) "
        "SELECT 'copy', kind, url, settings, created_at, mac FROM sources WHERE name = 'nav'",
    )

    with pytest.raises(SourceConfigError, match="source 'copy': its row was changed outside"):
        services.sync("copy")
    assert services.sync("nav")[0].ok  # the row creditgate wrote still syncs


def test_a_source_whose_saved_pages_were_moved_fails_alone_and_the_others_go_on(
    nav: FakeNav, nav_server: NavServer, services: Services, nav_source: str, tmp_path: Path
) -> None:
    saved = tmp_path / "wsdl"
    saved.mkdir()
    shutil.copy(WARNING_FIELDS_CUSTOMER, saved / "Customer.wsdl")
    assert cli("sources", "set", nav_source, "--wsdl-dir", str(saved))[0] == 0
    services.add_source("files", "csv-folder", settings={"path": str(tmp_path / "exports")})
    (tmp_path / "exports").mkdir()
    shutil.rmtree(saved)  # someone tidied the server

    synced = {r.source: r for r in services.sync()}
    pushed = {r.target: r for r in services.push()}

    assert not synced[nav_source].ok
    assert "source 'nav' cannot be set up" in (synced[nav_source].error or "")
    assert synced["files"].ok  # the other source was synced all the same
    assert "source 'nav' cannot be set up" in (pushed[nav_source].error or "")
