"""Releases, rejections and automatic releases are told to the ERP through its callback URL,
signed like the webhook, each exactly once however often the outbox is pushed."""

from __future__ import annotations

from typing import Any

import pytest

from gating.commands import ReevaluateHolds
from tests.callback_receiver import Answer, Receiver
from tests.connector.test_hold_actions import act, paid_invoices_of_c300

# --- the ERP is told, once ------------------------------------------------------------------

CALLBACK_SECRET = "whsec-erp-callback-test"


@pytest.fixture
def erp_receiver() -> Any:
    receiver = Receiver(CALLBACK_SECRET)
    yield receiver
    receiver.stop()


@pytest.fixture
def settings_overrides(erp_receiver: Receiver) -> dict[str, Any]:
    return {"callback_url": erp_receiver.url, "callback_secret": CALLBACK_SECRET}


def test_the_erp_is_told_of_a_release_exactly_once_signed(api, loaded, erp_receiver, clock):
    api.gate("SO-1", "C-300", "1000.00")
    api.gate("SO-2", "C-600", "1000.00")
    released = act(api, "SO-1", "release", reason="paid", cap="1200.00").get_json()
    rejected = act(api, "SO-2", "reject", reason="no terms").get_json()
    erp_receiver.script(Answer(503, headers={"Retry-After": "3600"}))  # down for an hour

    first = loaded.push()
    waiting = loaded.push()
    sent_while_waiting = len(erp_receiver.requests)
    clock.advance(hours=2)
    second = loaded.push()
    third = loaded.push()

    assert released["notified"] is True and rejected["notified"] is True
    assert [r.target for r in first] == ["callback"] and first[0].delivered == 0
    assert waiting[0].delivered == 0 and sent_while_waiting == 1
    assert len(erp_receiver.requests) == 3
    assert second[0].delivered == 2 and third[0].delivered == 0
    assert all(r.verdict is None for r in erp_receiver.requests)  # every request signed
    events = {e["order_id"]: e for e in erp_receiver.applied.values()}
    assert set(events) == {"SO-1", "SO-2"}
    assert (events["SO-1"]["action"], events["SO-1"]["outcome"]) == ("released", "approved")
    assert (events["SO-1"]["cap"], events["SO-1"]["actor"]) == ("1200.00", "admin-test")
    assert events["SO-1"]["decision_id"] == released["decision"]["decision_id"]
    assert (events["SO-2"]["action"], events["SO-2"]["outcome"]) == ("rejected", "blocked")
    assert erp_receiver.duplicates == 0


def test_an_automatic_release_is_told_too(api, loaded, erp_receiver, csv_dir):
    api.gate("SO-1", "C-300", "1000.00")
    loaded.import_folder(csv_dir(invoices=paid_invoices_of_c300()))

    report = loaded.writes.reevaluate_holds(ReevaluateHolds())
    loaded.push()

    assert report.released == ["default/SO-1"]

    (event,) = erp_receiver.applied.values()
    assert (event["order_id"], event["action"], event["actor"]) == (
        "SO-1",
        "auto_released",
        "system",
    )
