"""Thresholds documents: the plain-dict form stored per version, parsed strictly into Thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from gating.model import (
    EXPOSURE_COMPONENTS,
    OVERRIDABLE,
    ApprovalTier,
    Outcome,
    Overrides,
    Shadow,
    Thresholds,
)
from gating.money import DECIMAL_TEXT_RULE, is_currency, is_decimal_text
from gating.roles import RELEASERS
from gating.warnings import DEFAULT_LADDER, Ladder, ladder_from_document, ladder_to_document


class InvalidThresholds(ValueError):
    """A thresholds document with bad fields; `errors` maps each field to what is wrong."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


# Upper bounds keep every setting usable in date arithmetic, SQL and exact money: ten years of
# days, a trillion in amounts with at most four decimals (what the store keeps).
MAX_DAYS = 3650
MAX_HOURS = MAX_DAYS * 24
MAX_COUNT = 1_000_000
MAX_SETTING_AMOUNT = Decimal(10) ** 12
MAX_FRACTION = Decimal(10)  # a review band of 1,000 % of the limit


def _decimal(
    doc: Mapping[str, Any],
    key: str,
    errors: dict[str, str],
    *,
    minimum: str = "0",
    maximum: Decimal = MAX_SETTING_AMOUNT,
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
    if not value.is_finite() or not Decimal(minimum) <= value <= maximum:
        errors[key] = f"must be a number from {minimum} to {maximum:,}"
    elif value.as_tuple().exponent < -4:  # type: ignore[operator]
        errors[key] = "at most 4 decimal places"
    return value


# The settings that hold a decimal, wherever they sit (globally, in an override, a tier, the
# warnings ladder, a shadow's document).
_DECIMAL_SETTINGS = frozenset(
    {"overdue_tolerance", "trial_amount", "review_band", "yellow_utilization", "amount"}
)


def _number_forms(doc: Any, errors: dict[str, str]) -> None:
    """Name each decimal setting given as text that is not a plain decimal string. A stack, not
    recursion: the document is as deep as its sender made it."""
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, list):
            stack.extend((f"{where}[{i}]", value) for i, value in enumerate(item))
        elif isinstance(item, Mapping):
            for key, value in item.items():
                path = f"{where}.{key}" if where else str(key)
                if key in _DECIMAL_SETTINGS and isinstance(value, str):
                    if not is_decimal_text(value):
                        errors[path] = DECIMAL_TEXT_RULE
                else:
                    stack.append((path, value))


def _int(
    doc: Mapping[str, Any], key: str, errors: dict[str, str], *, minimum: int, maximum: int
) -> Any:
    raw = doc.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not minimum <= raw <= maximum:
        errors[key] = f"must be a whole number from {minimum} to {maximum:,}"
    return raw


# Required in a complete document; the optional ones below came later, and versions stored
# before them lack them and get the defaults.
_OPTIONAL = {"warnings", "fail_safe_outcome", "exposure_components", "overrides", "shadow"}
_KEYS = {"base_currency", "overdue_count_cap", *OVERRIDABLE} - _OPTIONAL
_NULLABLE = {"trial_amount", "max_data_age_hours", "fail_safe_outcome"}


def thresholds_from_document(
    doc: Mapping[str, Any], version: int = 0, *, as_stored: bool = False
) -> Thresholds:
    """Parse a complete thresholds document. `as_stored`: a version already stored, which may
    write its amounts as Decimal() reads them (`1_000`, `1E+2`) because versions were taken so
    before decimal strings were checked; a new document must write them plainly.

    :raises InvalidThresholds: naming every bad or missing field.
    """
    errors: dict[str, str] = {}
    if not as_stored:
        _number_forms(doc, errors)
    for key in sorted(set(doc) - _KEYS - _OPTIONAL):
        errors[key] = "unknown setting"
    missing = _KEYS - set(doc)
    for key in sorted(missing):
        errors[key] = "missing"
    # Every present field is checked too, so one answer names everything that is wrong.
    for key in sorted((_KEYS - _NULLABLE - missing) & set(doc)):
        if doc[key] is None:
            errors[key] = "may not be empty"
    base = doc.get("base_currency")
    if "base_currency" in doc and (not isinstance(base, str) or not is_currency(base)):
        errors["base_currency"] = f"{base!r} is not an ISO 4217 currency code"
    values = _settings({k: v for k, v in doc.items() if k in _KEYS | _OPTIONAL}, errors)
    values.pop("overrides", None)
    values.pop("base_currency", None)
    values["overdue_count_cap"] = _int(
        doc, "overdue_count_cap", errors, minimum=1, maximum=MAX_COUNT
    )
    fail_safe = doc.get("fail_safe_outcome")
    if fail_safe is not None and fail_safe not in ("approved", "review", "blocked"):
        errors["fail_safe_outcome"] = "must be 'approved', 'review', 'blocked' or null"
    ladder = values.get("warnings", DEFAULT_LADDER)
    overrides = _overrides(doc.get("overrides"), ladder, errors)
    shadow = _shadow(doc.get("shadow"), version, errors, as_stored)
    if errors:
        raise InvalidThresholds(errors)
    assert isinstance(base, str)
    return Thresholds(
        version=version,
        base_currency=base,
        fail_safe_outcome=None if fail_safe is None else Outcome(fail_safe),
        overrides=overrides,
        shadow=shadow,
        **values,
    )


