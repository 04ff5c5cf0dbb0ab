"""Incremental reads, a server that goes away mid-read, and sessions that expire: real trytond."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.http import TransientError, new_retrying
from gating.records import CustomerData, PaymentData
from tests.tryton.faults import FaultProxy
from tests.tryton.harness import TrytonServer
from tests.tryton.scenario import Invoice, days

ENTITIES = ("customers", "invoices", "payments")


def read_all(pages):
    pages = list(pages)
    return [r for p in pages for r in p.records], pages


def test_an_incremental_read_returns_only_what_changed_and_moves_the_watermark(
    tryton, make_adapter
):
    books = tryton.books
    one, two = books.parties(("C-1", "One", "1000"), ("C-2", "Two", None))
    first, _ = books.invoices(Invoice(one, "500.00"), Invoice(two, "80.00"))
    books.unapplied_payment(two, "10.00")
    adapter = make_adapter(tryton)
    marks = {
        entity: read_all(getattr(adapter, entity)(None))[1][-1].watermark for entity in ENTITIES
    }

    books.set_credit_limit(two, "750.00")
    paid = books.pay(first, "200.00")
    on_account = books.unapplied_payment(one, "25.00")

    customers, customer_pages = read_all(adapter.customers(marks["customers"]))
    invoices, invoice_pages = read_all(adapter.invoices(marks["invoices"]))
    payments, payment_pages = read_all(adapter.payments(marks["payments"]))

    assert customers == [CustomerData("C-2", "Two", Decimal("750.00"), "USD")]
    assert [(i.ref, i.total, i.open_amount) for i in invoices] == [
        (str(first), Decimal("500.00"), Decimal("300.00"))
    ]
    assert payments == [
        PaymentData(str(paid), "C-1", days(0), "USD", Decimal("200.00"), Decimal("0.00")),
        PaymentData(str(on_account), "C-1", days(0), "USD", Decimal("25.00"), Decimal("25.00")),
    ]
    new_marks = {
        "customers": customer_pages[-1].watermark,
        "invoices": invoice_pages[-1].watermark,
        "payments": payment_pages[-1].watermark,
    }
    for entity in ENTITIES:
        old, new = marks[entity], new_marks[entity]
        assert (new.changed_at, int(new.last_id)) > (old.changed_at, int(old.last_id))
        assert list(getattr(adapter, entity)(new_marks[entity])) == []


def backdate(server: TrytonServer, table: str, row_id: int, to: datetime) -> None:
    """Stamp a row as Tryton would stamp it had its transaction started at `to`: what a
    transaction that was still running during a read leaves behind once it commits."""
    stamp = to.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with closing(sqlite3.connect(server.db_dir / f"{server.database}.sqlite")) as db, db:
        db.execute(
            f"UPDATE {table} SET create_date = ?, write_date = NULL WHERE id = ?",
            (stamp, row_id),
        )


def test_the_overlap_reads_again_what_a_late_committing_transaction_stamped_before_the_watermark(
    tryton, make_adapter
):
    books = tryton.books
    books.parties(("C-1", "One", "1000"))
    mark = list(make_adapter(tryton).customers(None))[-1].watermark
    (late,) = books.parties(("C-2", "Late", "500"))
    backdate(tryton, "party_party", late, mark.changed_at - timedelta(seconds=30))

    def refs(overlap: timedelta) -> list[str]:
        # Only this test's parties: a template database built moments ago also has its
        # company's party inside a minute's overlap.
        read, _ = read_all(make_adapter(tryton, overlap=overlap).customers(mark))
        return [c.ref for c in read if c.ref in ("C-1", "C-2")]

    assert refs(timedelta(0)) == []  # the loss the overlap exists for
    assert refs(timedelta(minutes=1)) == ["C-2", "C-1"]  # C-1 again: upserts are idempotent
    assert refs(timedelta(seconds=10)) == ["C-1"]  # a transaction longer than the overlap: missed
    # The progress count honours the overlap too: it counts what the same read returns.
    minute = timedelta(minutes=1)
    read, _ = read_all(make_adapter(tryton, overlap=minute).customers(mark))
    assert make_adapter(tryton, overlap=minute).count("customers", mark) == len(read) >= 2


def test_a_server_stopped_mid_read_fails_the_read_and_a_restart_resumes_from_the_watermark(
    tryton, make_adapter
):
    tryton.books.parties(*[(f"P-{n}", f"Party {n}", f"{n}00") for n in range(1, 8)])
    everything, _ = read_all(make_adapter(tryton).customers(None))
    sleeps: list[float] = []
    adapter = make_adapter(tryton, page_size=3, retrying=new_retrying(3, sleep=sleeps.append))

    pages = adapter.customers(None)
    first = next(pages)
    tryton.stop()
    with pytest.raises(TransientError, match="failed to connect"):
        next(pages)
    assert len(sleeps) == 2 and 1 <= sleeps[0] < sleeps[1]  # backed off before giving up

    tryton.start()
    rest, _ = read_all(adapter.customers(first.watermark))

    assert [*first.records, *rest] == everything
    assert len(everything) == 8  # seven parties and the company's own


def test_logs_in_again_once_when_the_session_has_expired(tryton_install, tmp_path, make_adapter):
    server = TrytonServer(tryton_install, tmp_path / "short-sessions")
    server.start(session_max_age=2)
    try:
        server.books.party("C-1", "One", "10")
        with FaultProxy(server.url) as proxy:
            adapter = make_adapter(server, url=proxy.url)
            before, _ = read_all(adapter.customers(None))
            assert proxy.calls["common.db.login"] == 1

            time.sleep(2.1)  # past [session] max_age: Tryton answers the old session with 401
            after, _ = read_all(adapter.customers(None))
    finally:
        server.stop()

    assert after == before
    assert proxy.calls["common.db.login"] == 2
    assert proxy.calls["model.party.party.search_read"] == 3  # the 401, then the same call again
    assert proxy.faults == []
