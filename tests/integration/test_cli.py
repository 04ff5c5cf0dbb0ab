"""`creditgate import DIR`: loads the folder, names each skipped row, exits 3 if any was."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select

from adapters.db.tables import customers, invoices, sync_runs
from connector.cli import main
from tests.conftest import CUSTOMERS, DATASET, INVOICES, write_csv


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
