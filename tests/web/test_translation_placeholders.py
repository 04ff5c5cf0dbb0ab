"""Each Simplified Chinese translation in the catalogue keeps exactly the placeholders of its
message id (a lost `%(amount)s` would hide the figure; a stray one would raise as the page
renders), and is Chinese, not the English copied over."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "connector/translations/zh_CN/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def test_every_translation_keeps_its_placeholders_and_is_chinese():
    with PO.open("rb") as f:
        catalogue = read_po(f)
    messages = [m for m in catalogue if m.id]

    assert len(messages) > 300
    for message in messages:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[0])) | set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) <= wanted, message.id
            assert set(PLACEHOLDER.findall(ids[0])) - {"num"} <= set(PLACEHOLDER.findall(string)), (
                message.id
            )
            has_words = re.search(r"[A-Za-z]{2}", PLACEHOLDER.sub("", ids[0]))
            assert CHINESE.search(string) or not has_words or string == ids[0], message.id
