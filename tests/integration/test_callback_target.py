"""The callback push target against a real HTTP receiver on loopback.

The receiver runs in a thread on 127.0.0.1 (an ephemeral port), like an ERP's webhook endpoint
would: it records every request, verifies its signature with gating.signatures, applies each
Idempotency-Key once, and answers what the test scripts (a status, a Retry-After, a redirect, a
dropped connection, a slow answer); unscripted requests get 200.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.callback import CallbackTarget
from adapters.http import new_retrying
from gating.errors import TargetRejected, TargetUnavailable
from gating.push import HoldNotice, WarningChange, notice_document
from gating.signatures import SIGNATURE_HEADER, sign, verify_signature
from tests.callback_receiver import Answer, Receiver

SECRET = "whsec-callback-test-0123456789"
DECIDED = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)

NOTICE = HoldNotice(
    change_id="hold-41-released-1",
    source="tryton",
    order_id="SO-1041",
    customer_ref="C-300",
    action="released",
    outcome="approved",
    actor="alice@example.com",
    reason="paid by wire this morning",
    cap="12000.00",
    currency="CNY",
    expires_at=DECIDED + timedelta(days=2),
    decision_id=None,
    decided_at=DECIDED,
)

WARNING = WarningChange(
    change_id="warn-C-300-7",
    customer_ref="C-300",
    level="orange",
    previous_level="yellow",
    reasons=("oldest invoice INV-3001 is 45 days overdue", "INV-3002 is 31 days overdue"),
    step="formal overdue notice",
    hold=False,
    decided_at=DECIDED,
)


# ---- fixtures ----------------------------------------------------------------------------------


class Ticker:
    """A clock that moves on a second each time it is read: each attempt gets its own stamp."""

    def __init__(self) -> None:
        self.now = int(time.time())
        self.read: list[int] = []

    def __call__(self) -> float:
        self.now += 1
        self.read.append(self.now)
        return float(self.now)


@pytest.fixture
def receivers() -> Iterator[Callable[[str], Receiver]]:
    started: list[Receiver] = []

    def start(secret: str = SECRET) -> Receiver:
        started.append(Receiver(secret))
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def receiver(receivers: Callable[..., Receiver]) -> Receiver:
    return receivers()


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def targets(slept: list[float], ticker: Ticker) -> Iterator[Callable[..., CallbackTarget]]:
    """Make CallbackTargets with `attempts` tries whose waits are recorded, not slept."""
    made: list[CallbackTarget] = []

    def make(url: str, *, attempts: int = 2, **kwargs: Any) -> CallbackTarget:
        kwargs.setdefault("retrying", new_retrying(attempts, sleep=slept.append))
        kwargs.setdefault("clock", ticker)
        made.append(CallbackTarget(url, SECRET, **kwargs))
        return made[-1]

    yield make
    for target in made:
        target.close()


@pytest.fixture
def target(targets: Callable[..., CallbackTarget], receiver: Receiver) -> CallbackTarget:
    return targets(receiver.url)


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- delivery ----------------------------------------------------------------------------------


def test_a_hold_notice_is_delivered_once_signed_over_the_exact_body(
    target: CallbackTarget, receiver: Receiver, ticker: Ticker, slept: list[float]
) -> None:
    target.push(NOTICE)

    (request,) = receiver.requests
    assert request.verdict is None
    assert request.headers[SIGNATURE_HEADER] == sign(SECRET, request.body, ticker.read[0])
    assert json.loads(request.body) == notice_document(NOTICE)
    assert request.headers["Idempotency-Key"] == NOTICE.change_id
    assert request.headers["X-Creditgate-Event"] == "hold_resolution"
    assert request.headers["Content-Type"] == "application/json"
    assert receiver.applied == {NOTICE.change_id: notice_document(NOTICE)}
    assert slept == []


def test_a_warning_change_is_delivered_as_a_warning_event(
    target: CallbackTarget, receiver: Receiver
) -> None:
    target.push(WARNING)

    (request,) = receiver.requests
    assert request.verdict is None
    assert request.headers["X-Creditgate-Event"] == "warning"
    assert request.headers["Idempotency-Key"] == WARNING.change_id
    assert json.loads(request.body) == {
        "event": "warning",
        "change_id": "warn-C-300-7",
        "customer_id": "C-300",
        "level": "orange",
        "previous_level": "yellow",
        "reasons": ["oldest invoice INV-3001 is 45 days overdue", "INV-3002 is 31 days overdue"],
        "step": "formal overdue notice",
        "hold": False,
        "decided_at": "2026-11-22T01:30:00+00:00",
    }
    assert list(receiver.applied) == [WARNING.change_id]


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(Answer(503, body="maintenance"), id="503"),
        pytest.param(Answer(drop=True), id="dropped-connection"),
        pytest.param(Answer(lose=True), id="applied-but-answer-lost"),
        pytest.param(Answer(408), id="408"),
    ],
)
def test_an_unavailable_receiver_gets_the_event_again_freshly_signed_and_applies_it_once(
    target: CallbackTarget, receiver: Receiver, slept: list[float], first: Answer
) -> None:
    receiver.script(first)

    target.push(NOTICE)

    one, two = receiver.requests
    assert one.verdict is None and two.verdict is None
    assert one.body == two.body
    assert one.stamp < two.stamp
    assert one.headers[SIGNATURE_HEADER] != two.headers[SIGNATURE_HEADER]
    assert one.headers["Idempotency-Key"] == two.headers["Idempotency-Key"] == NOTICE.change_id
    assert receiver.applied == {NOTICE.change_id: notice_document(NOTICE)}
    assert receiver.duplicates == (1 if first.lose else 0)
    assert len(slept) == 1


def test_a_change_pushed_again_is_applied_once(target: CallbackTarget, receiver: Receiver) -> None:
    target.push(NOTICE)
    target.push(NOTICE)

    assert len(receiver.requests) == 2
    assert list(receiver.applied) == [NOTICE.change_id]
    assert receiver.duplicates == 1


def test_a_receiver_that_stays_down_is_unavailable_after_the_attempts(
    targets: Callable[..., CallbackTarget], receiver: Receiver, slept: list[float]
) -> None:
    receiver.script(*[Answer(503, body="down for maintenance")] * 5)
    target = targets(receiver.url, attempts=2)

    with pytest.raises(TargetUnavailable, match=r"HTTP 503 .*down for maintenance") as caught:
        target.push(NOTICE)

    assert len(receiver.requests) == 2
    assert len(slept) == 1
    assert not isinstance(caught.value, TargetRejected)
    assert receiver.applied == {}


def test_an_unreachable_receiver_is_unavailable(
    targets: Callable[..., CallbackTarget], slept: list[float]
) -> None:
    target = targets(f"http://127.0.0.1:{_unused_port()}/events", attempts=2)

    with pytest.raises(TargetUnavailable, match="failed to connect"):
        target.push(NOTICE)
    assert len(slept) == 1


def test_a_slow_receiver_times_out_as_unavailable(
    targets: Callable[..., CallbackTarget], receiver: Receiver
) -> None:
    receiver.script(Answer(delay=0.3))
    target = targets(receiver.url, attempts=1, timeout=(1.0, 0.05))

    with pytest.raises(TargetUnavailable, match="timed out"):
        target.push(NOTICE)


def test_a_429_is_retried_after_the_wait_it_asks_for(
    target: CallbackTarget, receiver: Receiver, slept: list[float]
) -> None:
    receiver.script(Answer(429, {"Retry-After": "7"}, "slow down"))

    target.push(NOTICE)

    assert len(receiver.requests) == 2
    assert slept[0] >= 7
    assert list(receiver.applied) == [NOTICE.change_id]


def test_a_429_with_retry_after_0_is_retried(
    target: CallbackTarget, receiver: Receiver, slept: list[float]
) -> None:
    receiver.script(Answer(429, {"Retry-After": "0"}))

    target.push(WARNING)

    assert len(receiver.requests) == 2
    assert list(receiver.applied) == [WARNING.change_id]


@pytest.mark.parametrize(
    ("header", "read"),
    [
        ("inf", None),  # not delay-seconds (RFC 9110: digits only): the target's own back-off
        ("1e12", None),
        ("-5", None),
        ("2.5", None),
        ("999999999999", 86_400.0),  # digits, but more than a day: read as a day
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # an HTTP date already past
    ],
)
def test_retry_after_is_read_as_rfc_9110_writes_it_and_never_beyond_a_day(
    targets: Callable[..., CallbackTarget],
    receiver: Receiver,
    slept: list[float],
    header: str,
    read: float | None,
) -> None:
    receiver.script(*[Answer(503, {"Retry-After": header})] * 2)
    target = targets(receiver.url, attempts=1)

    with pytest.raises(TargetUnavailable) as caught:
        target.push(NOTICE)

    assert caught.value.retry_after == read


def test_a_wait_longer_than_the_retries_can_sleep_goes_back_to_the_queue(
    targets: Callable[..., CallbackTarget], receiver: Receiver, slept: list[float]
) -> None:
    receiver.script(Answer(503, {"Retry-After": "3600"}))
    target = targets(receiver.url, attempts=5)

    with pytest.raises(TargetUnavailable) as caught:
        target.push(NOTICE)

    assert caught.value.retry_after == 3600
    assert len(receiver.requests) == 1
    assert slept == []


# ---- refusals ----------------------------------------------------------------------------------


def test_a_400_is_rejected_at_once_naming_the_status_and_the_body(
    target: CallbackTarget, receiver: Receiver, slept: list[float]
) -> None:
    receiver.script(Answer(400, body="unknown order   SO-1041\n"))

    with pytest.raises(TargetRejected, match=r"HTTP 400 Bad Request: unknown order SO-1041"):
        target.push(NOTICE)

    assert len(receiver.requests) == 1
    assert slept == []


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_is_rejected_not_followed(
    targets: Callable[..., CallbackTarget],
    receivers: Callable[..., Receiver],
    slept: list[float],
    status: int,
) -> None:
    receiver, elsewhere = receivers(), receivers()
    receiver.script(Answer(status, {"Location": f"{elsewhere.url}?token=abc"}))
    target = targets(receiver.url)

    with pytest.raises(TargetRejected, match=f"HTTP {status}") as caught:
        target.push(NOTICE)

    message = str(caught.value)
    assert "moved" in message and "CREDITGATE_CALLBACK_URL" in message
    assert "token=abc" not in message
    assert len(receiver.requests) == 1
    assert elsewhere.requests == []
    assert slept == []


def test_a_receiver_with_another_secret_fails_verification(
    targets: Callable[..., CallbackTarget], receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers("some-other-secret")
    target = targets(receiver.url)

    with pytest.raises(TargetRejected, match=r"HTTP 401 .*same secret"):
        target.push(NOTICE)

    (request,) = receiver.requests
    assert request.verdict == "signature does not match the request body"
    assert receiver.applied == {}
    # The bytes and the stamp were right: only the secret differs.
    stamp = float(request.stamp)
    assert verify_signature(SECRET, request.headers[SIGNATURE_HEADER], request.body, stamp) is None


def test_neither_the_secret_nor_a_signature_is_logged(
    target: CallbackTarget, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.script(Answer(503), Answer(400, body="no such order"))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(TargetRejected):
        target.push(NOTICE)
    target.push(WARNING)

    assert caplog.records
    signatures = [r.headers[SIGNATURE_HEADER] for r in receiver.requests]
    for secret in (SECRET, *signatures, *(s.split("v1=")[1] for s in signatures)):
        assert secret not in caplog.text
    assert SECRET not in repr(target)


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="CREDITGATE_CALLBACK_URL"):
        CallbackTarget("ftp://erp.example.com/hook", SECRET)
