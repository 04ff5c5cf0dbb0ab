"""Thresholds documents: strict parsing that names every bad field, and the round trip."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from gating.model import EXPOSURE_COMPONENTS, ApprovalTier, Outcome, Thresholds
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
            {"amount": "50000.00", "role": "credit_manager"},
            {"amount": "10000.00", "role": "credit_specialist"},
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
            ApprovalTier(Decimal("10000.00"), "credit_specialist"),
            ApprovalTier(Decimal("50000.00"), "credit_manager"),
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
                ApprovalTier(Decimal("5000.00"), "credit_specialist"),
                ApprovalTier(Decimal("25000.00"), "credit_manager"),
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
        {"amount": "10000.00", "role": "credit_specialist"},
        {"amount": "50000.00", "role": "credit_manager"},
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


DAYS = "must be a whole number from 0 to 3,650"
AMOUNT = "must be a number from 0 to 1,000,000,000,000"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("overdue_days", -1, DAYS),
        ("overdue_days", "30", DAYS),
        ("overdue_days", 30.0, DAYS),
        ("overdue_days", True, DAYS),
        ("overdue_days", 3651, DAYS),
        ("overdue_days", None, "may not be empty"),
        ("overdue_tolerance", "-0.01", AMOUNT),
        ("overdue_tolerance", 0.5, "0.5 is not a decimal string"),
        ("overdue_tolerance", "lots", "'lots' is not a decimal string"),
        ("overdue_tolerance", "NaN", AMOUNT),
        ("overdue_tolerance", "1e400", AMOUNT),
        ("overdue_tolerance", "0.00001", "at most 4 decimal places"),
        ("overdue_tolerance", None, "may not be empty"),
        ("review_band", "-0.05", "must be a number from 0 to 10"),
        ("review_band", "Infinity", "must be a number from 0 to 10"),
        ("review_band", "11", "must be a number from 0 to 10"),
        ("trial_amount", "-1", AMOUNT),
        ("trial_amount", "1000000000000.01", AMOUNT),
        ("max_data_age_hours", 0, "must be a whole number from 1 to 87,600"),
        ("max_data_age_hours", 10**20, "must be a whole number from 1 to 87,600"),
        ("reservation_days", 0, "must be a whole number from 1 to 3,650"),
        ("reservation_days", 10_000_000, "must be a whole number from 1 to 3,650"),
        ("overdue_count_cap", -5, "must be a whole number from 1 to 1,000,000"),
        ("overdue_count_cap", 10**20, "must be a whole number from 1 to 1,000,000"),
        ("base_currency", "usd", "'usd' is not an ISO 4217 currency code"),
        ("base_currency", "XYZ", "'XYZ' is not an ISO 4217 currency code"),
        ("base_currency", 840, "840 is not an ISO 4217 currency code"),
        ("stale_data_outcome", "approved", "must be 'review' or 'blocked'"),
        ("approval_tiers", "credit_manager", "must be a list of {amount, role}"),
    ],
)
def test_a_bad_value_is_named_with_what_is_wrong(key: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidThresholds) as err:
        thresholds_from_document(document(**{key: value}))

    assert err.value.errors == {key: message}
    assert f"{key}: {message}" in str(err.value)


ROLE_MESSAGE = "role must be one of admin, credit_specialist, credit_manager (who may release it)"


@pytest.mark.parametrize(
    ("tier", "message"),
    [
        ({"amount": "-5.00", "role": "credit_manager"}, "amount must be a decimal string ≥ 0"),
        ({"amount": 500.0, "role": "credit_manager"}, "amount must be a decimal string ≥ 0"),
        ({"amount": None, "role": "credit_manager"}, "amount must be a decimal string ≥ 0"),
        ({"amount": "500.00", "role": ""}, ROLE_MESSAGE),
        ({"amount": "500.00", "role": 7}, ROLE_MESSAGE),
        ({"amount": "500.00", "role": "cfo"}, ROLE_MESSAGE),
        ({"amount": "500.00"}, "must have exactly 'amount' and 'role'"),
        (
            {"amount": "500.00", "role": "credit_manager", "note": "x"},
            "must have exactly 'amount' and 'role'",
        ),
        ("credit_manager", "must have exactly 'amount' and 'role'"),
    ],
)
def test_a_bad_approval_tier_is_named_by_its_position(tier: Any, message: str) -> None:
    tiers = [{"amount": "100.00", "role": "credit_specialist"}, tier]

    with pytest.raises(InvalidThresholds) as err:
        thresholds_from_document(document(approval_tiers=tiers))

    assert err.value.errors == {"approval_tiers[1]": message}


def test_every_bad_field_is_named_at_once() -> None:
    doc = document(
        overdue_days=-1,
        review_band="-0.1",
        base_currency="ABC",
        stale_data_outcome="maybe",
        approval_tiers=[{"amount": "-1", "role": "credit_manager"}, {"amount": "1", "role": ""}],
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
    with pytest.raises(ValueError, match="overdue_days: must be a whole number from 0 to 3,650"):
        thresholds_from_document(document(overdue_days=-3))


# --- overrides, exposure components, fail-safe --------------------------------------------


def with_overrides(**parts: Any) -> dict[str, Any]:
    return document(overrides=parts)


def test_overrides_lay_a_customers_settings_over_its_groups_over_the_global_ones() -> None:
    th = thresholds_from_document(
        with_overrides(
            groups={"G-1": {"overdue_days": 45, "review_band": "0.10"}},
            customers={"C-1": {"overdue_days": 60, "warnings": {"red_days": 120}}},
        ),
        version=7,
    )

    both = th.for_party("C-1", "G-1")
    group_only = th.for_party("C-2", "G-1")
    neither = th.for_party("C-3", None)

    assert (both.overdue_days, both.review_band) == (60, Decimal("0.10"))
    assert both.applied == ("group:G-1", "customer:C-1")
    assert both.version == 7 and both.overdue_tolerance == Decimal("5.00")
    # A partial ladder keeps the global ladder's other steps.
    assert both.warnings.red_days == 120 and both.warnings.orange_days == th.warnings.orange_days
    assert (group_only.overdue_days, group_only.applied) == (45, ("group:G-1",))
    assert neither is th and neither.applied == ()
    assert th.for_party("C-1", "G-1") is both  # worked out once per pair


def test_a_version_without_overrides_answers_itself_for_every_party() -> None:
    th = thresholds_from_document(document())

    assert th.for_party("C-1", "G-1") is th


def test_overrides_round_trip_and_keep_amounts_as_strings() -> None:
    doc = with_overrides(
        customers={
            "C-1": {
                "overdue_tolerance": "2.50",
                "approval_tiers": [{"amount": "500", "role": "credit_manager"}],
                "exposure_components": ["open_invoices"],
                "stale_data_outcome": "blocked",
                "trial_amount": None,
            }
        }
    )
    th = thresholds_from_document(doc)

    stored = thresholds_to_document(th)

    assert stored["overrides"]["customers"]["C-1"] == {
        "overdue_tolerance": "2.50",
        "approval_tiers": [{"amount": "500", "role": "credit_manager"}],
        "exposure_components": ["open_invoices"],
        "stale_data_outcome": "blocked",
        "trial_amount": None,
    }
    assert thresholds_from_document(json.loads(json.dumps(stored))) == th
    assert th.for_party("C-1", None).exposure_components == frozenset({"open_invoices"})


def test_a_document_from_before_overrides_gets_the_defaults_for_them() -> None:
    th = thresholds_from_document(document())

    assert th.fail_safe_outcome is None
    assert th.exposure_components == frozenset(EXPOSURE_COMPONENTS)
    assert not th.overrides


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ([], {"overrides": "must be a table with 'groups' and/or 'customers'"}),
        ({"people": {}}, {"overrides.people": "unknown part: use 'groups' or 'customers'"}),
        ({"groups": []}, {"overrides.groups": "must be a table of settings by id"}),
        (
            {"groups": {"G-1": {}}},
            {"overrides.groups.G-1": "must be a non-empty table of settings"},
        ),
        (
            {"customers": {"C-1": {"overdue_count_cap": 5}}},
            {
                "overrides.customers.C-1.overdue_count_cap": "holds for everyone and cannot be "
                "overridden"
            },
        ),
        (
            {"customers": {"C-1": {"overdue_days": None}}},
            {"overrides.customers.C-1.overdue_days": "may not be empty"},
        ),
        (
            {"customers": {"C-1": {"review_band": 0.1}}},
            {"overrides.customers.C-1.review_band": "0.1 is not a decimal string"},
        ),
        (
            {"customers": {"C-1": {"warnings": {"notice_days": 95}}}},
            {
                "overrides.customers.C-1.warnings": "notice_days < yellow_days < orange_days < "
                "red_days is required"
            },
        ),
    ],
)
def test_a_bad_override_is_named_under_its_party(overrides: Any, errors: dict[str, str]) -> None:
    with pytest.raises(InvalidThresholds) as raised:
        thresholds_from_document(document(overrides=overrides))

    assert raised.value.errors == errors


@pytest.mark.parametrize(
    ("components", "message"),
    [
        (
            "open_invoices",
            "must be a list of distinct names from: open_invoices, "
            "unapplied_payments, reservations",
        ),
        (
            ["open_invoices", "open_invoices"],
            "must be a list of distinct names from: "
            "open_invoices, unapplied_payments, reservations",
        ),
        (
            ["open_invoices", "orders"],
            "unknown orders; choose from: open_invoices, unapplied_payments, reservations",
        ),
        (["reservations"], "must include open_invoices: they are the exposure"),
    ],
)
def test_bad_exposure_components_are_named(components: Any, message: str) -> None:
    with pytest.raises(InvalidThresholds) as raised:
        thresholds_from_document(document(exposure_components=components))

    assert raised.value.errors == {"exposure_components": message}


@pytest.mark.parametrize("outcome", ["approved", "review", "blocked", None])
def test_the_fail_safe_outcome_is_one_of_the_three_or_left_to_the_server(outcome: Any) -> None:
    th = thresholds_from_document(document(fail_safe_outcome=outcome))

    assert th.fail_safe_outcome == (None if outcome is None else Outcome(outcome))
    with pytest.raises(InvalidThresholds) as raised:
        thresholds_from_document(document(fail_safe_outcome="maybe"))
    assert set(raised.value.errors) == {"fail_safe_outcome"}


def test_a_customers_ladder_steps_lie_over_its_groups() -> None:
    th = thresholds_from_document(
        with_overrides(
            groups={"G-1": {"warnings": {"yellow_days": 45}}},
            customers={"C-1": {"warnings": {"red_days": 120}}},
        )
    )

    ladder = th.for_party("C-1", "G-1").warnings

    assert (ladder.yellow_days, ladder.red_days) == (45, 120)
    assert ladder.orange_days == th.warnings.orange_days
    stored = thresholds_to_document(th)["overrides"]
    assert stored["customers"]["C-1"] == {"warnings": {"red_days": 120}}
    assert thresholds_from_document(json.loads(json.dumps(thresholds_to_document(th)))) == th


def test_an_unknown_step_in_an_override_ladder_is_named_not_a_crash() -> None:
    with pytest.raises(InvalidThresholds) as raised:
        thresholds_from_document(
            with_overrides(customers={"C-1": {"warnings": {"red_days": 120, "purple_days": 9}}})
        )

    assert raised.value.errors == {
        "overrides.customers.C-1.warnings.purple_days": "unknown setting"
    }


def test_an_override_ladder_that_is_not_a_table_is_named_not_a_crash() -> None:
    with pytest.raises(InvalidThresholds) as raised:
        thresholds_from_document(with_overrides(customers={"C-1": {"warnings": [None, None]}}))

    assert set(raised.value.errors) == {"overrides.customers.C-1.warnings"}


@pytest.mark.parametrize("text", ["1_000", "1E+2", "+5", " 5", "\uff15"])
def test_a_new_document_writes_amounts_plainly_but_a_stored_version_still_loads(text: str) -> None:
    # Versions stored before decimal strings were checked may hold what Decimal() reads: the
    # gate must go on loading them, while a new document is refused naming the field.
    doc = document(overdue_tolerance=text)

    with pytest.raises(InvalidThresholds) as err:
        thresholds_from_document(doc)
    stored = thresholds_from_document(doc, 3, as_stored=True)

    assert set(err.value.errors) == {"overdue_tolerance"}
    assert stored.overdue_tolerance == Decimal(text.strip().replace("\uff15", "5"))
