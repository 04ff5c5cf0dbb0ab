"""Changes to sources (`creditgate sources add` and `sources set`) on the Audit page and in its
events export: who, which source, and each setting's old and new value."""

from __future__ import annotations

import csv
import html
import io
import json
import re

from config.wiring import Services
from tests.web.test_pages import Browser, browser, people  # noqa: F401  (fixtures)


def _text(page: str) -> str:
    """The page's text, as read: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_the_audit_page_and_export_show_who_changed_which_source_setting(
    browser: Browser,  # noqa: F811
    loaded: Services,
) -> None:
    loaded.add_source("erp", "csv-folder", settings={"path": "/srv/erp-exports"}, actor="cli")
    stored = loaded.sync_store().source("erp")
    loaded.set_source(stored, url=None, settings={"path": "/srv/erp-2"}, actor="cli")
    browser.login("otto")

    page = _text(browser.text("/audit?action=source_changed"))
    exported = browser.client.get("/audit/events.csv?action=source_changed")

    assert "source changed" in page and "source:erp" in page
    assert "path: /srv/erp-exports → /srv/erp-2" in page  # a line of the details, not JSON
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert [(r["actor"], r["action"], r["subject"]) for r in rows] == [
        ("cli", "source_changed", "source:erp")
    ]
    assert json.loads(rows[0]["details"]) == {
        "kind": "csv-folder",
        "path": {"old": "/srv/erp-exports", "new": "/srv/erp-2"},
    }
    added = _text(browser.text("/audit?action=source_added"))
    assert "source added" in added and "path: - → /srv/erp-exports" in added
