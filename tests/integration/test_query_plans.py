"""The gate's and the sync's lookups use the partial indexes on invoices (SQLite's plans).

The indexes are partial (open invoices only; invoices with an order reference only) to keep a
large sync fast, which makes them easy to lose: a query whose WHERE no longer implies the
index's own condition silently falls back to scanning every invoice.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Select

from adapters.db import statements
from adapters.db.engine import make_engine
from adapters.db.tables import metadata


def plan(engine: Any, stmt: Select[Any], **params: Any) -> str:
    compiled = stmt.compile(engine)
    values = {**compiled.params, **params}
    args = tuple(values[name] for name in compiled.positiontup or ())
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", args).all()
    return " | ".join(row[-1] for row in rows)


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/plans.db")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


OVERDUE = {"customer_id": 1, "due_before": "2026-01-01", "tolerance": 0, "limit": 5, "cap": 10}


@pytest.mark.parametrize("name", ["OVERDUE_LIST", "OVERDUE_COUNT"])
def test_the_overdue_check_seeks_the_open_invoices_index(engine, name):
    found = plan(engine, getattr(statements, name), **OVERDUE)

    assert "USING INDEX ix_invoices_open_customer_id_due_date (customer_id=? AND due_date<?)" in (
        found
    )
    assert "SCAN invoices" not in found


def test_the_invoiced_amount_of_an_order_seeks_the_order_ref_index(engine):
    found = plan(
        engine, statements.INVOICED_FOR_ORDER, source_id=1, order_ref="SO-1", currency="USD"
    )

    assert "USING INDEX ix_invoices_source_id_order_ref (source_id=? AND order_ref=?)" in found


def test_what_a_decision_reads_is_all_index_seeks(engine):
    found = plan(
        engine,
        statements.DECISION_VIEW,
        source_id=1,
        ref="C-1",
        order_id="SO-1",
        now="2026-01-01 00:00:00",
        due_before="2026-01-01",
        tolerance=0,
    )

    assert "USING INDEX ix_invoices_open_customer_id_due_date (customer_id=? AND due_date<?)" in (
        found
    )
    scans = [step for step in found.split(" | ") if step.startswith("SCAN")]
    assert scans == ["SCAN CONSTANT ROW", "SCAN one"]


def test_the_hold_list_reads_the_held_orders_index(engine):
    from adapters.db.holds import HELD

    found = plan(engine, HELD.order_by(HELD.selected_columns.key.desc()).limit(10))

    # Walks the partial index (held orders only) newest first: no scan of every order, no sort.
    assert "SCAN orders USING INDEX ix_orders_held" in found
    assert "TEMP B-TREE" not in found
