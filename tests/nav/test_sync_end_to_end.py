"""End to end: the fake NAV over SOAP, the real sync engine, creditgate's store (SQLite and
PostgreSQL) and the credit position the gate reads.

The company is tests/nav/conftest.py's; creditgate's thresholds are in CNY (NAV's local
currency here) with 1 USD = 7.10 CNY, so C30000's dollar invoice counts converted.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from config.wiring import Services
from gating.services import credit_position
from sync.engine import SyncReport, sync_source
from tests.conftest import RATES
from tests.nav.conftest import AdapterFactory, add_customers, days, post_ledger
from tests.nav.server import FakeNav, NavServer

SOURCE = "nav"
ZERO = Decimal("0.00")


def nav_exposure(nav: FakeNav) -> dict[str, tuple[Decimal, Decimal]]:
    """Per customer, from the fake NAV's own ledger: (open invoices and credit memos, unapplied
    payments), in CNY."""
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for entry in nav.rows("CustomerLedgerEntries").values():
        if not entry["Open"]:
            continue
        rate = RATES.get(entry["Currency_Code"], Decimal(1))
        amount = (entry["Remaining_Amount"] * rate).quantize(Decimal("0.01"))
        if entry["Document_Type"] == "Payment":
            totals[entry["Customer_No"]][1] -= amount
        else:
            totals[entry["Customer_No"]][0] += amount
    return {ref: (v[0], v[1]) for ref, v in totals.items()}


def position(services: Services, ref: str) -> dict[str, Any]:
    return dict(
        credit_position(SOURCE, ref, uow=services.uow(), clock=services.clock, rates=services.rates)
    )


def sync(services: Services, source_id: int, make_adapter: AdapterFactory) -> SyncReport:
    return sync_source(
        source_id,
        SOURCE,
        make_adapter(page_size=2),
        store=services.sync_store(),
        clock=services.clock,
    )


def assert_positions_match(services: Services, nav: FakeNav) -> None:
    expected = nav_exposure(nav)
    for ref in ("C10000", "C20000", "C30000", "C40000"):
        exposure = position(services, ref)["exposure"]
        want = expected.get(ref, (ZERO, ZERO))
        got = (exposure["open_invoices"], exposure["unapplied_payments"])
        assert got == want, ref
        assert exposure["total"] == want[0] - want[1]


def test_a_sync_from_nav_gives_the_exposure_navs_ledger_shows_and_follows_applications(
    services: Services, nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    ledger = post_ledger(nav)
    store = services.sync_store()
    source_id = store.add_source(SOURCE, "nav-soap", nav_server.url, {}, services.clock())

    first = sync(services, source_id, make_adapter)

    assert first.ok, first
    assert [(e.entity, e.read, e.skipped) for e in first.entities] == [
        ("groups", 0, 0),
        ("customers", 4, 0),
        ("invoices", 5, 0),
        ("payments", 3, 0),
    ]
    assert_positions_match(services, nav)
    healthy = position(services, "C10000")
    assert healthy["exposure"]["total"] == Decimal("700.00")  # 1,200 − 200 − 300 unapplied
    assert (healthy["credit_limit"], healthy["currency"]) == (Decimal("200000.00"), "CNY")
    assert position(services, "C30000")["exposure"]["total"] == Decimal("4260.00")  # 600 USD
    assert [i["number"] for i in position(services, "C20000")["overdue_invoices"]] == ["SI-0901"]
    disputed = position(services, "C40000")
    assert disputed["on_hold"] is True
    assert disputed["hold_reason"] == "blocked in NAV (Blocked: Ship)"

    # Then: the unapplied payment applied to the open invoice (no new ledger entry), and a new
    # payment that closes the overdue invoice in full.
    nav.apply(ledger.unapplied, ledger.current, "300.00", days(0))
    closing = nav.post("Payment", "C20000", "PAY-4", "-800.00", days(0))
    nav.apply(closing, ledger.overdue, "800.00", days(0))

    second = sync(services, source_id, make_adapter)

    assert second.ok, second
    assert_positions_match(services, nav)
    assert position(services, "C10000")["exposure"]["total"] == Decimal("700.00")  # 900 − 200
    slow = position(services, "C20000")
    assert (slow["exposure"]["total"], slow["overdue_invoices"]) == (ZERO, [])


def test_nav_keeps_an_invoice_in_instalments_as_one_ledger_entry_each(
    services: Services, nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    """Issue 13: a payment term in instalments must not age the whole invoice from its first
    due date. NAV posts one Customer Ledger Entry per instalment (same Document_No, each with
    its own Due_Date and Remaining_Amount), so the adapter reads each one as its own receivable
    and nothing needs splitting: a paid instalment is closed, an open one ages on its own."""
    nav.add_customer("C50000", "Instalment Buyer", "100000.00")
    first = nav.post("Invoice", "C50000", "SI-3001", "400.00", days(-70), due=days(-40))
    nav.post("Invoice", "C50000", "SI-3001", "600.00", days(-70), due=days(20))
    paid = nav.post("Payment", "C50000", "PAY-9", "-400.00", days(-42))
    nav.apply(paid, first, "400.00", days(-42))
    late = nav.post("Invoice", "C50000", "SI-3002", "400.00", days(-130), due=days(-100))
    nav.post("Invoice", "C50000", "SI-3002", "600.00", days(-130), due=days(-40))
    paid_late = nav.post("Payment", "C50000", "PAY-10", "-400.00", days(-101))
    nav.apply(paid_late, late, "400.00", days(-101))
    store = services.sync_store()
    source_id = store.add_source(SOURCE, "nav-soap", nav_server.url, {}, services.clock())

    report = sync(services, source_id, make_adapter)

    assert report.ok, report
    read = [r for p in make_adapter().invoices(None) for r in p.records]
    assert sorted((r.number, r.due_date, r.open_amount, r.instalments) for r in read) == [
        ("SI-3001", days(-40), ZERO, ()),
        ("SI-3001", days(20), Decimal("600.00"), ()),
        ("SI-3002", days(-100), ZERO, ()),
        ("SI-3002", days(-40), Decimal("600.00"), ()),
    ]
    buyer = position(services, "C50000")
    assert buyer["exposure"]["open_invoices"] == Decimal("1200.00")
    # Only SI-3002's second instalment is overdue, for its own 600.00 from its own date.
    assert [(i["number"], i["due_date"], i["open_amount"]) for i in buyer["overdue_invoices"]] == [
        ("SI-3002", days(-40), Decimal("600.00"))
    ]
