"""The Tryton adapter's mapping and paging, against a real trytond 8.2 holding the books
described in conftest.py (the `books` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters.tryton import TrytonAdapter
from gating.records import CustomerData, InvoiceData, PaymentData
from gating.sources import Page
from tests.tryton.faults import FaultProxy
from tests.tryton.scenario import days

ZERO, FIFTY = Decimal("0.00"), Decimal("50.00")


@pytest.fixture
def adapter(books: Any, make_adapter: Any) -> TrytonAdapter:
    return make_adapter(books.server)


def everything(pages: Iterator[Page[Any]]) -> tuple[list[Any], list[Any], list[Page[Any]]]:
    seen = list(pages)
    records = [r for p in seen for r in p.records]
    errors = [e for p in seen for e in p.errors]
    return records, errors, seen


def test_logs_in_and_reads_with_the_users_company_in_the_context(adapter, books):
    preferences = adapter.preferences()

    assert preferences["company"] == books.server.install.ids["company"]
    assert adapter.company_currency() == "USD"


def test_maps_parties_to_customers_with_their_credit_limit_in_the_company_currency(adapter, books):
    customers, errors, _ = everything(adapter.customers(None))

    assert errors == []
    by_ref = {c.ref: c for c in customers}
    assert sorted(by_ref) == sorted(["C-100", "C-300", "C-600", "C-900", books.company_code])
    assert by_ref["C-100"] == CustomerData("C-100", "Healthy Trading", Decimal("5000.00"), "USD")
    assert by_ref["C-300"] == CustomerData("C-300", "Slow Payer", Decimal("3000.00"), "USD")
    assert by_ref["C-600"] == CustomerData("C-600", "Newly Opened", None, "USD")
    assert by_ref["C-600"].group_ref is None and by_ref["C-600"].on_hold is False


def test_maps_posted_invoices_with_due_dates_open_amounts_credit_notes_and_cancellations(
    adapter, books
):
    invoices, _, _ = everything(adapter.invoices(None))
    by_ref = {i.ref: i for i in invoices}
    inv = {name: by_ref[str(ident)] for name, ident in books.invoice.items() if name != "X"}

    # Due 45 days ago, so more than 30 days overdue; nothing paid.
    assert inv["A"] == InvoiceData(
        str(books.invoice["A"]), "C-300", inv["A"].number, days(-75), days(-45), "USD",
        Decimal("550.00"), Decimal("550.00"),
    )  # fmt: skip
    # 330.00 less a partial payment of 130.00.
    assert (inv["B"].due_date, inv["B"].total, inv["B"].open_amount) == (
        days(-10), Decimal("330.00"), Decimal("200.00"),
    )  # fmt: skip
    # No due date given: the net 30 payment term counts from the invoice date.
    assert (inv["C"].issue_date, inv["C"].due_date, inv["C"].open_amount) == (
        days(-5), days(25), Decimal("220.00"),
    )  # fmt: skip
    assert (inv["D"].total, inv["D"].open_amount) == (Decimal("-20.00"), Decimal("-20.00"))
    assert (inv["E"].total, inv["E"].open_amount, inv["E"].cancelled) == (
        Decimal("100.00"), Decimal("0.00"), False,
    )  # fmt: skip
    assert (inv["F"].customer_ref, inv["F"].total, inv["F"].open_amount, inv["F"].cancelled) == (
        "C-600", Decimal("400.00"), Decimal("0.00"), True,
    )  # fmt: skip
    assert all(i.order_ref is None for name, i in inv.items() if name != "S")
    numbers = [i.number for i in inv.values()]
    assert all(numbers) and len(set(numbers)) == len(numbers)


def test_an_invoice_made_from_a_sale_carries_the_sale_number_as_order_ref(adapter, books):
    invoices, _, _ = everything(adapter.invoices(None))
    (from_sale,) = [i for i in invoices if i.ref == str(books.invoice["S"])]

    assert from_sale.order_ref == books.sale_number
    assert (from_sale.customer_ref, from_sale.total, from_sale.open_amount) == (
        "C-100", Decimal("300.00"), Decimal("300.00"),
    )  # fmt: skip


def test_maps_receivable_credits_to_payments_applied_or_unapplied(adapter, books):
    payments, errors, _ = everything(adapter.payments(None))

    assert errors == []
    # Only real payments: not the credit note's own line, nor the cancelled invoice's reversal.
    assert sorted(payments, key=lambda p: int(p.ref)) == [
        PaymentData(str(books.line["B"]), "C-300", days(0), "USD", Decimal("130.00"), ZERO),
        PaymentData(str(books.line["E"]), "C-100", days(0), "USD", Decimal("100.00"), ZERO),
        PaymentData(str(books.line["unapplied"]), "C-100", days(0), "USD", FIFTY, FIFTY),
    ]  # fmt: skip


def test_a_record_in_an_unknown_currency_is_reported_and_the_rest_of_its_page_lands(adapter, books):
    invoices, errors, pages = everything(adapter.invoices(None))

    assert len(pages) == 1
    assert [(e.entity, e.record_id, e.reason) for e in errors] == [
        (
            "invoices",
            f"account.invoice,{books.invoice['X']}",
            "currency 'XBT' is not an ISO 4217 code",
        )
    ]
    assert len(invoices) == 7
    assert pages[0].watermark.last_id == str(books.invoice["X"])  # the page still moves on


def test_a_boolean_amount_or_a_datetime_for_a_date_is_reported_and_the_rest_of_its_page_lands(
    books, make_adapter
):
    """The shared field rules (adapters/fields.py): a bool is never an amount (Tryton's mapping
    once read `true` as 1.00) and a datetime is not a date. trytond never sends either, so a
    proxy puts them into its answer."""
    bad_total, bad_date = books.invoice["C"], books.invoice["E"]

    def rewrite(method: str, body: Any) -> Any:
        if method == "model.account.invoice.search_read":
            for row in body["result"]:
                if row["id"] == bad_total:
                    row["total_amount"] = True
                if row["id"] == bad_date:
                    moment = {"year": 2026, "month": 11, "day": 20, "hour": 9, "minute": 30}
                    row["invoice_date"] = {"__class__": "datetime", **moment}
        return body

    with FaultProxy(books.server.url, rewrite=rewrite) as proxy:
        adapter = make_adapter(books.server, url=proxy.url)
        invoices, errors, pages = everything(adapter.invoices(None))

    reasons = {e.record_id: e.reason for e in errors}
    assert reasons[f"account.invoice,{bad_total}"] == "total_amount is not an amount: True"
    assert reasons[f"account.invoice,{bad_date}"].startswith(
        "invoice_date is not a date: datetime.datetime(2026, 11, 20, 9, 30"
    )
    assert len(errors) == 3  # and X, in a currency creditgate does not know
    assert sorted(i.ref for i in invoices) == sorted(
        str(ident) for name, ident in books.invoice.items() if name not in ("C", "E", "X")
    )
    assert pages[-1].watermark is not None  # the page still moves on


@pytest.mark.parametrize("page_size", [1, 3])
def test_small_pages_return_every_record_once_in_order_with_rising_watermarks(
    books, make_adapter, page_size
):
    whole = make_adapter(books.server)
    paged = make_adapter(books.server, page_size=page_size)
    for entity in ("customers", "invoices", "payments"):
        expected, expected_errors, _ = everything(getattr(whole, entity)(None))
        records, errors, pages = everything(getattr(paged, entity)(None))

        assert records == expected
        assert errors == expected_errors
        if entity != "payments":  # payments pages also step over invoices' own lines
            assert len(pages) == -(-(len(expected) + len(expected_errors)) // page_size)
        marks = [p.watermark for p in pages]
        assert all(m is not None for m in marks)
        keys = [(m.changed_at, int(m.last_id)) for m in marks]  # ids are numbers in Tryton
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        assert all(m.changed_at.tzinfo is UTC for m in marks)
        assert marks[-1].changed_at <= datetime.now(UTC)


def test_reading_after_the_last_watermark_returns_nothing(adapter):
    for entity in ("customers", "invoices", "payments"):
        *_, last = getattr(adapter, entity)(None)

        assert list(getattr(adapter, entity)(last.watermark)) == []


def test_tryton_has_no_credit_groups(adapter):
    assert list(adapter.groups(None)) == []


def test_counts_what_a_read_will_scan_for_the_progress_bar(adapter, books):
    customers, customer_errors, _ = everything(adapter.customers(None))
    invoices, invoice_errors, pages = everything(adapter.invoices(None))
    payments, payment_errors, _ = everything(adapter.payments(None))

    assert adapter.count("groups", None) == 0
    assert adapter.count("customers", None) == len(customers) + len(customer_errors)
    assert adapter.count("invoices", None) == len(invoices) + len(invoice_errors)
    # payments: the scan also meets invoices' own receivable credits, which the read drops
    assert adapter.count("payments", None) >= len(payments) + len(payment_errors)
    assert adapter.count("invoices", pages[-1].watermark) == 0  # nothing after the last one
