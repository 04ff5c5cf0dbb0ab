"""Accounts as customers: paging by page then page_token, incremental reads from the
watermark, and Accounts that cannot be customers reported without stopping the read."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import responses

from adapters.zoho import ZohoRejected
from gating.money import DECIMAL_TEXT_RULE
from gating.records import CustomerData, RecordError
from gating.sources import Watermark
from tests.zoho import payloads as z
from tests.zoho.conftest import calls_to, query, tokens

BASE_ID = 4150868000000002000
SHANGHAI = timezone(timedelta(hours=8))


def row(n: int, *, minute: int | None = None, number: str | None = "auto", **extra):
    """Account n, modified at 10:<minute> UTC on 2026-11-20 (minute n unless given)."""
    when = datetime(2026, 11, 20, 10, n if minute is None else minute, tzinfo=UTC)
    ref = f"C-{n}" if number == "auto" else number
    modified = when.astimezone(SHANGHAI)  # Zoho answers in the org's time zone
    return z.account(str(BASE_ID + n), ref, f"Customer {n}", modified.isoformat(), **extra)


def refs(pages) -> list[list[str]]:
    return [[c.ref for c in page.records] for page in pages]


def test_pages_by_number_up_to_the_page_limit_then_by_page_token(zoho, make_adapter):
    tokens(zoho)
    rows = [row(n) for n in range(1, 8)]
    zoho.get(z.ACCOUNTS, json=z.records(rows[0:2], page=1, per_page=2, more=True, next_token="t2"))
    zoho.get(z.ACCOUNTS, json=z.records(rows[2:4], page=2, per_page=2, more=True, next_token="t3"))
    zoho.get(z.ACCOUNTS, json=z.records(rows[4:6], page=3, per_page=2, more=True, next_token="t4"))
    zoho.get(z.ACCOUNTS, json=z.records(rows[6:7], page=4, per_page=2, more=False))
    # Zoho's 2,000-record limit of `page`, scaled down: `page` reaches the first 4 records.
    adapter = make_adapter(page_size=2, page_limit=4)

    pages = list(adapter.customers(None))

    assert refs(pages) == [["C-1", "C-2"], ["C-3", "C-4"], ["C-5", "C-6"], ["C-7"]]
    sent = [query(c) for c in calls_to(zoho, z.ACCOUNTS)]
    assert [(q.get("page"), q.get("page_token")) for q in sent] == [
        ("1", None),
        ("2", None),
        (None, "t3"),  # page 3 would pass the limit: the token page 2 gave
        (None, "t4"),
    ]
    assert {q["per_page"] for q in sent} == {"2"}
    assert {q["sort_by"] + " " + q["sort_order"] for q in sent} == {"Modified_Time asc"}
    assert sent[0]["fields"] == "Account_Name,Account_Number,Credit_Limit,Modified_Time,Currency"
    assert [p.watermark for p in pages][-1] == Watermark(
        datetime(2026, 11, 20, 10, 7, tzinfo=UTC), str(BASE_ID + 7)
    )
    assert "If-Modified-Since" not in calls_to(zoho, z.ACCOUNTS)[0].request.headers


def test_currency_is_requested_only_where_the_organisation_has_multi_currency(zoho, make_adapter):
    # Zoho's Currency field exists only in a multi-currency org (GET /org's mc_status).
    tokens(zoho)
    zoho.replace(responses.GET, z.ORG, json=z.org(multi_currency=False))
    plain = {k: v for k, v in row(1).items() if k != "Currency"}
    zoho.get(z.ACCOUNTS, json=z.records([plain]))
    zoho.get(z.ACCOUNTS, json=z.records([plain]))
    adapter = make_adapter(currency="EUR")

    assert refs(adapter.customers(None)) == [["C-1"]]
    assert refs(adapter.customers(None)) == [["C-1"]]

    sent = [query(c)["fields"] for c in calls_to(zoho, z.ACCOUNTS)]
    assert sent == ["Account_Name,Account_Number,Credit_Limit,Modified_Time"] * 2
    assert len(calls_to(zoho, z.ORG)) == 1  # asked once per adapter


def test_a_token_without_the_org_scope_reads_currency_as_before_with_a_warning(
    zoho, make_adapter, caplog
):
    # A refresh token made under the old README may lack ZohoCRM.org.READ: the source it
    # belongs to must go on syncing, requesting Currency as it always did.
    tokens(zoho)
    scope = z.error("OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")
    zoho.replace(responses.GET, z.ORG, status=401, json=scope)
    zoho.get(z.ACCOUNTS, json=z.records([row(1)]))
    zoho.get(z.ACCOUNTS, json=z.records([row(2)]))
    adapter = make_adapter()
    caplog.set_level(logging.WARNING, logger="adapters.zoho")

    assert refs(adapter.customers(None)) == [["C-1"]]
    assert refs(adapter.customers(None)) == [["C-2"]]

    sent = [query(c)["fields"] for c in calls_to(zoho, z.ACCOUNTS)]
    assert sent == ["Account_Name,Account_Number,Credit_Limit,Modified_Time,Currency"] * 2
    assert len(calls_to(zoho, z.ORG)) == 1  # asked once, not on every read
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "ZohoCRM.org.READ" in warnings[0].getMessage()


def test_another_refusal_of_the_org_read_still_fails_the_read(zoho, make_adapter):
    tokens(zoho)
    denied = z.error("NO_PERMISSION", "permission denied")
    zoho.replace(responses.GET, z.ORG, status=403, json=denied)
    adapter = make_adapter()

    with pytest.raises(ZohoRejected, match="NO_PERMISSION"):
        list(adapter.customers(None))


def test_a_configured_currency_field_is_read_without_asking_the_organisation(zoho, make_adapter):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, json=z.records([{**row(1), "Waehrung": "CHF"}]))
    adapter = make_adapter(currency_field="Waehrung")

    (page,) = adapter.customers(None)

    assert page.records[0].currency == "CHF"
    assert query(calls_to(zoho, z.ACCOUNTS)[0])["fields"].endswith(",Waehrung")
    assert calls_to(zoho, z.ORG) == []


def test_stops_when_more_records_are_announced_without_a_token_past_the_limit(zoho, make_adapter):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, json=z.records([row(1), row(2)], per_page=2, more=True))
    adapter = make_adapter(page_size=2, page_limit=2)

    with pytest.raises(ZohoRejected, match="no next_page_token"):
        list(adapter.customers(None))


def test_an_incremental_read_sends_the_watermark_and_keeps_only_what_follows_it(zoho, make_adapter):
    tokens(zoho)
    # Should Zoho ignore the header, older rows come too: they are dropped, and the watermark
    # never moves back. The row at the watermark itself was read last time.
    old, seen, tie, later = row(3), row(5), row(6, minute=5), row(9)
    zoho.get(z.ACCOUNTS, json=z.records([old, seen, tie, later]))
    adapter = make_adapter(overlap=timedelta(0))
    since = Watermark(datetime(2026, 11, 20, 10, 5, tzinfo=UTC), str(BASE_ID + 5))

    pages = list(adapter.customers(since))

    (sent,) = calls_to(zoho, z.ACCOUNTS)
    assert sent.request.headers["If-Modified-Since"] == "2026-11-20T10:04:59+00:00"
    assert refs(pages) == [["C-6", "C-9"]]
    assert pages[0].watermark == Watermark(datetime(2026, 11, 20, 10, 9, tzinfo=UTC), later["id"])


def test_with_an_overlap_the_read_starts_that_much_before_the_watermark(zoho, make_adapter):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, json=z.records([row(1), row(3), row(5), row(6)]))
    adapter = make_adapter(overlap=timedelta(minutes=2))
    since = Watermark(datetime(2026, 11, 20, 10, 5, tzinfo=UTC), str(BASE_ID + 5))

    pages = list(adapter.customers(since))

    (sent,) = calls_to(zoho, z.ACCOUNTS)
    assert sent.request.headers["If-Modified-Since"] == "2026-11-20T10:03:00+00:00"
    assert refs(pages) == [["C-3", "C-5", "C-6"]]  # re-reading is harmless: upserts
    assert pages[0].watermark == Watermark(
        datetime(2026, 11, 20, 10, 6, tzinfo=UTC), str(BASE_ID + 6)
    )


def test_a_page_re_read_within_the_overlap_does_not_move_the_watermark_back(zoho, make_adapter):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, json=z.records([row(3), row(4)]))  # the watermark's own row is gone
    since = Watermark(datetime(2026, 11, 20, 10, 5, tzinfo=UTC), str(BASE_ID + 5))

    (page,) = list(make_adapter(overlap=timedelta(minutes=2)).customers(since))

    assert refs([page]) == [["C-3", "C-4"]]
    assert page.watermark == since


def test_a_page_of_only_older_rows_yields_nothing(zoho, make_adapter):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, json=z.records([row(1), row(2)]))
    since = Watermark(datetime(2026, 11, 20, 11, 0, tzinfo=UTC), str(BASE_ID + 60))

    assert list(make_adapter().customers(since)) == []


@pytest.mark.parametrize("status", [204, 304])
def test_nothing_modified_yields_nothing(zoho, make_adapter, status):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, status=status)

    assert list(make_adapter().customers(None)) == []


def test_an_account_without_the_erp_number_is_a_record_error_and_the_rest_lands(zoho, make_adapter):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, json=z.records([row(1), row(2, number=None), row(3, number="  ")]))
    zoho.get(z.ACCOUNTS, json=z.records([row(4)]))

    (page,) = list(make_adapter().customers(None))

    assert refs([page]) == [["C-1"]]
    why = "no ERP customer number (Account_Number is empty)"
    assert page.errors == [
        RecordError("customers", f"Accounts,{BASE_ID + 2}", why),
        RecordError("customers", f"Accounts,{BASE_ID + 3}", why),
    ]
    # The page's watermark covers the skipped Accounts too: they are not read again.
    assert page.watermark is not None and page.watermark.last_id == str(BASE_ID + 3)


def test_maps_name_limit_and_currency_exactly(zoho, make_adapter):
    tokens(zoho)
    # On the wire 250000.1 is a JSON number: read with parse_float=Decimal it stays exact.
    rows = [
        row(1, limit=250000.1, currency="USD"),
        row(2, limit=None, currency=None),  # no Currency: the source's default applies
        row(3, limit=-5),
        row(4, limit=10.005),
        row(5, currency="XBT"),
    ]
    zoho.get(z.ACCOUNTS, json=z.records(rows))

    (page,) = list(make_adapter(currency="CNY").customers(None))

    assert page.records == [
        CustomerData("C-1", "Customer 1", Decimal("250000.10"), "USD"),
        CustomerData("C-2", "Customer 2", None, "CNY"),
    ]
    assert [e.reason for e in page.errors] == [
        "Credit_Limit is negative",
        "Credit_Limit: EUR amounts have at most 2 decimal places",
        "currency 'XBT' is not an ISO 4217 code",
    ]


def test_a_credit_limit_given_as_text_must_be_a_decimal_string_and_a_bool_is_no_amount(
    zoho, make_adapter
):
    """The shared field rules (adapters/fields.py), as the CSV reader and the API apply them:
    Zoho's mapping once read "1e3" as 1,000.00 and "+10" as 10.00."""
    tokens(zoho)
    limits = ["2500.50", "1e3", "+10", "1_000", True]
    zoho.get(z.ACCOUNTS, json=z.records([row(n, limit=v) for n, v in enumerate(limits, 1)]))

    (page,) = list(make_adapter().customers(None))

    assert page.records == [CustomerData("C-1", "Customer 1", Decimal("2500.50"), "EUR")]
    assert [e.reason for e in page.errors] == [
        f"Credit_Limit '1e3' must be {DECIMAL_TEXT_RULE}",
        f"Credit_Limit '+10' must be {DECIMAL_TEXT_RULE}",
        f"Credit_Limit '1_000' must be {DECIMAL_TEXT_RULE}",
        "Credit_Limit is not an amount: True",
    ]


def test_without_currency_or_default_the_account_is_a_record_error(zoho, make_adapter):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, json=z.records([row(1, currency=None)]))

    (page,) = list(make_adapter().customers(None))

    assert page.records == []
    (error,) = page.errors
    assert (
        error.reason == "currency None is not an ISO 4217 code (set the source's default currency)"
    )


def test_groups_invoices_and_payments_yield_nothing(zoho, make_adapter):
    adapter = make_adapter()

    assert list(adapter.groups(None)) == []
    assert list(adapter.invoices(None)) == []
    assert list(adapter.payments(None)) == []
    assert len(zoho.calls) == 0  # not even a token
