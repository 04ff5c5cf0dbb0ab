"""The bulk insert path stores exactly what SQLAlchemy's own insert stores."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import insert, select

from adapters.db.bulk import insert_rows
from adapters.db.tables import customers, invoices, sources


def _row(i, source_id, customer_id):
    return {
        "source_id": source_id,
        "external_id": f"I-{i}",
        "customer_id": customer_id,
        "number": f"INV-{i}",
        "issue_date": date(2026, 11, 1),
        "due_date": date(2026, 12, 1),
        "currency": "KWD",
        "total": Decimal("1234.567"),
        "open_amount": Decimal("-0.001"),
        "is_open": False,
        "order_ref": None if i % 2 else "SO-1",
        "updated_at": datetime(2026, 11, 22, 9, 30, 1, 250, tzinfo=UTC),
    }  # "cancelled" left out: its default applies


def test_bulk_and_plain_inserts_store_the_same_values(services):
    now = datetime(2026, 11, 22, tzinfo=UTC)
    with services.engine.begin() as conn:
        source_id = conn.execute(select(sources.c.id)).scalar_one()
        customer_id = conn.execute(
            insert(customers).values(
                source_id=source_id, external_id="C-1", name="C", currency="KWD", updated_at=now
            )
        ).inserted_primary_key[0]
        insert_rows(conn, invoices, [_row(i, source_id, customer_id) for i in range(3)])
        conn.execute(insert(invoices), [_row(i, source_id, customer_id) for i in range(3, 6)])
        rows = conn.execute(select(invoices).order_by(invoices.c.id)).all()

    def comparable(row):
        values = dict(row._mapping)
        for key in ("id", "external_id", "number", "order_ref"):
            values.pop(key)
        return values

    bulk, plain = [comparable(r) for r in rows[:3]], [comparable(r) for r in rows[3:]]
    assert bulk == plain
    assert bulk[0]["total"] == Decimal("1234.567")
    assert bulk[0]["cancelled"] is False
    assert bulk[0]["updated_at"] == datetime(2026, 11, 22, 9, 30, 1, 250, tzinfo=UTC)
