"""Bulk inserts without SQLAlchemy's per-row execution overhead, types still applied.

`conn.execute(insert(table), rows)` prepares every row through the execution context; for a
sync of a million invoices that costs more than SQLite itself. Here the statement is compiled
once per (dialect, table, columns), each column's own bind processor (the same conversion
`Money`, dates and booleans get normally) is applied in a tight loop, and the rows go to the
driver's executemany.

On PostgreSQL with psycopg 3 the rows go through `COPY ... FROM STDIN` instead. Even pipelined,
executemany costs a Bind/Execute round of protocol messages per row, built in Python, and the
server runs a separate INSERT for each; COPY streams the rows and the server loads them in one
command. The constraints, indexes and triggers are the same, so what lands is the same, and a
failure raises the same SQLAlchemy exception class (IntegrityError, ...) as an INSERT would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError

_Processor = Callable[[Any], Any] | None
_Plan = tuple[str, list[tuple[str, _Processor, Any]], bool]
_COMPILED: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}
_MISSING = object()


def _plan(conn: Connection, table: Table, columns: tuple[str, ...]) -> _Plan:
    key = (conn.dialect.name, table.name, columns)
    found = _COMPILED.get(key)
    if found is not None:
        return found
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=list(columns))
    order = list(compiled.positiontup or ()) if compiled.positional else list(compiled.params)
    steps: list[tuple[str, _Processor, Any]] = []
    for name in order:
        column = table.c[name]
        # A column the rows leave out gets its scalar default, as execute() would give it.
        default: Any = getattr(column.default, "arg", _MISSING)
        if name not in columns and (default is _MISSING or callable(default)):
            raise ValueError(f"rows for {table.name} lack {name!r}, which has no default")
        steps.append((name, column.type.bind_processor(conn.dialect), default))
    plan: _Plan = (str(compiled), steps, bool(compiled.positional))
    _COMPILED[key] = plan
    return plan


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table`: one executemany, or one COPY."""
    if not rows:
        return
    sql, steps, positional = _plan(conn, table, tuple(rows[0]))

    names = [name for name, _, _ in steps]
    # Each column's conversions are remembered for this batch: dates, the shared timestamp and
    # zero amounts repeat on most rows, and a dict lookup is far cheaper than a conversion.
    converts: list[tuple[int, Callable[[Any], Any], dict[Any, Any]]] = [
        (i, process, {}) for i, (_, process, _) in enumerate(steps) if process
    ]
    # When the rows carry every column (the loader's do), one C-level itemgetter call per row
    # picks them out; otherwise left-out columns get their defaults one by one.
    take = itemgetter(*names) if len(names) > 1 and rows[0].keys() >= set(names) else None

    def values(row: dict[str, Any]) -> list[Any]:
        out = list(take(row)) if take else [row.get(name, d) for name, _, d in steps]
        for i, process, memo in converts:
            value = out[i]
            try:
                out[i] = memo[value]
            except KeyError:
                out[i] = memo[value] = process(value)
        return out

    if conn.dialect.driver == "psycopg":
        _copy(conn, table, names, (values(row) for row in rows))
    elif positional:
        conn.exec_driver_sql(sql, [tuple(values(row)) for row in rows])
    else:
        conn.exec_driver_sql(sql, [dict(zip(names, values(row), strict=True)) for row in rows])


def _copy(conn: Connection, table: Table, names: list[str], rows: Iterable[list[Any]]) -> None:
    """`COPY table (names) FROM STDIN` on the connection's own psycopg connection, so inside
    the caller's transaction. psycopg's errors become SQLAlchemy's, as an INSERT's would."""
    quote = conn.dialect.identifier_preparer
    columns = ", ".join(quote.quote(name) for name in names)
    sql = f"COPY {quote.format_table(table)} ({columns}) FROM STDIN"
    driver = conn.connection.driver_connection
    assert driver is not None
    base_error: type[Exception] = conn.dialect.loaded_dbapi.Error
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except base_error as exc:
        raise DBAPIError.instance(sql, None, exc, base_error, dialect=conn.dialect) from exc
