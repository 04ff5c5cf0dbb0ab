"""The gate rules through decide(): tables of inputs and the outcome, reasons and figures."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from gating.errors import CurrencyRateMissing
from gating.model import (
    ApprovalTier,
    Balance,
    Decision,
    GateInput,
    Money,
    OrderRequest,
    Outcome,
    OverdueInvoice,
    OverdueSummary,
    Party,
    Resolution,
    RuleVerdict,
    Thresholds,
)
from gating.money import Rates
from gating.rules import decide, exposure_of, overdue_cutoff

SHANGHAI = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 22, 9, 30, tzinfo=SHANGHAI)
# 1 CNY = 0.125 USD (8 CNY to the dollar), 1 EUR = 10 CNY, 100 JPY = 1 USD.
RATES = Rates("USD", {"CNY": Decimal("0.125"), "EUR": Decimal("1.25"), "JPY": Decimal("0.01")})
TH = Thresholds(version=7, base_currency="USD")

HOLD = "CUSTOMER_ON_HOLD"
OVERDUE = "OVERDUE_INVOICES"
LIMIT = "CREDIT_LIMIT_EXCEEDED"
GROUP = "GROUP_LIMIT_EXCEEDED"
UNKNOWN = "UNKNOWN_CUSTOMER"
NO_LIMIT = "NO_CREDIT_LIMIT"
STALE = "STALE_DATA"
APPROVAL = "APPROVAL_REQUIRED"


def balance(currency: str, open_: str = "0", unapplied: str = "0", reserved: str = "0") -> Balance:
    return Balance(currency, Decimal(open_), Decimal(unapplied), Decimal(reserved))


# Exposure 60000.00 − 5000.00 + 20000.00 = 75000.00 CNY against a 100000.00 CNY limit.
C42_BALANCES = (balance("CNY", "60000.00", "5000.00", "20000.00"),)


def customer(
    limit: str | None = "100000.00",
    *,
    currency: str = "CNY",
    balances: tuple[Balance, ...] = C42_BALANCES,
    on_hold: bool = False,
    hold_reason: str | None = None,
) -> Party:
    credit_limit = None if limit is None else Decimal(limit)
    return Party("C-42", "Acme Trading", currency, credit_limit, on_hold, hold_reason, balances, 1)


def group(
    limit: str | None = "500000.00",
    *,
    currency: str = "CNY",
    balances: tuple[Balance, ...] = (balance("CNY", "400000.00", "0", "80000.00"),),
    on_hold: bool = False,
    hold_reason: str | None = None,
) -> Party:
    credit_limit = None if limit is None else Decimal(limit)
    return Party("G-1", "Acme Holding", currency, credit_limit, on_hold, hold_reason, balances, 9)


def order(amount: str, currency: str = "CNY", order_id: str = "SO-1001") -> OrderRequest:
    return OrderRequest("erp", order_id, "C-42", Decimal(amount), currency)


_CUSTOMER = object()  # "the default customer", since None means "unknown customer"
NOTHING_OVERDUE = OverdueSummary()
AN_HOUR_AGO = NOW - timedelta(hours=1)


def gate(
    amount: str,
    currency: str = "CNY",
    *,
    cust: Party | object | None = _CUSTOMER,
    grp: Party | None = None,
    overdue: OverdueSummary = NOTHING_OVERDUE,
    last_synced_at: datetime | None = AN_HOUR_AGO,
    previous: Money | None = None,
    trial_reserved: str = "0",
    th: Thresholds = TH,
    now: datetime = NOW,
) -> Decision:
    inp = GateInput(
        order=order(amount, currency),
        customer=customer() if cust is _CUSTOMER else cust,  # type: ignore[arg-type]
        group=grp,
        overdue=overdue,
        last_synced_at=last_synced_at,
        previous_reservation=previous,
        trial_reserved=Decimal(trial_reserved),
    )
    return decide(inp, th, RATES, now)


def codes(decision: Decision) -> list[str]:
    return [r.code for r in decision.reasons]


def verdict(decision: Decision, code: str) -> RuleVerdict:
    return next(v for v in decision.verdicts if v.code == code)


def overdue_invoice(due: str, number: str = "INV-77", count: int = 1) -> OverdueSummary:
    inv = OverdueInvoice(number, date.fromisoformat(due), Decimal("1200.00"), "CNY")
    return OverdueSummary(count=count, oldest=inv)


# --- overdue ------------------------------------------------------------------------------


def test_invoice_31_days_overdue_blocks_but_30_does_not() -> None:
    thirty = gate("100.00", overdue=overdue_invoice("2026-10-23"))
    thirty_one = gate("100.00", overdue=overdue_invoice("2026-10-22"))

    assert thirty.outcome is Outcome.APPROVED
    assert codes(thirty) == []
    assert thirty_one.outcome is Outcome.BLOCKED
    assert codes(thirty_one) == [OVERDUE]


@pytest.mark.parametrize(
    ("due", "overdue_days", "blocked"),
    [
        ("2026-10-23", 30, False),  # 30 days overdue
        ("2026-10-22", 30, True),  # 31 days
        ("2026-10-08", 30, True),  # 45 days
        ("2026-09-23", 60, False),  # 60 days
        ("2026-09-22", 60, True),  # 61 days
        ("2026-11-22", 0, False),  # due today: 0 days overdue
        ("2026-11-21", 0, True),  # 1 day, with no grace at all
        ("2026-12-01", 30, False),  # not due yet
    ],
)
def test_an_invoice_trips_overdue_only_when_more_than_overdue_days_late(
    due: str, overdue_days: int, blocked: bool
) -> None:
    th = Thresholds(version=1, overdue_days=overdue_days)

    decision = gate("100.00", overdue=overdue_invoice(due), th=th)

    assert (OVERDUE in codes(decision)) is blocked
    assert decision.outcome is (Outcome.BLOCKED if blocked else Outcome.APPROVED)


def test_overdue_cutoff_is_the_first_due_date_that_does_not_block() -> None:
    assert overdue_cutoff(date(2026, 11, 22), 30) == date(2026, 10, 23)
    assert overdue_cutoff(date(2026, 3, 1), 30) == date(2026, 1, 30)


def test_today_is_the_date_in_the_business_time_zone_not_utc() -> None:
    # 01:00 in Shanghai on 22 November is still 21 November in UTC.
    early = datetime(2026, 11, 22, 1, 0, tzinfo=SHANGHAI)

    decision = gate("100.00", overdue=overdue_invoice("2026-10-22"), now=early)

    assert codes(decision) == [OVERDUE]
    assert verdict(decision, OVERDUE).figures["oldest_days_overdue"] == 31


def test_overdue_message_counts_invoices_and_names_the_oldest() -> None:
    decision = gate("100.00", overdue=overdue_invoice("2026-10-08", count=2))

    assert decision.reasons[0].message == (
        "2 invoices overdue more than 30 days (oldest INV-77, 45 days)"
    )
    figures = verdict(decision, OVERDUE).figures
    assert figures["count"] == 2
    assert figures["oldest_due_date"] == "2026-10-08"
    assert figures["oldest_open_amount"] == "1200.00"


@pytest.mark.parametrize(
    ("count", "capped", "message"),
    [
        (1, False, "1 invoice overdue more than 30 days (oldest INV-77, 45 days)"),
        (1000, True, "1000+ invoices overdue more than 30 days (oldest INV-77, 45 days)"),
    ],
)
def test_overdue_message_says_when_the_count_was_capped(
    count: int, capped: bool, message: str
) -> None:
    summary = OverdueSummary(
        count=count,
        oldest=OverdueInvoice("INV-77", date(2026, 10, 8), Decimal("10.00"), "CNY"),
        capped=capped,
    )

    decision = gate("100.00", overdue=summary)

    assert decision.reasons[0].message == message


# --- credit limit and review band ------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "review_band", "outcome", "reason_codes"),
    [
        ("25000.00", "0", Outcome.APPROVED, []),  # 75000 + 25000 = the limit exactly
        ("25000.01", "0", Outcome.BLOCKED, [LIMIT]),  # one cent over
        ("25000.01", "0.05", Outcome.REVIEW, [LIMIT]),  # just into the 5% band
        ("30000.00", "0.05", Outcome.REVIEW, [LIMIT]),  # 105000.00 = top of the band
        ("30000.01", "0.05", Outcome.BLOCKED, [LIMIT]),  # one cent above the band
        ("0.01", "0", Outcome.APPROVED, []),
    ],
)
def test_exposure_up_to_the_limit_is_approved_and_the_band_above_asks_for_review(
    amount: str, review_band: str, outcome: Outcome, reason_codes: list[str]
) -> None:
    th = Thresholds(version=1, review_band=Decimal(review_band))

    decision = gate(amount, th=th)

    assert decision.outcome is outcome
    assert codes(decision) == reason_codes


@pytest.mark.parametrize(
    ("amount", "outcome"),
    [
        ("36666.69", Outcome.REVIEW),  # 33333.35 × 0.1 = 3333.335, half up → band top 36666.69
        ("36666.70", Outcome.BLOCKED),
    ],
)
def test_review_band_top_is_rounded_half_up_to_the_cent(amount: str, outcome: Outcome) -> None:
    th = Thresholds(version=1, review_band=Decimal("0.1"))

    decision = gate(amount, cust=customer("33333.35", balances=()), th=th)

    assert decision.outcome is outcome


def test_limit_message_states_exposure_order_limit_and_excess() -> None:
    decision = gate("25000.01")

    assert decision.reasons[0].message == (
        "exposure 75,000.00 CNY + order 25,000.01 CNY exceeds the credit limit "
        "100,000.00 CNY by 0.01 CNY"
    )
    figures = verdict(decision, LIMIT).figures
    assert figures["exposure"] == "75000.00"
    assert figures["after"] == "100000.01"


def test_review_band_message_says_it_is_within_the_band() -> None:
    th = Thresholds(version=1, review_band=Decimal("0.05"))

    decision = gate("26000.00", th=th)

    assert decision.reasons[0].message.endswith("by 1,000.00 CNY (within the review band)")


# --- group limit ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "outcome", "reason_codes"),
    [
        ("20000.00", Outcome.APPROVED, []),  # group 480000 + 20000 = its limit exactly
        ("20000.01", Outcome.BLOCKED, [GROUP]),  # customer still within (95000.01 ≤ 100000)
    ],
)
def test_group_limit_blocks_even_when_the_customer_is_within_its_own_limit(
    amount: str, outcome: Outcome, reason_codes: list[str]
) -> None:
    decision = gate(amount, grp=group())

    assert decision.outcome is outcome
    assert codes(decision) == reason_codes
    assert verdict(decision, LIMIT).tripped is False


def test_group_limit_is_checked_in_the_group_currency() -> None:
    eur_group = group("50000.00", currency="EUR", balances=(balance("EUR", "48000.00"),))

    within = gate("20000.00", grp=eur_group)  # 2000.00 EUR: 50000.00 exactly
    over = gate("20000.10", grp=eur_group)  # 2000.01 EUR

    assert within.outcome is Outcome.APPROVED
    assert codes(over) == [GROUP]
    assert verdict(over, GROUP).figures["after"] == "50000.01"


def test_a_group_without_a_limit_never_trips_the_group_rule() -> None:
    decision = gate("25000.00", grp=group(None))

    assert decision.outcome is Outcome.APPROVED
    assert verdict(decision, GROUP).tripped is False


# --- currencies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "in_cny", "outcome"),
    [
        ("3125.00", "25000.00", Outcome.APPROVED),  # × 8 = the limit exactly
        ("3125.01", "25000.08", Outcome.BLOCKED),
    ],
)
def test_a_usd_order_is_converted_into_the_cny_credit_currency(
    amount: str, in_cny: str, outcome: Outcome
) -> None:
    decision = gate(amount, "USD")

    assert decision.outcome is outcome
    assert verdict(decision, LIMIT).figures["order"] == in_cny


def test_an_order_needs_no_base_currency_rate_when_no_tier_or_trial_uses_it() -> None:
    sek = customer("1000.00", currency="SEK", balances=(balance("SEK", "900.00"),))

    decision = gate("100.00", "SEK", cust=sek)

    assert decision.outcome is Outcome.APPROVED
    assert decision.inputs["order"]["amount_in_base"] is None


def test_an_approval_tier_needs_the_base_currency_rate_and_records_the_converted_amount() -> None:
    sek = customer("1000.00", currency="SEK", balances=())
    th = Thresholds(version=1, approval_tiers=TIERS)

    with pytest.raises(CurrencyRateMissing) as err:
        gate("100.00", "SEK", cust=sek, th=th)
    decision = gate("25000.00", cust=customer("10000000.00", balances=()), th=th)

    assert err.value.currency == "SEK"
    assert decision.inputs["order"]["amount_in_base"] == "3125.00"


def test_balances_in_several_currencies_are_summed_in_the_credit_currency() -> None:
    balances = (
        balance("CNY", open_="32000.00"),
        balance("EUR", open_="2000.00"),  # 20000.00 CNY
        balance("JPY", open_="100000"),  # 1000 USD = 8000.00 CNY
        balance("USD", unapplied="625.00", reserved="2500.00"),  # −5000.00, +20000.00 CNY
    )
    cust = customer(balances=balances)

    exposure = exposure_of(cust, RATES)
    decision = gate("25000.00", cust=cust)

    assert exposure.open_invoices == Decimal("60000.00")
    assert exposure.unapplied == Decimal("5000.00")
    assert exposure.reservations == Decimal("20000.00")
    assert exposure.total == Decimal("75000.00")
    assert decision.outcome is Outcome.APPROVED
    assert decision.customer is not None
    assert decision.customer.exposure == Decimal("100000.00")


def test_an_order_in_a_currency_without_a_rate_raises_instead_of_guessing() -> None:
    with pytest.raises(CurrencyRateMissing) as err:
        gate("100.00", "GBP")

    assert err.value.currency == "GBP"


def test_a_balance_in_a_currency_without_a_rate_raises_instead_of_guessing() -> None:
    cust = customer(balances=(balance("CNY", "100.00"), balance("CHF", "0.00", "0", "10.00")))

    with pytest.raises(CurrencyRateMissing) as err:
        gate("100.00", cust=cust)

    assert err.value.currency == "CHF"


def test_a_credit_currency_without_a_rate_raises_even_for_a_usd_order() -> None:
    cust = customer(currency="SEK", balances=())

    with pytest.raises(CurrencyRateMissing) as err:
        gate("100.00", "USD", cust=cust)

    assert err.value.currency == "SEK"


# --- unknown customers and the trial amount ----------------------------------------------------


def test_an_unknown_customer_without_a_trial_amount_goes_to_review() -> None:
    decision = gate("1.00", cust=None)

    assert decision.outcome is Outcome.REVIEW
    assert codes(decision) == [UNKNOWN]
    assert decision.reasons[0].message == "customer C-42 has not been synced yet"
    assert decision.customer is None
    assert decision.reserve is None


@pytest.mark.parametrize(
    ("trial_reserved", "amount", "currency", "outcome"),
    [
        ("0", "1000.00", "USD", Outcome.APPROVED),  # the whole trial at once
        ("600.00", "400.00", "USD", Outcome.APPROVED),  # 600 already held + 400 = 1000
        ("600.00", "400.01", "USD", Outcome.REVIEW),
        ("1000.00", "0.01", "USD", Outcome.REVIEW),  # trial used up
        ("600.00", "3200.00", "CNY", Outcome.APPROVED),  # 400.00 USD
        ("600.00", "3200.08", "CNY", Outcome.REVIEW),  # 400.01 USD
    ],
)
def test_an_unknown_customer_is_approved_within_the_trial_amount_including_what_is_held(
    trial_reserved: str, amount: str, currency: str, outcome: Outcome
) -> None:
    th = Thresholds(version=1, trial_amount=Decimal("1000.00"))

    decision = gate(amount, currency, cust=None, trial_reserved=trial_reserved, th=th)

    assert decision.outcome is outcome
    assert codes(decision) == [UNKNOWN]
    expected_reserve = Money(Decimal(amount), currency) if outcome is Outcome.APPROVED else None
    assert decision.reserve == expected_reserve


def test_trial_message_says_how_much_of_the_trial_is_used() -> None:
    th = Thresholds(version=1, trial_amount=Decimal("1000.00"))

    decision = gate("400.00", "USD", cust=None, trial_reserved="500.00", th=th)

    assert decision.reasons[0].message == (
        "customer C-42 has not been synced yet; approved within the trial amount "
        "1,000.00 USD (900.00 USD used)"
    )


# --- no credit limit, stale data, approval tiers, holds -----------------------------------------


def test_a_customer_without_a_credit_limit_goes_to_review() -> None:
    decision = gate("1.00", cust=customer(None))

    assert decision.outcome is Outcome.REVIEW
    assert codes(decision) == [NO_LIMIT]
    assert decision.customer is not None
    assert decision.customer.credit_limit is None
    assert decision.customer.available is None
    assert decision.customer.exposure == Decimal("75000.00")


H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("synced_ago", "max_hours", "stale_outcome", "outcome"),
    [
        (None, 48, Outcome.REVIEW, Outcome.REVIEW),  # never synced
        (48 * H, 48, Outcome.REVIEW, Outcome.APPROVED),  # exactly the maximum age is still fresh
        (48 * H + timedelta(seconds=1), 48, Outcome.REVIEW, Outcome.REVIEW),  # a second older
        (1 * H, 48, Outcome.REVIEW, Outcome.APPROVED),
        (49 * H, 48, Outcome.BLOCKED, Outcome.BLOCKED),  # configured to block
        (None, None, Outcome.REVIEW, Outcome.APPROVED),  # data age not checked
        (1000 * H, None, Outcome.REVIEW, Outcome.APPROVED),
    ],
)
def test_stale_data_asks_for_the_configured_outcome(
    synced_ago: timedelta | None,
    max_hours: int | None,
    stale_outcome: Outcome,
    outcome: Outcome,
) -> None:
    th = Thresholds(version=1, max_data_age_hours=max_hours, stale_data_outcome=stale_outcome)
    last = None if synced_ago is None else NOW - synced_ago

    decision = gate("100.00", last_synced_at=last, th=th)

    assert decision.outcome is outcome
    assert codes(decision) == ([] if outcome is Outcome.APPROVED else [STALE])


def test_stale_data_applies_to_unknown_customers_too() -> None:
    decision = gate("1.00", cust=None, last_synced_at=None)

    assert codes(decision) == [UNKNOWN, STALE]
    assert decision.reasons[1].message == "source erp has never synced successfully"


TIERS = (  # deliberately not in order
    ApprovalTier(Decimal("50000.00"), "credit_manager"),
    ApprovalTier(Decimal("10000.00"), "credit_specialist"),
)


@pytest.mark.parametrize(
    ("amount", "currency", "role"),
    [
        ("10000.00", "USD", None),  # at a tier is not above it
        ("10000.01", "USD", "credit_specialist"),
        ("50000.00", "USD", "credit_specialist"),
        ("50000.01", "USD", "credit_manager"),
        ("400000.08", "CNY", "credit_manager"),  # 50000.01 USD
        ("400000.00", "CNY", "credit_specialist"),  # 50000.00 USD
    ],
)
def test_an_order_above_an_approval_tier_names_the_highest_exceeded_tiers_role(
    amount: str, currency: str, role: str | None
) -> None:
    th = Thresholds(version=1, approval_tiers=TIERS)
    rich = customer("10000000.00", balances=())

    decision = gate(amount, currency, cust=rich, th=th)

    if role is None:
        assert decision.outcome is Outcome.APPROVED
        assert codes(decision) == []
    else:
        assert decision.outcome is Outcome.REVIEW
        assert codes(decision) == [APPROVAL]
        assert verdict(decision, APPROVAL).figures["required_role"] == role
        assert decision.reasons[0].message.endswith(f"needs release by {role}")


def test_approval_message_names_the_order_and_the_tier_in_base_currency() -> None:
    th = Thresholds(version=1, approval_tiers=TIERS)

    decision = gate("50000.01", "USD", cust=customer("10000000.00", balances=()), th=th)

    assert decision.reasons[0].message == (
        "order 50,000.01 USD is above the 50,000.00 USD approval tier: "
        "needs release by credit_manager"
    )


def test_a_customer_on_hold_is_blocked_with_the_hold_reason() -> None:
    decision = gate("1.00", cust=customer(on_hold=True, hold_reason="disputed invoices"))

    assert decision.outcome is Outcome.BLOCKED
    assert codes(decision) == [HOLD]
    assert decision.reasons[0].message == "customer C-42 is on hold: disputed invoices"


def test_a_customer_whose_group_is_on_hold_is_blocked() -> None:
    decision = gate("1.00", grp=group(on_hold=True, hold_reason="parent in administration"))

    assert decision.outcome is Outcome.BLOCKED
    assert codes(decision) == [HOLD]
    assert decision.reasons[0].message == (
        "group G-1 (Acme Holding) is on hold: parent in administration"
    )


# --- combining outcomes -------------------------------------------------------------------------


def test_blocked_beats_review_and_every_applicable_reason_is_reported() -> None:
    th = Thresholds(version=1, review_band=Decimal("0.05"), approval_tiers=TIERS)

    decision = gate(
        "101000.00",  # 12625 USD: above a tier; 176000 CNY: far past the limit and group
        cust=customer(on_hold=True),
        grp=group(),
        overdue=overdue_invoice("2026-10-08"),
        last_synced_at=None,
        th=th,
    )

    assert decision.outcome is Outcome.BLOCKED
    assert codes(decision) == [HOLD, OVERDUE, LIMIT, GROUP, STALE, APPROVAL]
    assert [r.outcome for r in decision.reasons] == [
        Outcome.BLOCKED,
        Outcome.BLOCKED,
        Outcome.BLOCKED,
        Outcome.BLOCKED,
        Outcome.REVIEW,
        Outcome.REVIEW,
    ]
    assert decision.reserve is None


@pytest.mark.parametrize(
    ("amount", "outcome", "reason_codes"),
    [
        ("25000.00", Outcome.REVIEW, [STALE]),  # review alone
        ("26000.00", Outcome.REVIEW, [LIMIT, STALE]),  # two reviews stay a review
        ("31000.00", Outcome.BLOCKED, [LIMIT, STALE]),  # above the band: blocked beats review
    ],
)
def test_review_beats_approved_and_blocked_beats_review(
    amount: str, outcome: Outcome, reason_codes: list[str]
) -> None:
    th = Thresholds(version=1, review_band=Decimal("0.05"))

    decision = gate(amount, last_synced_at=None, th=th)

    assert decision.outcome is outcome
    assert codes(decision) == reason_codes


def test_every_rule_reports_a_verdict_even_when_it_does_not_trip() -> None:
    decision = gate("100.00")

    assert [v.code for v in decision.verdicts] == [
        HOLD,
        OVERDUE,
        LIMIT,
        GROUP,
        UNKNOWN,
        NO_LIMIT,
        STALE,
        APPROVAL,
    ]
    assert not any(v.tripped for v in decision.verdicts)


# --- amendments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "outcome"),
    [
        (None, Outcome.BLOCKED),  # 75000 + 45000: the old reservation would count twice
        (Money(Decimal("20000.00"), "CNY"), Outcome.APPROVED),  # 55000 + 45000 = the limit
        (Money(Decimal("2500.00"), "USD"), Outcome.APPROVED),  # the same 20000.00 CNY
    ],
)
def test_an_amendment_does_not_count_its_own_previous_reservation(
    previous: Money | None, outcome: Outcome
) -> None:
    decision = gate("45000.00", previous=previous)

    assert decision.outcome is outcome


def test_an_amendment_does_not_count_its_own_reservation_against_the_group_either() -> None:
    # Group 400000 + 80000 reserved (20000 of it this order's) − 20000 + 40000 = 500000.
    previous = Money(Decimal("20000.00"), "CNY")

    decision = gate("40000.00", grp=group(), previous=previous)

    assert decision.outcome is Outcome.APPROVED
    assert verdict(decision, GROUP).figures["after"] == "500000.00"


def test_an_approved_amendment_shows_exposure_with_the_new_amount_only() -> None:
    decision = gate("30000.00", previous=Money(Decimal("20000.00"), "CNY"))

    assert decision.customer is not None
    assert decision.customer.exposure == Decimal("85000.00")  # 55000 + 30000
    assert decision.customer.available == Decimal("15000.00")


def test_a_refused_amendment_shows_exposure_with_its_standing_reservation() -> None:
    """Judged as 75000 − 20000 + 50000 = 105000 > 100000; the earlier 20000 still stands."""
    decision = gate("50000.00", previous=Money(Decimal("2500.00"), "USD"))  # 20000.00 CNY

    assert decision.outcome is Outcome.BLOCKED
    assert decision.reserve is None
    assert decision.customer is not None
    assert decision.customer.exposure == Decimal("75000.00")  # 55000 + the standing 20000
    assert decision.customer.available == Decimal("25000.00")


# --- the response view --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "outcome", "exposure", "available"),
    [
        ("25000.00", Outcome.APPROVED, "100000.00", "0.00"),  # the order is included
        ("10000.00", Outcome.APPROVED, "85000.00", "15000.00"),
        ("25000.01", Outcome.BLOCKED, "75000.00", "25000.00"),  # the order is not
    ],
)
def test_exposure_and_available_include_the_order_only_when_approved(
    amount: str, outcome: Outcome, exposure: str, available: str
) -> None:
    decision = gate(amount)

    assert decision.outcome is outcome
    assert decision.customer is not None
    assert decision.customer.exposure == Decimal(exposure)
    assert decision.customer.available == Decimal(available)
    assert decision.customer.credit_limit == Decimal("100000.00")


def test_an_order_sent_to_review_is_not_included_in_the_exposure_shown() -> None:
    decision = gate("100.00", last_synced_at=None)

    assert decision.outcome is Outcome.REVIEW
    assert decision.customer is not None
    assert decision.customer.exposure == Decimal("75000.00")
    assert decision.reserve is None


def test_a_customer_already_over_the_limit_shows_negative_available() -> None:
    over = customer(balances=(balance("CNY", "110000.00"),))

    decision = gate("1.00", cust=over)

    assert decision.outcome is Outcome.BLOCKED
    assert decision.customer is not None
    assert decision.customer.available == Decimal("-10000.00")


def test_an_approved_order_reserves_its_own_amount_and_currency() -> None:
    decision = gate("3125.00", "USD")

    assert decision.reserve == Money(Decimal("3125.00"), "USD")


def test_the_snapshot_records_the_numbers_the_decision_used() -> None:
    decision = gate("3125.00", "USD", previous=Money(Decimal("500.00"), "CNY"))

    inputs = decision.inputs
    assert inputs["today"] == "2026-11-22"
    assert inputs["thresholds_version"] == 7
    assert inputs["previous_reservation"] == {"amount": "500.00", "currency": "CNY"}
    assert inputs["customer"]["exposure_before"]["total"] == "74500.00"
    assert inputs["customer"]["order_in_credit_currency"] == "25000.00"
    assert inputs["rates"] == {"reference": "USD", "CNY": "0.125", "EUR": "1.25", "JPY": "0.01"}


# --- releases and rejections ------------------------------------------------------------------


def resolved(
    amount: str,
    resolution: Resolution,
    *,
    currency: str = "CNY",
    overdue: OverdueSummary = NOTHING_OVERDUE,
    now: datetime = NOW,
) -> Decision:
    inp = GateInput(
        order=order(amount, currency),
        customer=customer(),
        group=None,
        overdue=overdue,
        last_synced_at=AN_HOUR_AGO,
        resolution=resolution,
    )
    return decide(inp, TH, RATES, now)


def release(cap: str | None = None, expires_at: datetime | None = None) -> Resolution:
    return Resolution(
        action="release",
        actor="alice",
        role="credit_manager",
        reason="paid by wire",
        currency="CNY",
        created_at=NOW - timedelta(hours=2),
        cap=None if cap is None else Decimal(cap),
        expires_at=expires_at,
        id=5,
    )


def test_a_release_approves_over_every_reason_and_names_them() -> None:
    # 75,000.00 exposure + 30,000.00 is over the limit, and an invoice is 45 days overdue.
    decision = resolved("30000.00", release(cap="40000.00"), overdue=overdue_invoice("2026-10-08"))

    assert decision.outcome is Outcome.APPROVED
    assert codes(decision) == ["RELEASED_BY"]
    assert decision.reasons[0].message == (
        "released by alice (credit_manager) on 2026-11-22: paid by wire "
        "(over OVERDUE_INVOICES, CREDIT_LIMIT_EXCEEDED; up to 40,000.00 CNY)"
    )
    assert decision.reserve == Money(Decimal("30000.00"), "CNY")
    # The rules still show what they found: the auditor sees what the release overrode.
    assert verdict(decision, OVERDUE).tripped and verdict(decision, LIMIT).tripped
    assert verdict(decision, "RELEASED_BY").figures["released_over"] == [OVERDUE, LIMIT]


@pytest.mark.parametrize(
    ("amount", "currency", "res", "why"),
    [
        ("50000.00", "CNY", release(cap="40000.00"), "above the release's cap of 40000.00 CNY"),
        ("30000.00", "EUR", release(), "was for an order in CNY"),
        ("30000.00", "CNY", release(expires_at=NOW), "lapsed at 2026-11-22T09:30:00+08:00"),
    ],
)
def test_a_release_that_does_not_cover_the_order_leaves_it_to_the_rules(
    amount: str, currency: str, res: Resolution, why: str
) -> None:
    decision = resolved(amount, res, currency=currency)

    assert decision.outcome is Outcome.BLOCKED and codes(decision) == [LIMIT]
    assert why in verdict(decision, "RELEASED_BY").message
    assert not verdict(decision, "RELEASED_BY").tripped


def test_a_release_an_approved_order_does_not_need_adds_no_reason() -> None:
    decision = resolved("100.00", release())

    assert decision.outcome is Outcome.APPROVED and codes(decision) == []
    assert "not needed" in verdict(decision, "RELEASED_BY").message


def test_a_rejection_blocks_whatever_the_rules_say() -> None:
    rejection = Resolution("reject", "bob", "admin", "no terms", "CNY", NOW - timedelta(days=1))

    decision = resolved("100.00", rejection)

    assert decision.outcome is Outcome.BLOCKED and decision.reserve is None
    assert codes(decision) == ["REJECTED_BY"]
    assert decision.reasons[0].message == "rejected by bob (admin) on 2026-11-21: no terms"
