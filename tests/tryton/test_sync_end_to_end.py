"""End to end: a real trytond 8.2, the sync engine, creditgate's SQLite store and the gate.

The book posted through Tryton's API (today is the server's UTC date, amounts in USD, the
company's currency; net 30 payment term):

| party | Tryton limit | invoices (posted) | payments | exposure |
| --- | --- | --- | --- | --- |
| C-100 Healthy Trading | 5,000.00 | 1,200.00 dated 5 days ago (due in 25); credit note 200.00 | 300.00 unapplied | 1,000.00 − 300.00 = 700.00 |
| C-300 Slow Payer | 3,000.00 | 800.00 due 45 days ago, open | | 800.00, overdue |
| C-400 Part Payer | 2,000.00 | 900.00 dated 15 days ago | 400.00 paid on it | 500.00 |
| C-500 Over Limit | 1,000.00 | 1,500.00 dated 10 days ago | | 1,500.00 > 1,000.00 |

The gate's customer id is the party's code; the company's own party is synced as a customer too.
"""  # noqa: E501

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from adapters.db.tables import customer_balances, customers, invoices, payments
from adapters.tryton import TrytonAdapter
from config.wiring import Services
from connector import create_app
from gating.commands import CreateApiClient
from tests.conftest import Keys
from tests.tryton.harness import Installation, TrytonServer
from tests.tryton.scenario import Invoice, days, today

SOURCE = "tryton"
USER_ENV, PASSWORD_ENV = "CG_TEST_TRYTON_USER", "CG_TEST_TRYTON_PASSWORD"
ZERO = Decimal("0.00")
USD_SETTINGS = {"thresholds": {}, "rates_reference": "USD", "rates": {}}


# ---- creditgate: USD thresholds, a clock at the real now (Tryton's dates are real dates) ------


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Thresholds and rates in USD, the Tryton company's currency: no conversion anywhere."""
    return dict(USD_SETTINGS)


def add_tryton_source(
    services: Services, server: TrytonServer, monkeypatch: Any, *, overlap_seconds: int | None = 0
) -> int:
    """Register `server` as the source "tryton", credentials read from env vars.

    No overlap unless asked (None: the product's default), so incremental reads can be counted
    exactly; a test below syncs with the default overlap."""
    monkeypatch.setenv(USER_ENV, server.username)
    monkeypatch.setenv(PASSWORD_ENV, server.password)
    settings: dict[str, Any] = {
        "database": server.database,
        "username_env": USER_ENV,
        "password_env": PASSWORD_ENV,
    }
    if overlap_seconds is not None:
        settings["overlap_seconds"] = overlap_seconds
    return services.add_source(SOURCE, "tryton", url=server.url, settings=settings)


# ---- the book ------------------------------------------------------------------------------


@dataclass
class Book:
    server: TrytonServer
    party: dict[str, int]
    invoice: dict[str, int]
    line: dict[str, int]
    posted_on: date  # "today" when the book was posted: its dates count from this day


def post_book(server: TrytonServer) -> Book:
    """Post the book in the module docstring, oldest invoice first (Tryton numbers by date)."""
    b = server.books
    posted_on = today()
    codes = ("C-100", "C-300", "C-400", "C-500")
    party = dict(
        zip(
            codes,
            b.parties(
                ("C-100", "Healthy Trading", "5000"),
                ("C-300", "Slow Payer", "3000"),
                ("C-400", "Part Payer", "2000"),
                ("C-500", "Over Limit", "1000"),
            ),
            strict=True,
        )
    )
    names = ("overdue", "part_paid", "over_limit", "current", "credit_note")
    invoice = dict(
        zip(
            names,
            b.invoices(
                Invoice(party["C-300"], "800.00", invoice_date=days(-75), due_date=days(-45)),
                Invoice(party["C-400"], "900.00", invoice_date=days(-15)),
                Invoice(party["C-500"], "1500.00", invoice_date=days(-10)),
                Invoice(party["C-100"], "1200.00", invoice_date=days(-5)),
                Invoice(party["C-100"], "-200.00", invoice_date=days(0)),
            ),
            strict=True,
        )
    )
    line = {
        "partial": b.pay(invoice["part_paid"], "400.00"),
        "unapplied": b.unapplied_payment(party["C-100"], "300.00"),
    }
    return Book(server, party, invoice, line, posted_on)


