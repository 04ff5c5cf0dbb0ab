"""The bulk path with rows as tuples, and the loader on it: the same rows as a plain INSERT."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import exc, insert, select

from adapters.db import bulk, loader
from adapters.db.bulk import insert_tuples
from adapters.db.loader import Loader
from adapters.db.tables import customers, groups, invoices, payments, sources
from gating.records import InvoiceData

NOW = datetime(2026, 11, 22, 9, 30, 1, 250, tzinfo=UTC)
TEXTS = ["plain", "back\\slash", "tab\there", "new\nline", "cr\rhere", "ünïcødé ✓", "\\N", ""]


def _setup(conn):
    source_id = conn.execute(select(sources.c.id)).scalar_one()
    customer_id = conn.execute(
        insert(customers).values(
            source_id=source_id, external_id="C-1", name="C", currency="KWD", updated_at=NOW
        )
    ).inserted_primary_key[0]
    return source_id, customer_id


def _values(i, source_id, customer_id, prefix="I"):
    amounts = [Decimal("0"), Decimal("0.00"), Decimal("-0.001"), Decimal("1234.567")]
    return (
        source_id,
        f"{prefix}-{i}",
        customer_id,
        TEXTS[i % len(TEXTS)] or "x",
        date(2026, 11, 1) + timedelta(days=i % 3),
        date(2026, 12, 1),
        "KWD",
        amounts[i % 4],
        amounts[(i + 1) % 4],
        i % 2 == 0,
        i % 3 == 0,
        None if i % 2 else TEXTS[i % len(TEXTS)],
        NOW + timedelta(microseconds=i % 2),
        None if i % 4 else 2,  # instalments: NULL for an invoice with one due date
    )


def _raw(conn, first, last):
    """The rows as the database stores them, read past SQLAlchemy's types."""
    rows = conn.exec_driver_sql(
        "SELECT source_id, customer_id, number, issue_date, due_date, currency, total, "
        "open_amount, is_open, cancelled, order_ref, updated_at, instalments FROM invoices "
        f"WHERE id BETWEEN {first} AND {last} ORDER BY id"
    ).all()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("reorder", [False, True])
def test_tuples_store_exactly_what_a_plain_insert_stores(services, reorder):
    columns = loader.INVOICE_COLUMNS
    with services.engine.begin() as conn:
        source_id, customer_id = _setup(conn)
        rows = [_values(i, source_id, customer_id) for i in range(24)]
        if reorder:  # any order of columns works too
            columns = columns[::-1]
            rows = [row[::-1] for row in rows]
        insert_tuples(conn, invoices, columns, rows)
        conn.execute(
            insert(invoices),
            [
                dict(
                    zip(
                        loader.INVOICE_COLUMNS, _values(i, source_id, customer_id, "P"), strict=True
                    )
                )
                for i in range(24)
            ],
        )
        ids = conn.execute(select(invoices.c.id).order_by(invoices.c.id)).scalars().all()
        bulk_rows, plain_rows = _raw(conn, ids[0], ids[23]), _raw(conn, ids[24], ids[47])

    assert bulk_rows == plain_rows
    assert {r[2] for r in bulk_rows} == {t or "x" for t in TEXTS}


def test_the_loaders_columns_are_in_the_order_the_fast_path_takes(services):
    with services.engine.connect() as conn:
        for table, columns in [
            (groups, loader.GROUP_COLUMNS),
            (customers, loader.CUSTOMER_COLUMNS),
            (invoices, loader.INVOICE_COLUMNS),
            (payments, loader.PAYMENT_COLUMNS),
        ]:
            _, steps, _ = bulk._plan(conn, table, columns)
            assert tuple(name for name, _, _ in steps) == columns


def _invoice(ref, total="10.00"):
    return InvoiceData(
        ref, "C-1", f"N-{ref}", date(2026, 11, 1), date(2026, 12, 1), "KWD",
        Decimal(total), Decimal(total),
    )  # fmt: skip


def test_a_ref_given_twice_in_one_call_is_updated_as_before(services):
    # More than a chunk apart: the second finds the first and updates it, whether or not the
    # table had rows before (no shortcut is taken when refs repeat).
    records = [_invoice("I-1", "5.00")]
    records += [_invoice(f"I-{i}") for i in range(2, loader.CHUNK + 2)]
    records += [_invoice("I-1", "7.00")]
    with services.engine.begin() as conn:
        source_id, _ = _setup(conn)
        load = Loader(conn, source_id, NOW)
        load.invoices(records)
        load.finish()
        total = conn.execute(
            select(invoices.c.total).where(invoices.c.external_id == "I-1")
        ).scalar_one()
        count = conn.execute(select(invoices.c.id)).all()

    assert total == Decimal("7.00")
    assert len(count) == loader.CHUNK + 1
    assert load.report.written == {"invoices": loader.CHUNK + 2}


def test_a_ref_given_twice_in_one_chunk_still_fails_the_load(services):
    with services.engine.begin() as conn:
        source_id, _ = _setup(conn)
        load = Loader(conn, source_id, NOW)
        with pytest.raises(exc.IntegrityError):
            load.invoices([_invoice("I-1"), _invoice("I-1")])


def test_batches_whose_values_stop_repeating_store_the_same(services):
    # A first batch of all-distinct totals makes the bulk path convert that column value by
    # value from then on; later batches repeat values again. The result must not change.
    with services.engine.begin() as conn:
        source_id, customer_id = _setup(conn)

        def row(i, total, prefix):
            values = list(_values(i, source_id, customer_id, prefix))
            values[7] = values[8] = Decimal(total)
            return tuple(values)

        batches = [
            [row(i, f"{i}.{i % 10}5", "I") for i in range(10)],
            [row(i, "5.00", "I") for i in range(10, 20)],
            [row(i, "5.000", "I") for i in range(20, 30)],
        ]
        bulk.insert_batches(conn, invoices, loader.INVOICE_COLUMNS, iter(batches))
        plain = [(r[0], f"P{r[1]}", *r[2:]) for b in batches for r in b]
        conn.execute(
            insert(invoices), [dict(zip(loader.INVOICE_COLUMNS, r, strict=True)) for r in plain]
        )
        ids = conn.execute(select(invoices.c.id).order_by(invoices.c.id)).scalars().all()
        bulk_rows, plain_rows = _raw(conn, ids[0], ids[29]), _raw(conn, ids[30], ids[59])

    assert bulk_rows == plain_rows
