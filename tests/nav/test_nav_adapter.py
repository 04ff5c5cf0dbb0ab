"""NavSoapAdapter against a fake NAV over real SOAP on loopback (tests/nav/server.py).

The company is the one tests/nav/conftest.py describes; each test adds what it needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.auth import HTTPBasicAuth

import adapters.nav
from adapters.http import TransientError
from adapters.nav import NavSoapAdapter, NavWsdls
from gating.errors import TargetRejected, TargetUnavailable
from gating.push import WarningChange
from gating.records import RecordError
from gating.sources import Page, Watermark
from tests.nav.conftest import LOCAL, AdapterFactory, add_customers, days, post_ledger
from tests.nav.server import FakeNav, Injected, NavServer

D = Decimal


def read(pages: Iterable[Page[Any]]) -> tuple[list[Any], list[RecordError], Watermark | None]:
    """All records, all errors, and the last watermark of a read."""
    records: list[Any] = []
    errors: list[RecordError] = []
    mark = None
    for page in pages:
        records.extend(page.records)
        errors.extend(page.errors)
        mark = page.watermark or mark
    return records, errors, mark


def by_ref(records: Iterable[Any]) -> dict[str, Any]:
    return {r.ref: r for r in records}


def change(ref: str = "C10000", **overrides: Any) -> WarningChange:
    values: dict[str, Any] = {
        "change_id": "chg-0001",
        "customer_ref": ref,
        "level": "orange",
        "previous_level": "yellow",
        "reasons": ("invoice SI-0901 is 45 days overdue",),
        "step": "call the customer",
        "hold": False,
        "decided_at": datetime(2026, 11, 22, 1, 30, tzinfo=UTC),
        **overrides,
    }
    return WarningChange(**values)


# ---- customers ---------------------------------------------------------------------------------


def test_reads_customers_a_page_at_a_time_with_bookmarks_and_the_configured_filter(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    for n in range(10):
        nav.add_customer(f"C{n:02d}000", f"Customer {n}", "1000.00")
    nav.add_customer("D01000", "Domestic only", "1000.00")
    nav.add_customer("D02000", "Domestic too", "1000.00")
    adapter = make_adapter(page_size=3, customer_filter={"No": "C*"})

    pages = list(adapter.customers(None))

    assert [[c.ref for c in p.records] for p in pages] == [
        ["C00000", "C01000", "C02000"],
        ["C03000", "C04000", "C05000"],
        ["C06000", "C07000", "C08000"],
        ["C09000"],
    ]
    # Four pages, then the empty set that tells NAV's paging is over.
    assert nav_server.count("Customer.ReadMultiple") == 5
    assert all(p.watermark is None for p in pages)  # customers are read in full every time


def test_maps_the_credit_limit_in_local_currency_and_blocked_as_a_hold(
    nav: FakeNav, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    nav.add_customer("C50000", "No Limit Yet", "0")

    customers = by_ref(read(make_adapter().customers(None))[0])

    healthy = customers["C10000"]
    assert (healthy.name, healthy.credit_limit, healthy.currency) == (
        "Healthy Trading",
        D("200000.00"),
        LOCAL,
    )
    assert (healthy.on_hold, healthy.hold_reason) == (False, None)
    # Credit_Limit_LCY is in the local currency, whatever currency the customer is billed in.
    assert (customers["C30000"].credit_limit, customers["C30000"].currency) == (
        D("50000.00"),
        LOCAL,
    )
    assert customers["C40000"].on_hold is True
    assert customers["C40000"].hold_reason == "blocked in NAV (Blocked: Ship)"
    # NAV reads a limit of 0 as "no credit limit".
    assert customers["C50000"].credit_limit is None


def test_a_customer_that_cannot_be_mapped_is_reported_and_the_rest_of_its_page_lands(
    nav: FakeNav, make_adapter: AdapterFactory
) -> None:
    nav.add_customer("C10000", "Healthy Trading", "1000.00")
    nav.add_customer("C20000", "", "1000.00")
    nav.add_customer("C30000", "Negative Limit", "-5.00")
    nav.add_customer("C40000", "Fine Too", "2000.00")

    (page,) = make_adapter().customers(None)

    assert [c.ref for c in page.records] == ["C10000", "C40000"]
    assert [str(e) for e in page.errors] == [
        "customers Customer,C20000: Name is empty",
        "customers Customer,C30000: Credit_Limit_LCY is negative",
    ]


# ---- ledger entries ----------------------------------------------------------------------------


def test_maps_invoices_credit_memos_and_payments_with_their_signs_and_open_amounts(
    nav: FakeNav, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    ledger = post_ledger(nav)
    adapter = make_adapter()

    invoices = by_ref(read(adapter.invoices(None))[0])
    payments = by_ref(read(adapter.payments(None))[0])

    current = invoices[str(ledger.current)]
    assert (current.customer_ref, current.number, current.currency) == ("C10000", "SI-1001", LOCAL)
    assert (current.issue_date, current.due_date) == (days(-5), days(25))
    assert (current.total, current.open_amount, current.cancelled) == (
        D("1200.00"),
        D("1200.00"),
        False,
    )
    memo = invoices[str(ledger.credit_memo)]
    assert (memo.number, memo.total, memo.open_amount) == ("SCM-1001", D("-200.00"), D("-200.00"))
    assert invoices[str(ledger.overdue)].due_date == days(-45)
    assert (invoices[str(ledger.paid)].total, invoices[str(ledger.paid)].open_amount) == (
        D("500.00"),
        D("0.00"),
    )
    dollars = invoices[str(ledger.dollars)]
    assert (dollars.currency, dollars.total, dollars.open_amount) == ("USD", D("1000"), D("600"))
    assert set(invoices) == {str(n) for n in (1, 2, 4, 5, 7)}  # no payment among them

    # Payments are credits: NAV shows them negative, creditgate positive.
    unapplied = payments[str(ledger.unapplied)]
    assert (unapplied.customer_ref, unapplied.date, unapplied.currency) == (
        "C10000",
        days(-2),
        LOCAL,
    )
    assert (unapplied.amount, unapplied.unapplied) == (D("300.00"), D("300.00"))
    applied = payments[str(ledger.payment)]
    assert (applied.amount, applied.unapplied) == (D("500.00"), D("0.00"))
    assert payments[str(ledger.dollar_payment)].currency == "USD"
    assert set(payments) == {str(n) for n in (3, 6, 8)}


def test_a_ledger_entry_that_cannot_be_mapped_is_reported_and_the_rest_of_its_page_lands(
    nav: FakeNav, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    good = nav.post("Invoice", "C10000", "SI-1", "100.00", days(-3), due=days(27))
    odd = nav.post("Invoice", "C10000", "SI-2", "100.00", days(-3), due=days(27), currency="US$")
    orphan = nav.post("Invoice", "", "SI-3", "100.00", days(-3), due=days(27))
    also_good = nav.post("Invoice", "C20000", "SI-4", "100.00", days(-2), due=days(28))

    pages = list(make_adapter(page_size=10).invoices(None))

    assert [r.ref for r in pages[0].records] == [str(also_good), str(good)]
    assert [str(e) for e in pages[0].errors] == [
        f"invoices CustomerLedgerEntries,{orphan}: Customer_No is empty",
        f"invoices CustomerLedgerEntries,{odd}: currency 'US$' is not an ISO 4217 code",
    ]
    # The bad entries are behind the watermark too: the next read does not stumble on them.
    assert read(pages)[2] == Watermark(datetime(2026, 11, 20, tzinfo=UTC), f"{also_good};4")


def test_an_incremental_read_returns_new_entries_open_ones_and_those_closed_since_only(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    ledger = post_ledger(nav)
    adapter = make_adapter(page_size=2)
    _, _, invoices_mark = read(adapter.invoices(None))
    _, _, payments_mark = read(adapter.payments(None))
    # Since: a new invoice; the unapplied payment applied to the current invoice (no new
    # ledger entry); a new payment closing the overdue invoice; a due date moved by hand.
    new_invoice = nav.post("Invoice", "C10000", "SI-1003", "700.00", days(0), due=days(30))
    nav.apply(ledger.unapplied, ledger.current, "300.00", days(0))
    new_payment = nav.post("Payment", "C20000", "PAY-4", "-800.00", days(0))
    nav.apply(new_payment, ledger.overdue, "800.00", days(0))
    nav.entries[ledger.credit_memo]["Due_Date"] = days(10)

    invoice_list = read(adapter.invoices(invoices_mark))[0]
    payment_list = read(adapter.payments(payments_mark))[0]

    # Open old invoices (read again every time), the one closed since, and the new one, each
    # once; not the paid invoice closed before the last read.
    assert sorted(int(i.ref) for i in invoice_list) == sorted(
        (ledger.current, ledger.credit_memo, ledger.overdue, ledger.dollars, new_invoice)
    )
    invoices, payments = by_ref(invoice_list), by_ref(payment_list)
    assert invoices[str(ledger.current)].open_amount == D("900.00")
    assert invoices[str(ledger.credit_memo)].due_date == days(10)
    assert invoices[str(ledger.overdue)].open_amount == D("0.00")
    assert invoices[str(new_invoice)].open_amount == D("700.00")
    # No old payment is open any more; the one applied since, and the new one.
    assert sorted(int(p.ref) for p in payment_list) == [ledger.unapplied, new_payment]
    assert payments[str(ledger.unapplied)].unapplied == D("0.00")
    assert (payments[str(new_payment)].amount, payments[str(new_payment)].unapplied) == (
        D("800.00"),
        D("0.00"),
    )


def test_an_incremental_read_with_nothing_new_reads_only_the_open_entries(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    ledger = post_ledger(nav)
    adapter = make_adapter()
    _, _, mark = read(adapter.invoices(None))
    nav_server.calls.clear()

    records, errors, again = read(adapter.invoices(mark))

    assert sorted(r.ref for r in records) == sorted(
        str(n) for n in (ledger.current, ledger.credit_memo, ledger.overdue, ledger.dollars)
    )
    assert (errors, again) == ([], None)  # nothing moved: the stored watermark stands
    assert nav_server.calls == [
        "DetailedCustLedgEntries.ReadMultiple",  # the first and the last detailed entry
        "DetailedCustLedgEntries.ReadMultiple",
        "CustomerLedgerEntries.ReadMultiple",  # the open entries
        "CustomerLedgerEntries.ReadMultiple",  # (the empty set after them)
        "CustomerLedgerEntries.ReadMultiple",  # nothing above the last entry read
    ]


@pytest.mark.parametrize(
    ("descending", "order"),
    [(False, "entry"), (True, "entry"), (True, "customer")],
    ids=["entry-no-ascending", "entry-no-descending-nav2018", "customer-date-descending-bc"],
)
def test_a_full_ledger_read_checkpoints_as_it_goes_and_resumes_under_every_page_order(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory, descending: bool, order: str
) -> None:
    """A sync stopped after any page resumes from the last watermark: nothing is skipped, and a
    long first read is not all lost, whichever order page 25 lists its entries in (NAV 2018:
    Entry No. descending; Business Central: Customer No., Posting Date descending)."""
    if not descending:
        nav_server.descending.clear()
    nav_server.ledger_order = order
    add_customers(nav)
    numbers = [
        nav.post("Invoice", f"C{n % 3 + 1}0000", f"SI-{n}", "10.00", days(-n), due=days(30 - n))
        for n in range(10)
    ]
    adapter = make_adapter(page_size=2)
    adapter.window_pages = 2  # windows of 4 entry numbers

    seen: set[int] = set()
    marks: list[Watermark] = []
    for page in adapter.invoices(None):
        seen.update(int(r.ref) for r in page.records)
        if page.watermark is not None:
            covered = int(page.watermark.last_id.split(";")[0])
            assert {n for n in numbers if n <= covered} <= seen
            marks.append(page.watermark)

    assert seen == set(numbers)
    assert [int(m.last_id.split(";")[0]) for m in marks] == [4, 8, 10]
    # Stopped after the first window: the next run reads the rest from its watermark.
    resumed, errors, last = read(adapter.invoices(marks[0]))
    assert {n for n in numbers if n > 4} <= {int(r.ref) for r in resumed}
    assert errors == [] and last is not None and last.last_id.startswith("10;")


# ---- push ----------------------------------------------------------------------------------


def test_push_writes_the_level_the_step_and_the_hold_on_the_customer(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    adapter = make_adapter()

    adapter.push(change(level="red", step="lawyer's letter", hold=True))
    adapter.push(change("C20000", change_id="chg-0002", step=None))

    c = nav.customers["C10000"]
    assert (c["Credit_Warning"], c["Blocked"]) == ("red", "All")
    assert c["Credit_Warning_Note"] == "lawyer's letter; creditgate change chg-0001"
    c = nav.customers["C20000"]
    assert (c["Credit_Warning"], c["Blocked"]) == ("orange", "_blank_")  # no hold: untouched
    assert c["Credit_Warning_Note"] == "no collection step; creditgate change chg-0002"
    assert nav_server.calls == ["Customer.Read", "Customer.Update"] * 2


def test_pushing_the_same_change_again_writes_nothing(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    adapter = make_adapter()
    adapter.push(change(hold=True))
    version = nav.versions[("Customer", "C10000")]

    adapter.push(change(hold=True))

    assert nav.versions[("Customer", "C10000")] == version  # not even rewritten
    assert nav.customers["C10000"]["Credit_Warning_Note"] == (
        "call the customer; creditgate change chg-0001"
    )
    assert nav_server.calls == ["Customer.Read", "Customer.Update", "Customer.Read"]


def test_a_stale_key_is_read_again_and_the_write_goes_through(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    # Someone edits the customer between our Read and our Update, once.
    nav_server.before(
        "Customer.Update", lambda: nav.modify_customer("C10000", Phone_No="+86 21 5555")
    )

    make_adapter().push(change())

    c = nav.customers["C10000"]
    assert (c["Credit_Warning"], c["Phone_No"]) == ("orange", "+86 21 5555")  # both changes kept
    assert nav_server.calls == ["Customer.Read", "Customer.Update"] * 2


def test_a_customer_changing_under_every_write_is_tried_later(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    for n in range(3):
        nav_server.before(
            "Customer.Update", lambda n=n: nav.modify_customer("C10000", Phone_No=str(n))
        )

    with pytest.raises(TargetUnavailable, match="changed under every one of 3 writes"):
        make_adapter(stale_key_retries=2).push(change())

    # Each fault is followed by a Read that tells a changed record from a refusal.
    assert nav_server.calls == ["Customer.Read", "Customer.Update"] * 3 + ["Customer.Read"]
    assert "Credit_Warning" not in nav.customers["C10000"]


def test_an_unknown_customer_is_rejected_without_retries(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)

    with pytest.raises(TargetRejected, match="no customer 'C99999' in NAV"):
        make_adapter().push(change("C99999"))

    assert nav_server.calls == ["Customer.Read"]


def test_a_customer_deleted_before_the_update_is_rejected_with_navs_fault(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    nav_server.before("Customer.Update", lambda: nav.customers.pop("C10000"))

    with pytest.raises(TargetRejected, match=r"no customer 'C10000'.*Update said: The Customer"):
        make_adapter().push(change())

    # The fault is not retried; one Read tells a deleted record from a changed one.
    assert nav_server.calls == ["Customer.Read", "Customer.Update", "Customer.Read"]


def test_a_soap_fault_on_update_is_rejected_with_its_message_without_retries(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    denied = "You do not have the following permissions on TableData Customer: Modify."
    nav_server.inject("Customer.Update", Injected("fault", denied))

    with pytest.raises(TargetRejected, match=r"Customer\.Update failed: You do not have"):
        make_adapter().push(change())

    assert nav_server.calls == ["Customer.Read", "Customer.Update", "Customer.Read"]
    assert "Credit_Warning" not in nav.customers["C10000"]


def test_timeouts_and_http_500s_are_retried_until_nav_answers(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    nav_server.inject("Customer.Read", Injected("delay", seconds=1.0))
    nav_server.inject("Customer.Update", Injected("500"), Injected("500"))

    make_adapter(timeout=(1.0, 0.4)).push(change())

    assert nav.customers["C10000"]["Credit_Warning"] == "orange"
    assert nav_server.calls == ["Customer.Read"] * 2 + ["Customer.Update"] * 3


def test_a_timed_out_update_that_nav_applied_anyway_is_not_written_twice(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    # NAV writes the change, but its answer comes after the adapter stopped waiting.
    nav_server.inject("Customer.Update", Injected("late", seconds=0.8))

    make_adapter(timeout=(1.0, 0.4)).push(change())

    # The retried Update carries the Key NAV changed meanwhile: its fault makes a fresh Read,
    # which shows the change is in.
    assert nav_server.calls == [
        "Customer.Read",
        "Customer.Update",
        "Customer.Update",
        "Customer.Read",
    ]
    assert nav.customers["C10000"]["Credit_Warning"] == "orange"


@pytest.mark.parametrize("kind", ["500", "delay"])
def test_nav_staying_down_raises_target_unavailable_after_the_attempts(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory, kind: str
) -> None:
    add_customers(nav)
    nav_server.inject("Customer.Read", *[Injected(kind, seconds=0.6)] * 3)

    with pytest.raises(TargetUnavailable) as caught:
        make_adapter(timeout=(1.0, 0.3)).push(change())

    assert isinstance(caught.value, TransientError)
    assert ("HTTP 500" if kind == "500" else "timed out") in str(caught.value)
    assert nav_server.calls == ["Customer.Read"] * 3  # the adapter's 3 attempts


def test_a_read_failing_for_good_stops_the_read_with_a_transient_error(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    post_ledger(nav)
    nav_server.inject("CustomerLedgerEntries.ReadMultiple", *[Injected("500")] * 3)

    with pytest.raises(TransientError):
        list(make_adapter().invoices(None))

    assert nav_server.count("CustomerLedgerEntries.ReadMultiple") == 3


def test_a_session_passed_in_keeps_its_auth_and_still_gets_the_timeouts(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    """The seam for NTLM: a session whose auth is set (requests_ntlm.HttpNtlmAuth in
    production) is used as it is, and calls on it time out all the same."""
    add_customers(nav)
    session = requests.Session()
    session.auth = HTTPBasicAuth(nav_server.username, nav_server.password)
    nav_server.inject("Customer.Read", Injected("delay", seconds=1.0))

    adapter = make_adapter(session=session, username=None, password=None, timeout=(1.0, 0.4))
    adapter.push(change())
    adapter.close()

    assert nav_server.calls == ["Customer.Read"] * 2 + ["Customer.Update"]
    session.close()


def test_wrong_credentials_are_rejected_at_once(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)

    with pytest.raises(TargetRejected, match="HTTP 401"):
        make_adapter(password="wrong").push(change())


# ---- the WSDLs ---------------------------------------------------------------------------------


def test_the_wsdls_come_from_the_package_and_are_never_fetched(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    add_customers(nav)
    post_ledger(nav)
    adapter = make_adapter(wsdls=None)

    read(adapter.customers(None))
    read(adapter.invoices(None))
    adapter.push(change(level="red", hold=True))

    package = Path(adapters.nav.__file__).parent / "wsdl"
    assert {path.parent for path in vars(NavWsdls.bundled()).values()} == {package}
    assert all(path.is_file() for path in vars(NavWsdls.bundled()).values())
    assert nav_server.wsdl_gets == 0
    assert len(nav_server.calls) > 5  # yet the server did answer


def test_a_wsdl_without_the_warning_field_is_refused_when_the_adapter_is_made(
    nav_server: NavServer,
) -> None:
    with pytest.raises(ValueError, match="page Customer has no field Credit_Alert"):
        NavSoapAdapter(nav_server.url, "u", "p", local_currency=LOCAL, warning_field="Credit_Alert")


def test_an_answer_with_fields_the_wsdl_does_not_describe_is_read_all_the_same(
    nav: FakeNav, nav_server: NavServer, make_adapter: AdapterFactory
) -> None:
    """A customised page shows fields no saved WSDL names, wherever the page puts them: the
    fields creditgate reads are read, the others skipped."""
    add_customers(nav)
    nav_server.extra["Customer"] = {"Vip_Rating": "A", "Credit_Limit_LCY_2": "7"}

    customers = by_ref(read(make_adapter(wsdls=None).customers(None))[0])

    assert customers["C10000"].credit_limit == D("200000.00")
    assert customers["C40000"].on_hold