@pytest.fixture(scope="module")
def book(tryton_install: Installation, tmp_path_factory: Any) -> Iterator[Book]:
    """One server holding the book, for the tests of this module that only read it."""
    workdir: Path = tmp_path_factory.mktemp("tryton-e2e")
    with TrytonServer(tryton_install, workdir) as server:
        yield post_book(server)


# ---- what Tryton says, and what creditgate stored --------------------------------------------


def tryton_exposure(server: TrytonServer, codes: list[str]) -> dict[str, tuple[Decimal, Decimal]]:
    """Per party code, from Tryton itself: (Σ amount to pay of its posted invoices, its
    unapplied payments). Unapplied = open invoices − the party's receivable balance, which
    Tryton computes from the unreconciled receivable lines in the company currency."""
    rpc = server.books.rpc
    open_by_code: dict[str, Decimal] = defaultdict(Decimal)
    rows = rpc.model(
        "account.invoice",
        "search_read",
        [("type", "=", "out"), ("state", "=", "posted")],
        0,
        None,
        None,
        ["party.code", "amount_to_pay"],
    )
    for row in rows:
        open_by_code[row["party."]["code"]] += row["amount_to_pay"]
    parties = rpc.model(
        "party.party", "search_read", [("code", "in", codes)], 0, None, None, ["code", "receivable"]
    )
    return {
        p["code"]: (open_by_code[p["code"]], open_by_code[p["code"]] - p["receivable"])
        for p in parties
    }


def fresh_read(server: TrytonServer) -> dict[str, list[Any]]:
    """Every customer, invoice and payment as a clean full read from Tryton maps them."""
    adapter = TrytonAdapter(server.url, server.database, server.username, server.password)
    try:
        return {
            e: [r for p in getattr(adapter, e)(None) for r in p.records]
            for e in ("customers", "invoices", "payments")
        }
    finally:
        adapter.close()


def expected_store(truth: dict[str, list[Any]]) -> dict[str, Any]:
    """What creditgate must hold after syncing `truth`: rows, and balances summed by hand."""
    balances: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for i in truth["invoices"]:
        balances[(i.customer_ref, i.currency)][0] += ZERO if i.cancelled else i.open_amount
    for p in truth["payments"]:
        balances[(p.customer_ref, p.currency)][1] += p.unapplied
    return {
        "customers": {c.ref: (c.name, c.credit_limit, c.currency) for c in truth["customers"]},
        "invoices": {
            i.ref: (
                i.customer_ref,
                i.number,
                i.due_date,
                i.total,
                ZERO if i.cancelled else i.open_amount,
                i.cancelled,
                i.order_ref,
            )
            for i in truth["invoices"]
        },
        "payments": {
            p.ref: (p.customer_ref, p.date, p.amount, p.unapplied) for p in truth["payments"]
        },
        "balances": {k: tuple(v) for k, v in balances.items() if any(v)},
    }


def stored(services: Services, source: str = SOURCE) -> dict[str, Any]:
    """What creditgate holds for `source`, shaped like expected_store(); rows counted too."""
    source_id = services.sync_store().source(source)["id"]
    c, i, p, b = customers.c, invoices.c, payments.c, customer_balances.c
    with services.engine.connect() as conn:
        refs = dict(conn.execute(select(c.id, c.external_id).where(c.source_id == source_id)).all())
        cust = conn.execute(
            select(c.external_id, c.name, c.credit_limit, c.currency).where(
                c.source_id == source_id
            )
        ).all()
        inv = conn.execute(
            select(
                i.external_id,
                i.customer_id,
                i.number,
                i.due_date,
                i.total,
                i.open_amount,
                i.cancelled,
                i.order_ref,
            ).where(i.source_id == source_id)
        ).all()
        pay = conn.execute(
            select(p.external_id, p.customer_id, p.date, p.amount, p.unapplied_amount).where(
                p.source_id == source_id
            )
        ).all()
        bal = conn.execute(
            select(b.customer_id, b.currency, b.open_invoices, b.unapplied).where(
                b.customer_id.in_(list(refs))
            )
        ).all()
        counts = {
            table.name: conn.execute(
                select(func.count()).select_from(table).where(table.c.source_id == source_id)
            ).scalar_one()
            for table in (customers, invoices, payments)
        }
    return {
        "customers": {r.external_id: (r.name, r.credit_limit, r.currency) for r in cust},
        "invoices": {
            r.external_id: (
                refs[r.customer_id],
                r.number,
                r.due_date,
                r.total,
                r.open_amount,
                r.cancelled,
                r.order_ref,
            )
            for r in inv
        },
        "payments": {
            r.external_id: (refs[r.customer_id], r.date, r.amount, r.unapplied_amount) for r in pay
        },
        "balances": {
            (refs[r.customer_id], r.currency): (r.open_invoices, r.unapplied)
            for r in bal
            if r.open_invoices or r.unapplied
        },
        "counts": counts,
    }


