"""Invoices that leave "Open" in Business Central without a watermark finding them as open
again: reopened to Draft, deleted while unposted, or closed without a new
`lastModifiedDateTime`; and Corrective invoices, whose payments never stamp them. Through
the real sync engine and creditgate's store (SQLite and PostgreSQL), reading the exposure the
gate reads.

The company is tests/bc/conftest.py's. Coho Winery (10000) starts with PS-INV103001, 1,200.00
USD open; most tests release one more unposted invoice for it (700.00, status Open).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from config.wiring import Services
from gating.services import credit_position
from sync.engine import SyncReport, sync_source
from tests.bc.conftest import AdapterFactory, days
from tests.bc.server import ZERO_GUID, BcServer, FakeBc

SOURCE = "bc"
COHO = "10000"


def open_invoices(services: Services, ref: str = COHO) -> Decimal:
    position = credit_position(
        SOURCE, ref, uow=services.uow(), clock=services.clock, rates=services.rates
    )
    return Decimal(dict(position)["exposure"]["open_invoices"])


def sync(services: Services, make_adapter: AdapterFactory, *, full: bool = False) -> SyncReport:
    store = services.sync_store()
    source_id = store.source(SOURCE)["id"]
    adapter = make_adapter(overlap=timedelta(0))
    return sync_source(source_id, SOURCE, adapter, store=store, clock=services.clock, full=full)


def invoices_part(report: SyncReport) -> Any:
    return next(e for e in report.entities if e.entity == "invoices")


def released(services: Services, bc: FakeBc, make_adapter: AdapterFactory) -> dict[str, Any]:
    """Add the source, release invoice 1006 (700.00) for Coho, sync: 1,900.00 counts."""
    services.sync_store().add_source(SOURCE, "bc-api", "http://bc", {}, services.clock())
    row = bc.add_invoice("1006", COHO, "700", issued=days(0), due=days(30))
    first = sync(services, make_adapter)
    assert first.ok, first
    assert open_invoices(services) == Decimal("1900.00")
    bc.now += timedelta(hours=1)
    return row


def test_a_released_invoice_reopened_to_draft_stops_counting_at_the_next_sync(
    services: Services, bc: FakeBc, bc_server: BcServer, make_adapter: AdapterFactory
) -> None:
    released(services, bc, make_adapter)

    bc.reopen_invoice("1006")
    again = sync(services, make_adapter)

    assert again.ok, again
    assert open_invoices(services) == Decimal("1200.00")
    assert invoices_part(again).errors == []
    assert bc_server.read_by_id == []  # the watermark read saw the draft: nothing read again


def test_a_released_invoice_sent_for_approval_stops_counting(
    services: Services, bc: FakeBc, make_adapter: AdapterFactory
) -> None:
    released(services, bc, make_adapter)

    bc.reopen_invoice("1006", status="In Review")

    assert sync(services, make_adapter).ok
    assert open_invoices(services) == Decimal("1200.00")


def test_a_released_invoice_deleted_stops_counting_and_only_it_is_read_again(
    services: Services, bc: FakeBc, bc_server: BcServer, make_adapter: AdapterFactory
) -> None:
    row = released(services, bc, make_adapter)

    bc.delete_invoice("1006")
    again = sync(services, make_adapter)

    assert again.ok, again
    assert open_invoices(services) == Decimal("1200.00")
    # Four invoices are open in the store (1,200, 800, 600 EUR and 700): only the one the
    # API no longer lists as open is read again, once, by its id (answered 404).
    assert bc_server.read_by_id == [row["id"]]
    assert (invoices_part(again).read, invoices_part(again).written) == (4, 4)  # 3 open + 1


def test_a_posted_invoice_closed_without_a_new_timestamp_stops_counting(
    services: Services, bc: FakeBc, bc_server: BcServer, make_adapter: AdapterFactory
) -> None:
    released(services, bc, make_adapter)
    stamp = bc.invoice("PS-INV103001")["lastModifiedDateTime"]

    bc.close_unstamped("PS-INV103001")
    again = sync(services, make_adapter)

    assert bc.invoice("PS-INV103001")["lastModifiedDateTime"] == stamp
    assert again.ok, again
    assert open_invoices(services) == Decimal("700.00")  # the released 1006 alone
    assert bc_server.read_by_id == [bc.invoice("PS-INV103001")["id"]]


def test_a_full_sync_reads_again_the_invoices_it_did_not_find_open(
    services: Services, bc: FakeBc, bc_server: BcServer, make_adapter: AdapterFactory
) -> None:
    row = released(services, bc, make_adapter)

    bc.delete_invoice("1006")
    again = sync(services, make_adapter, full=True)

    assert again.ok, again
    assert open_invoices(services) == Decimal("1200.00")
    assert bc_server.read_by_id == [row["id"]]


def test_drafts_without_a_customer_or_dates_are_no_errors(
    services: Services, bc: FakeBc, make_adapter: AdapterFactory
) -> None:
    services.sync_store().add_source(SOURCE, "bc-api", "http://bc", {}, services.clock())
    blank = {"invoiceDate": "0001-01-01", "dueDate": "0001-01-01", "postingDate": "0001-01-01"}
    bc.add_invoice("1007", COHO, "0", issued=days(0), due=days(0), status="Draft")
    bc.modify_invoice(
        "1007", customerId=ZERO_GUID, customerNumber="", customerName="", billToName="",
        billToCustomerId=ZERO_GUID, billToCustomerNumber="", currencyCode="", **blank,
    )  # fmt: skip
    bc.add_invoice("1008", COHO, "90", issued=days(0), due=days(0), status="Draft")
    bc.modify_invoice("1008", **blank)

    report = sync(services, make_adapter)

    assert report.ok, report
    assert invoices_part(report).errors == []
    assert open_invoices(services) == Decimal("1200.00")  # neither draft counts


def test_a_recheck_throttled_past_its_retries_fails_the_run_like_a_read_and_the_next_recovers(
    services: Services, bc: FakeBc, bc_server: BcServer, make_adapter: AdapterFactory
) -> None:
    released(services, bc, make_adapter)
    bc.delete_invoice("1006")
    # Every attempt (the adapter makes 3) at the first read by id is answered 429.
    bc_server.before("GET salesInvoices(id)", lambda: bc_server.throttle(3, retry_after="0"))

    failed = sync(services, make_adapter)

    assert not failed.ok
    assert [e.entity for e in failed.entities] == ["groups", "customers", "invoices"]
    assert (invoices_part(failed).failure or "").startswith("TransientError")
    runs = services.sync_store().runs(source=SOURCE, status="failed")
    assert [r["entity"] for r in runs] == ["invoices"]
    assert open_invoices(services) == Decimal("1900.00")  # nothing lost, nothing guessed

    assert sync(services, make_adapter).ok
    assert open_invoices(services) == Decimal("1200.00")


def test_a_recheck_refused_fails_the_run_like_a_read(
    services: Services, bc: FakeBc, bc_server: BcServer, make_adapter: AdapterFactory
) -> None:
    released(services, bc, make_adapter)
    bc.delete_invoice("1006")

    def refuse() -> None:
        bc_server.refuse_all_tokens = True

    bc_server.before("GET salesInvoices(id)", refuse)

    failed = sync(services, make_adapter)

    assert not failed.ok
    assert (invoices_part(failed).failure or "").startswith("RemoteRejected")
    assert open_invoices(services) == Decimal("1900.00")


def test_a_corrective_invoice_paid_then_unapplied_without_a_stamp_counts_as_it_stands(
    services: Services, bc: FakeBc, bc_server: BcServer, make_adapter: AdapterFactory
) -> None:
    services.sync_store().add_source(SOURCE, "bc-api", "http://bc", {}, services.clock())
    # It cancels a posted credit memo: "Corrective" whether open or paid (codeunit 5477).
    bc.add_invoice("PS-INV103008", COHO, "500", issued=days(-2), due=days(28), status="Corrective")
    assert sync(services, make_adapter).ok
    assert open_invoices(services) == Decimal("1700.00")
    stamp = bc.invoice("PS-INV103008")["lastModifiedDateTime"]

    bc.modify_invoice("PS-INV103008", remainingAmount=Decimal("0"))  # paid: no new status
    paid = sync(services, make_adapter)

    assert paid.ok, paid
    assert open_invoices(services) == Decimal("1200.00")
    assert bc_server.read_by_id == []  # the re-read of open invoices found it

    bc.modify_invoice("PS-INV103008", remainingAmount=Decimal("500"))  # the payment unapplied
    unapplied = sync(services, make_adapter)

    assert unapplied.ok, unapplied
    assert open_invoices(services) == Decimal("1700.00")
    assert bc.invoice("PS-INV103008")["lastModifiedDateTime"] == stamp


def test_a_404_that_is_not_business_centrals_own_answer_cancels_nothing(
    services: Services, bc: FakeBc, bc_server: BcServer, make_adapter: AdapterFactory
) -> None:
    released(services, bc, make_adapter)
    bc.delete_invoice("1006")
    # Every attempt at the read by id meets a gateway's HTML 404, not Business Central's.
    bc_server.before("GET salesInvoices(id)", lambda: bc_server.answer_gateway_404(3))

    failed = sync(services, make_adapter)

    assert (invoices_part(failed).failure or "").startswith("TransientError")
    assert open_invoices(services) == Decimal("1900.00")  # not taken for deleted
    assert sync(services, make_adapter).ok  # Business Central's own 404: deleted
    assert open_invoices(services) == Decimal("1200.00")
