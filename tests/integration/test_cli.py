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
