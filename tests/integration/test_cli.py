"""`creditgate import DIR`: loads the folder, names each skipped row, exits 3 if any was."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select

from adapters.db.tables import customers, invoices, sync_runs
from connector.cli import main
from tests.conftest import AUDIT_KEY, CUSTOMERS, DATASET, INVOICES, write_csv


@pytest.fixture
def cli_database(database_url, monkeypatch):
    url = database_url
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", url)
    monkeypatch.delenv("CREDITGATE_CONFIG", raising=False)
    assert CliRunner().invoke(main, ["init-db"]).exit_code == 0
    engine = create_engine(url)
    yield engine
    engine.dispose()


def _folder(tmp_path, name, **files):
    folder = tmp_path / name
    folder.mkdir()
    for file, rows in files.items():
        write_csv(folder, file, rows)
    return folder


def test_import_exits_3_and_names_the_file_and_line_of_each_skipped_row(tmp_path, cli_database):
    folder = _folder(
        tmp_path,
        "bad",
        customers=[
            CUSTOMERS[0],
            ("C-BAD", "Bad Amount Ltd.", "lots", "CNY", "", "false", ""),
            CUSTOMERS[1],
        ],
        invoices=[
            INVOICES[0],
            ("I-X", "C-GHOST", "INV-X", "2026-11-01", "2026-12-01", "CNY", "5.00", "5.00", ""),
        ],
    )

    result = CliRunner().invoke(main, ["import", str(folder)])

    assert result.exit_code == 3, result.output
    assert "customers: read 3, written 2" in result.stdout
    assert "invoices: read 2, written 1" in result.stdout
    assert "2 row(s) skipped" in result.stdout
    assert "skipped customers.csv:3: customer C-BAD: credit_limit: 'lots'" in result.stderr
    assert "skipped invoices.csv:3: invoice I-X: customer 'C-GHOST' does not exist" in (
        result.stderr
    )
    with cli_database.connect() as conn:
        assert conn.execute(select(customers.c.external_id)).scalars().all() == [
            "C-100",
            "C-200",
        ]
        assert conn.execute(select(invoices.c.external_id)).scalars().all() == ["I-1001"]
        assert conn.execute(select(sync_runs.c.status, sync_runs.c.skipped)).all() == [
            ("succeeded_with_errors", 2)
        ]


def test_import_exits_0_when_every_row_loads_and_again_when_run_twice(tmp_path, cli_database):
    folder = _folder(tmp_path, "good", **DATASET)

    first = CliRunner().invoke(main, ["import", str(folder)])
    second = CliRunner().invoke(main, ["import", str(folder)])

    assert first.exit_code == second.exit_code == 0, first.output
    assert "no rows skipped" in first.stdout
    assert "customers: read 9, written 9" in second.stdout
    with cli_database.connect() as conn:
        assert len(conn.execute(select(customers.c.id)).all()) == 9
        assert len(conn.execute(select(sync_runs.c.id)).all()) == 2


def test_import_of_a_folder_without_known_files_fails_with_a_message(tmp_path, cli_database):
    empty = tmp_path / "empty"
    empty.mkdir()

    result = CliRunner().invoke(main, ["import", str(empty)])

    assert result.exit_code == 1
    assert "holds none of groups.csv, customers.csv, invoices.csv, payments.csv" in result.output
    assert "Traceback" not in result.output


def test_import_into_an_unknown_source_fails_with_a_message(tmp_path, cli_database):
    folder = _folder(tmp_path, "good", customers=CUSTOMERS)

    result = CliRunner().invoke(main, ["import", str(folder), "--source", "nowhere"])

    assert result.exit_code == 1
    assert "no source named 'nowhere'" in result.output


def test_holds_reevaluate_releases_the_orders_whose_reasons_are_gone(tmp_path, cli_database):
    from decimal import Decimal

    from config.settings import Settings
    from config.wiring import build_services
    from gating.model import OrderRequest
    from gating.services import gate_order

    url = cli_database.url.render_as_string(hide_password=False)
    services = build_services(
        Settings(database_url=url, rates_reference="CNY", audit_keys=(AUDIT_KEY,))
    )
    services.init_db()
    assert services.import_folder(_folder(tmp_path, "day-1", **DATASET)).errors == []
    held = gate_order(
        OrderRequest("default", "SO-1", "C-300", Decimal("100.00"), "CNY"),
        uow=services.uow(),
        clock=services.clock,
        rates=services.rates,
        caller="test",
    ).record
    paid = [(*row[:7], "0.00", row[8]) if row[1] == "C-300" else row for row in INVOICES]
    assert services.import_folder(_folder(tmp_path, "day-2", invoices=paid)).errors == []
    services.engine.dispose()

    result = CliRunner().invoke(main, ["holds", "reevaluate"])

    assert held.outcome.value == "blocked"
    assert result.exit_code == 0, result.output
    assert "1 held order(s) checked, 1 released" in result.output
    assert "released default/SO-1" in result.output


# --- The schema is migrated by `init-db` and `migrate` only --------------------------------


def _previous_revision() -> str:
    from alembic.script import ScriptDirectory

    from adapters.db import schema

    head = ScriptDirectory.from_config(schema.alembic_config()).get_revision(schema.head_revision())
    assert head is not None and isinstance(head.down_revision, str)
    return head.down_revision


def _snapshot(engine):
    """The migration record and every row of every table: what a refusal must leave alone."""
    from sqlalchemy import inspect, table, text

    with engine.connect() as conn:
        names = sorted(inspect(conn).get_table_names())
        return {
            name: sorted(map(repr, conn.execute(select(text("*")).select_from(table(name)))))
            for name in names
        }


def _run(command, folder):
    return CliRunner().invoke(main, [part.format(folder=folder) for part in command])


COMMANDS = [
    ("sync",),
    ("push",),
    ("warnings",),
    ("import", "{folder}"),
    ("apikey", "create", "--role", "erp", "--name", "erp-prod"),
    ("apikey", "list"),
    ("sources", "add", "files", "--kind", "csv-folder", "--path", "{folder}"),
    ("sources", "list"),
    ("user", "list"),
    ("holds", "reevaluate"),
    ("audit", "verify"),
    ("scheduler", "--once"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_command_on_a_schema_one_migration_behind_refuses_and_changes_nothing(
    tmp_path, cli_database, command
):
    from adapters.db import schema

    folder = _folder(tmp_path, "data", **DATASET)
    previous, head = _previous_revision(), schema.head_revision()
    schema.downgrade(cli_database, previous)
    before = _snapshot(cli_database)

    result = _run(command, folder)

    where = cli_database.url.render_as_string(hide_password=True)
    assert result.exit_code == 1, result.output
    assert result.output == (
        f"Error: the database at {where} is at revision {previous} and this creditgate needs "
        f"revision {head}: run `creditgate migrate` first\n"
    )
    assert schema.current_revision(cli_database) == previous
    assert _snapshot(cli_database) == before
    # As told: migrate, and the command runs.
    assert CliRunner().invoke(main, ["migrate"]).exit_code == 0
    assert _run(command, folder).exit_code == 0


def test_serve_on_a_schema_behind_refuses_before_it_listens(cli_database):
    import socket

    from adapters.db import schema

    schema.downgrade(cli_database, _previous_revision())
    before = _snapshot(cli_database)
    with socket.socket() as taken:  # were it to start serving, it would fail here instead
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]

        result = CliRunner().invoke(main, ["serve", "--port", str(port)])

    assert result.exit_code == 1, result.output
    assert "run `creditgate migrate` first" in result.output
    assert "listening" not in result.output
    assert _snapshot(cli_database) == before


def test_a_command_on_an_empty_database_says_to_run_init_db_and_creates_nothing(
    tmp_path, database_url, monkeypatch
):
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", database_url)
    monkeypatch.delenv("CREDITGATE_CONFIG", raising=False)
    engine = create_engine(database_url)

    result = CliRunner().invoke(main, ["apikey", "create", "--role", "erp", "--name", "erp-prod"])

    where = engine.url.render_as_string(hide_password=True)
    assert result.exit_code == 1, result.output
    assert result.output == (
        f"Error: the database at {where} has no schema yet: run `creditgate init-db` first\n"
    )
    assert _snapshot(engine) == {}
    engine.dispose()


def test_a_command_on_a_schema_a_newer_creditgate_migrated_refuses(cli_database):
    from sqlalchemy import text

    with cli_database.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    before = _snapshot(cli_database)

    result = CliRunner().invoke(main, ["sources", "list"])

    assert result.exit_code == 1, result.output
    assert "at revision 9999, which this creditgate does not know" in result.output
    assert _snapshot(cli_database) == before


def test_the_served_app_neither_migrates_nor_refuses_a_schema_behind(cli_database):
    """gunicorn's `wsgi:app` reads nothing from the database at start (README: Running it for
    real), so it cannot migrate it; `creditgate migrate` runs before a release's hosts start."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from adapters.db import schema

    previous = _previous_revision()
    schema.downgrade(cli_database, previous)
    url = cli_database.url.render_as_string(hide_password=False)

    started = subprocess.run(
        [sys.executable, "-c", "import wsgi; print(type(wsgi.app).__name__)"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "CREDITGATE_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "Flask"
    assert schema.current_revision(cli_database) == previous
