"""The pages in Simplified Chinese and English (issue 16 §1): the catalogue is complete and up to
date, the language follows the user's setting, then Accept-Language, then English, and a page
read in Chinese shows no English sentence."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from adapters.db.tables import audit_events, users
from tests.conftest import day
from tests.web.test_pages import Browser, browser, people  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "connector" / "translations"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def _catalogue() -> object:
    with (TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale="zh_CN")


def test_every_message_has_a_chinese_translation_none_fuzzy():
    catalogue = _catalogue()
    untranslated = [
        m.id
        for m in catalogue  # type: ignore[attr-defined]
        if m.id and (m.fuzzy or not m.string or (isinstance(m.string, tuple) and not all(m.string)))
    ]

    assert len(list(catalogue)) > 200  # type: ignore[arg-type]
    assert untranslated == []


def test_the_catalogue_is_up_to_date_with_the_code(tmp_path):
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "--no-location", "-o", str(fresh), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with fresh.open("rb") as pot:
        extracted = {m.id for m in read_po(pot) if m.id}
    known = {m.id for m in _catalogue() if m.id}  # type: ignore[attr-defined]

    assert sorted(map(str, extracted - known)) == [], "run pybabel extract and update (README)"


def test_the_page_language_follows_the_browser_then_english(browser):  # noqa: F811
    chinese = browser.client.get("/login", headers=ZH).get_data(as_text=True)
    any_chinese = browser.client.get("/login", headers={"Accept-Language": "zh-TW"})
    french = browser.client.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    english = browser.client.get("/login", headers=EN).get_data(as_text=True)
    refused = browser.client.get("/login", headers={"Accept-Language": "zh;q=0, fr"})

    assert '<html lang="en">' in refused.get_data(as_text=True)  # q=0: not Chinese
    assert '<html lang="zh-CN">' in chinese and "用户名" in chinese and "密码" in chinese
    assert '<html lang="zh-CN">' in any_chinese.get_data(as_text=True)
    assert '<html lang="en">' in french and "User name" in french
    assert '<html lang="en">' in english and "用户名" not in english


def test_the_profile_setting_is_kept_and_wins_over_the_browser(browser, loaded):  # noqa: F811
    browser.login("sam")
    browser.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-US"

    saved = browser.post("/profile", {"language": "zh-CN"}, page="/profile")
    dashboard = browser.text("/")
    cleared = browser.post("/profile", {"language": ""}, page="/profile")
    after = browser.text("/")
    refused = browser.post("/profile", {"language": "fr"}, page="/profile")

    assert saved.status_code == 302 and cleared.status_code == 302
    assert '<html lang="zh-CN">' in dashboard and "总览" in dashboard
    assert '<html lang="en">' in after and "Dashboard" in after
    assert refused.status_code == 422
    with loaded.engine.connect() as conn:
        stored = conn.execute(select(users.c.language).where(users.c.username == "sam")).scalar()
        changes = conn.execute(
            select(audit_events.c.actor, audit_events.c.subject)
            .where(audit_events.c.action == "user_language_changed")
            .order_by(audit_events.c.id)
        ).all()
    assert stored is None
    assert [tuple(c) for c in changes] == [("sam", "user:sam"), ("sam", "user:sam")]


def test_a_setting_of_chinese_shows_the_pages_in_chinese_for_an_english_browser(browser):  # noqa: F811
    browser.login("ada")
    browser.post("/profile", {"language": "zh-CN"}, page="/profile")

    page = browser.client.get("/profile", headers=EN).get_data(as_text=True)

    assert '<html lang="zh-CN">' in page and "个人设置" in page
    assert 'value="zh-CN" lang="zh-CN" selected' in page


# -- no English sentence on a page read in Chinese -----------------------------------------------


class _Visible(HTMLParser):
    """The text a person reads: text outside <script>/<style>/<title> of the SVG's tooltips is
    read too; placeholders and labels for screen readers count."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "textarea", "pre", "code"):
            self._skip += 1
        for name, value in attrs:
            if name in ("placeholder", "aria-label") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "textarea", "pre", "code"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


