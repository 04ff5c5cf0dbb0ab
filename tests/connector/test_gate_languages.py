"""The gate's reasons in the API client's language (issue 16 §1): the codes stay, the messages
follow the key's setting (`apikey create --language`, `apikey language`), and Accept-Language
wins when the request sends it. The answer is stored as it was given; a replay in another
language gives the same decision worded in the caller's (Content-Language says which), and a
page can word any stored decision's reasons in its reader's language."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from adapters.db.tables import audit_events
from gating.commands import CreateApiClient, SetClientLanguage
from gating.reason_texts import reason_messages

ZH_KEY = "cg_zhkey01_chinese-speaking-erp-key-for-tests-0001"


@pytest.fixture
def zh_key(loaded) -> str:
    loaded.writes.create_api_client(CreateApiClient("erp-zh", "erp", key=ZH_KEY, language="zh-CN"))
    return ZH_KEY


def _gate(client, key: str, order_id: str, customer_id: str, amount: str, **headers: str):
    body = {"order_id": order_id, "customer_id": customer_id, "amount": amount, "currency": "CNY"}
    return client.post(
        "/api/v1/gate/orders",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}", **headers},
    )


CASES = [
    ("C-200", "12500.00", "CREDIT_LIMIT_EXCEEDED",
     "风险敞口 91,000.00 CNY + 本订单 12,500.00 CNY "
     "超出信用额度 100,000.00 CNY，超出 3,500.00 CNY"),
    ("C-300", "1000.00", "OVERDUE_INVOICES",
     "2 张发票逾期超过 30 天（最早为 INV-3001，已逾期 45 天）"),
    ("C-400", "1.00", "CUSTOMER_ON_HOLD", "客户 C-400 已被冻结：delivery dispute"),
    ("C-600", "1000.00", "NO_CREDIT_LIMIT", "客户 C-600 未设信用额度"),
    ("C-NEW", "3000.00", "UNKNOWN_CUSTOMER",
     "客户 C-NEW 尚未同步；在试用额度 5,000.00 CNY 内放行（已用 3,000.00 CNY）"),
]  # fmt: skip


@pytest.mark.parametrize(("customer", "amount", "code", "chinese"), CASES)
def test_a_key_set_to_chinese_gets_chinese_messages_and_the_same_codes(
    client, zh_key, api, customer, amount, code, chinese
):
    zh = _gate(client, zh_key, "SO-1", customer, amount)
    en = api.gate("SO-2", customer, amount)

    assert zh.status_code == 200 and zh.headers["Content-Language"] == "zh-CN"
    assert en.headers["Content-Language"] == "en"
    assert zh.get_json()["reasons"] == [{"code": code, "message": chinese}]
    assert [r["code"] for r in en.get_json()["reasons"]] == [code]


def test_the_group_limit_in_chinese(client, zh_key):
    body = _gate(client, zh_key, "SO-6", "C-520", "60000.00").get_json()

    assert [r["code"] for r in body["reasons"]] == ["GROUP_LIMIT_EXCEEDED"]
    assert "超出集团信用额度 500,000.00 CNY，超出 8,000.00 CNY" in body["reasons"][0]["message"]


def test_accept_language_wins_over_the_keys_setting_both_ways(client, zh_key, api):
    english = _gate(client, zh_key, "SO-1", "C-300", "1000.00", **{"Accept-Language": "en"})
    chinese = api.post(
        "/api/v1/gate/orders",
        json.dumps({"order_id": "SO-2", "customer_id": "C-300", "amount": "1000.00",
                    "currency": "CNY"}),
        **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"},
    )  # fmt: skip
    anything = api.post(
        "/api/v1/gate/orders",
        json.dumps({"order_id": "SO-3", "customer_id": "C-300", "amount": "1000.00",
                    "currency": "CNY"}),
        **{"Accept-Language": "*"},
    )  # fmt: skip

    assert english.get_json()["reasons"][0]["message"].startswith("2 invoices overdue")
    assert chinese.get_json()["reasons"][0]["message"].startswith("2 张发票逾期")
    assert anything.get_json()["reasons"][0]["message"].startswith("2 invoices overdue")


def test_a_replay_gives_back_the_same_decision_worded_in_the_callers_language(client, zh_key):
    first = _gate(client, zh_key, "SO-1", "C-100", "100.00")
    same = _gate(client, zh_key, "SO-1", "C-100", "100.00")
    english = _gate(client, zh_key, "SO-1", "C-100", "100.00", **{"Accept-Language": "en"})

    assert first.get_json()["outcome"] == "approved"
    assert same.headers["X-Creditgate-Replayed"] == "true"
    assert same.get_json() == first.get_json() and same.headers["Content-Language"] == "zh-CN"
    assert english.headers["X-Creditgate-Replayed"] == "true"
    assert english.headers["Content-Language"] == "en"
    keep = ("decision_id", "outcome", "decided_at")
    assert {k: english.get_json()[k] for k in keep} == {k: first.get_json()[k] for k in keep}


def test_a_release_at_the_desk_is_replayed_to_a_chinese_erp_in_chinese(client, zh_key, api):
    held = _gate(client, zh_key, "SO-R", "C-600", "1000.00")
    assert held.get_json()["reasons"][0]["code"] == "NO_CREDIT_LIMIT"
    released = api.client.post(
        "/api/v1/admin/holds/SO-R/release",
        json={"reason": "limit coming", "cap": "2000.00"},
        headers=api.keys.header("admin"),
    )
    assert released.status_code == 200, released.get_json()

    again = _gate(client, zh_key, "SO-R", "C-600", "1000.00")

    assert again.headers["X-Creditgate-Replayed"] == "true"
    assert again.headers["Content-Language"] == "zh-CN"
    [reason] = again.get_json()["reasons"]
    assert reason["code"] == "RELEASED_BY" and "放行" in reason["message"]


def test_a_keys_language_is_changed_and_audited(client, loaded, api, keys):
    changed = loaded.writes.set_client_language(SetClientLanguage("erp-test", "zh-CN", "cli"))
    again = loaded.writes.set_client_language(SetClientLanguage("erp-test", "zh-CN", "cli"))
    client.application.extensions["creditgate.clients"] = type(
        client.application.extensions["creditgate.clients"]
    )()  # a new worker's cache: the setting is read with the key
    body = api.gate("SO-1", "C-300", "1000.00").get_json()

    assert changed and not again
    assert body["reasons"][0]["message"].startswith("2 张发票逾期")
    with loaded.engine.connect() as conn:
        events = conn.execute(
            select(audit_events.c.subject).where(
                audit_events.c.action == "api_key_language_changed"
            )
        ).all()
    assert [e.subject for e in events] == ["api_client:erp-test"]
    with pytest.raises(ValueError, match="language"):
        loaded.writes.set_client_language(SetClientLanguage("erp-test", "fr", "cli"))


def test_a_stored_decision_is_worded_in_the_readers_language(api):
    body = api.gate("SO-1", "C-200", "12500.00").get_json()
    stored = api.decision(body["decision_id"]).get_json()

    reasons, rules = stored["response"]["reasons"], stored["rules"]
    worded = reason_messages(reasons, rules, "zh-CN")
    english = reason_messages(reasons, rules, "en")

    assert worded == [{"code": "CREDIT_LIMIT_EXCEEDED", "message": CASES[0][3]}]
    assert english == body["reasons"]


def test_the_list_of_keys_says_which_language_each_answers_in(loaded, keys, zh_key):
    listed = {row.name: row.language for row in loaded.reads.list_api_clients()}

    assert listed.pop("erp-zh") == "zh-CN"
    assert listed and set(listed.values()) == {None}  # the others: English