def assert_store_equals_tryton(services: Services, server: TrytonServer) -> None:
    """creditgate's rows and running balances equal a clean full read, each record once."""
    truth = fresh_read(server)
    want, have = expected_store(truth), stored(services)
    for part in ("customers", "invoices", "payments", "balances"):
        assert have[part] == want[part], part
    # No duplicates: one row per record Tryton has (the unique key would refuse a second).
    assert have["counts"] == {
        "customers": len(truth["customers"]),
        "invoices": len(truth["invoices"]),
        "payments": len(truth["payments"]),
    }


# ---- the API ---------------------------------------------------------------------------------


def gate(client: FlaskClient, keys: Keys, order_id: str, customer: str, amount: str) -> Any:
    body = {
        "order_id": order_id,
        "customer_id": customer,
        "amount": amount,
        "currency": "USD",
        "source": SOURCE,
    }
    response = client.post("/api/v1/gate/orders", json=body, headers=_erp_of_source(client))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _erp_of_source(client: FlaskClient) -> dict[str, str]:
    """An erp key of the Tryton source (an erp key acts for its own source only), one per app."""
    kept = client.application.extensions
    if "tests.tryton_erp_key" not in kept:
        services = kept["creditgate"]
        made = services.writes.create_api_client(
            CreateApiClient(f"erp-{SOURCE}", "erp", source=SOURCE)
        )
        kept["tests.tryton_erp_key"] = made.key
    return {"Authorization": f"Bearer {kept['tests.tryton_erp_key']}"}


