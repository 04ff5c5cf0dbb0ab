"""The load baselines: the same data bulk-loaded the plainest way each database offers.

Two baselines, both with no creditgate code on the clock:

1. Staging tables (`postgres_copy`, `sqlite_executemany`): the CSV rows into tables with the
   CSV's own columns and natural types, and no indexes, constraints or keys. What loading these
   bytes costs on this machine, right now: the disk and the driver.

   - PostgreSQL: `COPY <table> FROM STDIN (FORMAT csv, HEADER true)` of each file, through
     psycopg 3's `cursor.copy`, into staging tables.
   - SQLite: `executemany` of the `csv` module's rows into equivalent plain tables, with the
     product engine's pragmas (WAL, synchronous=NORMAL).

   The tables are created (and committed) before the clock starts; the time covers reading the
   files, loading and committing.

2. The same tables (`read_postgres_tables` + `postgres_copy_tables`, `read_sqlite_tables` +
   `sqlite_executemany_tables`): exactly the rows an import wrote, read out of its database
   (every table it filled: groups, customers, invoices, payments, the balances, its run
   record), loaded into a fresh database migrated like the product's, with the same indexes,
   constraints, foreign keys and triggers. What the database itself needs to store the rows
   creditgate stores. Reading the rows out and making the database are not timed.

   - PostgreSQL: each table's rows as `COPY ... TO STDOUT` text, written back with
     `COPY <table> FROM STDIN` through `cursor.copy`, table by table in foreign-key order.
   - SQLite: each table's rows as sqlite3 gives them, `executemany` INSERT, table by table in
     foreign-key order, with the product engine's pragmas (WAL, synchronous=NORMAL,
     foreign_keys=ON).

Each load runs in one transaction, as the import does.
"""

from __future__ import annotations

import csv
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from adapters.csv_folder.reader import COLUMNS
from adapters.db.tables import metadata

FILES = tuple(COLUMNS)  # groups, customers, invoices, payments: the import's order
_NUMERIC = {"credit_limit", "total", "open_amount", "amount", "unapplied_amount"}
_DATE = {"issue_date", "due_date", "date"}
_BOOLEAN = {"on_hold"}
_COPY_BLOCK = 1 << 20  # bytes per write to the COPY stream


@dataclass
class PlainLoad:
    rows: int
    seconds: float
    tables: dict[str, int] = field(default_factory=dict)  # rows per table, same-table loads

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


# --- The same tables: the rows an import wrote, into a fresh copy of the product's schema. ---


@dataclass
class TableRows:
    """One table's rows as read out of an imported database, ready to load elsewhere."""

    name: str
    columns: list[str]
    rows: int
    data: Any  # PostgreSQL: COPY text (bytes); SQLite: a list of row tuples


def filled_tables(count_imported: Any, count_fresh: Any) -> list[str]:
    """The tables an import filled, in foreign-key order: rows in the imported database, none
    in a freshly migrated one (whose own rows, the default source and thresholds, came from
    `init_db`, not from the import)."""
    names = [t.name for t in metadata.sorted_tables]
    return [n for n in names if count_imported(n) and not count_fresh(n)]


def _pg_count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    return int(row[0]) if row else 0


def read_postgres_tables(imported: str, fresh: str) -> list[TableRows]:
    """COPY every table the import filled out of `imported` (a libpq URL), as text.

    `fresh` is a freshly migrated database of the same schema, to tell the import's tables from
    the ones `init_db` fills. Not timed: this only prepares the load.
    """
    with psycopg.connect(imported) as src, psycopg.connect(fresh) as new:
        names = filled_tables(lambda t: _pg_count(src, t), lambda t: _pg_count(new, t))
        out = []
        with src.cursor() as cur:
            for name in names:
                columns = [
                    r[0]
                    for r in cur.execute(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND table_name = %s "
                        "ORDER BY ordinal_position",
                        (name,),
                    )
                ]
                cols = ", ".join(f'"{c}"' for c in columns)
                blocks = []
                with cur.copy(f'COPY "{name}" ({cols}) TO STDOUT') as copy:
                    for block in copy:
                        blocks.append(bytes(block))
                out.append(TableRows(name, columns, cur.rowcount, b"".join(blocks)))
    return out


def postgres_copy_tables(conninfo: str, tables: list[TableRows]) -> PlainLoad:
    """COPY the tables' rows into the (fresh, migrated, empty) database in one transaction."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows, done = 0, {}
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            for table in tables:
                cols = ", ".join(f'"{c}"' for c in table.columns)
                data = memoryview(table.data)
                with cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:
                    for start in range(0, len(data), _COPY_BLOCK):
                        copy.write(data[start : start + _COPY_BLOCK])
                done[table.name] = cur.rowcount
                rows += cur.rowcount
        seconds = time.perf_counter() - started
    return PlainLoad(rows, seconds, done)


def _sqlite_count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def read_sqlite_tables(imported: Path, fresh: Path) -> list[TableRows]:
    """Every table the import filled, read out of the SQLite file `imported` as row tuples.

    `fresh` is a freshly migrated file of the same schema (see `read_postgres_tables`).
    """
    src, new = sqlite3.connect(imported), sqlite3.connect(fresh)
    try:
        names = filled_tables(lambda t: _sqlite_count(src, t), lambda t: _sqlite_count(new, t))
        out = []
        for name in names:
            cur = src.execute(f'SELECT * FROM "{name}"')
            columns = [d[0] for d in cur.description]
            rows = cur.fetchall()
            out.append(TableRows(name, columns, len(rows), rows))
    finally:
        src.close()
        new.close()
    return out


def sqlite_executemany_tables(path: Path, tables: list[TableRows]) -> PlainLoad:
    """executemany the tables' rows into the (fresh, migrated, empty) SQLite file at `path`."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        rows, done = 0, {}
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for table in tables:
            cols = ", ".join(f'"{c}"' for c in table.columns)
            marks = ", ".join("?" * len(table.columns))
            sql = f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks})'
            cur = conn.executemany(sql, table.data)
            done[table.name] = cur.rowcount
            rows += cur.rowcount
        conn.execute("COMMIT")
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    return PlainLoad(rows, seconds, done)
