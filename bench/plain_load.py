"""The load baselines: the same CSV rows bulk-loaded the plainest way each database offers.

No parsing or checking in Python, no indexes, no constraints, no balances: what loading these
bytes costs on this machine, right now. The import's rows/s is read against it.

- PostgreSQL: `COPY <table> FROM STDIN (FORMAT csv, HEADER true)` of each file, through psycopg
  3's `cursor.copy`, into staging tables with the CSV's own columns and natural types.
- SQLite: `executemany` of the `csv` module's rows into equivalent plain tables, with the
  product engine's pragmas (WAL, synchronous=NORMAL).

Each load runs in one transaction, as the import does. The tables are created (and committed)
before the clock starts; the time covers reading the files, loading and committing.
"""

from __future__ import annotations

import csv
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from adapters.csv_export import COLUMNS

FILES = tuple(COLUMNS)  # groups, customers, invoices, payments: the import's order
_NUMERIC = {"credit_limit", "total", "open_amount", "amount", "unapplied_amount"}
_DATE = {"issue_date", "due_date", "date"}
_BOOLEAN = {"on_hold"}
_COPY_BLOCK = 1 << 20  # bytes per write to the COPY stream


@dataclass
class PlainLoad:
    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh))


def column_type(name: str) -> str:
    """The natural SQL type of a CSV column: text, numeric, date or boolean."""
    if name in _NUMERIC:
        return "numeric"
    if name in _DATE:
        return "date"
    if name in _BOOLEAN:
        return "boolean"
    return "text"


def _create(folder: Path) -> list[str]:
    statements = []
    for name in FILES:
        cols = ", ".join(f'"{c}" {column_type(c)}' for c in header(folder / f"{name}.csv"))
        statements.append(f'CREATE TABLE "plain_{name}" ({cols})')
    return statements


def postgres_copy(conninfo: str, folder: Path) -> PlainLoad:
    """COPY every CSV into fresh staging tables (they must not exist yet) in one transaction."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in _create(folder):
            conn.execute(statement)
        rows = 0
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            for name in FILES:
                sql = f'COPY "plain_{name}" FROM STDIN (FORMAT csv, HEADER true)'
                with (folder / f"{name}.csv").open("rb") as fh, cur.copy(sql) as copy:
                    while block := fh.read(_COPY_BLOCK):
                        copy.write(block)
                rows += cur.rowcount
        seconds = time.perf_counter() - started
        for name in FILES:
            conn.execute(f'DROP TABLE "plain_{name}"')
    return PlainLoad(rows, seconds)


def sqlite_executemany(path: Path, folder: Path) -> PlainLoad:
    """executemany the csv module's rows into fresh plain tables of a new SQLite file."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for statement in _create(folder):
            conn.execute(statement)
        rows = 0
        started = time.perf_counter()
        conn.execute("BEGIN")
        for name in FILES:
            with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                width = len(next(reader))
                marks = ", ".join("?" * width)
                cur = conn.executemany(f'INSERT INTO "plain_{name}" VALUES ({marks})', reader)
                rows += cur.rowcount
        conn.execute("COMMIT")
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return PlainLoad(rows, seconds)