def credit(client: FlaskClient, keys: Keys, customer: str) -> Any:
    response = client.get(
        f"/api/v1/customers/{customer}/credit?source={SOURCE}", headers=keys.header("admin")
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def codes(decision: Any) -> list[str]:
    return [r["code"] for r in decision["reasons"]]


def reads(report: Any) -> dict[str, int]:
    return {part.entity: part.read for part in report.entities}


# ---- the tests -------------------------------------------------------------------------------


def test_a_full_sync_of_a_tryton_book_lets_the_gate_decide_on_trytons_data(
    book, services, keys, monkeypatch
):
    add_tryton_source(services, book.server, monkeypatch)

    [report] = services.sync(SOURCE)

    assert report.ok
    # Four parties and the company's own; five invoices; two payments (the credit note's own
    # receivable line is not a payment).
    assert reads(report) == {"groups": 0, "customers": 5, "invoices": 5, "payments": 2}
    assert all(part.errors == [] for part in report.entities)
    assert services.sync_store().source(SOURCE)["last_success_at"] == services.clock()

    client = create_app(services).test_client()
    expected = {  # (open invoices, unapplied payments, total), worked out in the docstring
        "C-100": ("1000.00", "300.00", "700.00"),
        "C-300": ("800.00", "0.00", "800.00"),
        "C-400": ("500.00", "0.00", "500.00"),
        "C-500": ("1500.00", "0.00", "1500.00"),
    }
    said = tryton_exposure(book.server, list(expected))
    for code, (open_invoices, unapplied, total) in expected.items():
        position = credit(client, keys, code)
        exposure = position["exposure"]
        assert (exposure["open_invoices"], exposure["unapplied_payments"], exposure["total"]) == (
            open_invoices,
            unapplied,
            total,
        ), code
        assert Decimal(exposure["reservations"]) == 0
        assert said[code] == (Decimal(open_invoices), Decimal(unapplied)), code  # Tryton agrees
        assert position["currency"] == "USD"
    assert credit(client, keys, "C-500")["credit_limit"] == "1000.00"
    # Due 45 days before the book was posted (plus a day if midnight UTC passed meanwhile).
    age = 45 + (services.clock().date() - book.posted_on).days
    overdue = credit(client, keys, "C-300")["overdue_invoices"]
    assert [(o["days_overdue"], o["open_amount"], o["blocking"]) for o in overdue] == [
        (age, "800.00", True)
    ]

    healthy = gate(client, keys, "SO-1", "C-100", "1000.00")
    slow = gate(client, keys, "SO-2", "C-300", "100.00")
    over = gate(client, keys, "SO-3", "C-500", "50.00")

    assert (healthy["outcome"], codes(healthy)) == ("approved", [])
    assert healthy["customer"]["exposure"] == "1700.00"  # 700.00 + the order now reserved
    assert healthy["customer"]["available"] == "3300.00"
    assert (slow["outcome"], codes(slow)) == ("blocked", ["OVERDUE_INVOICES"])
    assert slow["reasons"][0]["message"].endswith(f", {age} days)")
    assert (over["outcome"], codes(over)) == ("blocked", ["CREDIT_LIMIT_EXCEEDED"])
    # 1,500.00 + 50.00 against a limit of 1,000.00.
    assert "by 550.00 USD" in over["reasons"][0]["message"]
    assert_store_equals_tryton(services, book.server)


def test_a_payment_in_tryton_and_an_incremental_sync_unblock_the_overdue_customer(
    tryton, services, keys, monkeypatch
):
    book = post_book(tryton)
    add_tryton_source(services, tryton, monkeypatch)
    [full] = services.sync(SOURCE)
    client = create_app(services).test_client()
    blocked = gate(client, keys, "SO-10", "C-300", "100.00")
    assert full.ok and codes(blocked) == ["OVERDUE_INVOICES"]

    payment = tryton.books.pay(book.invoice["overdue"], "800.00")  # pays it in full
    [incremental] = services.sync(SOURCE)

    # What the payment changed in Tryton, and so all an incremental run may read:
    # - no party was written: 0 customers;
    # - the overdue invoice went from posted to paid: 1 invoice (the others are untouched);
    # - the pay wizard posted one move: its receivable credit (the new payment) is 1 payment;
    #   the reconciliation also wrote the invoice's own receivable line, a debit, which is
    #   not a payment, and the cash line is not on a receivable account.
    assert incremental.ok
    assert reads(incremental) == {"groups": 0, "customers": 0, "invoices": 1, "payments": 1}
    assert {p.entity: p.written for p in incremental.entities} == reads(incremental)
    invoice = stored(services)["invoices"][str(book.invoice["overdue"])]
    assert (invoice[3], invoice[4]) == (Decimal("800.00"), ZERO)  # total, open amount
    assert stored(services)["payments"][str(payment)][2:] == (Decimal("800.00"), ZERO)

    approved = gate(client, keys, "SO-11", "C-300", "100.00")

    assert (approved["outcome"], codes(approved)) == ("approved", [])
    assert approved["customer"]["exposure"] == "100.00"  # nothing open; the order reserved
    assert credit(client, keys, "C-300")["overdue_invoices"] == []
    assert_store_equals_tryton(services, tryton)
    runs = services.sync_store().runs(source=SOURCE)
    assert [(r["entity"], r["status"], r["read"]) for r in runs[:4]] == [
        ("payments", "succeeded", 1),
        ("invoices", "succeeded", 1),
        ("customers", "succeeded", 0),
        ("groups", "succeeded", 0),
    ]


def test_with_the_default_overlap_an_incremental_sync_reads_recent_changes_again_harmlessly(
    tryton, services, keys, monkeypatch
):
    book = post_book(tryton)
    add_tryton_source(services, tryton, monkeypatch, overlap_seconds=None)  # default: 10 min
    [full] = services.sync(SOURCE)
    tryton.books.pay(book.invoice["overdue"], "800.00")

    [incremental] = services.sync(SOURCE)

    # Everything in this book changed within the last ten minutes, so all of it is read again,
    # plus the new payment; nothing is counted twice. (The company's own party is read again
    # only when the cached template database is younger than ten minutes.)
    assert full.ok and incremental.ok
    read = reads(incremental)
    assert read.pop("customers") in (4, 5)
    assert read == {"groups": 0, "invoices": 5, "payments": 3}
    assert_store_equals_tryton(services, tryton)
    client = create_app(services).test_client()
    assert credit(client, keys, "C-300")["exposure"]["total"] == "0.00"
    assert credit(client, keys, "C-100")["exposure"]["total"] == "700.00"
