"""`creditgate sources add/list` and `creditgate sync` from the command line."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from config.settings import Settings
from config.sources import build_adapter
from config.wiring import build_services
from connector.cli import main
from tests.conftest import DATASET, write_csv


@pytest.fixture
def env(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", database_url)
    monkeypatch.delenv("CREDITGATE_CONFIG", raising=False)
    assert run("init-db").exit_code == 0
    folder = tmp_path / "exports"
    folder.mkdir()
    for name, rows in DATASET.items():
        write_csv(folder, name, rows)
    return folder


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_a_folder_source_is_added_listed_and_synced(env):
    added = run("sources", "add", "files", "--kind", "csv-folder", "--path", str(env))
    listed = run("sources", "list")
    synced = run("sync", "--source", "files")
    again = run("sync")

    assert added.exit_code == 0, added.output
    assert "files" in listed.output and "never" in listed.output
    assert synced.exit_code == 0, synced.output
    assert "files: ok" in synced.output
    assert "invoices   read 9, written 9, skipped 0" in synced.output
    assert again.exit_code == 0
    assert "invoices   read 0, written 0, skipped 0" in again.output  # nothing changed
    files_line = next(
        line for line in run("sources", "list").output.splitlines() if "files" in line
    )
    assert "never" not in files_line


@pytest.mark.parametrize("name", ["erp/2", ".", "..", "", "erp\x00", " erp", "erp\t", "x" * 101])
def test_a_source_name_that_cannot_be_one_part_of_an_address_is_refused(env, name):
    result = run("sources", "add", name, "--kind", "csv-folder", "--path", str(env))

    assert result.exit_code == 2
    assert "no '/'" in result.output


def test_a_tryton_source_needs_its_connection_settings(env):
    result = run("sources", "add", "erp", "--kind", "tryton", "--url", "http://127.0.0.1:1")

    assert result.exit_code == 1
    assert "--database, --username-env and --password-env" in result.output


def test_a_tryton_source_whose_password_variable_is_unset_says_which(env, monkeypatch):
    monkeypatch.setenv("ERP_USER", "admin")
    monkeypatch.delenv("ERP_PASSWORD", raising=False)
    added = run(
        "sources",
        "add",
        "erp",
        "--kind",
        "tryton",
        "--url",
        "http://127.0.0.1:1",
        "--database",
        "credit",
        "--username-env",
        "ERP_USER",
        "--password-env",
        "ERP_PASSWORD",
    )
    synced = run("sync", "--source", "erp")

    assert added.exit_code == 0, added.output
    assert synced.exit_code == 1
    assert "$ERP_PASSWORD, which is not set" in synced.output


TRYTON = (
    "--kind", "tryton", "--url", "http://127.0.0.1:1", "--database", "credit",
    "--username-env", "ERP_USER", "--password-env", "ERP_PASSWORD",
)  # fmt: skip


def test_a_tryton_sources_overlap_is_stored_and_adapter_gets_it(env, monkeypatch):

    monkeypatch.setenv("ERP_USER", "admin")
    monkeypatch.setenv("ERP_PASSWORD", "secret")
    negative = run("sources", "add", "bad", *TRYTON, "--overlap-seconds", "-5")
    short = run("sources", "add", "short", *TRYTON, "--overlap-seconds", "90")
    plain = run("sources", "add", "plain", *TRYTON)

    assert negative.exit_code == 2 and "--overlap-seconds" in negative.output
    assert short.exit_code == 0 and plain.exit_code == 0, plain.output
    services = build_services(Settings.from_env(os.environ))
    store = services.sync_store()
    short, plain = store.source("short"), store.source("plain")
    services.engine.dispose()
    assert short["settings"]["overlap_seconds"] == 90
    environ = {"ERP_USER": "admin", "ERP_PASSWORD": "secret"}
    short_adapter = build_adapter(short, environ)
    plain_adapter = build_adapter(plain, environ)
    assert short_adapter.overlap.total_seconds() == 90  # type: ignore[attr-defined]
    assert plain_adapter.overlap.total_seconds() == 600  # type: ignore[attr-defined]


def test_syncing_an_unknown_source_fails_with_a_message(env):
    result = run("sync", "--source", "nope")

    assert result.exit_code == 1
    assert "no source named 'nope'" in result.output


def test_a_sync_whose_folder_vanished_fails_and_exits_1(env, tmp_path):
    run("sources", "add", "files", "--kind", "csv-folder", "--path", str(tmp_path / "gone"))

    result = run("sync", "--source", "files")

    assert result.exit_code == 1
    assert "files: FAILED" in result.output
    assert "is not a folder" in result.output


def test_the_scheduler_runs_the_nightly_sync_once_on_request(env):
    run("sources", "add", "files", "--kind", "csv-folder", "--path", str(env))

    result = run("scheduler", "--once")

    assert result.exit_code == 0, result.output
    assert "nightly sync, warnings and push ran" in result.output
    assert "never" not in next(
        line for line in run("sources", "list").output.splitlines() if "files" in line
    )
    # The night also worked out the warnings: C-400 is on hold, so red.
    services = build_services(Settings.from_env(os.environ))
    levels = {w["customer_id"]: w["level"] for w in services.warning_store().levels()}
    services.engine.dispose()
    assert levels["C-400"] == "red" and levels["C-100"] == "none"


def test_warnings_and_push_from_the_command_line(env):
    run("sources", "add", "files", "--kind", "csv-folder", "--path", str(env))
    run("sync")

    computed = run("warnings")
    again = run("warnings", "--source", "files")
    pushed = run("push")
    unknown = run("warnings", "--source", "nope")

    assert computed.exit_code == 0, computed.output
    assert "files: 9 customers, changes: " in computed.output
    assert "1 to red" in computed.output
    assert "files: 9 customers, changes: none" in again.output
    assert pushed.exit_code == 0 and "no push targets" in pushed.output
    assert unknown.exit_code == 1 and "no source named 'nope'" in unknown.output


def test_the_scheduler_refuses_a_bad_cron_expression(env, monkeypatch):
    monkeypatch.setenv("CREDITGATE_SYNC_SCHEDULE", "every night")

    result = run("scheduler", "--once")

    assert result.exit_code == 1
    assert "CREDITGATE_SYNC_SCHEDULE" in result.output


def test_a_zoho_crm_source_is_wired_as_a_push_target_for_the_erp_it_names(env, monkeypatch):
    from adapters.zoho import ZohoCrmAdapter
    from config.sources import push_targets_for

    for name in ("ZOHO_ID", "ZOHO_SECRET", "ZOHO_REFRESH"):
        monkeypatch.setenv(name, f"{name.lower()}-value")
    run("sources", "add", "files", "--kind", "csv-folder", "--path", str(env))
    incomplete = run("sources", "add", "crm", "--kind", "zoho-crm", "--client-id-env", "ZOHO_ID")
    added = run(
        "sources", "add", "crm", "--kind", "zoho-crm", "--dc", "eu", "--currency", "EUR",
        "--client-id-env", "ZOHO_ID", "--client-secret-env", "ZOHO_SECRET",
        "--refresh-token-env", "ZOHO_REFRESH", "--warnings-for", "files", "--skip-check",
    )  # fmt: skip

    assert incomplete.exit_code == 1 and "--refresh-token-env" in incomplete.output
    assert added.exit_code == 0, added.output
    services = build_services(Settings.from_env(os.environ))
    rows = services.sync_store().sources()
    services.engine.dispose()
    by_name = {row["name"]: row for row in rows}
    assert push_targets_for(by_name["files"], rows) == ["crm"]  # a CSV folder takes no pushes
    assert push_targets_for(by_name["crm"], rows) == ["crm"]  # its own Accounts, if synced
    adapter = build_adapter(by_name["crm"], os.environ)
    assert isinstance(adapter, ZohoCrmAdapter)
    assert adapter.accounts_url == "https://accounts.zoho.eu" and adapter.currency == "EUR"
    assert "zoho_secret-value" not in str(by_name["crm"])  # only the variable's name is stored
