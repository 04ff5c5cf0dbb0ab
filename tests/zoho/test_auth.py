"""OAuth against the data centre's accounts server: one refresh serves many calls, a refused
token is refreshed exactly once, and no secret is ever logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest

from adapters.http import RemoteRejected, TransientError
from adapters.zoho import ZohoCrmAdapter, ZohoRejected
from gating.push import WarningChange
from tests.zoho import payloads as z
from tests.zoho.conftest import AccountBook, TaskBook, calls_to, tokens

NOW = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)


def read_all(adapter: ZohoCrmAdapter) -> list[str]:
    return [c.ref for page in adapter.customers(None) for c in page.records]


def one_account(zoho, *, times: int = 1) -> None:
    for _ in range(times):
        row = z.account("4150868000000002175", "C-1", "A", "2026-11-20T10:00:00+01:00")
        zoho.get(z.ACCOUNTS, json=z.records([row]))


def test_one_refresh_serves_many_calls_on_the_data_centre_s_servers(zoho, make_adapter):
    tokens(zoho)
    one_account(zoho, times=3)
    adapter = make_adapter(dc="eu")

    for _ in range(3):
        assert read_all(adapter) == ["C-1"]

    (grant,) = calls_to(zoho, z.TOKEN_URL)
    form = parse_qs(grant.request.body)
    assert form == {
        "grant_type": ["refresh_token"],
        "client_id": [z.CLIENT_ID],
        "client_secret": [z.CLIENT_SECRET],
        "refresh_token": [z.REFRESH_TOKEN],
    }
    assert "?" not in grant.request.url  # secrets in the body, never in a loggable URL
    reads = calls_to(zoho, z.ACCOUNTS)
    assert len(reads) == 3  # on the api_domain the token came with
    assert {c.request.headers["Authorization"] for c in reads} == {
        f"Zoho-oauthtoken {z.ACCESS_TOKENS[0]}"
    }


def test_the_token_is_refreshed_again_only_when_it_is_about_to_expire(zoho, make_adapter, clock):
    tokens(zoho, 2)
    one_account(zoho, times=3)
    adapter = make_adapter()

    read_all(adapter)
    clock.now += 3600 - 301  # 5 min and a second left: still good
    read_all(adapter)
    assert len(calls_to(zoho, z.TOKEN_URL)) == 1

    clock.now += 2  # under five minutes left: refresh before it lapses mid-read
    read_all(adapter)
    assert len(calls_to(zoho, z.TOKEN_URL)) == 2
    last = calls_to(zoho, z.ACCOUNTS)[-1]
    assert last.request.headers["Authorization"] == f"Zoho-oauthtoken {z.ACCESS_TOKENS[1]}"


def test_an_invalid_token_answer_refreshes_exactly_once_then_succeeds(zoho, make_adapter, slept):
    tokens(zoho, 2)
    zoho.get(z.ACCOUNTS, status=401, json=z.INVALID_TOKEN)
    one_account(zoho)
    adapter = make_adapter()

    assert read_all(adapter) == ["C-1"]

    assert len(calls_to(zoho, z.TOKEN_URL)) == 2  # the first token, and one refresh
    first, second = calls_to(zoho, z.ACCOUNTS)
    assert first.request.headers["Authorization"] == f"Zoho-oauthtoken {z.ACCESS_TOKENS[0]}"
    assert second.request.headers["Authorization"] == f"Zoho-oauthtoken {z.ACCESS_TOKENS[1]}"
    assert slept == []  # a refresh, not a retry


def test_an_invalid_oauthtoken_answer_refreshes_like_invalid_token(zoho, make_adapter, slept):
    # INVALID_OAUTHTOKEN: the name Zoho's v8 OAuth token page gives an invalid access token.
    tokens(zoho, 2)
    zoho.get(z.ACCOUNTS, status=401, json=z.INVALID_OAUTHTOKEN)
    one_account(zoho)
    adapter = make_adapter()

    assert read_all(adapter) == ["C-1"]

    assert len(calls_to(zoho, z.TOKEN_URL)) == 2
    assert calls_to(zoho, z.ACCOUNTS)[-1].request.headers["Authorization"] == (
        f"Zoho-oauthtoken {z.ACCESS_TOKENS[1]}"
    )
    assert slept == []


def test_expires_in_is_read_as_milliseconds_next_to_expires_in_sec(zoho, make_adapter, clock):
    # Zoho's SDK for v8 (OAuthToken.get_token_expires_in): with expires_in_sec in the answer,
    # expires_in is in milliseconds; read as seconds it would be about 1,000 hours.
    zoho.post(z.TOKEN_URL, json=z.token(0, expires_in=3600000, expires_in_sec=3600))
    tokens(zoho, 1)
    one_account(zoho, times=2)
    adapter = make_adapter()

    read_all(adapter)
    clock.now += 3600 - 299  # under five minutes left of the hour: refreshed
    read_all(adapter)

    assert len(calls_to(zoho, z.TOKEN_URL)) == 2


def test_a_token_refused_again_after_its_refresh_is_rejected_without_more_refreshes(
    zoho, make_adapter, slept
):
    tokens(zoho, 3)
    zoho.get(z.ACCOUNTS, status=401, json=z.INVALID_TOKEN)
    zoho.get(z.ACCOUNTS, status=401, json=z.INVALID_TOKEN)
    adapter = make_adapter()

    with pytest.raises(ZohoRejected, match="INVALID_TOKEN: invalid oauth token") as caught:
        read_all(adapter)

    assert caught.value.code == "INVALID_TOKEN" and caught.value.status == 401
    assert len(calls_to(zoho, z.TOKEN_URL)) == 2
    assert len(calls_to(zoho, z.ACCOUNTS)) == 2
    assert slept == []


def test_a_401_for_a_missing_scope_does_not_refresh(zoho, make_adapter):
    tokens(zoho, 2)
    scope = z.error("OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")
    zoho.get(z.ACCOUNTS, status=401, json=scope)
    adapter = make_adapter()

    with pytest.raises(ZohoRejected, match="OAUTH_SCOPE_MISMATCH"):
        read_all(adapter)

    assert len(calls_to(zoho, z.TOKEN_URL)) == 1


def test_a_revoked_refresh_token_is_rejected_with_advice(zoho, make_adapter, slept):
    zoho.post(z.TOKEN_URL, json=z.REVOKED)  # the accounts server answers 200 with an error
    adapter = make_adapter()

    with pytest.raises(RemoteRejected, match=r"invalid_code.*check the client id") as caught:
        read_all(adapter)

    assert not isinstance(caught.value, TransientError)
    assert z.CLIENT_SECRET not in str(caught.value) and z.REFRESH_TOKEN not in str(caught.value)
    assert len(calls_to(zoho, z.TOKEN_URL)) == 1 and slept == []


def test_a_throttled_refresh_is_transient(zoho, make_adapter, slept):
    zoho.post(z.TOKEN_URL, status=400, json=z.THROTTLED)
    adapter = make_adapter()

    with pytest.raises(TransientError, match="too many requests"):
        read_all(adapter)

    assert len(calls_to(zoho, z.TOKEN_URL)) == 3 and len(slept) == 2


# Zoho's data centres as Zoho documents them, written out here rather than read from the adapter:
# The data centres Zoho's official SDK for v8 lists (zoho/zohocrm-python-sdk-8.0,
# zohocrmsdk/src/com/zoho/crm/api/dc: US, EU, IN, AU, JP, CN, CA, SA, each with its accounts
# server and its www.zohoapis.* domain); Zoho Accounts' "Data center for Zoho Account" page lists
# the same without CN. Neither lists a UK data centre (issue 15): it is not offered.
DATA_CENTRES = [
    ("us", "https://accounts.zoho.com", "https://www.zohoapis.com"),
    ("eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    ("in", "https://accounts.zoho.in", "https://www.zohoapis.in"),
    ("au", "https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    ("jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    ("cn", "https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    ("ca", "https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    ("sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa"),
]


@pytest.mark.parametrize(("dc", "accounts", "api"), DATA_CENTRES)
def test_each_data_centre_takes_its_token_there_and_reads_from_the_api_domain_it_names(
    zoho, make_adapter, dc, accounts, api
):
    zoho.post(f"{accounts}/oauth/v2/token", json={**z.token(), "api_domain": api})
    row = z.account("4150868000000002175", "C-1", "A", "2026-11-20T10:00:00+01:00")
    zoho.get(f"{api}/crm/v8/Accounts", json=z.records([row]))
    adapter = make_adapter(dc=dc, currency_field="Currency")

    assert adapter.accounts_url == accounts
    assert read_all(adapter) == ["C-1"]
    assert [c.request.url.split("?")[0] for c in zoho.calls] == [
        f"{accounts}/oauth/v2/token",
        f"{api}/crm/v8/Accounts",
    ]


def test_an_unknown_data_centre_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError) as refused:
        ZohoCrmAdapter("id", "secret", "refresh", dc="xx")

    known = "au, ca, cn, eu, in, jp, sa, us"
    assert str(refused.value) == f"unknown Zoho data centre 'xx'; use one of {known}"


def test_an_explicit_accounts_url_wins_over_the_code(zoho, make_adapter):
    zoho.post("https://accounts.zoho.example/oauth/v2/token", json=z.token())
    one_account(zoho)
    adapter = make_adapter(dc="us", accounts_url="https://accounts.zoho.example/")

    assert read_all(adapter) == ["C-1"]


def test_no_secret_appears_in_any_log_record(zoho, make_adapter, caplog, clock):
    caplog.set_level(logging.DEBUG)  # every logger, every level
    tokens(zoho, 2)
    zoho.post(z.TOKEN_URL, json=z.REVOKED)  # the third grant is refused
    zoho.get(z.ACCOUNTS, status=401, json=z.INVALID_TOKEN)  # refreshed once
    zoho.get(z.ACCOUNTS, status=429, json=z.TOO_MANY_REQUESTS, headers={"Retry-After": "2"})
    zoho.get(z.ACCOUNTS, status=500, json=z.INTERNAL_ERROR)  # retried, and logged
    one_account(zoho)
    AccountBook(zoho, {"C-1": "111"})
    TaskBook(zoho)
    adapter = make_adapter()
    change = WarningChange(
        "chg-1", "C-1", "red", "orange", ("45 days overdue",), "call the customer", True, NOW
    )

    read_all(adapter)
    adapter.push(change)
    clock.now += 4000  # expired, and the refresh is refused
    with pytest.raises(RemoteRejected) as caught:
        adapter.find_account("C-2")
    logging.getLogger("test").warning("push failed: %s", caught.value)  # as the job would

    assert len(caplog.records) >= 4, "refreshes and retries are logged"
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records) + repr(adapter)
    for secret in z.SECRETS:
        assert secret not in logged


def test_a_token_without_its_api_domain_is_refused_rather_than_guessed(zoho, make_adapter):
    answer = z.token()
    del answer["api_domain"]
    zoho.post(z.TOKEN_URL, json=answer)

    with pytest.raises(RemoteRejected, match="without its api_domain"):
        read_all(make_adapter())
