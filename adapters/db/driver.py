"""The gate's hottest statements, run on the driver's cursor instead of SQLAlchemy's execution.

A gate decision runs three statements. Through `Connection.execute` each one also costs building
an execution context, the compiled cache lookup, the driver's result description (psycopg makes a
Column object per column, some 50 per decision) and SQLAlchemy's result metadata: together about
as much worker CPU as the rest of the decision's Python (bench/README.md). A `DriverStatement` is
compiled once per dialect; a call applies the same bind and result processors SQLAlchemy would
(taken from the statement's own column types) and hands back named tuples. Errors go through
SQLAlchemy's own handling, so they are wrapped (IntegrityError, OperationalError) and a lost
connection is invalidated exactly as for any other statement.

Only for statements without expanding parameters, run many times with the same shape.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # qmark drivers (sqlite3): parameter names in order
    defaults: dict[str, Any]  # values bound in the statement itself (literals)
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]  # (name, processor), only those with one


@dataclass(frozen=True)
class _Results:
    row: Any  # a namedtuple class
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]


class DriverStatement:
    """A SQLAlchemy statement compiled once per dialect and run on the driver's own cursor."""

    def __init__(self, statement: ClauseElement, name: str = "Row") -> None:
        self.statement = statement
        self.name = name
        # Per (dialect, driver): the SQL text and parameter style are the driver's.
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._results: dict[tuple[str, str], _Results] = {}
        self._lock = threading.Lock()

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Run the statement and return every row as a named tuple (columns by label)."""
        cursor = self._execute(conn, params)
        try:
            results = self._results.get((conn.dialect.name, conn.dialect.driver))
            if results is None:
                results = self._describe(conn.dialect, cursor.description)
            raw = cursor.fetchall()
        finally:
            cursor.close()
        make, processors = results.row._make, results.processors
        if not processors:
            return [make(r) for r in raw]
        out = []
        for r in raw:
            values = list(r)
            for i, process in processors:
                values[i] = process(values[i])
            out.append(make(values))
        return out

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any | None:
        found = self.rows(conn, params)
        return found[0] if found else None

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        return self.rows(conn, params)[0][0]

    def run(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """Run a statement that returns no rows."""
        self._execute(conn, params).close()

    def _execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        dialect = conn.dialect
        compiled = self._compiled.get((dialect.name, dialect.driver)) or self._compile(dialect)
        values = {**compiled.defaults, **params}
        for key, process in compiled.binds:
            values[key] = process(values[key])
        bound: Any = values
        if compiled.positions is not None:
            bound = tuple(values[key] for key in compiled.positions)
        driver = conn.connection.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            cursor.execute(compiled.sql, bound)
        except Exception as exc:
            cursor.close()
            # SQLAlchemy's own path for a failed statement: wraps the driver's error, and
            # invalidates the connection (and the pool) when the server is gone. A private
            # method: pyproject.toml pins SQLAlchemy's minor version, and
            # tests/integration/test_driver_statements.py fails by name if it changes.
            conn._handle_dbapi_exception(exc, compiled.sql, bound, None, None)
        return cursor

    def _compile(self, dialect: Dialect) -> _Compiled:
        with self._lock:
            compiled = self.statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            if any(b.expanding for b in compiled.binds.values()):
                raise ValueError("a DriverStatement cannot have expanding parameters")
            binds = []
            for key, bind in compiled.binds.items():
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    binds.append((key, process))
            defaults = {
                key: b.effective_value
                for key, b in compiled.binds.items()
                if b.value is not None or b.callable is not None
            }
            positions = tuple(compiled.positiontup) if compiled.positiontup else None
            done = _Compiled(compiled.string, positions, defaults, tuple(binds))
            self._compiled[(dialect.name, dialect.driver)] = done
            return done

    def _describe(self, dialect: Dialect, description: Sequence[Any]) -> _Results:
        """Result processors from the statement's column types and the driver's type codes."""
        with self._lock:
            columns = list(self.statement.selected_columns)  # type: ignore[attr-defined]
            if len(columns) != len(description):
                raise ValueError(f"{self.name}: {len(description)} columns, expected {columns}")
            processors = []
            for i, (column, described) in enumerate(zip(columns, description, strict=True)):
                impl = column.type.dialect_impl(dialect)
                process = impl.result_processor(dialect, described[1])
                if process is not None:
                    processors.append((i, process))
            names = [str(c.key) for c in columns]
            row = namedtuple(self.name, names, rename=True)  # type: ignore[misc]
            done = _Results(row, tuple(processors))
            self._results[(dialect.name, dialect.driver)] = done
            return done