# Data and names that are English in both languages: the demo dataset's names, codes, product
# and protocol names.
_ALLOWED = re.compile(
    r"creditgate|API|CSV|ERP|JSON|DSO|CNY|USD|EUR|[A-Z]{2,}[A-Z_0-9-]*|C-\d+|SO-\d+|INV-\d+"
)
_ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?:[ ,'’]+[A-Za-z]{2,})+\b")


def _english_runs(html: str, data: list[str]) -> list[str]:
    parser = _Visible()
    parser.feed(html)
    text = "\n".join(parser.parts)
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    text = _ALLOWED.sub(" ", text)
    return _ENGLISH_RUN.findall(text)


def _names(loaded) -> list[str]:  # the dataset's customer and group names, user names
    from adapters.db.tables import customers, groups

    with loaded.engine.connect() as conn:
        found = [r[0] for r in conn.execute(select(customers.c.name))]
        found += [r[0] for r in conn.execute(select(groups.c.name))]
    return [n for n in found if n]


PAGES = [
    *("/", "/customers", "/customers/default/C-300", "/customers/default/C-800"),
    *("/thresholds", "/thresholds?diff=2", "/audit", "/people", "/profile", "/nowhere"),
    "/holds",  # reasons answered in English, read in Chinese
]


@pytest.mark.parametrize("path", PAGES)
def test_a_page_read_in_chinese_has_no_english_sentence(browser, api, loaded, path):  # noqa: F811
    api.gate("SO-1", "C-300", "100.00")
    api.gate("SO-2", "C-800", "9000.00")
    api.event("SO-2", "invoiced")
    browser.login("ada")
    browser.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    browser.post(
        "/thresholds/override",
        {"kind": "customers", "ref": "C-300", "setting": "overdue_days", "value": "60",
         "action": "save", "reason": "C-300 pays at 60 days"},
        "/thresholds",
    )  # fmt: skip

    response = browser.client.get(path, headers={"Accept": "text/html"})
    html = response.get_data(as_text=True)

    assert '<html lang="zh-CN">' in html
    data = [*_names(loaded), "C-300 pays at 60 days", "ada", "otto", "sam", "mona"]
    assert _english_runs(html, data) == []


def test_a_what_if_read_in_chinese_has_no_english_sentence(browser, api, loaded):  # noqa: F811
    api.gate("SO-1", "C-300", "100.00")
    browser.login("ada")
    browser.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"

    what_if = browser.post(
        "/thresholds/override",
        {"kind": "customers", "ref": "C-300", "setting": "overdue_days", "value": "60",
         "action": "simulate", "from": day(0), "to": day(0)},
        "/thresholds",
    )  # fmt: skip

    html = what_if.get_data(as_text=True)
    assert "通过" in html and "拦截" in html and "模拟测算" in html  # blocked → approved
    assert _english_runs(html, _names(loaded)) == []


def test_error_pages_are_styled_in_the_readers_language_and_lead_back(browser, api):  # noqa: F811
    browser.login("otto")

    forbidden = browser.client.get("/thresholds", headers=ZH)
    missing = browser.client.get("/no-such-page", headers={**EN, "Accept": "text/html"})
    api_missing = browser.client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})

    page = forbidden.get_data(as_text=True)
    assert forbidden.status_code == 403 and '<html lang="zh-CN">' in page
    assert "无权访问" in page and "管理员" in page and 'href="/">返回总览' in page
    assert 'rel="stylesheet"' in page
    other = missing.get_data(as_text=True)
    assert missing.status_code == 404 and "Not found" in other and "Back to the dashboard" in other
    assert api_missing.status_code == 404 and api_missing.is_json


def test_reasons_answered_in_chinese_read_in_english_on_the_hold_pages(browser, api):  # noqa: F811
    body = '{"order_id": "SO-1", "customer_id": "C-300", "amount": "100.00", "currency": "CNY"}'
    answered = api.post("/api/v1/gate/orders", body, **{"Accept-Language": "zh-CN"})
    assert "逾期" in answered.get_json()["reasons"][0]["message"]
    browser.login("ada")

    listed = browser.client.get("/holds", headers=EN).get_data(as_text=True)
    order = browser.client.get("/holds/default/SO-1", headers=EN).get_data(as_text=True)

    for html in (listed, order):
        assert "overdue more than 30 days" in html
        assert "逾期" not in html
