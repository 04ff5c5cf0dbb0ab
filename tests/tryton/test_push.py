"""Warnings pushed to a real Tryton: a note on the party, once per change, and the whole night
(pull, compute, push) through the product's own wiring."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gating.errors import TargetRejected
from gating.push import WarningChange
from tests.tryton.scenario import Invoice, days
from tests.tryton.test_sync_end_to_end import SOURCE, USD_SETTINGS, add_tryton_source


@pytest.fixture
def settings_overrides():
    return dict(USD_SETTINGS)


def notes(server, party: int) -> list[str]:
    rows = server.books.rpc.model(
        "ir.note", "search_read", [["resource", "=", f"party.party,{party}"]], 0, None,
        [["id", "ASC"]], ["message"],
    )  # fmt: skip
    return [row["message"] for row in rows]


def change(ref: str, change_id: str = "0f0e0d0c-0000-4000-8000-000000000001") -> WarningChange:
    return WarningChange(
        change_id=change_id,
        customer_ref=ref,
        level="orange",
        previous_level="yellow",
        reasons=("oldest overdue invoice INV-1 is 61 days overdue (more than 60)",),
        step="lawyer's letter",
        hold=False,
        decided_at=datetime(2026, 11, 22, 2, 0, tzinfo=UTC),
    )


def test_a_change_becomes_one_note_on_the_party_however_often_it_is_pushed(tryton, make_adapter):
    (party,) = tryton.books.parties(("C-1", "One", "1000"))
    adapter = make_adapter(tryton)

    adapter.push(change("C-1"))
    adapter.push(change("C-1"))  # the answer to the first was lost, say
    adapter.push(change("C-1", "0f0e0d0c-0000-4000-8000-000000000002"))  # a later change

    messages = notes(tryton, party)
    assert len(messages) == 2
    assert messages[0].splitlines()[:3] == [
        "Credit warning: ORANGE (was yellow)",
        "Next step: lawyer's letter",
        "- oldest overdue invoice INV-1 is 61 days overdue (more than 60)",
    ]
    assert "[creditgate 0f0e0d0c-0000-4000-8000-000000000001]" in messages[0]


def test_a_customer_without_a_party_is_refused_for_good(tryton, make_adapter):
    with pytest.raises(TargetRejected, match="no single party with code 'C-404'"):
        make_adapter(tryton).push(change("C-404"))


def test_the_night_pulls_works_out_the_warnings_and_pushes_them_to_tryton(
    tryton, services, monkeypatch
):
    books = tryton.books
    slow, fine = books.parties(("C-300", "Slow Payer", "3000"), ("C-100", "Healthy", "5000"))
    books.invoices(
        Invoice(slow, "800.00", invoice_date=days(-75), due_date=days(-45)),
        Invoice(fine, "100.00", invoice_date=days(-5), due_date=days(25)),
    )
    add_tryton_source(services, tryton, monkeypatch)

    services.nightly()
    services.nightly()  # a second night: nothing changed, nothing pushed again

    levels = {w["customer_id"]: w["level"] for w in services.warning_store().levels()}
    assert levels["C-300"] == "yellow" and levels["C-100"] == "none"
    (note,) = notes(tryton, slow)
    assert note.startswith("Credit warning: YELLOW (was none)\nNext step: formal overdue notice")
    assert "is 45 days overdue (more than 30)" in note
    assert notes(tryton, fine) == []
    delivered = services.warning_store().outbox(target=SOURCE)
    assert [(r["customer_ref"], r["status"]) for r in delivered] == [("C-300", "delivered")]


def test_as_the_nights_pass_a_tryton_customer_climbs_from_reminder_to_red_one_note_each(
    tryton, services, clock, monkeypatch
):
    books = tryton.books
    (party,) = books.parties(("C-700", "Soon Due", "5000"))
    books.invoices(Invoice(party, "900.00", invoice_date=days(-28), due_date=days(2)))
    add_tryton_source(services, tryton, monkeypatch)
    start = clock.now
    nights = [(0, "REMINDER"), (20, "NOTICE"), (35, "YELLOW"), (65, "ORANGE"), (95, "RED")]

    for offset, _ in nights:
        clock.now = start
        clock.advance(days=offset)
        services.nightly()
    services.nightly()  # nothing new: no note

    messages = notes(tryton, party)
    assert [m.split("\n")[0].split(": ")[1].split(" ")[0] for m in messages] == [
        level for _, level in nights
    ]
    assert "Put this customer on hold: no new orders." in messages[-1]
    assert "invoice" in messages[0] and "falls due in 2 days" in messages[0]
