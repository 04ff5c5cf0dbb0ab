"""The Audit page in a real browser (tests/web/test_browser.py's Chromium and fixtures): a long
hold reason in Chinese, with a long unbroken id in it, typed on the customer page, reads as written
in the events table, which wraps it inside the cell instead of widening the page, and in the
events.csv the page downloads."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

from tests.web.test_browser import (  # noqa: F401 (fixtures)
    backend,
    language,
    log_in,
    page,
    server,
    shot,
)

REASON = (
    "客户涉嫌虚开增值税发票，暂停赊销，待法务核查；涉及发票 "
    + "".join(f"INV{n:06d}" for n in range(1, 25))  # one token, nowhere a browser would break it
    + " 。请勿放行。"
)


def test_a_long_chinese_hold_reason_wraps_in_the_audit_table_and_downloads_intact(page):  # noqa: F811
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, "ada")
    page.goto("/customers/default/C-100")
    page.fill("input[name=reason]", REASON)
    with page.expect_navigation():  # the hold is stored (and its answer's cookie set) first
        page.click("form[action$='/hold'] button[type=submit]")
    page.context.clear_cookies()
    log_in(page, "otto")

    page.goto("/audit")
    held = page.locator("#events tr:has(span[title=customer_hold_on])")  # the action in words
    cell = held.locator("td.details")

    assert cell.inner_text() == f"reason: {REASON}"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1440, f"the page is {width}px wide: the table did not wrap"
    assert page.locator("#events").bounding_box()["width"] <= 1440
    shot(page, "audit-chinese-reason")
    with page.expect_download() as download:
        page.click("#events-csv")
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    (held,) = [r for r in rows if r["action"] == "customer_hold_on"]
    assert REASON in held["details"]
