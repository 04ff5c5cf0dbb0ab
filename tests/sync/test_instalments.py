"""Invoices in instalments in the store: one receivable row per instalment (adapters/db/loader.py),
followed through the changes a source can make, on SQLite and PostgreSQL.

The rows feed the gate's overdue view, the warnings and the aging as they are; here the credit
position (which reads the same overdue view) and the running balance check each step.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from adapters.db.tables import customer_balances, customers, invoices, orders
from connector import create_app
from gating.commands import CreateApiClient
from gating.records import CustomerData, Instalment, InvoiceData
from gating.services import credit_position
from gating.sources import Page
from tests.conftest import TODAY

SOURCE = "split"
ZERO = Decimal("0.00")


def d(offset: int) -> Any:
    return TODAY + timedelta(days=offset)


def invoice(*parts: tuple[int, str, str], order_ref: str | None = None) -> InvoiceData:
    """INV-1 of 1,000.00 CNY issued 130 days ago, in the instalments (due in days, share,
    open); one part: no instalments, due then."""
    instalments = tuple(Instalment(d(o), Decimal(a), Decimal(p)) for o, a, p in parts)
    open_amount = sum((i.open_amount for i in instalments), ZERO)
    return InvoiceData(
        "T-1",
        "C-900",
        "INV-1",
        d(-130),
        min((i.due_date for i in instalments if i.open_amount), default=d(-100)),
        "CNY",
        Decimal("1000.00"),
        open_amount,
        order_ref=order_ref,
        instalments=instalments if len(instalments) > 1 else (),
    )


@pytest.fixture
def load(services: Any) -> Any:
    """load(record): apply a page of one invoice; return the number of invoices written."""
    source_id = services.add_source(SOURCE, "csv-folder", settings={"path": "/nonexistent"})
    store = services.sync_store()
    customer = CustomerData("C-900", "Split Payer", Decimal("100000.00"), "CNY")
    store.apply_page(source_id, "customers", Page([customer], (), None), services.clock())
    store.mark_synced(source_id, services.clock())

    def apply(record: InvoiceData) -> int:
        written, errors = store.apply_page(
            source_id, "invoices", Page([record], (), None), services.clock()
        )
        assert errors == []
        return written

    return apply


def stored(services: Any) -> list[tuple[str, Any, Decimal, Decimal, int | None]]:
    i = invoices.c
    with services.engine.connect() as conn:
        rows = conn.execute(
            select(i.external_id, i.due_date, i.total, i.open_amount, i.instalments)
            .where(i.number == "INV-1")
            .order_by(i.due_date, i.external_id)
        ).all()
    return [tuple(r) for r in rows]


def balance(services: Any) -> Decimal:
    b, c = customer_balances.c, customers.c
    with services.engine.connect() as conn:
        found = conn.execute(
            select(b.open_invoices)
            .join(customers, c.id == b.customer_id)
            .where(c.external_id == "C-900")
        ).scalar()
    return ZERO if found is None else found


def overdue(services: Any) -> list[tuple[Any, Decimal]]:
    position = credit_position(
        SOURCE, "C-900", uow=services.read_uow(), clock=services.clock, rates=services.rates
    )
    return [(o["due_date"], o["open_amount"]) for o in position["overdue_invoices"]]


def test_an_invoice_in_instalments_is_a_row_per_instalment_through_every_change(services, load):
    # Two instalments, the first paid: only the second's 600.00 is open, overdue on its date.
    assert load(invoice((-100, "400.00", "0.00"), (-40, "600.00", "600.00"))) == 1
    assert stored(services) == [
        ("T-1", d(-100), Decimal("400.00"), ZERO, 2),
        ("T-1#2", d(-40), Decimal("600.00"), Decimal("600.00"), 2),
    ]
    assert (balance(services), overdue(services)) == (
        Decimal("600.00"),
        [(d(-40), Decimal("600.00"))],
    )

    # Rescheduled into three: half of the open 600.00 later.
    load(invoice((-100, "400.00", "0.00"), (-40, "300.00", "300.00"), (20, "300.00", "300.00")))
    assert [r[0] for r in stored(services)] == ["T-1", "T-1#2", "T-1#3"]
    assert (balance(services), overdue(services)) == (
        Decimal("600.00"),
        [(d(-40), Decimal("300.00"))],
    )

    # Back to two: the third instalment's row goes, and its open amount with it.
    load(invoice((-100, "400.00", "0.00"), (20, "600.00", "600.00")))
    assert stored(services) == [
        ("T-1", d(-100), Decimal("400.00"), ZERO, 2),
        ("T-1#2", d(20), Decimal("600.00"), Decimal("600.00"), 2),
    ]
    assert (balance(services), overdue(services)) == (Decimal("600.00"), [])

    # One due date again: one row, as any invoice without instalments (nothing more stored).
    load(invoice((20, "1000.00", "600.00")))
    assert stored(services) == [("T-1", d(20), Decimal("1000.00"), Decimal("600.00"), None)]
    assert balance(services) == Decimal("600.00")

    # And in instalments once more, all paid: nothing open, nothing overdue.
    assert load(invoice((-100, "400.00", "0.00"), (-40, "600.00", "0.00"))) == 1
    assert [r[3] for r in stored(services)] == [ZERO, ZERO]
    assert (balance(services), overdue(services)) == (ZERO, [])


def test_an_order_invoiced_in_instalments_is_reduced_by_the_whole_invoice(services, load):
    client = create_app(services).test_client()
    erp = services.writes.create_api_client(CreateApiClient("erp-split", "erp", source=SOURCE)).key
    body = {
        "order_id": "SO-9",
        "customer_id": "C-900",
        "amount": "1000.00",
        "currency": "CNY",
        "source": SOURCE,
    }
    answer = client.post(
        "/api/v1/gate/orders", json=body, headers={"Authorization": f"Bearer {erp}"}
    )
    assert answer.get_json()["outcome"] == "approved"

    load(invoice((-100, "400.00", "400.00"), (-40, "600.00", "600.00"), order_ref="SO-9"))

    with services.engine.connect() as conn:
        order = conn.execute(
            select(orders.c.invoiced, orders.c.reserved, orders.c.status).where(
                orders.c.external_id == "SO-9"
            )
        ).one()
    assert tuple(order) == (Decimal("1000.00"), ZERO, "invoiced")
    assert balance(services) == Decimal("1000.00")


def test_an_invoice_in_instalments_of_an_unknown_customer_is_skipped_once(services, load):
    stray = replace(
        invoice((-100, "400.00", "0.00"), (-40, "600.00", "600.00")), customer_ref="C-404"
    )
    source_id = services.sync_store().source(SOURCE)["id"]

    written, errors = services.sync_store().apply_page(
        source_id, "invoices", Page([stray], (), None), services.clock()
    )

    assert written == 0
    assert [(e.record_id, e.reason) for e in errors] == [("T-1", "customer 'C-404' does not exist")]
    assert stored(services) == []
