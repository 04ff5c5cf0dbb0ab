"""The shared HTTP plumbing: which failures are retried, how long it waits, timeouts by default."""

from __future__ import annotations

import time

import pytest
import requests

from adapters.http import (
    RemoteRejected,
    TransientError,
    new_retrying,
    new_session,
    route_status,
    transport_errors,
)
from tests.tryton.faults import FaultProxy
from tests.tryton.harness import free_port


def response(status: int, body: bytes = b"", reason: str = "") -> requests.Response:
    answer = requests.Response()
    answer.status_code, answer._content, answer.reason = status, body, reason
    return answer


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_errors_and_too_many_requests_are_transient(status):
    with pytest.raises(TransientError, match=f"erp: search answered HTTP {status}") as caught:
        route_status(response(status, b"<h1>busy</h1>"), "erp", "search")

    assert caught.value.status == status


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_rejections_that_quote_the_body(status):
    with pytest.raises(RemoteRejected, match="no such model") as caught:
        route_status(response(status, b"no such model", "Nope"), "erp", "search")

    assert caught.value.status == status


def test_a_success_is_returned_as_it_is():
    ok = response(200, b"{}")

    assert route_status(ok, "erp", "search") is ok


def test_retries_transient_errors_with_growing_waits_then_raises_the_last_one():
    sleeps: list[float] = []
    calls = 0

    def down() -> None:
        nonlocal calls
        calls += 1
        raise TransientError(f"attempt {calls} failed")

    with pytest.raises(TransientError, match="attempt 4 failed"):
        new_retrying(4, jitter=0.5, sleep=sleeps.append)(down)

    assert calls == 4
    assert [int(s) for s in sleeps] == [1, 2, 4]  # 1, 2, 4 s plus under half a second of jitter
    assert all(0 <= s - int(s) <= 0.5 for s in sleeps)


def test_waits_are_capped():
    sleeps: list[float] = []

    def down() -> None:
        raise TransientError("down")

    with pytest.raises(TransientError):
        new_retrying(8, max_wait=3.0, sleep=sleeps.append)(down)

    assert len(sleeps) == 7 and max(sleeps) <= 3.0


def test_a_rejection_is_never_retried():
    sleeps: list[float] = []
    calls = 0

    def refused() -> None:
        nonlocal calls
        calls += 1
        raise RemoteRejected("wrong password", status=401)

    with pytest.raises(RemoteRejected):
        new_retrying(5, sleep=sleeps.append)(refused)

    assert (calls, sleeps) == (1, [])


def test_the_first_success_ends_the_retries():
    answers = iter([TransientError("blip"), "done"])

    def flaky() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert new_retrying(5, sleep=lambda s: None)(flaky) == "done"


def test_a_session_call_without_a_timeout_still_times_out():
    with FaultProxy("http://127.0.0.1:9", plan={"*": ["timeout"]}, hang=2.0) as hung:
        session = new_session(timeout=(1.0, 0.2))
        started = time.monotonic()
        with pytest.raises(TransientError, match="timed out"), transport_errors("erp", "search"):
            session.post(hung.url, json={"method": "search"})  # no timeout= here on purpose
        session.close()

    assert time.monotonic() - started < 1.5


def test_a_refused_connection_is_transient():
    session = new_session(timeout=(1.0, 1.0))
    with pytest.raises(TransientError, match="failed to connect"), transport_errors("erp", "x"):
        session.post(f"http://127.0.0.1:{free_port()}/", data=b"{}")
    session.close()
