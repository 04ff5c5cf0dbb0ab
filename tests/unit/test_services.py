"""The gate's use cases over the in-memory store: reservations, replays, amendments, events."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from gating.errors import (
    CurrencyRateMissing,
    DecisionNotFound,
    OrderNotFound,
    SourceNotFound,
)
from gating.model import Balance, OrderRequest, Outcome, Thresholds
from gating.money import Rates
from gating.services import (
    GateResult,
    OrderEventAnswer,
    apply_order_event,
    credit_position,
    decide_locked,
    gate_order,
    get_decision,
)
from tests.fakes import FakeStore, FakeUnitOfWork, FixedClock

SHANGHAI = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 22, 9, 30, tzinfo=SHANGHAI)
RATES = Rates("USD", {"CNY": Decimal("0.125"), "EUR": Decimal("1.25")})
TH = Thresholds(version=3)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def store() -> FakeStore:
    """C-42: limit 100000.00 CNY, 60000.00 CNY invoiced (due mid-2027), in group G-1
    (limit 120000.00 CNY) with C-43, who has a limit of 100000.00 CNY and owes nothing."""
    store = FakeStore()
    store.add_source("erp", last_success_at=NOW - timedelta(hours=1))
    store.set_thresholds(TH)
    store.add_group("G-1", currency="CNY", credit_limit="120000.00", name="Acme Holding")
    store.add_customer("erp", "C-42", currency="CNY", credit_limit="100000.00", group="G-1")
    store.add_customer("erp", "C-43", currency="CNY", credit_limit="100000.00", group="G-1")
    store.add_invoice(
        "erp", "C-42", "INV-100", due="2027-06-30", open_amount="60000.00", currency="CNY"
    )
    return store


def gate(
    store: FakeStore,
    clock: FixedClock,
    order_id: str,
    amount: str,
    currency: str = "CNY",
    customer: str = "C-42",
) -> GateResult:
    request = OrderRequest("erp", order_id, customer, Decimal(amount), currency)
    return gate_order(
        request, uow=FakeUnitOfWork(store), clock=clock, rates=RATES, caller="client:erp"
    )


def event(store: FakeStore, clock: FixedClock, order_id: str, name: str) -> OrderEventAnswer:
    return apply_order_event(
        "erp", order_id, name, uow=FakeUnitOfWork(store), clock=clock, caller="client:erp"
    )


def reserved(store: FakeStore, customer: str = "C-42", currency: str = "CNY") -> Decimal:
    return store.customer_balance("erp", customer, currency).reserved


def group_reserved(store: FakeStore, currency: str = "CNY") -> Decimal:
    return store.group_balance("G-1", currency).reserved


def shown(result: GateResult) -> tuple[str, str]:
    """(exposure, available) as the response shows them."""
    customer = result.record.response["customer"]
    return customer["exposure"], customer["available"]


def credit(store: FakeStore, clock: FixedClock, customer: str = "C-42") -> Mapping[str, Any]:
    return credit_position("erp", customer, uow=FakeUnitOfWork(store), clock=clock, rates=RATES)


def codes(result: GateResult) -> list[str]:
    return [r["code"] for r in result.record.response["reasons"]]


# --- reservations -------------------------------------------------------------------------


def test_an_approved_order_reserves_its_amount_and_the_next_order_sees_it(
    store: FakeStore, clock: FixedClock
) -> None:
    first = gate(store, clock, "SO-1", "30000.00")
    second = gate(store, clock, "SO-2", "10000.01")
    third = gate(store, clock, "SO-3", "10000.00")

    assert first.record.outcome is Outcome.APPROVED
    assert shown(first) == ("90000.00", "10000.00")
    assert second.record.outcome is Outcome.BLOCKED
    assert codes(second) == ["CREDIT_LIMIT_EXCEEDED"]
    assert shown(second) == ("90000.00", "10000.00")  # a blocked order is not included
    assert third.record.outcome is Outcome.APPROVED
    assert shown(third) == ("100000.00", "0.00")
    assert reserved(store) == Decimal("40000.00")
    assert group_reserved(store) == Decimal("40000.00")


def test_a_blocked_order_reserves_nothing(store: FakeStore, clock: FixedClock) -> None:
    result = gate(store, clock, "SO-1", "40000.01")

    assert result.record.outcome is Outcome.BLOCKED
    assert reserved(store) == Decimal("0")
    order = store.order("erp", "SO-1")
    assert order is not None
    assert order.reserved == Decimal("0")
    assert order.last_outcome is Outcome.BLOCKED


def test_an_order_in_another_currency_reserves_in_that_currency(
    store: FakeStore, clock: FixedClock
) -> None:
    first = gate(store, clock, "SO-1", "3750.00", "USD")  # 30000.00 CNY
    second = gate(store, clock, "SO-2", "10000.01")

    assert shown(first) == ("90000.00", "10000.00")
    assert store.customer_balance("erp", "C-42", "USD") == Balance(
        "USD", Decimal("0"), Decimal("0"), Decimal("3750.00")
    )
    assert second.record.outcome is Outcome.BLOCKED


def test_a_sibling_in_the_group_sees_the_reservation_against_the_group_limit(
    store: FakeStore, clock: FixedClock
) -> None:
    gate(store, clock, "SO-1", "30000.00")  # group: 60000 + 30000 = 90000 of 120000

    over = gate(store, clock, "SO-2", "30000.01", customer="C-43")
    within = gate(store, clock, "SO-3", "30000.00", customer="C-43")

    assert over.record.outcome is Outcome.BLOCKED
    assert codes(over) == ["GROUP_LIMIT_EXCEEDED"]
    assert shown(over) == ("0.00", "100000.00")  # C-43 itself is far from its own limit
    assert within.record.outcome is Outcome.APPROVED
    assert group_reserved(store) == Decimal("60000.00")
    assert reserved(store, "C-43") == Decimal("30000.00")


def _race(store: FakeStore, clock: FixedClock, *orders: tuple[str, str]) -> dict[str, GateResult]:
    """Gate (order_id, customer) pairs of 40000.00 CNY at once, each in its own thread; the
    store makes them meet after reading, so nothing but its locks keeps them apart."""
    store.meet_after_reading(len(orders))
    start = threading.Barrier(len(orders))
    results: dict[str, GateResult] = {}

    def race(order_id: str, customer: str) -> None:
        start.wait()
        results[order_id] = gate(store, clock, order_id, "40000.00", customer=customer)

    threads = [threading.Thread(target=race, args=order) for order in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    return results


def test_two_orders_racing_for_the_last_credit_cannot_both_pass(
    store: FakeStore, clock: FixedClock
) -> None:
    results = _race(store, clock, ("SO-A", "C-42"), ("SO-B", "C-42"))  # 40000.00 left

    assert sorted(r.record.outcome for r in results.values()) == [
        Outcome.APPROVED,
        Outcome.BLOCKED,
    ]
    assert reserved(store) == Decimal("40000.00")


def test_two_customers_racing_for_their_group_s_last_credit_cannot_both_pass(
    store: FakeStore, clock: FixedClock
) -> None:
    # G-1: 120000.00 - 60000.00 = 60000.00 left; each customer has room for 40000.00 alone.
    results = _race(store, clock, ("SO-A", "C-42"), ("SO-B", "C-43"))

    outcomes = sorted((r.record.outcome, tuple(codes(r))) for r in results.values())
    assert outcomes == [(Outcome.APPROVED, ()), (Outcome.BLOCKED, ("GROUP_LIMIT_EXCEEDED",))]
    assert group_reserved(store) == Decimal("40000.00")


def test_a_decision_waits_for_the_customer_s_lock_and_decides_on_what_its_holder_committed(
    store: FakeStore, clock: FixedClock
) -> None:
    holder = FakeUnitOfWork(store)
    answers: list[GateResult] = []
    with holder:
        # Another transaction decides SO-0 and holds C-42's lock, not yet committed.
        first = decide_locked(
            holder, OrderRequest("erp", "SO-0", "C-42", Decimal("40000.00"), "CNY"), NOW,
            RATES, "client:erp",
        )  # fmt: skip
        waiting = threading.Thread(
            target=lambda: answers.append(gate(store, clock, "SO-1", "40000.00"))
        )
        waiting.start()
        waiting.join(timeout=0.3)
        still_waiting = waiting.is_alive()
        holder.commit()
    waiting.join(timeout=10)

    assert first.record.outcome is Outcome.APPROVED
    assert still_waiting and not waiting.is_alive()
    assert answers[0].record.outcome is Outcome.BLOCKED  # it saw SO-0's reservation
    assert reserved(store) == Decimal("40000.00")


# --- retries and amendments ---------------------------------------------------------------


def test_replaying_an_approved_order_returns_the_same_decision_and_reserves_once(
    store: FakeStore, clock: FixedClock
) -> None:
    first = gate(store, clock, "SO-1", "30000.00")
    clock.advance(minutes=5)
    again = gate(store, clock, "SO-1", "30000.0")  # the same amount, written differently

    assert again.replayed is True
    assert again.record.id == first.record.id
    assert again.record.response == first.record.response
    assert len(store.decisions) == 1
    assert reserved(store) == Decimal("30000.00")
    assert group_reserved(store) == Decimal("30000.00")


def test_the_same_amount_in_another_currency_is_decided_again(
    store: FakeStore, clock: FixedClock
) -> None:
    first = gate(store, clock, "SO-1", "3750.00")
    second = gate(store, clock, "SO-1", "3750.00", "USD")  # 30000.00 CNY

    assert second.replayed is False
    assert second.record.id != first.record.id
    assert second.record.previous_id == first.record.id
    assert second.record.outcome is Outcome.APPROVED
    assert shown(second) == ("90000.00", "10000.00")  # the CNY reservation was replaced
    assert reserved(store, currency="CNY") == Decimal("0")
    assert reserved(store, currency="USD") == Decimal("3750.00")


def test_a_blocked_order_retried_after_its_limit_is_raised_is_approved_and_linked(
    store: FakeStore, clock: FixedClock
) -> None:
    first = gate(store, clock, "SO-1", "50000.00")  # 110000 > 100000
    store.set_credit_limit("erp", "C-42", "150000.00")
    clock.advance(hours=2)
    second = gate(store, clock, "SO-1", "50000.00")

    assert first.record.outcome is Outcome.BLOCKED
    assert second.replayed is False
    assert second.record.outcome is Outcome.APPROVED
    assert second.record.id != first.record.id
    assert second.record.previous_id == first.record.id
    assert second.record.decided_at == NOW + timedelta(hours=2)
    assert shown(second) == ("110000.00", "40000.00")
    assert reserved(store) == Decimal("50000.00")
    assert [d.id for d in store.decisions] == [first.record.id, second.record.id]
    order = store.order("erp", "SO-1")
    assert order is not None
    assert order.last_decision_id == second.record.id


def test_a_blocked_order_retried_unchanged_is_recorded_again_and_linked(
    store: FakeStore, clock: FixedClock
) -> None:
    first = gate(store, clock, "SO-1", "50000.00")
    second = gate(store, clock, "SO-1", "50000.00")
    third = gate(store, clock, "SO-1", "50000.00")

    assert [r.record.outcome for r in (first, second, third)] == [Outcome.BLOCKED] * 3
    assert not second.replayed
    assert second.record.previous_id == first.record.id
    assert third.record.previous_id == second.record.id
    assert len(store.decisions) == 3


def test_an_amendment_with_a_new_amount_replaces_the_reservation(
    store: FakeStore, clock: FixedClock
) -> None:
    first = gate(store, clock, "SO-1", "30000.00")
    amended = gate(store, clock, "SO-1", "40000.00")  # 60000 + 40000, not + 30000 + 40000

    assert amended.record.outcome is Outcome.APPROVED
    assert amended.record.previous_id == first.record.id
    assert shown(amended) == ("100000.00", "0.00")
    assert reserved(store) == Decimal("40000.00")
    assert group_reserved(store) == Decimal("40000.00")


def test_a_blocked_amendment_leaves_the_earlier_approved_reservation_standing(
    store: FakeStore, clock: FixedClock
) -> None:
    approved = gate(store, clock, "SO-1", "30000.00")
    amended = gate(store, clock, "SO-1", "50000.00")  # 60000 + 50000 > 100000
    other = gate(store, clock, "SO-2", "10000.01")  # 60000 + 30000 still held + 10000.01
    retried = gate(store, clock, "SO-1", "50000.00")

    assert amended.record.outcome is Outcome.BLOCKED
    assert codes(amended) == ["CREDIT_LIMIT_EXCEEDED"]  # the reasons are the rules' own
    # The ERP keeps SO-1 at its approved 30000: it still counts, before and after.
    assert shown(amended) == ("90000.00", "10000.00")
    standing = {
        "amount": "30000.00",
        "currency": "CNY",
        "customer_id": "C-42",
        "decision_id": approved.record.id,
        "expires_at": (NOW + timedelta(days=TH.reservation_days)).isoformat(),
    }
    assert amended.record.response["standing_reservation"] == standing
    assert amended.record.snapshot["standing_reservation"] == standing
    assert amended.record.snapshot["reserved"] is None
    assert other.record.outcome is Outcome.BLOCKED
    assert "standing_reservation" not in other.record.response  # a new order has none
    assert retried.record.response["standing_reservation"] == standing  # still the approval's
    assert reserved(store) == Decimal("30000.00")
    assert group_reserved(store) == Decimal("30000.00")
    order = store.order("erp", "SO-1")
    assert order is not None
    assert (order.amount, order.last_outcome) == (Decimal("50000.00"), Outcome.BLOCKED)
    assert store.order_expires_at("erp", "SO-1") == NOW + timedelta(days=TH.reservation_days)


def test_the_issues_case_a_refused_amendment_does_not_make_room_for_another_order(
    clock: FixedClock,
) -> None:
    """Limit 10000: A 5000 approved, A amended to 11000 blocked, B 9000 must be blocked."""
    store = FakeStore()
    store.add_source("erp", last_success_at=NOW - timedelta(hours=1))
    store.set_thresholds(TH)
    store.add_customer("erp", "C-1", currency="CNY", credit_limit="10000.00")

    gate(store, clock, "A", "5000.00", customer="C-1")
    amended = gate(store, clock, "A", "11000.00", customer="C-1")
    other = gate(store, clock, "B", "9000.00", customer="C-1")

    assert amended.record.outcome is Outcome.BLOCKED
    assert amended.record.response["customer"]["exposure"] == "5000.00"
    assert other.record.outcome is Outcome.BLOCKED
    assert other.record.response["customer"]["exposure"] == "5000.00"
    assert reserved(store, "C-1") == Decimal("5000.00")


def test_an_amendment_approved_after_a_refused_one_replaces_the_standing_reservation(
    store: FakeStore, clock: FixedClock
) -> None:
    gate(store, clock, "SO-1", "30000.00")
    gate(store, clock, "SO-1", "50000.00")  # blocked: 30000 stands
    lower = gate(store, clock, "SO-1", "35000.00")  # judged as 60000 − 30000 + 30000 + 35000

    assert lower.record.outcome is Outcome.APPROVED
    assert "standing_reservation" not in lower.record.response
    assert shown(lower) == ("95000.00", "5000.00")
    assert reserved(store) == Decimal("35000.00")
    assert group_reserved(store) == Decimal("35000.00")


def test_a_cancel_after_a_refused_amendment_releases_the_standing_reservation(
    store: FakeStore, clock: FixedClock
) -> None:
    gate(store, clock, "SO-1", "30000.00")
    gate(store, clock, "SO-1", "50000.00")  # blocked: 30000 stands

    answer = event(store, clock, "SO-1", "cancelled")

    assert (answer.status, answer.released) == ("cancelled", Decimal("30000.00"))
    assert reserved(store) == Decimal("0")
    assert group_reserved(store) == Decimal("0")


def test_a_standing_reservation_lapses_when_the_approval_would_have(
    store: FakeStore, clock: FixedClock
) -> None:
    gate(store, clock, "SO-1", "30000.00")
    gate(store, clock, "SO-1", "50000.00")  # blocked: 30000 stands, until the approval's expiry
    clock.advance(days=TH.reservation_days - 1)
    store.mark_synced("erp", clock.now)
    still = gate(store, clock, "SO-2", "10000.01")
    clock.advance(days=1, seconds=1)
    store.mark_synced("erp", clock.now)
    lapsed = gate(store, clock, "SO-2", "10000.01")

    assert still.record.outcome is Outcome.BLOCKED
    assert lapsed.record.outcome is Outcome.APPROVED
    assert reserved(store) == Decimal("10000.01")
    order = store.order("erp", "SO-1")
    assert order is not None
    # Still held for a person: only the approval standing behind the amendment lapsed.
    assert (order.status, order.reserved, order.last_outcome) == ("open", 0, Outcome.BLOCKED)


def test_an_order_moved_to_another_customer_does_not_lower_the_new_customers_exposure(
    store: FakeStore, clock: FixedClock
) -> None:
    store.add_customer("erp", "C-77", currency="CNY", credit_limit="100000.00")
    store.add_invoice(
        "erp", "C-77", "INV-700", due="2026-12-20", open_amount="90000.00", currency="CNY"
    )
    approved = gate(store, clock, "SO-1", "30000.00")  # approved for C-42

    moved = gate(store, clock, "SO-1", "30000.00", customer="C-77")

    # C-77 never held SO-1's 30000: 90000 + 30000 = 120000 is over its limit.
    assert moved.record.outcome is Outcome.BLOCKED
    assert shown(moved) == ("90000.00", "10000.00")
    # The refused move leaves the order with C-42 at its approved terms, still reserved.
    assert moved.record.response["standing_reservation"]["customer_id"] == "C-42"
    assert reserved(store, "C-42") == Decimal("30000.00")
    assert reserved(store, "C-77") == Decimal("0")
    order = store.order("erp", "SO-1")
    assert order is not None
    assert (order.customer_ref, order.last_decision_id) == ("C-42", approved.record.id)
    assert moved.record.previous_id == approved.record.id
    assert moved.record.id in {d.id for d in store.decisions}


def test_an_approved_order_asked_in_another_currency_and_refused_keeps_its_reservation(
    store: FakeStore, clock: FixedClock
) -> None:
    gate(store, clock, "SO-1", "30000.00")
    asked = gate(store, clock, "SO-1", "6000.00", currency="EUR")  # 60000 CNY: over the limit

    assert asked.record.outcome is Outcome.BLOCKED
    assert shown(asked) == ("90000.00", "10000.00")
    assert asked.record.response["standing_reservation"]["currency"] == "CNY"
    assert reserved(store) == Decimal("30000.00")
    assert reserved(store, currency="EUR") == Decimal("0")
    assert gate(store, clock, "SO-1", "30000.00").replayed  # the ERP's order as approved


# --- order events -------------------------------------------------------------------------


def test_a_cancelled_order_releases_the_reservation_and_is_idempotent(
    store: FakeStore, clock: FixedClock
) -> None:
    gate(store, clock, "SO-1", "30000.00")

    first = event(store, clock, "SO-1", "cancelled")
    second = event(store, clock, "SO-1", "cancelled")
    after = gate(store, clock, "SO-2", "40000.00")  # the released credit is available again

    assert (first.status, first.released) == ("cancelled", Decimal("30000.00"))
    assert (second.status, second.released) == ("cancelled", Decimal("0"))
    assert first.before.reserved == Decimal("30000.00")  # what it held before
    assert [e.details["released"] for e in store.audit] == ["30000.00", "0.00"]
    assert store.audit[0].action == "order_cancelled"
    assert store.audit[0].subject == "order:erp/SO-1"
    assert after.record.outcome is Outcome.APPROVED
    assert reserved(store) == Decimal("40000.00")
    assert group_reserved(store) == Decimal("40000.00")


def test_an_invoiced_order_still_counts_until_its_invoice_is_loaded(
    store: FakeStore, clock: FixedClock
) -> None:
    gate(store, clock, "SO-1", "30000.00")

    first = event(store, clock, "SO-1", "invoiced")
    second = event(store, clock, "SO-1", "invoiced")
    cancelled = event(store, clock, "SO-1", "cancelled")  # the invoice exists at the ERP
    blocked = gate(store, clock, "SO-2", "10000.01")  # 60000 + 30000 invoiced + 10000.01
    until = NOW + timedelta(hours=48)  # the default max_data_age_hours

    for answer in (first, second, cancelled):
        assert (answer.status, answer.released) == ("invoiced_awaiting_sync", Decimal("0"))
        assert answer.counted_until == until
    assert store.audit[0].details == {
        "released": "0.00",
        "currency": "CNY",  # every amount an export carries is beside its currency
        "status": "invoiced_awaiting_sync",
        "counted_until": until.isoformat(),
    }
    assert blocked.record.outcome is Outcome.BLOCKED
    assert reserved(store) == Decimal("30000.00")
    position = credit(store, clock)
    assert position["invoiced_awaiting_sync"] == [
        {
            "order_id": "SO-1",
            "amount": Decimal("30000.00"),
            "currency": "CNY",
            "counted_until": until,
        }
    ]
    assert position["exposure"]["reservations"] == Decimal("30000.00")

    store.invoice_order("erp", "SO-1", "30000.00")  # the sync loads INV for SO-1

    assert reserved(store) == Decimal("0")
    assert gate(store, clock, "SO-3", "40000.00").record.outcome is Outcome.APPROVED
    assert credit(store, clock)["invoiced_awaiting_sync"] == []
    order = store.order("erp", "SO-1")
    assert order is not None and order.status == "invoiced"


def test_a_partly_loaded_invoice_leaves_the_rest_of_an_invoiced_order_counted(
    store: FakeStore, clock: FixedClock
) -> None:
    gate(store, clock, "SO-1", "30000.00")
    event(store, clock, "SO-1", "invoiced")

    store.invoice_order("erp", "SO-1", "20000.00")

    assert reserved(store) == Decimal("10000.00")
    order = store.order("erp", "SO-1")
    assert order is not None and order.status == "awaiting_sync"


def test_an_invoiced_order_whose_invoice_never_comes_lapses_after_the_data_age_bound(
    store: FakeStore, clock: FixedClock
) -> None:
    gate(store, clock, "SO-1", "30000.00")
    event(store, clock, "SO-1", "invoiced")
    clock.advance(hours=48)
    store.mark_synced("erp", clock.now)  # a sync that did not bring the invoice (yet)
    at_bound = gate(store, clock, "SO-2", "10000.01")
    clock.advance(seconds=1)
    after = gate(store, clock, "SO-3", "10000.01")

    assert at_bound.record.outcome is Outcome.BLOCKED
    assert after.record.outcome is Outcome.APPROVED
    assert reserved(store) == Decimal("10000.01")
    order = store.order("erp", "SO-1")
    assert order is not None and (order.status, order.reserved) == ("invoiced", 0)


def test_an_invoiced_order_counts_no_longer_than_its_own_expiry(
    store: FakeStore, clock: FixedClock
) -> None:
    gate(store, clock, "SO-1", "30000.00")
    clock.advance(days=TH.reservation_days, hours=-1)

    answer = event(store, clock, "SO-1", "invoiced")

    assert answer.counted_until == NOW + timedelta(days=TH.reservation_days)


def test_without_a_data_age_bound_an_invoiced_order_counts_until_its_own_expiry(
    store: FakeStore, clock: FixedClock
) -> None:
    store.set_thresholds(Thresholds(version=4, max_data_age_hours=None))
    gate(store, clock, "SO-1", "30000.00")

    answer = event(store, clock, "SO-1", "invoiced")

    assert answer.counted_until == NOW + timedelta(days=TH.reservation_days)


def test_an_event_for_a_blocked_order_closes_it_without_touching_balances(
    store: FakeStore, clock: FixedClock
) -> None:
    gate(store, clock, "SO-1", "30000.00")
    gate(store, clock, "SO-2", "50000.00")  # blocked

    event(store, clock, "SO-2", "cancelled")

    order = store.order("erp", "SO-2")
    assert order is not None
    assert order.status == "cancelled"
    assert reserved(store) == Decimal("30000.00")


def test_an_event_for_an_order_never_gated_raises_order_not_found(
    store: FakeStore, clock: FixedClock
) -> None:
    with pytest.raises(OrderNotFound, match="no order 'SO-404' has been gated for source 'erp'"):
        event(store, clock, "SO-404", "cancelled")

    assert store.commits == 0
    assert store.audit == []


def test_an_unknown_event_is_refused(store: FakeStore, clock: FixedClock) -> None:
    gate(store, clock, "SO-1", "30000.00")

    with pytest.raises(ValueError, match="unknown order event 'shipped'"):
        event(store, clock, "SO-1", "shipped")

    assert reserved(store) == Decimal("30000.00")


# --- overdue invoices through the store ---------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "outcome"),
    [("2026-10-23", Outcome.APPROVED), ("2026-10-22", Outcome.BLOCKED)],  # 30 and 31 days
)
def test_the_store_finds_invoices_31_days_overdue_but_not_30(
    store: FakeStore, clock: FixedClock, due: str, outcome: Outcome
) -> None:
    store.add_invoice("erp", "C-42", "INV-77", due=due, open_amount="100.00", currency="CNY")

    result = gate(store, clock, "SO-1", "100.00")

    assert result.record.outcome is outcome


def test_overdue_invoices_at_or_below_the_tolerance_do_not_block(
    store: FakeStore, clock: FixedClock
) -> None:
    store.set_thresholds(Thresholds(version=4, overdue_tolerance=Decimal("5.00")))
    store.add_invoice("erp", "C-42", "INV-1", due="2026-10-08", open_amount="5.00", currency="CNY")
    store.add_invoice("erp", "C-42", "INV-0", due="2026-09-01", open_amount="0", currency="CNY")

    within = gate(store, clock, "SO-1", "100.00")
    store.add_invoice("erp", "C-42", "INV-2", due="2026-10-20", open_amount="5.01", currency="CNY")
    above = gate(store, clock, "SO-2", "100.00")

    assert within.record.outcome is Outcome.APPROVED
    assert above.record.outcome is Outcome.BLOCKED
    assert above.record.response["reasons"] == [
        {
            "code": "OVERDUE_INVOICES",
            "message": "1 invoice overdue more than 30 days (oldest INV-2, 33 days)",
        }
    ]
    assert above.record.thresholds_version == 4


@pytest.mark.parametrize(
    ("cap", "message"),
    [
        (5, "3 invoices overdue more than 30 days (oldest INV-1, 52 days)"),
        (2, "2+ invoices overdue more than 30 days (oldest INV-1, 52 days)"),
    ],
)
def test_the_overdue_reason_names_the_oldest_invoice_and_caps_the_count(
    store: FakeStore, clock: FixedClock, cap: int, message: str
) -> None:
    store.set_thresholds(Thresholds(version=4, overdue_count_cap=cap))
    for number, due in (("INV-3", "2026-10-15"), ("INV-1", "2026-10-01"), ("INV-2", "2026-10-10")):
        store.add_invoice("erp", "C-42", number, due=due, open_amount="10.00", currency="CNY")

    result = gate(store, clock, "SO-1", "100.00")

    assert result.record.response["reasons"][0]["message"] == message


# --- expiry, trial amounts, staleness -----------------------------------------------------------


def test_expired_reservations_stop_counting(store: FakeStore, clock: FixedClock) -> None:
    store.set_thresholds(Thresholds(version=4, reservation_days=60, max_data_age_hours=None))
    gate(store, clock, "SO-1", "30000.00")
    assert store.order_expires_at("erp", "SO-1") == NOW + timedelta(days=60)

    clock.advance(days=60)  # exactly at expiry it still counts
    still = gate(store, clock, "SO-2", "10000.01")
    clock.advance(seconds=1)
    lapsed = gate(store, clock, "SO-3", "10000.01")

    assert still.record.outcome is Outcome.BLOCKED
    assert lapsed.record.outcome is Outcome.APPROVED
    assert shown(lapsed) == ("70000.01", "29999.99")
    order = store.order("erp", "SO-1")
    assert order is not None
    assert (order.status, order.reserved) == ("expired", Decimal("0"))
    assert reserved(store) == Decimal("10000.01")
    assert group_reserved(store) == Decimal("10000.01")


def test_a_siblings_expired_reservation_stops_counting_against_the_group(
    store: FakeStore, clock: FixedClock
) -> None:
    store.set_thresholds(Thresholds(version=4, reservation_days=60, max_data_age_hours=None))
    gate(store, clock, "SO-1", "30000.00")  # C-42: group 60000 + 30000 = 90000 of 120000
    clock.advance(days=61)

    result = gate(store, clock, "SO-2", "30000.01", customer="C-43")

    assert result.record.outcome is Outcome.APPROVED  # group 60000 + 30000.01


def test_an_amendment_after_its_reservation_expired_does_not_discount_it_again(
    store: FakeStore, clock: FixedClock
) -> None:
    store.set_thresholds(Thresholds(version=4, reservation_days=60, max_data_age_hours=None))
    gate(store, clock, "SO-1", "30000.00")
    clock.advance(days=61)

    amended = gate(store, clock, "SO-1", "45000.00")

    # The expired 30000 no longer counts, and must not be subtracted a second time:
    # 60000 + 45000 = 105000 is over the limit.
    assert amended.record.outcome is Outcome.BLOCKED
    assert shown(amended) == ("60000.00", "40000.00")
    assert reserved(store) == Decimal("0")


def test_an_unknown_customer_is_approved_up_to_the_trial_amount_across_orders(
    store: FakeStore, clock: FixedClock
) -> None:
    store.set_thresholds(Thresholds(version=4, trial_amount=Decimal("1000.00")))

    first = gate(store, clock, "SO-1", "600.00", "USD", customer="C-NEW")
    second = gate(store, clock, "SO-2", "3200.00", "CNY", customer="C-NEW")  # 400.00 USD
    third = gate(store, clock, "SO-3", "0.01", "USD", customer="C-NEW")
    amended = gate(store, clock, "SO-1", "500.00", "USD", customer="C-NEW")  # 500 + 400
    fourth = gate(store, clock, "SO-4", "100.01", "USD", customer="C-NEW")

    outcomes = [r.record.outcome for r in (first, second, third, amended, fourth)]
    assert outcomes == [
        Outcome.APPROVED,
        Outcome.APPROVED,
        Outcome.REVIEW,
        Outcome.APPROVED,
        Outcome.REVIEW,
    ]
    assert first.record.response["customer"] is None
    assert codes(third) == ["UNKNOWN_CUSTOMER"]
    assert third.record.snapshot["inputs"]["trial_reserved"] == "1000.00"
    order = store.order("erp", "SO-1")
    assert order is not None
    assert (order.reserved, order.customer_key) == (Decimal("500.00"), None)


def test_an_unknown_customers_cancelled_order_frees_its_trial_amount(
    store: FakeStore, clock: FixedClock
) -> None:
    store.set_thresholds(Thresholds(version=4, trial_amount=Decimal("1000.00")))
    gate(store, clock, "SO-1", "1000.00", "USD", customer="C-NEW")

    event(store, clock, "SO-1", "cancelled")
    result = gate(store, clock, "SO-2", "1000.00", "USD", customer="C-NEW")

    assert result.record.outcome is Outcome.APPROVED


def test_an_unknown_customer_without_a_trial_amount_goes_to_review(
    store: FakeStore, clock: FixedClock
) -> None:
    result = gate(store, clock, "SO-1", "1.00", customer="C-NEW")

    assert result.record.outcome is Outcome.REVIEW
    assert codes(result) == ["UNKNOWN_CUSTOMER"]
    order = store.order("erp", "SO-1")
    assert order is not None
    assert order.reserved == Decimal("0")


def test_a_source_that_never_synced_sends_orders_to_review(
    store: FakeStore, clock: FixedClock
) -> None:
    store.add_source("crm")
    store.add_customer("crm", "Z-1", currency="CNY", credit_limit="1000.00")

    result = gate_order(
        OrderRequest("crm", "SO-1", "Z-1", Decimal("10.00"), "CNY"),
        uow=FakeUnitOfWork(store),
        clock=clock,
        rates=RATES,
        caller="client:crm",
    )

    assert result.record.outcome is Outcome.REVIEW
    assert codes(result) == ["STALE_DATA"]


# --- transactions and records -------------------------------------------------------------------


def test_an_order_that_cannot_be_decided_leaves_nothing_behind(
    store: FakeStore, clock: FixedClock
) -> None:
    with pytest.raises(CurrencyRateMissing):
        gate(store, clock, "SO-1", "100.00", "GBP")

    assert store.commits == 0
    assert store.order("erp", "SO-1") is None
    assert store.decisions == []


def test_an_order_for_an_unknown_source_is_refused(store: FakeStore, clock: FixedClock) -> None:
    with pytest.raises(SourceNotFound):
        gate_order(
            OrderRequest("sap", "SO-1", "C-42", Decimal("1.00"), "CNY"),
            uow=FakeUnitOfWork(store),
            clock=clock,
            rates=RATES,
            caller="client:erp",
        )


def test_a_decision_is_recorded_with_its_response_and_snapshot(
    store: FakeStore, clock: FixedClock
) -> None:
    result = gate(store, clock, "SO-1", "30000.00")

    record = get_decision(result.record.id, uow=FakeUnitOfWork(store))

    assert record == result.record
    assert record.caller == "client:erp"
    assert record.thresholds_version == 3
    assert record.reason_codes == ()
    assert record.previous_id is None
    assert record.response == {
        "decision_id": record.id,
        "order_id": "SO-1",
        "outcome": "approved",
        "reasons": [],
        "customer": {
            "id": "C-42",
            "currency": "CNY",
            "credit_limit": "100000.00",
            "exposure": "90000.00",
            "available": "10000.00",
        },
        "decided_at": "2026-11-22T09:30:00+08:00",
    }
    assert record.snapshot["reserved"] == {"amount": "30000.00", "currency": "CNY"}
    assert record.snapshot["inputs"]["customer"]["exposure_before"]["total"] == "60000.00"


def test_an_unknown_decision_id_raises_decision_not_found(store: FakeStore) -> None:
    with pytest.raises(DecisionNotFound):
        get_decision("no-such-id", uow=FakeUnitOfWork(store))


def test_credit_position_shows_exposure_and_which_overdue_invoices_block(
    store: FakeStore, clock: FixedClock
) -> None:
    gate(store, clock, "SO-1", "20000.00")  # approved before the overdue invoices arrive
    store.add_invoice(
        "erp", "C-42", "INV-1", due="2026-10-01", open_amount="500.00", currency="CNY"
    )
    store.add_invoice(
        "erp", "C-42", "INV-2", due="2026-11-12", open_amount="250.00", currency="CNY"
    )
    store.add_unapplied_payment("erp", "C-42", amount="1000.00", currency="CNY")

    position = credit_position("erp", "C-42", uow=FakeUnitOfWork(store), clock=clock, rates=RATES)

    assert position["exposure"] == {
        "open_invoices": Decimal("60750.00"),
        "unapplied_payments": Decimal("1000.00"),
        "reservations": Decimal("20000.00"),
        "total": Decimal("79750.00"),
        "components": ["open_invoices", "unapplied_payments", "reservations"],
    }
    assert position["available"] == Decimal("20250.00")
    assert [
        (i["number"], i["days_overdue"], i["blocking"]) for i in position["overdue_invoices"]
    ] == [("INV-1", 52, True), ("INV-2", 10, False)]


def test_a_retried_approved_order_whose_reservation_lapsed_is_decided_again(
    store: FakeStore, clock: FixedClock
) -> None:
    store.set_thresholds(Thresholds(version=4, reservation_days=60, max_data_age_hours=None))
    first = gate(store, clock, "SO-1", "30000.00")
    clock.advance(days=61)

    again = gate(store, clock, "SO-1", "30000.00")

    assert not again.replayed
    assert again.record.id != first.record.id
    assert again.record.previous_id == first.record.id
    assert again.record.outcome is Outcome.APPROVED
    assert reserved(store) == Decimal("30000.00")  # reserved once, afresh


def test_an_unknown_customers_lapsed_trial_reservation_frees_the_trial_amount(
    store: FakeStore, clock: FixedClock
) -> None:
    store.set_thresholds(
        Thresholds(
            version=4, trial_amount=Decimal("1000.00"), reservation_days=60, max_data_age_hours=None
        )
    )
    gate(store, clock, "SO-1", "800.00", "USD", customer="C-NEW")
    blocked_by_trial = gate(store, clock, "SO-2", "800.00", "USD", customer="C-NEW")
    clock.advance(days=61)

    later = gate(store, clock, "SO-3", "800.00", "USD", customer="C-NEW")

    assert blocked_by_trial.record.outcome is Outcome.REVIEW
    assert later.record.outcome is Outcome.APPROVED
    order = store.order("erp", "SO-1")
    assert order is not None
    assert (order.status, order.reserved) == ("expired", Decimal("0"))


# --- overrides ----------------------------------------------------------------------------


def _with_overrides(**overrides: dict[str, dict[str, object]]) -> Thresholds:
    from gating.policy import thresholds_from_document, thresholds_to_document

    document = thresholds_to_document(Thresholds())
    document["overrides"] = {"groups": {}, "customers": {}, **overrides}
    return thresholds_from_document(document, version=5)


def test_a_group_override_of_the_overdue_days_moves_the_cutoff_the_store_reads_with(
    store: FakeStore, clock: FixedClock
) -> None:
    """The group is known only once the customer is read; its overdue days must still decide
    which invoices the store counts, not the global 30."""
    store.set_thresholds(
        _with_overrides(groups={"G-1": {"overdue_days": 60}, "G-2": {"overdue_days": 15}})
    )
    store.add_invoice("erp", "C-42", "INV-7", due="2026-10-01", open_amount="10.00", currency="CNY")
    store.add_group("G-2", currency="CNY", credit_limit=None)
    store.add_customer("erp", "C-50", currency="CNY", credit_limit="1000.00", group="G-2")
    store.add_invoice("erp", "C-50", "INV-8", due="2026-11-01", open_amount="10.00", currency="CNY")

    in_group = gate(store, clock, "SO-1", "100.00")  # INV-7 is 52 days overdue: within 60
    stricter = gate(store, clock, "SO-2", "100.00", customer="C-50")  # INV-8: 21 days

    assert in_group.record.outcome is Outcome.APPROVED
    assert in_group.record.snapshot["inputs"]["thresholds_overrides"] == {
        "group:G-1": {"overdue_days": 60}
    }
    assert codes(stricter) == ["OVERDUE_INVOICES"]
    assert (
        "more than 15 days (oldest INV-8, 21 days)"
        in stricter.record.response["reasons"][0]["message"]
    )
    store.add_invoice("erp", "C-42", "INV-6", due="2026-09-01", open_amount="10.00", currency="CNY")
    assert codes(gate(store, clock, "SO-3", "100.00")) == ["OVERDUE_INVOICES"]  # 82 days


def test_a_customers_own_tolerance_wins_over_its_groups(
    store: FakeStore, clock: FixedClock
) -> None:
    store.set_thresholds(
        _with_overrides(
            groups={"G-1": {"overdue_tolerance": "500.00"}},
            customers={"C-42": {"overdue_tolerance": "5.00"}},
        )
    )
    store.add_invoice("erp", "C-42", "INV-7", due="2026-10-01", open_amount="10.00", currency="CNY")
    store.add_invoice("erp", "C-43", "INV-9", due="2026-10-01", open_amount="10.00", currency="CNY")

    assert codes(gate(store, clock, "SO-1", "100.00")) == ["OVERDUE_INVOICES"]
    assert gate(store, clock, "SO-2", "100.00", customer="C-43").record.outcome is Outcome.APPROVED


def test_a_customer_not_synced_yet_may_have_its_own_trial_amount(
    store: FakeStore, clock: FixedClock
) -> None:
    store.set_thresholds(_with_overrides(customers={"C-NEW": {"trial_amount": "700.00"}}))

    first = gate(store, clock, "SO-1", "500.00", currency="USD", customer="C-NEW")
    second = gate(store, clock, "SO-2", "500.00", currency="USD", customer="C-NEW")
    stranger = gate(store, clock, "SO-3", "500.00", currency="USD", customer="C-OTHER")

    assert first.record.outcome is Outcome.APPROVED
    assert second.record.outcome is Outcome.REVIEW
    assert stranger.record.outcome is Outcome.REVIEW  # no trial amount globally
