"""The languages creditgate speaks to people and clients, as language tags: what users.language,
api_clients.language and a source's `language` setting hold. None (NULL): no setting, so a page
follows the browser, and an API answer or a pushed warning is in English."""

from __future__ import annotations

LANGUAGES = ("zh-CN", "en")
"""Simplified Chinese and English."""

DEFAULT_LANGUAGE = "en"


def check_language(tag: str | None) -> str | None:
    """`tag` if creditgate speaks it (None: no setting).

    :raises ValueError: naming the languages there are.
    """
    if tag is None or tag in LANGUAGES:
        return tag
    raise ValueError(f"language: one of {', '.join(LANGUAGES)}, not {tag!r}")
