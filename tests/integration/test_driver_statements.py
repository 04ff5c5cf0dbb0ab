"""The gate's statements on the driver's cursor (adapters/db/driver.py) read exactly what
SQLAlchemy's own execution reads, and fail the way SQLAlchemy's statements fail."""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import Connection, insert, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from adapters.db import decision_reads
from adapters.db import statements as sql
from adapters.db.driver import DriverStatement
from adapters.db.tables import sources
from tests.conftest import NOW


def both(conn: Any, statement: Any, params: dict[str, Any]) -> tuple[list[tuple], list[tuple]]:
    """(rows through the driver, rows through SQLAlchemy), as plain tuples."""
    driver = [tuple(r) for r in DriverStatement(statement).rows(conn, params)]
    alchemy = [tuple(r) for r in conn.execute(statement, params).all()]
    return driver, alchemy


@pytest.mark.parametrize("customer", ["C-100", "C-300", "C-520", "C-NEW"])
def test_the_decision_view_reads_the_same_values_and_types_as_sqlalchemy(api, loaded, customer):
    # An approved order first, so the view also carries an order row with money and timestamps.
    assert api.gate(f"SO-{customer}", customer, "1000.00").status_code == 200
    params = {
        "source_id": 1,
        "ref": customer,
        "order_id": f"SO-{customer}",
        "now": NOW + timedelta(days=60),  # past the reservation: the lapsed flag is set
        "due_before": (NOW - timedelta(days=30)).date(),
        "tolerance": 0,
    }
    with loaded.engine.connect() as conn:
        driver, alchemy = both(conn, sql.DECISION_VIEW, params)
        begin, begin_alchemy = both(conn, sql.SOURCE_AND_THRESHOLDS, {"name": "default"})

    assert driver == alchemy
    assert [[type(v) for v in row] for row in driver] == [[type(v) for v in r] for r in alchemy]
    assert begin == begin_alchemy and begin[0][1] == "default"
    if customer != "C-NEW":
        assert driver[0][0] is not None  # the customer was found, not only the outer row
    named = DriverStatement(sql.DECISION_VIEW).first(loaded.engine.connect(), params)
    assert named.o_external_id == f"SO-{customer}"
    assert named.o_updated_at.tzinfo is not None  # aware UTC, as UTCDateTime reads it


def test_the_overdue_count_and_the_postgresql_lock_statement_agree_with_sqlalchemy(loaded):
    with loaded.engine.connect() as conn:
        count = {"customer_id": 2, "due_before": NOW.date(), "tolerance": 0, "cap": 10}
        assert (
            DriverStatement(sql.OVERDUE_COUNT).scalar(conn, count)
            == conn.execute(sql.OVERDUE_COUNT, count).scalar_one()
        )
        if conn.dialect.name == "postgresql":
            lock = {"name": "default", "ref": "C-520", "time_left": "2000ms"}
            driver, alchemy = both(conn, decision_reads._PG_BEGIN, lock)
            assert driver == alchemy and driver[0][-2:] == (False, False)  # both locks taken


def test_a_constraint_violation_is_sqlalchemys_integrity_error_and_the_connection_survives(
    loaded,
):
    again = DriverStatement(insert(sources))
    row = {
        "id": 999,
        "name": "default",  # taken: the dataset's own source
        "kind": "csv",
        "url": None,
        "settings": {},
        "last_success_at": None,
        "created_at": NOW,
        "mac": None,
    }
    with loaded.engine.connect() as conn, pytest.raises(IntegrityError):
        again.run(conn, row)
    with loaded.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sources")).scalar_one() == 1


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_lost_server_connection_is_invalidated_like_any_statement(loaded):
    with loaded.engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        conn.rollback()
        with loaded.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.commit()
        with pytest.raises(DBAPIError) as caught:
            DriverStatement(sql.SOURCE_AND_THRESHOLDS).rows(conn, {"name": "default"})
        assert caught.value.connection_invalidated
    with loaded.engine.connect() as conn:  # the pool hands out a working connection again
        assert DriverStatement(sql.SOURCE_AND_THRESHOLDS).first(conn, {"name": "default"})


def test_sqlalchemys_private_error_handler_still_takes_what_the_driver_path_passes():
    """DriverStatement._execute hands a failed statement to SQLAlchemy's private
    `Connection._handle_dbapi_exception(e, statement, parameters, cursor, context)`, which
    SQLAlchemy may change in any release (pyproject.toml pins the minor version)."""
    fix = (
        f"SQLAlchemy {sqlalchemy.__version__}: adapters/db/driver.py (DriverStatement._execute) "
        "relies on the private Connection._handle_dbapi_exception to wrap a failed statement's "
        "error and invalidate a lost connection; port it to this SQLAlchemy before upgrading"
    )
    handler = getattr(Connection, "_handle_dbapi_exception", None)
    assert callable(handler), f"{fix}: the method is gone"
    signature = inspect.signature(handler)
    named = list(signature.parameters)[:6]
    assert named == ["self", "e", "statement", "parameters", "cursor", "context"], (
        f"{fix}: its signature is now {signature}"
    )
    try:  # the very call driver.py makes: (exc, compiled.sql, bound, None, None)
        signature.bind(object(), ValueError("x"), "SELECT 1", (), None, None)
    except TypeError as exc:
        raise AssertionError(f"{fix}: {exc}; its signature is now {signature}") from None
