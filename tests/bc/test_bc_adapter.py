"""The Business Central adapter against the fake company's REST API v2.0 on loopback."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.http import RemoteRejected, TransientError
from gating.errors import TargetRejected, TargetUnavailable
from gating.push import WarningChange
from gating.sources import Page
from tests.bc.conftest import AdapterFactory, days
from tests.bc.server import API, BcServer, FakeBc


def flat(pages: list[Page]) -> list:  # type: ignore[type-arg]
    return [record for page in pages for record in page.records]


def change(ref: str, level: str, *, hold: bool) -> WarningChange:
    return WarningChange(
        change_id=f"chg-{ref}-{level}",
        customer_ref=ref,
        level=level,
        previous_level="none",
        reasons=("oldest invoice PS-INV103002 is 45 days overdue",),
        step=None,
        hold=hold,
        decided_at=datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
    )


def test_a_full_read_follows_every_next_link_and_maps_the_documented_fields(
    make_adapter: AdapterFactory, bc_server: BcServer
) -> None:
    adapter = make_adapter()

    pages = list(adapter.customers(None))
    invoices = flat(list(adapter.invoices(None)))

    assert [len(p.records) for p in pages] == [2, 2]  # the server pages 2 rows at a time
    by_ref = {c.ref: c for c in flat(pages)}
    assert sorted(by_ref) == ["10000", "20000", "30000", "40000"]
    coho = by_ref["10000"]
    assert (coho.name, coho.credit_limit, coho.currency, coho.on_hold) == (
        "Coho Winery",
        Decimal("50000.00"),
        "USD",
        False,
    )
    alpine = by_ref["30000"]
    # creditLimit 0 is "no limit"; any blocked value but " " is a hold.
    assert (alpine.credit_limit, alpine.on_hold) == (None, True)
    assert alpine.hold_reason == "blocked in Business Central (blocked: Ship)"
    got = {i.number: (i.customer_ref, i.open_amount, i.currency, i.cancelled) for i in invoices}
    assert got == {
        "PS-INV103001": ("10000", Decimal("1200.00"), "USD", False),
        "PS-INV103002": ("20000", Decimal("800.00"), "USD", False),
        "PS-INV103003": ("20000", Decimal("0.00"), "USD", False),
        "PS-INV103004": ("30000", Decimal("600.00"), "EUR", False),
        "PS-INV103006": ("40000", Decimal("0.00"), "USD", True),
        # The draft 1005 is no receivable: read as cancelled, it counts nowhere (and withdraws
        # the invoice if it was released before and reopened).
        "1005": ("40000", Decimal("0"), "USD", True),
    }
    first = next(i for i in invoices if i.number == "PS-INV103001")
    assert (first.issue_date, first.due_date, first.order_ref) == (days(-5), days(25), "S-1")
    assert bc_server.calls.count("GET salesInvoices") == 3  # 6 rows, 2 a page
    assert bc_server.tokens_issued == 1  # one token for every call


def test_an_incremental_read_asks_only_for_changes_since_the_watermark_less_the_overlap(
    make_adapter: AdapterFactory, bc: FakeBc
) -> None:
    adapter = make_adapter()
    last = list(adapter.customers(None))[-1].watermark
    assert last is not None

    assert flat(list(make_adapter().customers(last))) != []  # within the overlap: re-read
    bc.now += timedelta(hours=1)
    bc.modify_customer("20000", creditLimit=Decimal("45000"))
    changed = list(make_adapter(overlap=timedelta(0)).customers(last))

    assert [c.ref for c in flat(changed)] == ["20000"]
    assert flat(changed)[0].credit_limit == Decimal("45000.00")
    assert changed[-1].watermark is not None
    assert changed[-1].watermark.changed_at > last.changed_at


def test_a_429_is_waited_out_as_retry_after_asks(
    make_adapter: AdapterFactory, bc_server: BcServer, sleeps: list[float]
) -> None:
    bc_server.throttle(2, retry_after="7")

    customers = flat(list(make_adapter().customers(None)))

    assert len(customers) == 4
    assert sleeps[:2] == [7.0, 7.0]


def test_throttling_that_outlasts_the_retries_is_transient(
    make_adapter: AdapterFactory, bc_server: BcServer
) -> None:
    bc_server.throttle(5, retry_after="1")

    with pytest.raises(TransientError) as caught:
        list(make_adapter().customers(None))

    assert caught.value.status == 429


def test_an_expired_token_is_replaced_once_and_the_read_goes_on(
    make_adapter: AdapterFactory, bc_server: BcServer
) -> None:
    adapter = make_adapter()
    pages = adapter.customers(None)
    first = next(pages)
    bc_server.expire_tokens()

    rest = list(pages)

    assert len(first.records) + len(flat(rest)) == 4
    assert bc_server.tokens_issued == 2


def test_a_token_refused_again_after_renewal_is_a_rejection_not_a_loop(
    make_adapter: AdapterFactory, bc_server: BcServer
) -> None:
    bc_server.refuse_all_tokens = True

    with pytest.raises(RemoteRejected) as caught:
        list(make_adapter().customers(None))

    assert caught.value.status == 401
    assert bc_server.tokens_issued == 2  # the first, and one renewal
    assert bc_server.calls.count("GET customers") == 2


def test_a_wrong_client_secret_is_refused_with_what_to_check(make_adapter: AdapterFactory) -> None:
    with pytest.raises(RemoteRejected) as caught:
        list(make_adapter(client_secret="wrong").customers(None))

    assert "invalid_client" in str(caught.value)
    assert "Microsoft Entra Applications" in str(caught.value)


def test_a_hold_blocks_the_customer_for_everything_with_its_etag(
    make_adapter: AdapterFactory, bc: FakeBc, bc_server: BcServer
) -> None:
    before = bc.customer("20000")["@odata.etag"]

    make_adapter().push(change("20000", "red", hold=True))

    assert bc.customer("20000")["blocked"] == "All"
    assert bc.customer("20000")["@odata.etag"] != before
    assert bc_server.calls.count("PATCH customers") == 1


def test_a_hold_pushed_again_writes_nothing(
    make_adapter: AdapterFactory, bc_server: BcServer
) -> None:
    adapter = make_adapter()
    adapter.push(change("20000", "red", hold=True))
    adapter.push(change("20000", "red", hold=True))

    assert bc_server.calls.count("PATCH customers") == 1


def test_a_customer_changed_between_read_and_write_is_read_again(
    make_adapter: AdapterFactory, bc: FakeBc, bc_server: BcServer
) -> None:
    adapter = make_adapter()
    # Someone edits the customer after creditgate read it: its etag is no longer the one read.
    bc_server.before("PATCH customers", lambda: bc.modify_customer("10000", phoneNumber="1"))

    adapter.push(change("10000", "red", hold=True))

    assert bc.customer("10000")["blocked"] == "All"
    assert bc_server.calls.count("PATCH customers") == 2  # 412, then the fresh etag


def test_a_level_below_red_writes_nothing_there_is_no_field_for_it(
    make_adapter: AdapterFactory, bc: FakeBc, bc_server: BcServer
) -> None:
    make_adapter().push(change("10000", "orange", hold=False))

    assert bc.customer("10000")["blocked"] == " "
    assert bc_server.calls.count("PATCH customers") == 0


def test_a_push_for_an_unknown_customer_is_rejected(make_adapter: AdapterFactory) -> None:
    with pytest.raises(RemoteRejected, match='no customer "O\'Brien"'):
        make_adapter().push(change("O'Brien", "red", hold=True))


def test_a_next_link_to_another_host_is_refused_and_gets_no_token(
    make_adapter: AdapterFactory, bc_server: BcServer
) -> None:
    # Port 9 on loopback: nothing should ever be sent there.
    bc_server.next_link_base = "http://127.0.0.2:9"

    with pytest.raises(RemoteRejected) as caught:
        list(make_adapter().customers(None))

    assert "http://127.0.0.2:9" + API in str(caught.value)
    assert bc_server.url in str(caught.value)
    assert bc_server.calls.count("GET customers") == 1


def test_a_row_that_is_not_an_object_is_a_rejection_not_silently_dropped(
    make_adapter: AdapterFactory, bc_server: BcServer
) -> None:
    bc_server.junk_row = "PS-INV103001"

    with pytest.raises(RemoteRejected, match="not an object"):
        list(make_adapter().invoices(None))


def test_a_partial_payment_is_read_by_the_next_incremental_read(
    make_adapter: AdapterFactory, bc: FakeBc, bc_server: BcServer
) -> None:
    adapter = make_adapter(overlap=timedelta(0))
    last = list(adapter.invoices(None))[-1].watermark
    assert last is not None
    stamp = bc.invoice("PS-INV103002")["lastModifiedDateTime"]

    # Applied to part of the invoice: remainingAmount is computed from the ledger when read;
    # the invoice stays Open and its lastModifiedDateTime does not move.
    bc.modify_invoice("PS-INV103002", remainingAmount=Decimal("300"))
    pages = list(adapter.invoices(last))

    assert bc.invoice("PS-INV103002")["lastModifiedDateTime"] == stamp
    got = {i.number: i.open_amount for i in flat(pages)}
    assert got == {
        "PS-INV103001": Decimal("1200.00"),
        "PS-INV103002": Decimal("300.00"),
        "PS-INV103004": Decimal("600.00"),
    }  # every open invoice, read again
    assert pages[-1].watermark is None  # the re-read of open invoices moves no watermark
    assert max((p.watermark for p in pages if p.watermark), key=lambda w: w.changed_at) == last


def test_a_released_invoice_counts_and_is_replaced_by_itself_once_posted(
    make_adapter: AdapterFactory, bc: FakeBc
) -> None:
    # An unposted invoice, released: status Open, its full amount remaining, a draft number.
    released = bc.add_invoice("1006", "10000", "700", issued=days(0), due=days(30))
    adapter = make_adapter(overlap=timedelta(0))
    first = flat(list(adapter.invoices(None)))
    last = list(adapter.invoices(None))[-1].watermark
    assert last is not None

    bc.now += timedelta(hours=1)
    bc.post_invoice("1006", "PS-INV103007", days(0))
    after = flat(list(adapter.invoices(last)))

    before = [i for i in first if i.number == "1006"]
    posted = [i for i in after if i.number == "PS-INV103007"]
    assert [(i.ref, i.open_amount) for i in before] == [(released["id"], Decimal("700.00"))]
    # The same ref (read as changed and again as open): stored, the posted invoice replaces
    # the released one, and nothing counts twice.
    assert {(i.ref, i.open_amount) for i in posted} == {(released["id"], Decimal("700.00"))}
    assert all(i.number != "1006" for i in after)


def test_a_complete_read_says_which_invoices_are_open_and_an_unfinished_one_does_not(
    make_adapter: AdapterFactory, bc: FakeBc
) -> None:
    adapter = make_adapter(overlap=timedelta(0))
    open_ids = {bc.invoice(n)["id"] for n in ("PS-INV103001", "PS-INV103002", "PS-INV103004")}

    assert adapter.open_invoice_refs() is None
    pages = list(adapter.invoices(None))
    assert adapter.open_invoice_refs() == open_ids  # a full read: its rows with status Open

    bc.now += timedelta(hours=1)
    bc.modify_invoice("PS-INV103002", status="Paid", remainingAmount=Decimal("0"))
    unfinished = adapter.invoices(pages[-1].watermark)
    next(unfinished)
    assert adapter.open_invoice_refs() is None  # not read to its end: no answer
    list(unfinished)
    assert adapter.open_invoice_refs() == open_ids - {bc.invoice("PS-INV103002")["id"]}


def test_a_recheck_reads_each_invoice_by_id_and_cancels_the_ones_gone(
    make_adapter: AdapterFactory, bc: FakeBc, bc_server: BcServer
) -> None:
    adapter = make_adapter()
    held = {i.number: i for i in flat(list(adapter.invoices(None)))}
    gone = held["PS-INV103001"]
    bc.delete_invoice("PS-INV103001")
    bc.modify_invoice("PS-INV103002", remainingAmount=Decimal("0"), status="Paid")
    bc.reopen_invoice("PS-INV103004", status="In Review")
    odd = replace(held["PS-INV103002"], ref="1 or 1")  # never put into a URL

    page = adapter.recheck_invoices([gone, held["PS-INV103002"], held["PS-INV103004"], odd])

    got = {i.number: (i.ref, i.open_amount, i.cancelled) for i in page.records}
    assert got == {
        "PS-INV103001": (gone.ref, Decimal("0"), True),  # 404: deleted
        "PS-INV103002": (held["PS-INV103002"].ref, Decimal("0.00"), False),  # paid
        "PS-INV103004": (held["PS-INV103004"].ref, Decimal("0"), True),  # reopened
    }
    assert [(e.record_id, e.reason) for e in page.errors] == [("1 or 1", "id is not a GUID")]
    assert bc_server.read_by_id == [gone.ref, held["PS-INV103002"].ref, held["PS-INV103004"].ref]
    assert page.watermark is None


# ---- Corrective invoices: open or paid alike, their payments unstamped ----------------------


def test_a_corrective_invoice_is_open_while_something_remains_and_is_read_again_as_open(
    make_adapter: AdapterFactory, bc: FakeBc
) -> None:
    # Two invoices that cancel posted credit memos: one open, one paid (both "Corrective").
    owing = bc.add_invoice(
        "PS-INV103008", "20000", "500", issued=days(-2), due=days(28), status="Corrective"
    )
    paid = bc.add_invoice(
        "PS-INV103009", "20000", "400", remaining="0", issued=days(-2), due=days(28),
        status="Corrective",
    )  # fmt: skip
    adapter = make_adapter(overlap=timedelta(0))
    open_ids = {bc.invoice(n)["id"] for n in ("PS-INV103001", "PS-INV103002", "PS-INV103004")}

    pages = list(adapter.invoices(None))

    assert adapter.open_invoice_refs() == open_ids | {owing["id"]}
    # Paid, and the other one's payment unapplied: only remainingAmount moves, no stamp.
    bc.modify_invoice("PS-INV103008", remainingAmount=Decimal("0"))
    bc.modify_invoice("PS-INV103009", remainingAmount=Decimal("400"))
    again = flat(list(adapter.invoices(pages[-1].watermark)))

    got = {i.number: (i.open_amount, i.cancelled) for i in again if i.number.endswith(("8", "9"))}
    assert got == {
        "PS-INV103008": (Decimal("0.00"), False),
        "PS-INV103009": (Decimal("400.00"), False),
    }
    assert adapter.open_invoice_refs() == open_ids | {paid["id"]}


# ---- the company's LCY code -------------------------------------------------------------------


def test_invoices_carrying_a_non_iso_lcy_code_are_in_the_local_currency(
    make_adapter: AdapterFactory, bc: FakeBc
) -> None:
    # General Ledger Setup's LCY Code is free text: "RMB" for a company keeping its books in
    # yuan. The API writes it as the currencyCode of every local-currency invoice.
    bc.lcy_code = "RMB"
    bc.add_invoice("PS-INV103010", "10000", "880", issued=days(-1), due=days(29), currency="Rmb ")
    bc.add_invoice("PS-INV103011", "10000", "70", issued=days(-1), due=days(29), currency="EURO")
    adapter = make_adapter(local_currency="CNY")

    pages = list(adapter.invoices(None))

    got = {i.number: (i.currency, i.open_amount) for i in flat(pages) if not i.cancelled}
    assert got == {
        "PS-INV103001": ("CNY", Decimal("1200.00")),
        "PS-INV103002": ("CNY", Decimal("800.00")),
        "PS-INV103003": ("CNY", Decimal("0.00")),
        "PS-INV103004": ("EUR", Decimal("600.00")),
        "PS-INV103010": ("CNY", Decimal("880.00")),  # trimmed, any case
    }
    errors = [(e.record_id, e.reason) for p in pages for e in p.errors]
    # A foreign currency whose code is not ISO 4217 is still refused, by name.
    assert errors == [("PS-INV103011", "currency 'EURO' is not an ISO 4217 code")]


def test_the_lcy_code_is_read_once_per_adapter(
    make_adapter: AdapterFactory, bc: FakeBc, bc_server: BcServer
) -> None:
    adapter = make_adapter()
    held = flat(list(adapter.invoices(None)))
    list(adapter.invoices(None))
    adapter.recheck_invoices(held[:1])

    assert bc_server.calls.count("GET companyInformation") == 1
    assert bc_server.calls.index("GET companyInformation") < bc_server.calls.index(
        "GET salesInvoices"
    )


def test_an_iso_lcy_code_other_than_the_local_currency_is_refused(
    make_adapter: AdapterFactory, bc: FakeBc
) -> None:
    bc.lcy_code = "EUR"

    with pytest.raises(RemoteRejected, match="set --local-currency EUR"):
        list(make_adapter().invoices(None))


def test_an_lcy_code_that_cannot_be_read_fails_the_read_like_any_read(
    make_adapter: AdapterFactory, bc_server: BcServer
) -> None:
    bc_server.before("GET companyInformation", lambda: bc_server.throttle(3, retry_after="0"))

    with pytest.raises(TransientError) as caught:
        list(make_adapter().invoices(None))

    assert caught.value.status == 429
    assert "GET salesInvoices" not in bc_server.calls


# ---- answers that are not Business Central's own ----------------------------------------------


def test_a_maintenance_page_answered_200_once_is_retried(
    make_adapter: AdapterFactory, bc_server: BcServer
) -> None:
    bc_server.answer_html(1)

    customers = flat(list(make_adapter().customers(None)))

    assert len(customers) == 4
    assert bc_server.calls.count("GET customers") == 3  # the page, then 2 pages of 2


@pytest.mark.parametrize("odd", ["answer_html", "answer_without_value"])
def test_a_read_that_stays_answered_without_business_centrals_json_is_transient(
    make_adapter: AdapterFactory, bc_server: BcServer, odd: str
) -> None:
    getattr(bc_server, odd)(3)

    with pytest.raises(TransientError) as caught:
        list(make_adapter().customers(None))

    assert caught.value.status == 200
    assert bc_server.calls.count("GET customers") == 3  # every attempt


def test_a_hold_pushed_while_a_proxy_answers_a_maintenance_page_waits_and_is_not_refused(
    make_adapter: AdapterFactory, bc: FakeBc, bc_server: BcServer
) -> None:
    bc_server.answer_html(3)

    with pytest.raises(TransientError) as caught:
        make_adapter().push(change("20000", "red", hold=True))

    # Unavailable (the outbox defers the change), never a refusal (marked failed for good).
    assert isinstance(caught.value, TargetUnavailable)
    assert not isinstance(caught.value, TargetRejected)
    assert "text/html" in str(caught.value) and "no customer" not in str(caught.value)
    make_adapter().push(change("20000", "red", hold=True))
    assert bc.customer("20000")["blocked"] == "All"


def test_a_record_read_again_by_id_answered_with_a_maintenance_page_is_transient(
    make_adapter: AdapterFactory, bc_server: BcServer
) -> None:
    adapter = make_adapter()
    held = flat(list(adapter.invoices(None)))
    bc_server.answer_html(3)

    with pytest.raises(TransientError):
        adapter.recheck_invoices(held[:1])


def test_a_token_endpoint_answering_a_maintenance_page_is_transient_not_a_refusal(
    make_adapter: AdapterFactory, bc_server: BcServer
) -> None:
    bc_server.answer_token_html(3)

    with pytest.raises(TransientError):
        list(make_adapter().customers(None))
    assert bc_server.calls == ["token"] * 3

    bc_server.answer_token_html(1)
    assert len(flat(list(make_adapter().customers(None)))) == 4  # retried: a token came
