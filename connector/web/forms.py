"""Web forms held to the API's rules: a form is loaded by the same marshmallow schema as the
API's JSON body (connector/schemas.py), after one conversion from what a browser sends.

Each page turns the schema's ValidationError into what it has always answered (a message shown
on the page, a 400, or a 404 for an id no record can have); the rule itself is the schema's."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import abort, request
from marshmallow import Schema, ValidationError, fields

from connector.i18n import _
from connector.schemas import TYPED_CONTROLS, DecimalText, path_ids

# Text a person types: tab, newline and carriage return are typing; any other control character
# is refused, in every form field (below) and in those no schema loads (a search, a user name).
CONTROL = re.compile(f"[{TYPED_CONTROLS}]")

# What the pages say when a reason the schemas refuse is not blank (blank: each page asks why).
PLAIN_REASON = "the reason must be at most 2,000 characters of plain text"


def plain_reason() -> str:
    """PLAIN_REASON in the reader's language."""
    return _("the reason must be at most 2,000 characters of plain text")


def form_values(schema: Schema, sent: Mapping[str, str]) -> dict[str, Any]:
    """What a form sent for `schema`'s fields, as the API's JSON body would carry it.

    Only the fields the schema loads are taken (by their data key: `from`, not `first`), so
    the CSRF token and any other field stay out. Surrounding blanks are trimmed; a blank field
    is left out (an optional one is then absent, a required one missing); an amount drops its
    thousands separators (`1,500.00`); a check box is true when it sends `true`, else false.

    :raises marshmallow.ValidationError: for text holding a control character other than tab,
        newline and carriage return, before any schema sees it (as the JSON body parser
        refuses a lone surrogate): not every schema field refuses them, and a NUL is an error
        in PostgreSQL. (Werkzeug decodes form fields strictly: no lone surrogate gets here.)
    """
    values: dict[str, Any] = {}
    refused: dict[str, list[str]] = {}
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if isinstance(field, fields.Boolean):
            values[key] = sent.get(key) == "true"
            continue
        text = sent.get(key, "").strip()
        if isinstance(field, DecimalText):
            text = text.replace(",", "")
        if CONTROL.search(text):
            refused[key] = ["must not contain control characters"]
        if text:
            values[key] = text
    if refused:
        raise ValidationError(refused, data=values)
    return values


def load_form(schema: Schema, sent: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The posted form (or `sent`, e.g. the query string) loaded by `schema`.

    :raises marshmallow.ValidationError: as the API would, keyed by field.
    """
    loaded: dict[str, Any] = schema.load(
        form_values(schema, request.form if sent is None else sent)
    )
    return loaded


def path_or_404(**ids: str) -> None:
    """Ids from the page's address, held to the API's rule for ids in a path: one that no
    record can have is a 404, never a database error."""
    try:
        path_ids(**ids)
    except ValidationError:
        abort(404)


def query_arg(name: str) -> str | None:
    """A filter without a schema (the customer search) from the query string: one no record can
    match is refused with a 400."""
    value = request.args.get(name, "").strip()
    if len(value) > 100 or CONTROL.search(value):
        abort(
            400,
            description=_("%(name)s: at most 100 characters, no control characters", name=name),
        )
    return value or None


def said(refused: ValidationError) -> str:
    """The schema's refusal, field by field: `to: must not be before 'from'`."""
    messages = (
        refused.messages if isinstance(refused.messages, dict) else {"_form": refused.messages}
    )
    return "; ".join(f"{key}: {' '.join(map(str, why))}" for key, why in messages.items())


_REQUIRED = fields.Field.default_error_messages["required"]


def blank(refused: ValidationError, key: str) -> bool:
    """Whether the schema refused `key` only because the form left it blank."""
    messages = refused.messages
    return isinstance(messages, dict) and messages.get(key) == [_REQUIRED]
