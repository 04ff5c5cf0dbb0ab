"""Bulk inserts without SQLAlchemy's per-row execution overhead, types still applied.

`conn.execute(insert(table), rows)` prepares every row through the execution context; for a
sync of a million invoices that costs more than SQLite itself. Here the statement is compiled
once per (dialect, table, columns), each column's own bind processor (the same conversion
`Money`, dates and booleans get normally) is applied column by column, to each distinct value of
a batch once, and the rows go to the driver's executemany. The driver's own per-value work that
repeats (sqlite3's date adapters, psycopg's text dumps of dates, timestamps and decimals) is
done the same way, with the driver's own functions, so the same bytes reach the database.

On PostgreSQL with psycopg 3 the rows go through `COPY ... FROM STDIN` instead. Even pipelined,
executemany costs a Bind/Execute round of protocol messages per row, built in Python, and the
server runs a separate INSERT for each; COPY streams the rows and the server loads them in one
command. The constraints, indexes and triggers are the same, so what lands is the same, and a
failure raises the same SQLAlchemy exception class (IntegrityError, ...) as an INSERT would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator

_Processor = Callable[[Any], Any] | None
_Plan = tuple[str, list[tuple[str, _Processor, Any]], bool]
_COMPILED: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}
_MISSING = object()
_SEEN_LIMIT = 20_000  # conversions kept per column across the batches of one insert
_DATES = (date, datetime)


def _sqlite_adapted(process: _Processor) -> Callable[[Any], Any]:
    """The column's processor, then what sqlite3 itself turns a date or datetime into.

    sqlite3 adapts dates and datetimes with Python functions of its own (`sqlite3.adapters`) on
    every bind. `sqlite3.adapt` is the driver's own lookup, so doing it here, once per distinct
    value, stores exactly what the driver would have stored; the strings it gives are then
    bound as they are (unless someone adapts str itself: then this is left to the driver).
    """
    pre_adapt = (str, sqlite3.PrepareProtocol) not in sqlite3.adapters

    def adapted(value: Any) -> Any:
        if process is not None:
            value = process(value)
        if pre_adapt and type(value) in _DATES:
            return sqlite3.adapt(value, sqlite3.PrepareProtocol, value)
        return value

    return adapted


def _python_type(column: Any, dialect: Any) -> type:
    """What the column's values are once converted for the database (for a TypeDecorator, its
    implementation's type there: UTCDateTime gives datetimes, Money on SQLite integers)."""
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.load_dialect_impl(dialect)
    try:
        return kind.python_type  # type: ignore[no-any-return]
    except NotImplementedError:
        return object


