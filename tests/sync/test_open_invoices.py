"""The sync store's read of a source's open invoices (DbSyncStore.open_invoices), which the
engine's recheck compares with what the source lists as open (sync/engine.py), on SQLite and
PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from gating.records import CustomerData, Instalment, InvoiceData
from gating.sources import Page
from tests.conftest import TODAY

ZERO = Decimal("0.00")


def d(offset: int) -> Any:
    return TODAY + timedelta(days=offset)


def invoice(ref: str, open_amount: str, *, total: str = "100.00", **more: Any) -> InvoiceData:
    return InvoiceData(
        ref, "C-1", f"N-{ref}", d(-10), d(20), "CNY", Decimal(total), Decimal(open_amount), **more
    )


@pytest.fixture
def store_of(services: Any) -> Any:
    """store_of(name): a csv-folder source with customer C-1; returns (store, source_id, put),
    put(*invoices) applying one page of them without errors."""

    def make(name: str) -> Any:
        source_id = services.add_source(name, "csv-folder", settings={"path": "/nonexistent"})
        store = services.sync_store()
        customer = CustomerData("C-1", "Payer", Decimal("100000.00"), "CNY")
        store.apply_page(source_id, "customers", Page([customer]), services.clock())

        def put(*records: InvoiceData) -> None:
            _, errors = store.apply_page(source_id, "invoices", Page(records), services.clock())
            assert errors == []

        return store, source_id, put

    return make


def test_only_open_uncancelled_invoices_of_the_source_come_back_as_stored(store_of: Any) -> None:
    store, source_id, put = store_of("one")
    _, _, put_other = store_of("other")
    put(
        invoice("open", "40.00", order_ref="SO-1"),
        invoice("credit", "-25.00", total="-25.00"),  # a credit note still open counts too
        invoice("paid", "0.00"),
        invoice("cancelled", "100.00", cancelled=True),
    )
    put_other(invoice("elsewhere", "100.00"))

    held = {i.ref: i for i in store.open_invoices(source_id)}

    assert sorted(held) == ["credit", "open"]
    assert held["open"] == invoice("open", "40.00", order_ref="SO-1")


def test_an_invoice_in_instalments_comes_back_once_under_its_own_ref(store_of: Any) -> None:
    store, source_id, put = store_of("split")
    parts = (
        Instalment(d(-5), Decimal("60.00"), ZERO),  # the first instalment is paid
        Instalment(d(25), Decimal("40.00"), Decimal("40.00")),
    )
    put(invoice("T-1", "40.00", instalments=parts))

    held = store.open_invoices(source_id)

    assert [(i.ref, i.instalments) for i in held] == [("T-1", ())]
    # Read again as cancelled (what a recheck of a deleted invoice returns), nothing stays open.
    put(replace(held[0], open_amount=ZERO, cancelled=True))
    assert store.open_invoices(source_id) == []
