"""Failures: 429 waits what Zoho asks, 5xx and broken connections are retried a bounded number
of times, any other 4xx is refused at once with Zoho's code, and every call has a timeout."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from adapters.http import TransientError
from adapters.zoho import ZohoRejected
from gating.errors import TargetRejected, TargetUnavailable
from gating.push import WarningChange
from tests.zoho import payloads as z
from tests.zoho.conftest import AccountBook, TaskBook, calls_to, tokens

ROW = z.account("4150868000000002175", "C-1", "Zylker Corp", "2026-11-20T10:00:00+08:00")
CHANGE = WarningChange(
    change_id="chg-1",
    customer_ref="C-1",
    level="orange",
    previous_level="yellow",
    reasons=("oldest invoice 31 days overdue",),
    step="payment reminder",
    hold=False,
    decided_at=datetime(2026, 11, 22, 1, 30, tzinfo=UTC),
)


def read(adapter) -> list[str]:
    return [c.ref for page in adapter.customers(None) for c in page.records]


def test_a_429_is_waited_out_as_retry_after_asks_then_succeeds(zoho, make_adapter, slept):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, status=429, json=z.TOO_MANY_REQUESTS, headers={"Retry-After": "7"})
    zoho.get(z.ACCOUNTS, json=z.records([ROW]))

    assert read(make_adapter()) == ["C-1"]

    assert slept == [7.0]  # not the 1 s of the backoff
    assert len(calls_to(zoho, z.ACCOUNTS)) == 2


def test_without_the_header_the_wait_in_zoho_s_body_is_used(zoho, make_adapter, slept):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, status=429, json=z.TOO_MANY_REQUESTS)  # details.retry_after: 60
    zoho.get(z.ACCOUNTS, json=z.records([ROW]))

    assert read(make_adapter()) == ["C-1"]
    assert slept == [60.0]


def test_a_retry_after_shorter_than_the_backoff_waits_the_backoff(zoho, make_adapter, slept):
    tokens(zoho)
    for _ in range(2):
        zoho.get(z.ACCOUNTS, status=429, json=z.TOO_MANY_REQUESTS, headers={"Retry-After": "0"})
    zoho.get(z.ACCOUNTS, json=z.records([ROW]))

    assert read(make_adapter()) == ["C-1"]
    assert [int(s) for s in slept] == [1, 2]


def test_a_wait_longer_than_allowed_is_left_to_the_caller(zoho, make_adapter, slept):
    tokens(zoho)
    AccountBook(zoho, {"C-1": "111"})
    zoho.replace(
        "PUT", z.ACCOUNTS, status=429, json=z.TOO_MANY_REQUESTS, headers={"Retry-After": "3600"}
    )

    with pytest.raises(TargetUnavailable) as caught:
        make_adapter().push(CHANGE)

    assert caught.value.retry_after == 3600.0  # the push job requeues it for an hour
    assert slept == [] and len(calls_to(zoho, z.ACCOUNTS, "PUT")) == 1


def test_persistent_5xx_is_target_unavailable_after_the_allowed_attempts(zoho, make_adapter, slept):
    tokens(zoho)
    AccountBook(zoho, {"C-1": "111"})
    zoho.replace("PUT", z.ACCOUNTS, status=500, json=z.INTERNAL_ERROR)

    with pytest.raises(TargetUnavailable, match="HTTP 500 INTERNAL_ERROR") as caught:
        make_adapter().push(CHANGE)

    assert isinstance(caught.value, TransientError) and caught.value.status == 500
    assert len(calls_to(zoho, z.ACCOUNTS, "PUT")) == 3  # make_adapter allows 3 attempts
    assert [int(s) for s in slept] == [1, 2]


@pytest.mark.parametrize(
    "failure",
    [requests.ConnectionError("connection reset by peer"), requests.Timeout("read timed out")],
)
def test_connection_errors_and_timeouts_are_retried(zoho, make_adapter, slept, failure):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, body=failure)
    zoho.get(z.ACCOUNTS, json=z.records([ROW]))

    assert read(make_adapter()) == ["C-1"]
    assert len(slept) == 1


def test_a_token_endpoint_that_is_down_is_retried(zoho, make_adapter, slept):
    zoho.post(z.TOKEN_URL, body=requests.ConnectionError("connection refused"))
    zoho.post(z.TOKEN_URL, status=503, body="<html>maintenance</html>")
    tokens(zoho)
    zoho.get(z.ACCOUNTS, json=z.records([ROW]))

    assert read(make_adapter()) == ["C-1"]
    assert len(slept) == 2


@pytest.mark.parametrize(
    ("status", "payload", "code"),
    [
        (400, z.error("INVALID_DATA", "invalid data", param_name="fields"), "INVALID_DATA"),
        (403, z.NO_PERMISSION, "NO_PERMISSION"),
        (404, z.INVALID_URL_PATTERN, "INVALID_URL_PATTERN"),
    ],
)
def test_other_4xx_are_refused_at_once_with_zoho_s_code_and_message(
    zoho, make_adapter, slept, status, payload, code
):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, status=status, json=payload)

    with pytest.raises(ZohoRejected) as caught:
        read(make_adapter())

    assert isinstance(caught.value, TargetRejected)
    assert caught.value.code == code and caught.value.status == status
    assert f"read Accounts answered HTTP {status} {code}: {payload['message']}" in str(caught.value)
    assert len(calls_to(zoho, z.ACCOUNTS)) == 1 and slept == []


def test_the_discrete_paging_limit_error_is_a_rejection_naming_the_field(zoho, make_adapter):
    tokens(zoho)
    limit = z.error(
        "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
        "You can only get the first 2000 records without using page_token param",
        limit=2000,
    )
    zoho.get(z.ACCOUNTS, status=400, json=limit)

    with pytest.raises(ZohoRejected, match="without using page_token"):
        read(make_adapter())


def test_a_4xx_without_zoho_s_error_body_quotes_what_came(zoho, make_adapter):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, status=400, body="<html>Bad Request</html>")

    with pytest.raises(TargetRejected, match=r"HTTP 400.*Bad Request"):
        read(make_adapter())


def test_every_call_carries_the_timeout(zoho, make_adapter):
    tokens(zoho)
    zoho.get(z.ACCOUNTS, json=z.records([ROW]))
    AccountBook(zoho, {"C-1": "111"})
    TaskBook(zoho)
    # A plain Session has no default timeout: each call must pass its own.
    adapter = make_adapter(timeout=(2.5, 12.0), session=requests.Session())

    read(adapter)
    adapter.push(CHANGE)

    assert len(zoho.calls) == 7  # token, org, read, search, update, check, create
    assert {c.request.req_kwargs["timeout"] for c in zoho.calls} == {(2.5, 12.0)}
