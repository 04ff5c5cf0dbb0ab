"""What schemathesis would not send by itself, added to its strategies (schema-level hooks):

- bodies with a lone surrogate (an unpaired "\\udXXX" escape) in a string value or in a key;
- bodies whose text names a key twice, and numbers written with an exponent (sent as raw bytes:
  a dict cannot hold either);
- non-ASCII header values (the key, the signature, the request id, ...), as a WSGI server hands
  them over: the header's bytes read as Latin-1.

Each generated case is either left as schemathesis made it or changed one of these ways, so the
usual checks (no 5xx above all) run over both.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

LONE = st.integers(min_value=0xD800, max_value=0xDFFF).map(chr)
HEADERS = ("Authorization", "X-Creditgate-Signature", "X-Request-ID", "Accept-Language")
NON_ASCII = st.sampled_from(
    [
        "é",
        "Bearer cg_\u00e9\u00e9_x",
        "t=1700000000,v1=" + "é" * 64,
        "\u4e2d\u6587 \U0001f600".encode().decode("latin-1"),  # UTF-8 bytes, read as Latin-1
        "\u00ff" * 200,
    ]
)


def _with_text(body: Any, extra: str) -> Any:
    """`body` with `extra` appended to its first string value (any depth), else added as one."""
    copy = json.loads(json.dumps(body))
    stack = [copy]
    while stack:
        item = stack.pop()
        pairs = list(item.items()) if isinstance(item, dict) else list(enumerate(item))
        for key, value in pairs:
            if isinstance(value, str):
                item[key] = value + extra
                return copy
            if isinstance(value, dict | list):
                stack.append(value)
    if isinstance(copy, dict):
        copy["note"] = extra
    return copy


def _duplicated(body: dict[str, Any]) -> bytes:
    """The body's text with its first key given once more, before the real one."""
    text = json.dumps(body)
    first = next(iter(body))
    return ("{" + json.dumps(first) + ': "99999999.00", ' + text[1:]).encode()


def _exponent(body: dict[str, Any]) -> bytes:
    text = json.dumps(body)
    return (text[:-1] + (", " if body else "") + '"amount": 1e2}').encode()


def hostile_body(body: Any) -> st.SearchStrategy[Any]:
    if not isinstance(body, dict | list):
        return st.just(body)
    changed: list[st.SearchStrategy[Any]] = [LONE.map(lambda c: _with_text(body, c))]
    if isinstance(body, dict):
        changed.append(LONE.map(lambda c: {**body, f"k{c}": "v"}))
        changed.append(st.just(_exponent(body)))
        if body:
            changed.append(st.just(_duplicated(body)))
    return st.one_of(st.just(body), *changed)


def hostile_case(case: Any) -> st.SearchStrategy[Any]:
    def with_header(choice: tuple[str, str]) -> Any:
        name, value = choice
        # In place: each case is a fresh draw, and only one branch of one_of is taken for it.
        case.headers = {**(case.headers or {}), name: value}
        return case

    return st.one_of(st.just(case), st.tuples(st.sampled_from(HEADERS), NON_ASCII).map(with_header))


def register(schema: Any) -> None:
    @schema.hook
    def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
        return hostile_body(body)

    @schema.hook
    def flatmap_case(context: Any, case: Any) -> st.SearchStrategy[Any]:
        return hostile_case(case)
