"""Invoices paid in instalments, against a real Tryton: a payment term in two parts.

Each party has one invoice of 1,000.00 (USD, the company's currency) under "40 % at 30 days,
the rest at 90 days" from its invoice date, so Tryton makes two receivable lines (lines to
pay), 400.00 and 600.00, each with its own maturity date:

| party | invoice date | 400.00 due | 600.00 due | paid |
| --- | --- | --- | --- | --- |
| C-710 On Time | 70 days ago | 40 days ago | in 20 days | the 400.00, on time (reconciled) |
| C-720 Late Second | 130 days ago | 100 days ago | 40 days ago | the 400.00 (reconciled) |
| C-730 Part Payer | 70 days ago | 40 days ago | in 20 days | 100.00 on account (not reconciled) |

creditgate used to take the earliest maturity of all lines, paid or not, and hang the whole open
amount on it: C-710, who owes nothing overdue in Tryton, was blocked 40 days overdue for
600.00 and set to yellow, with a formal overdue notice written into Tryton.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from adapters.db import dashboard
from adapters.db.tables import invoices
from connector import create_app
from tests.tryton.scenario import Invoice, days
from tests.tryton.test_push import notes
from tests.tryton.test_sync_end_to_end import (
    SOURCE,
    USD_SETTINGS,
    add_tryton_source,
    codes,
    credit,
    gate,
)

TERM = (("0.4", 30), (None, 90))


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(USD_SETTINGS)


def rows(services: Any, invoice: int) -> list[tuple[str, Any, Decimal, Decimal, bool]]:
    """The store's receivable rows of a Tryton invoice: (id, due date, total, open, open?)."""
    i = invoices.c
    refs = [str(invoice), f"{invoice}#2", f"{invoice}#3"]
    with services.engine.connect() as conn:
        found = conn.execute(
            select(i.external_id, i.due_date, i.total, i.open_amount, i.is_open, i.instalments)
            .where(i.external_id.in_(refs))
            .order_by(i.due_date)
        ).all()
    assert {r.instalments for r in found} == {len(found)}
    return [(r.external_id, r.due_date, r.total, r.open_amount, r.is_open) for r in found]


def test_each_open_instalment_counts_at_its_own_due_date_and_paid_ones_never(
    tryton, services, keys, clock, monkeypatch
):
    books = tryton.books
    term = books.payment_term("40% at 30 days, rest at 90", *TERM)
    on_time, late, part = books.parties(
        ("C-710", "On Time", "5000"),
        ("C-720", "Late Second", "5000"),
        ("C-730", "Part Payer", "5000"),
    )
    a, b, c = books.invoices(
        Invoice(on_time, "1000.00", invoice_date=days(-70), payment_term=term),
        Invoice(late, "1000.00", invoice_date=days(-130), payment_term=term),
        Invoice(part, "1000.00", invoice_date=days(-70), payment_term=term),
    )
    # The pay wizard reconciles a payment that matches a line to pay exactly with that line.
    books.pay(a, "400.00", on=days(-42))
    books.pay(b, "400.00", on=days(-102))
    books.pay(c, "100.00", on=days(-50))  # matches no line: a partial payment, not reconciled
    said = books.read(
        "account.invoice",
        [a, b, c],
        ["amount_to_pay", "amount_to_pay_today", "lines_to_pay.reconciliation"],
    )
    # Tryton's own view: A owes 600.00, none of it due yet; B owes 600.00, all of it due.
    assert [(r["amount_to_pay"], r["amount_to_pay_today"]) for r in said] == [
        (Decimal("600.00"), Decimal("0.00")),
        (Decimal("600.00"), Decimal("600.00")),
        (Decimal("900.00"), Decimal("300.00")),
    ]
    assert [sum(bool(x["reconciliation"]) for x in r["lines_to_pay."]) for r in said] == [1, 1, 0]
    add_tryton_source(services, tryton, monkeypatch)

    services.nightly()  # pull, work out the warnings, push them

    today = clock.now.date()
    age = (today - days(-40)).days  # 40, or 41 if midnight UTC passed since the books
    zero = Decimal("0.00")
    client = create_app(services).test_client()
    # C-710: owes 600.00, nothing overdue. Approved, no warning, no note in Tryton.
    position = credit(client, keys, "C-710")
    assert position["exposure"]["open_invoices"] == "600.00"
    assert position["overdue_invoices"] == []
    approved = gate(client, keys, "SO-710", "C-710", "100.00")
    assert (approved["outcome"], codes(approved)) == ("approved", [])
    levels = {w["customer_id"]: w["level"] for w in services.warning_store().levels()}
    assert levels["C-710"] == "none"
    assert notes(tryton, on_time) == []
    # C-720: the open instalment is overdue on its own date, for its own amount.
    overdue = credit(client, keys, "C-720")["overdue_invoices"]
    assert [(o["days_overdue"], o["open_amount"]) for o in overdue] == [(age, "600.00")]
    blocked = gate(client, keys, "SO-720", "C-720", "100.00")
    assert codes(blocked) == ["OVERDUE_INVOICES"]
    assert blocked["reasons"][0]["message"].endswith(f", {age} days)")
    assert levels["C-720"] == "yellow"
    # C-730: 300.00 of the first instalment is overdue; the 600.00 is not due.
    overdue = credit(client, keys, "C-730")["overdue_invoices"]
    assert [(o["days_overdue"], o["open_amount"]) for o in overdue] == [(age, "300.00")]
    assert credit(client, keys, "C-730")["exposure"]["open_invoices"] == "900.00"
    # The dashboard's aging puts each instalment in its own bucket.
    key = dashboard.customer_key(services.engine, SOURCE, "C-730")
    aging = dashboard.aging(services.engine, today, key)["USD"]
    assert {k: v for k, v in aging.items() if v} == {
        dashboard.BUCKETS[0]: Decimal("600.00"),
        dashboard.BUCKETS[2]: Decimal("300.00"),
    }
    # In the store: one row per instalment, each with its due date, share and open amount.
    assert rows(services, a) == [
        (str(a), days(-40), Decimal("400.00"), zero, False),
        (f"{a}#2", days(20), Decimal("600.00"), Decimal("600.00"), True),
    ]
    assert rows(services, b) == [
        (str(b), days(-100), Decimal("400.00"), zero, False),
        (f"{b}#2", days(-40), Decimal("600.00"), Decimal("600.00"), True),
    ]
    # The 100.00 paid on account belongs to no line: it goes to the oldest open one.
    assert rows(services, c) == [
        (str(c), days(-40), Decimal("400.00"), Decimal("300.00"), True),
        (f"{c}#2", days(20), Decimal("600.00"), Decimal("600.00"), True),
    ]


