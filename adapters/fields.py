"""The field rules every source shares: what a synced or imported value must be to become part
of a domain record (gating.records), and the message that says why when it is not.

The Tryton, NAV and Zoho adapters and the CSV reader all map their fields through these, so a
value one of them skips the others skip too, with the same words. A field that breaks a rule
raises `Invalid`; the source reports the record as a RecordError and keeps the rest of its page.
Ids follow the one rule of gating.identifiers (trimmed here first: files and syncs store ids
trimmed, README "Identifiers").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from gating.errors import InvalidAmount, UnknownCurrency
from gating.identifiers import MAX_ID_LENGTH, has_control_characters
from gating.money import DECIMAL_TEXT_RULE, is_currency, is_decimal_text, parse_amount
from gating.records import RecordError

MAX_TEXT_LENGTH = 300
"""The longest name or other free text a record keeps."""


class Invalid(ValueError):
    """A source's record that cannot become a domain record; the message says why."""


R = TypeVar("R")
T = TypeVar("T")


def mapped(
    entity: str, rows: Iterable[R], convert: Callable[[R], T], ref: Callable[[R], str]
) -> tuple[list[T], list[RecordError]]:
    """Each row of a source's page converted, or skipped and reported as a RecordError (under
    `ref(row)`, the row's id in the source) when a field breaks a rule: a bad record never
    stops the rest."""
    records: list[T] = []
    errors: list[RecordError] = []
    for row in rows:
        try:
            records.append(convert(row))
        except Invalid as exc:
            errors.append(RecordError(entity, ref(row), str(exc)))
    return records, errors


def _checked(value: str, name: str, longest: int) -> str:
    """The checks of a trimmed, non-empty text, in order; the first that fails is the error."""
    if len(value) > MAX_TEXT_LENGTH:
        raise Invalid(f"{name} is longer than {MAX_TEXT_LENGTH} characters")
    if has_control_characters(value):
        raise Invalid(f"{name} contains control characters")
    if len(value) > longest:
        raise Invalid(f"{name} is longer than {longest} characters")
    return value


def text(value: Any, name: str, longest: int = MAX_TEXT_LENGTH) -> str:
    """Text trimmed of surrounding whitespace: not empty, at most `longest` characters, no C0
    control character or DEL. Anything but a string is empty."""
    trimmed = value.strip() if isinstance(value, str) else ""
    # The common case first: str.isprintable() is only a quick test (a printable value holds
    # no control character); it also fails for allowed characters such as U+0085 or U+00A0,
    # and those values are then looked at by `_checked`.
    if trimmed and len(trimmed) <= longest and trimmed.isprintable():
        return trimmed
    if not trimmed:
        raise Invalid(f"{name} is empty")
    return _checked(trimmed, name, longest)


def optional_text(value: Any, name: str, longest: int = MAX_TEXT_LENGTH) -> str | None:
    """`text`, or None when blank."""
    trimmed = value.strip() if isinstance(value, str) else ""
    if trimmed and len(trimmed) <= longest and trimmed.isprintable():
        return trimmed
    if not trimmed:
        return None
    return _checked(trimmed, name, longest)


def ref(value: Any, name: str, longest: int = MAX_ID_LENGTH) -> str:
    """An external id (gating.identifiers), trimmed; `longest` only ever shortens the limit
    (a source whose codes are shorter, e.g. NAV's Code[20])."""
    # `text`'s lines, not a call to it: the CSV reader checks two ids on each of millions of rows.
    longest = MAX_ID_LENGTH if longest > MAX_ID_LENGTH else longest
    trimmed = value.strip() if isinstance(value, str) else ""
    if trimmed and len(trimmed) <= longest and trimmed.isprintable():
        return trimmed
    if not trimmed:
        raise Invalid(f"{name} is empty")
    return _checked(trimmed, name, longest)


def optional_ref(value: Any, name: str) -> str | None:
    """`ref`, or None when blank."""
    return optional_text(value, name, MAX_ID_LENGTH)


def currency(value: Any) -> str:
    """An ISO 4217 code creditgate knows; text is trimmed and upper-cased ("usd " is USD)."""
    if isinstance(value, str):
        if is_currency(value):  # the common case: the code itself
            return value
        code = value.strip().upper()
        if is_currency(code):
            return code
        value = code
    raise Invalid(f"currency {value!r} is not an ISO 4217 code")


def amount(value: Any, currency: str, name: str) -> Decimal:
    """An exact amount of `currency`, at most its minor unit's decimals.

    A typed value must be a Decimal or an int, never a bool or a float. Text must be a decimal
    string as the contract writes one (`12.50`, trimmed): not `1e2`, `+10`, `1_000` or other
    scripts' digits.
    """
    if isinstance(value, str):
        raw = value.strip()
        if not raw:
            raise Invalid(f"{name} is empty")
        parsed = _parsed(raw, currency, name)
        # After parsing, so text that is no number at all keeps parse_amount's message.
        if not is_decimal_text(raw):
            raise Invalid(f"{name} {raw!r} must be {DECIMAL_TEXT_RULE}")
        return parsed
    if value is None:
        raise Invalid(f"{name} is missing")
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise Invalid(f"{name} is not an amount: {value!r}")
    return _parsed(value, currency, name)


def _parsed(value: str | Decimal | int, currency: str, name: str) -> Decimal:
    try:
        return parse_amount(value, currency)
    except (InvalidAmount, UnknownCurrency) as exc:
        raise Invalid(f"{name}: {exc}") from None


def optional_day(value: Any) -> date | None:
    """A calendar date, or None when there is none. A datetime is not a date, and NAV writes a
    blank date (0D) as 0001-01-01."""
    if not isinstance(value, date) or isinstance(value, datetime) or value == date.min:
        return None
    return value


def day(value: Any, name: str) -> date:
    """A calendar date (see `optional_day`) that must be there."""
    found = optional_day(value)
    if found is None:
        blank = value is None or (isinstance(value, date) and not isinstance(value, datetime))
        raise Invalid(f"{name} is missing" if blank else f"{name} is not a date: {value!r}")
    return found


def day_text(raw: str, name: str) -> date:
    """A date written as text, ISO 8601 (`2026-11-20`), trimmed."""
    raw = raw.strip()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"{name} {raw!r} is not an ISO date (YYYY-MM-DD)") from None


def instant(value: Any) -> datetime | None:
    """An ISO 8601 timestamp with its offset, in UTC; None when absent, unreadable or naive
    (a watermark must never be a guess)."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)
