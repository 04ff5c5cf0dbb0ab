"""Every string the hold list's pages and view show has its Simplified Chinese in the pending
catalogue fragment (connector/translations/zh_CN/LC_MESSAGES/holds-pending.po), and each
translation keeps the placeholders of its message id."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "connector/translations/zh_CN/LC_MESSAGES/holds-pending.po"
SOURCES = [
    ("python", ROOT / "connector/web/holds.py"),
    *(("jinja2", p) for p in sorted((ROOT / "connector/templates/web").glob("hold*.html"))),
]
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _ids() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for method, path in SOURCES:
        options = {"extensions": "jinja2.ext.i18n"} if method == "jinja2" else {}
        for _line, message, _comments, _context in extract_from_file(
            method, str(path), keywords=KEYWORDS, options=options
        ):
            found.add(message)
    return found


def test_every_hold_list_string_has_its_chinese():
    with PO.open("rb") as f:
        catalogue = read_po(f)
    translated = {m.id: m.string for m in catalogue if m.id}

    ids = _ids()
    missing = [i for i in ids if not translated.get(i)]
    assert len(ids) > 100 and missing == []
    for msgid in ids:
        text = translated[msgid]
        first = msgid[0] if isinstance(msgid, tuple) else msgid
        strings = text if isinstance(text, tuple) else (text,)
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == set(PLACEHOLDER.findall(first)), msgid
            assert re.search(r"[\u4e00-\u9fff]", string) or string == first, msgid
