"""Sync runs against a real trytond that fails: stopped mid-sync, a proxy breaking a fifth of
the calls, a record creditgate cannot take. The data must end up equal to Tryton's, once."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from adapters.db.tables import invoices
from adapters.http import new_retrying
from connector import create_app
from sync.engine import sync_source
from tests.tryton.faults import FaultProxy
from tests.tryton.scenario import Invoice
from tests.tryton.test_sync_end_to_end import (
    SOURCE,
    USD_SETTINGS,
    add_tryton_source,
    assert_store_equals_tryton,
    codes,
    gate,
    post_book,
    reads,
    stored,
)

# (connect, read) seconds: a hung call fails fast, yet a real call is not cut short on a busy
# 2-core machine (0.3 s was, now and then); faults that hang hold longer than the read timeout.
FAST = (2.0, 1.0)
HANG = 1.5


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(USD_SETTINGS)


def stored_invoice_refs(services: Any) -> list[str]:
    with services.engine.connect() as conn:
        return sorted(conn.execute(select(invoices.c.external_id)).scalars())


def test_a_server_stopped_mid_sync_fails_the_run_and_the_next_run_resumes_from_the_watermark(
    tryton, services, keys, make_adapter, monkeypatch
):
    book = post_book(tryton)
    # Three more invoices of today, so invoices come in four pages of two.
    extra = tryton.books.invoices(
        *(Invoice(book.party["C-100"], amount) for amount in ("10.00", "20.00", "30.00"))
    )
    source_id = add_tryton_source(services, tryton, monkeypatch)
    store = services.sync_store()

    def stop_after_two_invoice_pages(
        entity: str, read: int, written: int, total: int | None
    ) -> None:
        # Called once a page is committed: the server goes down after page 2. The engine fetches
        # one page ahead while it stores, so page 3 may already be in hand: 2 or 3 pages land.
        if entity == "invoices" and read == 4:
            tryton.stop()

    first = sync_source(
        source_id,
        SOURCE,
        make_adapter(tryton, page_size=2),
        store=store,
        clock=services.clock,
        progress=stop_after_two_invoice_pages,
    )

    assert not first.ok
    landed = reads(first)["invoices"]
    assert landed in (4, 6)
    assert reads(first) == {"groups": 0, "customers": 5, "invoices": landed}  # no payments
    failure = first.entities[-1].failure
    assert failure is not None and failure.startswith("TransientError: tryton: ")
    assert "failed to connect" in failure
    assert len(stored_invoice_refs(services)) == landed  # the committed pages stayed
    assert store.source(SOURCE)["last_success_at"] is None  # not a successful sync
    watermark = store.watermark(source_id, "invoices")
    assert watermark is not None and watermark.last_id in stored_invoice_refs(services)
    client = create_app(services).test_client()
    meanwhile = gate(client, keys, "SO-1", "C-100", "10.00")
    assert (meanwhile["outcome"], codes(meanwhile)) == ("review", ["STALE_DATA"])

    tryton.start()
    second = sync_source(
        source_id, SOURCE, make_adapter(tryton, page_size=2), store=store, clock=services.clock
    )

    assert second.ok
    # Eight invoices, some already in: the rest only. Customers were done; payments not begun.
    assert reads(second) == {"groups": 0, "customers": 0, "invoices": 8 - landed, "payments": 2}
    assert store.source(SOURCE)["last_success_at"] == services.clock()
    assert set(map(str, extra)) <= set(stored_invoice_refs(services))
    assert_store_equals_tryton(services, tryton)
    balances = stored(services)["balances"]
    assert balances[("C-100", "USD")] == (Decimal("1060.00"), Decimal("300.00"))  # 1000 + 60
    after = gate(client, keys, "SO-2", "C-100", "10.00")
    assert (after["outcome"], codes(after)) == ("approved", [])
    runs = store.runs(source=SOURCE)
    assert [(r["entity"], r["status"], r["read"]) for r in reversed(runs)] == [
        ("groups", "succeeded", 0),
        ("customers", "succeeded", 5),
        ("invoices", "failed", landed),
        ("groups", "succeeded", 0),
        ("customers", "succeeded", 0),
        ("invoices", "succeeded", 8 - landed),
        ("payments", "succeeded", 2),
    ]
    failed = runs[4]
    assert failed["errors"] == [{"entity": "invoices", "reason": failure}]


def test_a_fifth_of_calls_failing_still_syncs_the_same_data_once(
    books, services, make_adapter, monkeypatch
):
    source_id = add_tryton_source(services, books.server, monkeypatch)
    with FaultProxy(books.server.url, rate=0.2, seed=7, hang=HANG) as proxy:
        adapter = make_adapter(
            books.server,
            url=proxy.url,
            page_size=1,
            timeout=FAST,
            retrying=new_retrying(10, sleep=lambda s: None),
        )
        report = sync_source(
            source_id, SOURCE, adapter, store=services.sync_store(), clock=services.clock
        )
        adapter.close()

    # The adapter makes the same calls in the same order every run, so the seed draws the
    # same faults every run: 45 calls, 16 of them broken, every kind among them.
    kinds = Counter(kind for _, kind in proxy.faults)
    print(f"{sum(proxy.calls.values())} calls, {dict(kinds)} injected: {proxy.faults}")
    assert report.ok
    # Each record read once, as by the clean sync in the next test: no page read twice.
    assert reads(report) == {"groups": 0, "customers": 5, "invoices": 8, "payments": 3}
    assert len(proxy.faults) >= 5
    assert set(kinds) == {"500", "timeout", "drop", "drop_after"}
    # Search reads lost after Tryton answered them were asked again, and counted once.
    assert any(k == "drop_after" and m.endswith("search_read") for m, k in proxy.faults)
    # The XBT invoice is the books' one record creditgate cannot take, with or without faults.
    assert [e.record_id for p in report.entities for e in p.errors] == [
        f"account.invoice,{books.invoice['X']}"
    ]
    assert_store_equals_tryton(services, books.server)


def test_a_record_creditgate_cannot_take_is_skipped_and_reported_and_the_rest_is_synced(
    books, services, keys, monkeypatch
):
    # The books' invoice X (C-900, 70.00) is in XBT, a currency that is not ISO 4217.
    add_tryton_source(services, books.server, monkeypatch)

    [report] = services.sync(SOURCE)

    assert report.ok  # a skipped record does not fail the run
    assert reads(report) == {"groups": 0, "customers": 5, "invoices": 8, "payments": 3}
    assert {p.entity: p.skipped for p in report.entities}["invoices"] == 1
    client = create_app(services).test_client()
    response = client.get(f"/api/v1/sync/runs?source={SOURCE}", headers=keys.header("admin"))
    assert response.status_code == 200
    runs = {r["entity"]: r for r in response.get_json()["runs"]}
    assert (runs["invoices"]["status"], runs["invoices"]["read"]) == ("succeeded_with_errors", 8)
    assert (runs["invoices"]["written"], runs["invoices"]["skipped"]) == (7, 1)
    assert runs["invoices"]["errors"] == [
        {
            "entity": "invoices",
            "record_id": f"account.invoice,{books.invoice['X']}",
            "reason": "currency 'XBT' is not an ISO 4217 code",
        }
    ]
    assert [runs[e]["status"] for e in ("groups", "customers", "payments")] == ["succeeded"] * 3

    # The rest landed: every other invoice, and C-900 itself with nothing open.
    have = stored(services)
    assert sorted(have["invoices"]) == sorted(
        str(i) for name, i in books.invoice.items() if name != "X"
    )
    assert "C-900" in have["customers"] and ("C-900", "USD") not in have["balances"]
    # C-100: 220.00 + 300.00 (sale) + 0.00 (E, paid) − 20.00 (credit note); 50.00 unapplied.
    # C-300: 550.00 + 330.00 − 130.00 paid. C-600: its only invoice was cancelled.
    assert have["balances"] == {
        ("C-100", "USD"): (Decimal("500.00"), Decimal("50.00")),
        ("C-300", "USD"): (Decimal("750.00"), Decimal("0.00")),
    }
    assert services.sync_store().source(SOURCE)["last_success_at"] == services.clock()
    assert_store_equals_tryton(services, books.server)
