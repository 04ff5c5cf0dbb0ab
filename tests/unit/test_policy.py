"""Thresholds documents: strict parsing that names every bad field, and the round trip."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from gating.model import ApprovalTier, Outcome, Thresholds
from gating.policy import InvalidThresholds, thresholds_from_document, thresholds_to_document


def document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "base_currency": "USD",
        "overdue_days": 30,
        "overdue_tolerance": "5.00",
        "review_band": "0.05",
        "trial_amount": "1000.00",
        "max_data_age_hours": 48,
        "stale_data_outcome": "review",
        "approval_tiers": [
            {"amount": "50000.00", "role": "cfo"},
            {"amount": "10000.00", "role": "sales_manager"},
        ],
        "reservation_days": 60,
        "overdue_count_cap": 1000,
    }
    doc.update(changes)
    return doc


def test_a_complete_document_parses_into_exact_thresholds() -> None:
    th = thresholds_from_document(document(), version=4)

    assert th == Thresholds(
        version=4,
        base_currency="USD",
        overdue_days=30,
        overdue_tolerance=Decimal("5.00"),
        review_band=Decimal("0.05"),
        trial_amount=Decimal("1000.00"),
        max_data_age_hours=48,
        stale_data_outcome=Outcome.REVIEW,
        approval_tiers=(  # sorted by amount
            ApprovalTier(Decimal("10000.00"), "sales_manager"),
            ApprovalTier(Decimal("50000.00"), "cfo"),
        ),
        reservation_days=60,
        overdue_count_cap=1000,
    )


def test_trial_amount_and_data_age_may_be_empty() -> None:
    th = thresholds_from_document(document(trial_amount=None, max_data_age_hours=None))

    assert th.trial_amount is None
    assert th.max_data_age_hours is None


@pytest.mark.parametrize(
    "th",
    [
        Thresholds(),
        Thresholds(
            version=3,
            base_currency="EUR",
            overdue_days=45,
            overdue_tolerance=Decimal("2.50"),
            review_band=Decimal("0.10"),
            trial_amount=Decimal("2500.00"),
            max_data_age_hours=None,
            stale_data_outcome=Outcome.BLOCKED,
            approval_tiers=(
                ApprovalTier(Decimal("5000.00"), "sales_manager"),
                ApprovalTier(Decimal("25000.00"), "cfo"),
            ),
            reservation_days=30,
            overdue_count_cap=500,
        ),
    ],
)
def test_thresholds_round_trip_through_their_document_and_json(th: Thresholds) -> None:
    doc = thresholds_to_document(th)
    stored = json.loads(json.dumps(doc))  # as the store keeps it: no floats anywhere

    assert thresholds_from_document(stored, version=th.version) == th
    assert thresholds_from_document(doc, version=th.version) == th


def test_the_document_keeps_amounts_as_strings() -> None:
    doc = thresholds_to_document(thresholds_from_document(document()))

    assert doc["overdue_tolerance"] == "5.00"
    assert doc["review_band"] == "0.05"
    assert doc["trial_amount"] == "1000.00"
    assert doc["approval_tiers"] == [
        {"amount": "10000.00", "role": "sales_manager"},
        {"amount": "50000.00", "role": "cfo"},
    ]


def test_unknown_and_missing_keys_are_each_named() -> None:
    doc = document(colour="red", grace_days=5)
    del doc["overdue_days"]
    del doc["review_band"]

    with pytest.raises(InvalidThresholds) as err:
        thresholds_from_document(doc)

    assert err.value.errors == {
        "colour": "unknown setting",
        "grace_days": "unknown setting",
        "overdue_days": "missing",
        "review_band": "missing",
    }


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("overdue_days", -1, "must be a whole number ≥ 0"),
        ("overdue_days", "30", "must be a whole number ≥ 0"),
        ("overdue_days", 30.0, "must be a whole number ≥ 0"),
        ("overdue_days", True, "must be a whole number ≥ 0"),
        ("overdue_days", None, "may not be empty"),
        ("overdue_tolerance", "-0.01", "must be a number ≥ 0"),
        ("overdue_tolerance", 0.5, "0.5 is not a decimal string"),
        ("overdue_tolerance", "lots", "'lots' is not a decimal string"),
        ("overdue_tolerance", "NaN", "must be a number ≥ 0"),
        ("overdue_tolerance", None, "may not be empty"),
        ("review_band", "-0.05", "must be a number ≥ 0"),
        ("review_band", "Infinity", "must be a number ≥ 0"),
        ("trial_amount", "-1", "must be a number ≥ 0"),
        ("max_data_age_hours", 0, "must be a whole number ≥ 1"),
        ("reservation_days", 0, "must be a whole number ≥ 1"),
        ("overdue_count_cap", -5, "must be a whole number ≥ 1"),
        ("base_currency", "usd", "'usd' is not an ISO 4217 currency code"),
        ("base_currency", "XYZ", "'XYZ' is not an ISO 4217 currency code"),
        ("base_currency", 840, "840 is not an ISO 4217 currency code"),
        ("stale_data_outcome", "approved", "must be 'review' or 'blocked'"),
        ("approval_tiers", "cfo", "must be a list of {amount, role}"),
    ],
)
def test_a_bad_value_is_named_with_what_is_wrong(key: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidThresholds) as err:
        thresholds_from_document(document(**{key: value}))

    assert err.value.errors == {key: message}
    assert f"{key}: {message}" in str(err.value)


@pytest.mark.parametrize(
    ("tier", "message"),
    [
        ({"amount": "-5.00", "role": "cfo"}, "amount must be a decimal string ≥ 0"),
        ({"amount": 500.0, "role": "cfo"}, "amount must be a decimal string ≥ 0"),
        ({"amount": None, "role": "cfo"}, "amount must be a decimal string ≥ 0"),
        ({"amount": "500.00", "role": ""}, "role must be a non-empty string"),
        ({"amount": "500.00", "role": 7}, "role must be a non-empty string"),
        ({"amount": "500.00"}, "must have exactly 'amount' and 'role'"),
        ({"amount": "500.00", "role": "cfo", "note": "x"}, "must have exactly 'amount' and 'role'"),
        ("cfo", "must have exactly 'amount' and 'role'"),
    ],
)
def test_a_bad_approval_tier_is_named_by_its_position(tier: Any, message: str) -> None:
    tiers = [{"amount": "100.00", "role": "sales_manager"}, tier]

    with pytest.raises(InvalidThresholds) as err:
        thresholds_from_document(document(approval_tiers=tiers))

    assert err.value.errors == {"approval_tiers[1]": message}


def test_every_bad_field_is_named_at_once() -> None:
    doc = document(
        overdue_days=-1,
        review_band="-0.1",
        base_currency="ABC",
        stale_data_outcome="maybe",
        approval_tiers=[{"amount": "-1", "role": "cfo"}, {"amount": "1", "role": ""}],
    )

    with pytest.raises(InvalidThresholds) as err:
        thresholds_from_document(doc)

    assert set(err.value.errors) == {
        "overdue_days",
        "review_band",
        "base_currency",
        "stale_data_outcome",
        "approval_tiers[0]",
        "approval_tiers[1]",
    }


def test_invalid_thresholds_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="overdue_days: must be a whole number ≥ 0"):
        thresholds_from_document(document(overdue_days=-3))
