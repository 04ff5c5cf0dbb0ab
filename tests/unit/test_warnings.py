"""The warning ladder on its boundaries: due dates, overdue days, utilization, holds."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from gating.policy import InvalidThresholds, thresholds_from_document, thresholds_to_document
from gating.warnings import DEFAULT_LADDER, Ladder, Standing, warning_for
from tests.unit.test_policy import document as valid_document

TODAY = date(2026, 11, 22)
D = Decimal


def standing(**kw) -> Standing:
    values = {
        "today": TODAY,
        "exposure": D("0"),
        "credit_limit": D("10000.00"),
        "currency": "CNY",
    }
    return Standing(**{**values, **kw})


def overdue(days: int) -> Standing:
    return standing(oldest_due=TODAY - timedelta(days=days), oldest_invoice="INV-1")


@pytest.mark.parametrize(
    ("days", "level"),
    [
        (1, "none"),
        (15, "none"),
        (16, "notice"),
        (30, "notice"),
        (31, "yellow"),
        (60, "yellow"),
        (61, "orange"),
        (90, "orange"),
        (91, "red"),
        (400, "red"),
    ],
)
def test_overdue_days_climb_the_ladder_only_past_each_boundary(days, level):
    assert warning_for(overdue(days)).level == level


@pytest.mark.parametrize(
    ("ahead", "level"), [(-1, "none"), (0, "reminder"), (3, "reminder"), (4, "none")]
)
def test_a_reminder_goes_out_from_three_days_before_an_invoice_falls_due(ahead, level):
    found = warning_for(standing(next_due=TODAY + timedelta(days=ahead), next_invoice="INV-9"))

    assert found.level == level
    if level == "reminder":
        assert found.step == "payment reminder"
        assert found.reasons[0].startswith("invoice INV-9 falls due ")


@pytest.mark.parametrize(
    ("exposure", "level"),
    [
        ("8999.99", "none"),
        ("9000.00", "yellow"),  # 90 % of 10,000.00
        ("10000.00", "yellow"),  # exactly at the limit is not over it
        ("10000.01", "orange"),
    ],
)
def test_utilization_gives_yellow_from_ninety_percent_and_orange_over_the_limit(exposure, level):
    assert warning_for(standing(exposure=D(exposure))).level == level


def test_no_limit_means_no_utilization_warning_and_a_zero_limit_is_over_at_any_exposure():
    assert warning_for(standing(exposure=D("1e9"), credit_limit=None)).level == "none"
    assert warning_for(standing(exposure=D("0"), credit_limit=D("0"))).level == "none"
    assert warning_for(standing(exposure=D("0.01"), credit_limit=D("0"))).level == "orange"


def test_a_hold_is_red_whatever_else_and_every_reason_is_given_worst_first():
    found = warning_for(
        standing(
            exposure=D("9500.00"),
            oldest_due=TODAY - timedelta(days=20),
            oldest_invoice="INV-3",
            on_hold=True,
            hold_reason="delivery dispute",
        )
    )

    assert (found.level, found.step, found.hold) == ("red", "start legal action", True)
    assert found.reasons == (
        "on hold: delivery dispute",
        "exposure 9,500.00 CNY of a limit of 10,000.00: at least 90 % used",
        "oldest overdue invoice INV-3 is 20 days overdue (more than 15)",
    )


def test_the_steps_of_each_level():
    steps = {
        days: (warning_for(overdue(days)).step, warning_for(overdue(days)).hold)
        for days in (16, 31, 61, 91)
    }
    assert steps == {
        16: ("call the customer", False),
        31: ("formal overdue notice", False),
        61: ("lawyer's letter", False),
        91: ("start legal action", True),
    }
    assert warning_for(standing()).step is None


def test_a_configured_ladder_moves_the_boundaries():
    ladder = Ladder(
        reminder_days=7,
        notice_days=5,
        yellow_days=10,
        yellow_utilization=D("0.5"),
        orange_days=20,
        red_days=40,
    )

    assert warning_for(overdue(6), ladder).level == "notice"
    assert warning_for(overdue(41), ladder).level == "red"
    assert warning_for(standing(exposure=D("5000.00")), ladder).level == "yellow"
    ahead = standing(next_due=TODAY + timedelta(days=7))
    assert warning_for(ahead, ladder).level == "reminder"


def test_the_ladder_is_part_of_a_thresholds_version_and_old_versions_get_the_defaults():
    document = valid_document()
    document.pop("warnings", None)
    assert thresholds_from_document(document).warnings == DEFAULT_LADDER

    document["warnings"] = {"notice_days": 10, "yellow_utilization": "0.80"}
    parsed = thresholds_from_document(document)
    assert (parsed.warnings.notice_days, parsed.warnings.yellow_utilization) == (10, D("0.80"))
    again = thresholds_from_document(thresholds_to_document(parsed))
    assert again.warnings == parsed.warnings


@pytest.mark.parametrize(
    ("warnings", "field"),
    [
        ({"red_days": -1}, "warnings.red_days"),
        ({"notice_days": 40}, "warnings"),  # not below yellow_days (30)
        ({"yellow_utilization": 0.9}, "warnings.yellow_utilization"),  # a float
        ({"yellow_utilization": "1.5"}, "warnings.yellow_utilization"),
        ({"purple_days": 3}, "warnings.purple_days"),
        ("loud", "warnings"),
    ],
)
def test_a_bad_ladder_is_refused_naming_the_field(warnings, field):
    document = {**valid_document(), "warnings": warnings}

    with pytest.raises(InvalidThresholds) as raised:
        thresholds_from_document(document)

    assert field in raised.value.errors