def test_paying_the_last_instalment_in_tryton_closes_every_row(tryton, services, keys, monkeypatch):
    books = tryton.books
    term = books.payment_term("40% at 30 days, rest at 90", *TERM)
    (party,) = books.parties(("C-740", "Pays Late", "5000"))
    (invoice,) = books.invoices(
        Invoice(party, "1000.00", invoice_date=days(-130), payment_term=term)
    )
    books.pay(invoice, "400.00", on=days(-102))
    add_tryton_source(services, tryton, monkeypatch)
    [full] = services.sync(SOURCE)
    client = create_app(services).test_client()
    assert full.ok and codes(gate(client, keys, "SO-1", "C-740", "10.00")) == ["OVERDUE_INVOICES"]

    books.pay(invoice, "600.00")
    [incremental] = services.sync(SOURCE)

    assert incremental.ok
    assert [r[3] for r in rows(services, invoice)] == [Decimal("0.00"), Decimal("0.00")]
    position = credit(client, keys, "C-740")
    assert (position["exposure"]["open_invoices"], position["overdue_invoices"]) == ("0.00", [])
    assert gate(client, keys, "SO-2", "C-740", "10.00")["outcome"] == "approved"


def test_credit_notes_and_foreign_currency_invoices_split_by_their_own_lines(tryton, make_adapter):
    books = tryton.books
    term = books.payment_term("40% at 30 days, rest at 90", *TERM)
    eur = books.currency("EUR", "2")  # 2 EUR to the dollar: each line is half that in USD
    refund, abroad = books.parties(("C-750", "Refunded", "5000"), ("C-760", "Abroad", "5000"))
    note, foreign = books.invoices(
        Invoice(refund, "-1000.00", invoice_date=days(-70), payment_term=term),
        Invoice(abroad, "1000.00", invoice_date=days(-70), payment_term=term, currency=eur),
    )
    books.pay(foreign, "400.00", on=days(-42))  # 400.00 EUR: the first line, reconciled

    read = {r.ref: r for p in make_adapter(tryton).invoices(None) for r in p.records}

    credit_note = read[str(note)]
    assert (credit_note.total, credit_note.open_amount) == (
        Decimal("-1000.00"),
        Decimal("-1000.00"),
    )
    assert [(i.due_date, i.amount, i.open_amount) for i in credit_note.instalments] == [
        (days(-40), Decimal("-400.00"), Decimal("-400.00")),
        (days(20), Decimal("-600.00"), Decimal("-600.00")),
    ]
    in_euros = read[str(foreign)]
    assert (in_euros.currency, in_euros.open_amount, in_euros.due_date) == (
        "EUR",
        Decimal("600.00"),
        days(20),  # the oldest open instalment's
    )
    assert [(i.due_date, i.amount, i.open_amount) for i in in_euros.instalments] == [
        (days(-40), Decimal("400.00"), Decimal("0.00")),
        (days(20), Decimal("600.00"), Decimal("600.00")),
    ]
