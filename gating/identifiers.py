"""What an external id is: the one rule for the ids ERPs, files and clients give creditgate.

An external id (an order's, a customer's, a group's, an invoice's or payment's, a source's) is
1 to `MAX_ID_LENGTH` characters, holds no control character (C0 or DEL: NUL above all would
reach a database that refuses it), and is matched exactly, case included. The API refuses one
that begins or ends with whitespace (sent by an ERP's code, a stray space is a bug to see, and
"C-100 " would be another customer than "C-100"); files and syncs trim it first (README,
"Identifiers"). An order's or customer's id also travels in URL paths, so it must have the URL
shape (`URL_ID_PATTERN`).

connector/schemas.py builds the API's validators from these constants, the adapters' field rules
(adapters/fields.py) check synced and imported ids with them, and the web pages call
`is_external_id` (and path ids through the schemas' PathSchema), so every door takes the same
ids.
"""

from __future__ import annotations

import re

MAX_ID_LENGTH = 100
"""The longest id; the store's columns are String(100)."""

CONTROL_FREE_PATTERN = r"^[^\x00-\x1f\x7f]+$"
"""An id's characters: anything but C0 controls and DEL (tab, CR and LF included)."""

URL_ID_PATTERN = r"^(?!\.\.?(/|$))(?!.*/\.\.?(/|$))[^/]+(/[^/]+)*$"
"""An order or customer id travels in URL paths (`/orders/<path:order_id>/events`), so a "/" is
fine between other characters, but not first, last or twice in a row, and no part between
slashes may be "." or "..": clients, proxies and browsers merge "//" and resolve dot segments
before the server sees the path, so such an id could never be worked."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL_SHAPE = re.compile(URL_ID_PATTERN)


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a C0 control character or DEL (the characters ids and names refuse;
    U+0085, U+00A0 and other non-printable characters outside them are allowed)."""
    return _CONTROL.search(text) is not None


def is_trimmed(value: str) -> bool:
    """Whether `value` neither begins nor ends with whitespace (Unicode's, as str.strip sees it)."""
    return value == value.strip()


def fits_url(value: str) -> bool:
    """Whether `value` has the URL-path shape of `URL_ID_PATTERN`."""
    return _URL_SHAPE.match(value) is not None


def is_external_id(value: object, *, url: bool = False) -> bool:
    """Whether `value` is an id as the API takes it from a client: 1 to 100 characters, no
    control characters, no surrounding whitespace; with `url`, also the URL-path shape (an
    order's or customer's id)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID_LENGTH
        and not has_control_characters(value)
        and is_trimmed(value)
        and (not url or fits_url(value))
    )