def _shadow(raw: Any, version: int, errors: dict[str, str], as_stored: bool) -> Shadow | None:
    """`{"name", "until": "YYYY-MM-DD", "thresholds": {complete document, no shadow}}`."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) != {"name", "until", "thresholds"}:
        errors["shadow"] = "must have exactly 'name', 'until' and 'thresholds'"
        return None
    name, until, document = raw["name"], raw["until"], raw["thresholds"]
    if not isinstance(name, str) or not name.strip():
        errors["shadow.name"] = "must say what is being tried"
    try:
        last = date.fromisoformat(until) if isinstance(until, str) else None
    except ValueError:
        last = None
    if last is None:
        errors["shadow.until"] = "must be a date, YYYY-MM-DD: the last day it runs"
    if not isinstance(document, Mapping) or "shadow" in document:
        errors["shadow.thresholds"] = "must be a complete thresholds document without a shadow"
        return None
    try:
        proposed = thresholds_from_document(document, version, as_stored=as_stored)
    except InvalidThresholds as exc:
        for key, message in exc.errors.items():
            errors[f"shadow.thresholds.{key}"] = message
        return None
    if last is None or not isinstance(name, str):
        return None
    return Shadow(name.strip(), last, proposed)


def _settings(
    doc: Mapping[str, Any], errors: dict[str, str], ladder: Ladder = DEFAULT_LADDER
) -> dict[str, Any]:
    """The overridable settings present in `doc`, parsed; problems go into `errors`."""
    values: dict[str, Any] = {}
    ints = {
        "overdue_days": (0, MAX_DAYS),
        "max_data_age_hours": (1, MAX_HOURS),
        "reservation_days": (1, MAX_DAYS),
    }
    for key, (minimum, maximum) in ints.items():
        if key in doc:
            values[key] = _int(doc, key, errors, minimum=minimum, maximum=maximum)
    for key in ("overdue_tolerance", "trial_amount"):
        if key in doc:
            values[key] = _decimal(doc, key, errors)
    if "review_band" in doc:
        values["review_band"] = _decimal(doc, "review_band", errors, maximum=MAX_FRACTION)
    if "stale_data_outcome" in doc:
        outcome = doc["stale_data_outcome"]
        if outcome not in ("review", "blocked"):
            errors["stale_data_outcome"] = "must be 'review' or 'blocked'"
        else:
            values["stale_data_outcome"] = Outcome(outcome)
    if "approval_tiers" in doc:
        values["approval_tiers"] = _tiers(doc["approval_tiers"], errors)
    if "exposure_components" in doc:
        values["exposure_components"] = _components(doc["exposure_components"], errors)
    if "warnings" in doc:
        values["warnings"] = ladder_from_document(doc["warnings"], errors, ladder)
    return values


def _components(raw: Any, errors: dict[str, str]) -> frozenset[str]:
    every = ", ".join(EXPOSURE_COMPONENTS)
    if (
        not isinstance(raw, list)
        or not all(isinstance(item, str) for item in raw)
        or len(set(raw)) != len(raw)
    ):
        errors["exposure_components"] = f"must be a list of distinct names from: {every}"
        return frozenset(EXPOSURE_COMPONENTS)
    unknown = sorted(set(raw) - set(EXPOSURE_COMPONENTS))
    if unknown:
        errors["exposure_components"] = f"unknown {', '.join(unknown)}; choose from: {every}"
    elif "open_invoices" not in raw:
        errors["exposure_components"] = "must include open_invoices: they are the exposure"
    return frozenset(raw)


def _overrides(raw: Any, ladder: Ladder, errors: dict[str, str]) -> Overrides:
    """`{"groups": {ref: settings}, "customers": {ref: settings}}`, each settings table a
    subset of OVERRIDABLE; its errors are named `overrides.customers.<ref>.<setting>`."""
    if raw is None:
        return Overrides()
    if not isinstance(raw, Mapping):
        errors["overrides"] = "must be a table with 'groups' and/or 'customers'"
        return Overrides()
    for key in sorted(set(raw) - {"groups", "customers"}):
        errors[f"overrides.{key}"] = "unknown part: use 'groups' or 'customers'"
    parsed: dict[str, dict[str, Mapping[str, Any]]] = {"groups": {}, "customers": {}}
    for kind in ("groups", "customers"):
        table = raw.get(kind, {})
        if not isinstance(table, Mapping):
            errors[f"overrides.{kind}"] = "must be a table of settings by id"
            continue
        for ref, settings in table.items():
            where = f"overrides.{kind}.{ref}"
            if not isinstance(settings, Mapping) or not settings:
                errors[where] = "must be a non-empty table of settings"
                continue
            local: dict[str, str] = {}
            for key in sorted(set(settings) - set(OVERRIDABLE)):
                local[key] = (
                    "unknown setting"
                    if key not in _KEYS | _OPTIONAL
                    else "holds for everyone and cannot be overridden"
                )
            nulls = set(settings) - _NULLABLE
            for key in sorted(k for k in nulls & set(OVERRIDABLE) if settings[k] is None):
                local[key] = "may not be empty"
            values = _settings(
                {k: v for k, v in settings.items() if k in OVERRIDABLE}, local, ladder
            )
            raw_steps = settings.get("warnings")
            if isinstance(values.get("warnings"), Ladder):
                # Kept as the steps it names, so a customer's steps lie over its group's (a
                # bad ladder is named in `local` and the document refused below).
                ladder_now = values["warnings"]
                named = raw_steps if isinstance(raw_steps, Mapping) else {}
                steps = [k for k in named if isinstance(k, str) and hasattr(ladder_now, k)]
                values["warnings"] = {k: getattr(ladder_now, k) for k in steps}
            for key, message in local.items():
                errors[f"{where}.{key}"] = message
            parsed[kind][str(ref)] = values
    return Overrides(groups=parsed["groups"], customers=parsed["customers"])


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
        elif item["role"] not in RELEASERS:
            errors[key] = f"role must be one of {', '.join(RELEASERS)} (who may release it)"
        else:
            tiers.append(ApprovalTier(amount, item["role"]))
    return tuple(sorted(tiers, key=lambda t: t.amount))


def settings_document(values: Mapping[str, Any]) -> dict[str, Any]:
    """Parsed settings in the stored form: strings for amounts so no float touches money."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Decimal):
            out[key] = str(value)
        elif isinstance(value, Outcome):
            out[key] = value.value
        elif key == "approval_tiers":
            out[key] = [{"amount": str(t.amount), "role": t.role} for t in value]
        elif key == "exposure_components":
            out[key] = [name for name in EXPOSURE_COMPONENTS if name in value]
        elif key == "warnings" and isinstance(value, Ladder):
            out[key] = ladder_to_document(value)
        elif key == "warnings":  # an override's steps
            out[key] = {k: str(v) if isinstance(v, Decimal) else v for k, v in value.items()}
        else:
            out[key] = value
    return out


def thresholds_to_document(th: Thresholds) -> dict[str, Any]:
    """The stored form of a version as parsed (its global values and its overrides)."""
    doc: dict[str, Any] = {"base_currency": th.base_currency}
    doc |= settings_document({key: getattr(th, key) for key in OVERRIDABLE})
    doc["overdue_count_cap"] = th.overdue_count_cap
    doc["fail_safe_outcome"] = th.fail_safe_outcome.value if th.fail_safe_outcome else None
    doc["overrides"] = {
        "groups": {ref: settings_document(v) for ref, v in th.overrides.groups.items()},
        "customers": {ref: settings_document(v) for ref, v in th.overrides.customers.items()},
    }
    if th.shadow is not None:
        doc["shadow"] = {
            "name": th.shadow.name,
            "until": th.shadow.until.isoformat(),
            "thresholds": thresholds_to_document(th.shadow.thresholds),
        }
    return doc
