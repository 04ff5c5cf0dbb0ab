"""Thresholds documents: the plain-dict form stored per version, parsed strictly into Thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from gating.model import ApprovalTier, Outcome, Thresholds
from gating.money import is_currency
from gating.warnings import ladder_from_document, ladder_to_document


class InvalidThresholds(ValueError):
    """A thresholds document with bad fields; `errors` maps each field to what is wrong."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def _decimal(
    doc: Mapping[str, Any], key: str, errors: dict[str, str], *, minimum: str = "0"
) -> Any:
    raw = doc.get(key)
    if raw is None:
        return None
    try:
        if isinstance(raw, float | bool):
            raise InvalidOperation
        value = Decimal(str(raw))
    except InvalidOperation:
        errors[key] = f"{raw!r} is not a decimal string"
        return None
    if not value.is_finite() or value < Decimal(minimum):
        errors[key] = f"must be a number ≥ {minimum}"
    return value


def _int(doc: Mapping[str, Any], key: str, errors: dict[str, str], *, minimum: int) -> Any:
    raw = doc.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
        errors[key] = f"must be a whole number ≥ {minimum}"
    return raw


_KEYS = {
    "base_currency",
    "overdue_days",
    "overdue_tolerance",
    "review_band",
    "trial_amount",
    "max_data_age_hours",
    "stale_data_outcome",
    "approval_tiers",
    "reservation_days",
    "overdue_count_cap",
}
_NULLABLE = {"trial_amount", "max_data_age_hours"}


def thresholds_from_document(doc: Mapping[str, Any], version: int = 0) -> Thresholds:
    """Parse a complete thresholds document.

    :raises InvalidThresholds: naming every bad or missing field.
    """
    errors: dict[str, str] = {}
    for key in sorted(set(doc) - _KEYS - {"warnings"}):
        errors[key] = "unknown setting"
    missing = _KEYS - set(doc)
    for key in sorted(missing):
        errors[key] = "missing"
    # Every present field is checked too, so one answer names everything that is wrong.
    raw_ladder = doc.get("warnings")  # optional: versions from before the ladder lack it
    doc = {k: v for k, v in doc.items() if k in _KEYS}
    for key in _KEYS - _NULLABLE - missing:
        if doc[key] is None:
            errors[key] = "may not be empty"
    base = doc.get("base_currency")
    if "base_currency" in doc and (not isinstance(base, str) or not is_currency(base)):
        errors["base_currency"] = f"{base!r} is not an ISO 4217 currency code"
    outcome = doc.get("stale_data_outcome")
    if "stale_data_outcome" in doc and outcome not in ("review", "blocked"):
        errors["stale_data_outcome"] = "must be 'review' or 'blocked'"
    values = {
        "overdue_days": _int(doc, "overdue_days", errors, minimum=0),
        "overdue_tolerance": _decimal(doc, "overdue_tolerance", errors),
        "review_band": _decimal(doc, "review_band", errors),
        "trial_amount": _decimal(doc, "trial_amount", errors),
        "max_data_age_hours": _int(doc, "max_data_age_hours", errors, minimum=1),
        "reservation_days": _int(doc, "reservation_days", errors, minimum=1),
        "overdue_count_cap": _int(doc, "overdue_count_cap", errors, minimum=1),
    }
    tiers = _tiers(doc.get("approval_tiers", []), errors)
    ladder = ladder_from_document(raw_ladder, errors)
    if errors:
        raise InvalidThresholds(errors)
    assert isinstance(base, str) and isinstance(outcome, str)
    return Thresholds(
        version=version,
        base_currency=base,
        stale_data_outcome=Outcome(outcome),
        approval_tiers=tiers,
        warnings=ladder,
        **values,
    )


def _tiers(raw: Any, errors: dict[str, str]) -> tuple[ApprovalTier, ...]:
    if not isinstance(raw, list):
        errors["approval_tiers"] = "must be a list of {amount, role}"
        return ()
    tiers = []
    for i, item in enumerate(raw):
        key = f"approval_tiers[{i}]"
        if not isinstance(item, Mapping) or set(item) != {"amount", "role"}:
            errors[key] = "must have exactly 'amount' and 'role'"
            continue
        local: dict[str, str] = {}
        amount = _decimal(item, "amount", local)
        if amount is None or local:
            errors[key] = "amount must be a decimal string ≥ 0"
        elif not isinstance(item["role"], str) or not item["role"]:
            errors[key] = "role must be a non-empty string"
        else:
            tiers.append(ApprovalTier(amount, item["role"]))
    return tuple(sorted(tiers, key=lambda t: t.amount))


def thresholds_to_document(th: Thresholds) -> dict[str, Any]:
    """The stored form: strings for amounts so no float ever touches money."""
    return {
        "base_currency": th.base_currency,
        "overdue_days": th.overdue_days,
        "overdue_tolerance": str(th.overdue_tolerance),
        "review_band": str(th.review_band),
        "trial_amount": None if th.trial_amount is None else str(th.trial_amount),
        "max_data_age_hours": th.max_data_age_hours,
        "stale_data_outcome": th.stale_data_outcome.value,
        "approval_tiers": [{"amount": str(t.amount), "role": t.role} for t in th.approval_tiers],
        "reservation_days": th.reservation_days,
        "overdue_count_cap": th.overdue_count_cap,
        "warnings": ladder_to_document(th.warnings),
    }