def _plan(conn: Connection, table: Table, columns: tuple[str, ...]) -> _Plan:
    key = (conn.dialect.name, table.name, columns)
    found = _COMPILED.get(key)
    if found is not None:
        return found
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=list(columns))
    order = list(compiled.positiontup or ()) if compiled.positional else list(compiled.params)
    adapts = conn.dialect.driver == "pysqlite"
    steps: list[tuple[str, _Processor, Any]] = []
    for name in order:
        column = table.c[name]
        # A column the rows leave out gets its scalar default, as execute() would give it.
        default: Any = getattr(column.default, "arg", _MISSING)
        if name not in columns and (default is _MISSING or callable(default)):
            raise ValueError(f"rows for {table.name} lack {name!r}, which has no default")
        process: _Processor = column.type.bind_processor(conn.dialect)
        if adapts and issubclass(_python_type(column, conn.dialect), date):
            process = _sqlite_adapted(process)
        steps.append((name, process, default))
    plan: _Plan = (str(compiled), steps, bool(compiled.positional))
    _COMPILED[key] = plan
    return plan


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table`: one executemany, or one COPY."""
    if not rows:
        return
    columns = tuple(rows[0])
    _, steps, _ = _plan(conn, table, columns)
    names = [name for name, _, _ in steps]
    # When the rows carry every column, one C-level itemgetter call per row picks them out;
    # otherwise left-out columns get their defaults one by one.
    if len(names) > 1 and rows[0].keys() >= set(names):
        take = itemgetter(*names)
        values: list[Sequence[Any]] = [take(row) for row in rows]
    else:
        values = [tuple(row.get(name, d) for name, _, d in steps) for row in rows]
    _insert(conn, table, columns, [values])


def insert_tuples(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert `rows`, each a sequence of the values of `columns` in that order, into `table`.

    The same as `insert_rows` with dicts, without building a dict per row.
    """
    insert_batches(conn, table, columns, [rows])


def insert_batches(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    batches: Iterable[Sequence[Sequence[Any]]],
) -> None:
    """Insert batches of rows, each as `insert_tuples` takes them: one executemany per batch,
    or on PostgreSQL one COPY for all of them.

    One COPY lets the server store a batch while the caller builds the next one, where a COPY
    per batch waits for each to be stored. `batches` may be a generator, but on PostgreSQL the
    connection is busy with the COPY while it runs: it must not use the database. `columns`
    should name every column to be written, in the table's order (the loader's do); other
    orders work, a little slower.
    """
    _, steps, _ = _plan(conn, table, columns)
    names = tuple(name for name, _, _ in steps)
    if names != columns:  # put the values in the statement's order, defaults where left out
        at = {column: i for i, column in enumerate(columns)}
        picks = [(at.get(name), default) for name, _, default in steps]

        def reorder(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
            return [tuple(d if i is None else row[i] for i, d in picks) for row in rows]

        batches = map(reorder, batches)
    _insert(conn, table, columns, batches)


def _converted(
    steps: list[tuple[str, _Processor, Any]],
    rows: Sequence[Sequence[Any]],
    distinct: set[int],
    seen: dict[int, dict[Any, Any]] | None = None,
) -> Sequence[Sequence[Any]]:
    """The rows with each column's bind processor applied, column by column.

    Each distinct value of a column is converted once: dates, the shared timestamp, currencies
    and zero amounts repeat on most rows, and a dict lookup is far cheaper than a conversion.
    `seen` keeps the conversions from one batch to the next (up to `_SEEN_LIMIT` values a
    column): a file's dates repeat across all its batches. A column whose values turned out
    mostly distinct (invoice totals) is added to `distinct` and, in the batches after, converted
    value by value: finding the repeats costs more there (a Decimal's hash costs about as much
    as its conversion) than it saves.
    """
    processors = [(i, process) for i, (_, process, _) in enumerate(steps) if process]
    if not processors:
        return rows
    by_column = list(zip(*rows, strict=True))
    for i, process in processors:
        values = by_column[i]
        if i in distinct:
            by_column[i] = tuple(map(process, values))
            continue
        memo = dict.fromkeys(values)  # the distinct values, in order of appearance
        if len(memo) * 2 > len(values):
            distinct.add(i)
        known = {} if seen is None else seen.setdefault(i, {})
        for value in memo:
            done = known.get(value, _MISSING)
            if done is _MISSING:
                done = process(value)
                if len(known) < _SEEN_LIMIT:
                    known[value] = done
            memo[value] = done
        by_column[i] = tuple(map(memo.__getitem__, values))
    return list(zip(*by_column, strict=True))


def _insert(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    batches: Iterable[Sequence[Sequence[Any]]],
) -> None:
    """Load batches of rows whose values are in the order of the plan for `columns`."""
    sql, steps, positional = _plan(conn, table, columns)
    names = [name for name, _, _ in steps]
    if conn.dialect.driver == "psycopg":
        driver = conn.connection.driver_connection
        steps = _predumped(driver, conn.dialect, table, steps)
        distinct: set[int] = set()
        seen: dict[int, dict[Any, Any]] = {}
        converted = (_converted(steps, rows, distinct, seen) for rows in batches if rows)
        _copy(conn, table, names, converted)
        return
    distinct, seen = set(), {}
    for rows in batches:
        if not rows:
            continue
        values = _converted(steps, rows, distinct, seen)
        if positional:
            conn.exec_driver_sql(sql, values if isinstance(values, list) else list(values))
        else:
            conn.exec_driver_sql(sql, [dict(zip(names, row, strict=True)) for row in values])


# Values whose text form psycopg builds in Python, slowly, and which repeat from row to row.
_PREDUMPED = (date, datetime, Decimal, bool)


def _predumped(
    driver: Any, dialect: Any, table: Table, steps: list[tuple[str, _Processor, Any]]
) -> list[tuple[str, _Processor, Any]]:
    """The steps, where a column may hold dates, timestamps, decimals or booleans, ending in
    the text psycopg itself would send for the value (its own dumper for the connection).

    COPY's text format carries every value as text and the server parses it by the column's
    type, so handing psycopg that text as a str puts the same bytes on the wire: psycopg then
    only encodes and escapes it. Done once per distinct value (the memo of `_converted`) where
    psycopg would dump every row's value again; the shared timestamp alone cost ~1.5 µs a row.
    A dump that is not ASCII is left to psycopg, in case the client encoding differs.
    """
    from psycopg.adapt import PyFormat, Transformer  # psycopg is only there for PostgreSQL

    tx = Transformer(driver)

    def wrapped(process: _Processor) -> Callable[[Any], Any]:
        def convert(value: Any) -> Any:
            if process is not None:
                value = process(value)
            if type(value) in _PREDUMPED:
                dumped = tx.get_dumper(value, PyFormat.TEXT).dump(value)
                if dumped is not None and (text := bytes(dumped)).isascii():
                    return text.decode("ascii")
            return value

        return convert

    out: list[tuple[str, _Processor, Any]] = []
    for name, process, default in steps:
        if issubclass(_python_type(table.c[name], dialect), _PREDUMPED):
            process = wrapped(process)
        out.append((name, process, default))
    return out


def _copy(
    conn: Connection,
    table: Table,
    names: list[str],
    batches: Iterable[Sequence[Sequence[Any]]],
) -> None:
    """`COPY table (names) FROM STDIN` on the connection's own psycopg connection, so inside
    the caller's transaction, started at the first batch (none for no rows). psycopg's errors
    become SQLAlchemy's, as an INSERT's would."""
    quote = conn.dialect.identifier_preparer
    columns = ", ".join(quote.quote(name) for name in names)
    sql = f"COPY {quote.format_table(table)} ({columns}) FROM STDIN"
    driver = conn.connection.driver_connection
    assert driver is not None
    base_error: type[Exception] = conn.dialect.loaded_dbapi.Error
    batches = iter(batches)
    first = next(batches, None)
    if first is None:
        return
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            write = copy.write_row
            for row in first:
                write(row)
            for rows in batches:
                for row in rows:
                    write(row)
    except base_error as exc:
        raise DBAPIError.instance(sql, None, exc, base_error, dialect=conn.dialect) from exc
