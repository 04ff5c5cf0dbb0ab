"""Chinese text as written wherever a page or a download shows it, never `\\uXXXX`: a hold reason
typed in Chinese on the customer page reads as written on the Audit page (a `key: value` line,
not raw JSON), in events.csv (UTF-8 with a byte order mark, for Excel on a Chinese Windows PC) and
in events.xlsx; a Chinese reason in a thresholds version's diff."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re

import pytest
from openpyxl import load_workbook

from tests.conftest import day
from tests.web.test_pages import Browser, browser, people  # noqa: F401 (fixtures)

REASON = "客户涉嫌虚开发票，暂停赊销，待法务核查"


@pytest.fixture
def held(browser: Browser) -> Browser:  # noqa: F811
    """ada (admin) puts C-100 on hold with a Chinese reason through the customer page's form;
    then otto (auditor) logs in."""
    browser.login("ada")
    answer = browser.post(
        "/customers/default/C-100/hold",
        {"on_hold": "true", "reason": REASON},
        "/customers/default/C-100",
    )
    assert answer.status_code == 302
    assert REASON in browser.text("/customers/default/C-100")
    browser.client.post("/logout", data={"csrf_token": browser.token("/")})
    browser.login("otto")
    return browser


def _cell(page: str) -> str:
    """The details cell of the Audit page's customer_hold_on event."""
    row = re.search(
        r'<tr><td>[^<]*</td><td>ada</td><td><span title="customer_hold_on">[^<]*</span></td>'
        r".*?</tr>",
        page,
        re.S,
    )
    assert row, page
    cell = re.search(r'<td class="details">(.*?)</td>', row.group(0), re.S)
    assert cell, row.group(0)
    return cell.group(1)


def test_the_audit_page_shows_the_chinese_reason_as_a_readable_line(held):
    page = held.text("/audit")

    cell = _cell(page)
    assert re.sub(r"<[^>]+>", "", cell) == f"reason: {REASON}"
    assert "\\u" not in page and "{" not in cell  # no escapes, no raw JSON


def test_events_csv_holds_the_chinese_reason_as_written_after_a_bom(held):
    response = held.client.get("/audit/events.csv?action=customer_hold_on")

    data = response.get_data()
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert data.startswith(codecs.BOM_UTF8)
    (row,) = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    assert row["details"] == json.dumps({"reason": REASON}, ensure_ascii=False)
    assert (row["actor"], row["subject"]) == ("ada", "customer:default/C-100")


def test_events_xlsx_holds_the_chinese_reason_as_written(held):
    response = held.client.get("/audit/events.xlsx?action=customer_hold_on")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="events.xlsx"'
    sheet = load_workbook(io.BytesIO(response.get_data())).worksheets[0]
    header, *rows = sheet.iter_rows(values_only=True)
    (row,) = [dict(zip(header, r, strict=True)) for r in rows]
    assert json.loads(row["details"]) == {"reason": REASON}
    assert REASON in row["details"]


def test_the_pages_decisions_export_as_xlsx_carries_amounts_and_currencies(held, api):
    api.gate("SO-1", "C-100", "100.00")  # blocked: the customer is on hold

    response = held.client.get("/audit/decisions.xlsx")

    sheet = load_workbook(io.BytesIO(response.get_data())).worksheets[0]
    header, *rows = sheet.iter_rows(values_only=True)
    (row,) = [dict(zip(header, r, strict=True)) for r in rows]
    assert (row["order_id"], row["outcome"]) == ("SO-1", "blocked")
    assert (row["amount"], row["currency"]) == (100, "CNY")
    assert (row["credit_limit"], row["credit_currency"]) == (200000, "CNY")


@pytest.mark.parametrize("path", ["/audit/events.pdf", "/audit/decisions.json"])
def test_an_export_in_another_format_is_a_404_on_the_pages(held, path):
    assert held.client.get(path).status_code == 404


def test_a_thresholds_diff_shows_a_chinese_customer_id_as_written(browser):  # noqa: F811
    """An override's customer id comes from the ERP, often in Chinese."""
    browser.login("ada")
    form = {"kind": "customers", "ref": "华东-客户001", "setting": "overdue_days", "value": "60"}

    saved = browser.post(
        "/thresholds/override",
        {**form, "from": day(0), "to": day(0), "action": "save", "reason": "账期延长至60天"},
        "/thresholds",
    )

    assert saved.headers["Location"] == "/thresholds?diff=2", saved.get_data(as_text=True)
    diff = browser.text("/thresholds?diff=2")
    assert "华东-客户001" in diff and "账期延长至60天" in diff
    assert "\\u" not in diff


def test_a_setting_that_was_not_utf8_never_breaks_the_page_or_a_download(browser, loaded, api):  # noqa: F811
    """A command line's argument that is not UTF-8 reaches Python as lone surrogates
    ("surrogateescape"); `sources add` records it in the event's details. Written as it is, it
    cannot be encoded: shown as U+FFFD in pages and files, escaped (exactly) in the API's JSON."""
    loaded.add_source("erp", "csv-folder", settings={"path": "/srv/\udcff导出"}, actor="cli")
    browser.login("otto")

    page = browser.text("/audit?action=source_added")
    exported = browser.client.get("/audit/events.csv?action=source_added")
    workbook = browser.client.get("/audit/events.xlsx?action=source_added")
    listed = api.client.get(
        "/api/v1/audit/events",
        query_string={"action": "source_added"},
        headers=api.keys.header("auditor"),
    )

    assert "path: - → /srv/\ufffd导出" in re.sub(r"<[^>]+>", "", page)
    (row,) = csv.DictReader(io.StringIO(exported.get_data().decode("utf-8-sig")))
    assert json.loads(row["details"])["path"]["new"] == "/srv/\ufffd导出"
    sheet = load_workbook(io.BytesIO(workbook.get_data())).worksheets[0]
    assert "/srv/\ufffd导出" in sheet.cell(2, 6).value
    assert listed.status_code == 200 and "/srv/\\udcff导出" in listed.get_data(as_text=True)
    assert listed.get_json()["events"][0]["details"]["path"]["new"] == "/srv/\udcff导出"
