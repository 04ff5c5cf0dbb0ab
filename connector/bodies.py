"""JSON request bodies, parsed once for every blueprint (and the web editor's JSON fields).

What the parser refuses, each named by its path in the body (`thresholds.overrides.customers.C-1`)
with a 422, before any schema sees it:

- text holding a lone surrogate (`"\\ud800"`, a JSON escape json.loads turns into a str that
  cannot be encoded to UTF-8): as a value or as an object's key. Stored once, such a string
  broke everything that encodes the row later (the audit chain above all);
- an object that names a key twice (json.loads keeps the last: an amount of 10.00 followed by
  99,999,999.00 was decided on the second);
- a number written with an exponent (`1e2`): amounts are decimal strings, and plain JSON numbers
  (`12.50`) are kept exactly (parse_float=Decimal); an exponent is not what the contract says;
- objects and lists nested more than MAX_DEPTH deep (800 levels overflowed the recursion of
  the code that copies a thresholds document: a 500).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import abort, request
from marshmallow import ValidationError

SURROGATE_IN_TEXT = "holds a lone surrogate (an unpaired \\ud800-\\udfff escape): not Unicode text"
SURROGATE_IN_KEY = "this key holds a lone surrogate (an unpaired \\ud800-\\udfff escape)"
DUPLICATE_KEY = "given more than once in the same object"
EXPONENT = "write numbers plainly (12.50), without an exponent"
TOO_DEEP = "nested too deep: at most 32 levels of objects and lists"
MAX_DEPTH = 32  # a thresholds document, the deepest body, has 7; code that walks it may recurse
_MAX_NAMED = 20  # a body full of bad strings is refused naming this many, not thousands


class _Repeated(dict[str, Any]):
    """An object whose text named some keys more than once (only the last value is kept)."""

    repeated: list[str]


class _Exponent(Decimal):
    """A JSON number written with an exponent; refused by the walk, which knows its path."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) == len(pairs):
        return found  # the common case: no key twice, a plain dict
    marked = _Repeated(found)
    seen: set[str] = set()
    marked.repeated = [k for k, _ in pairs if k in seen or seen.add(k)]  # type: ignore[func-returns-value]
    return marked


def _number(text: str) -> Decimal:
    if "e" in text or "E" in text:
        return _Exponent(text)
    return Decimal(text)


def parse_json(raw: bytes | str) -> Any:
    """Parse JSON text keeping every number exact and marking what `problems` names.

    :raises ValueError: (json.JSONDecodeError, UnicodeDecodeError, RecursionError too) when the
        text is not JSON at all.
    """
    return json.loads(raw, parse_float=_number, object_pairs_hook=_pairs)


def _shown(key: str) -> str:
    """A key as it can be printed: a lone surrogate written as its escape."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _bad_text(text: str) -> bool:
    if text.isascii():  # the common case, and ASCII holds no surrogate
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def problems(value: Any, root: str = "_body") -> dict[str, list[str]]:
    """What `parse_json`'s result holds that a client may not send, by path; {} when nothing.

    Walks with a stack, not recursion: json.loads took the body's depth, so must this.
    """
    found: dict[str, list[str]] = {}
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack and len(found) < _MAX_NAMED:
        path, item, depth = stack.pop()
        if depth >= MAX_DEPTH and isinstance(item, dict | list):
            found.setdefault(path or root, []).append(TOO_DEEP)
        elif isinstance(item, str):
            if _bad_text(item):
                found.setdefault(path or root, []).append(SURROGATE_IN_TEXT)
        elif isinstance(item, dict):
            if isinstance(item, _Repeated):
                for key in item.repeated:
                    found.setdefault(_join(path, key), []).append(DUPLICATE_KEY)
            for key, child in item.items():
                where = _join(path, key)
                if _bad_text(key):
                    found.setdefault(where, []).append(SURROGATE_IN_KEY)
                stack.append((where, child, depth + 1))
        elif isinstance(item, list):
            where = path or root
            stack.extend((f"{where}[{i}]", child, depth + 1) for i, child in enumerate(item))
        elif isinstance(item, _Exponent):
            found.setdefault(path or root, []).append(EXPONENT)
    return found


def _join(path: str, key: str) -> str:
    return f"{path}.{_shown(key)}" if path else _shown(key)


def checked(value: Any) -> Any:
    """`value` when it holds nothing `problems` names.

    :raises marshmallow.ValidationError: naming each bad place (answered 422).
    """
    found = problems(value)
    if found:
        raise ValidationError(found)
    return value


def _parsed() -> Any:
    raw = request.get_data(cache=True)
    if not raw:
        abort(400, description="send a JSON object as the request body")
    try:
        return parse_json(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        abort(400, description=f"the body is not valid JSON: {exc}")


def json_body() -> Any:
    """The request's JSON body, numbers exact (no float ever touches an amount), checked."""
    return checked(_parsed())


def object_body() -> dict[str, Any]:
    """The request's JSON body, which must be an object, checked."""
    body = _parsed()
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object")
    return checked(body)  # type: ignore[no-any-return]
