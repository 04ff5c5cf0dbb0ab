"""Faults between the adapter and a real trytond: a proxy injects 500s, hangs and dropped
connections; the adapter retries those and returns the same data, and never retries a 4xx."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from adapters.http import RemoteRejected, TransientError, new_retrying
from adapters.tryton import TrytonAdapter
from tests.tryton.faults import KINDS, FaultProxy
from tests.tryton.harness import TrytonServer

ENTITIES = ("customers", "invoices", "payments")
# (connect, read) seconds: a hung call fails fast, yet a real call is not cut short on a busy
# 2-core machine (0.3 s was, now and then); faults that hang hold longer than the read timeout.
FAST = (2.0, 1.0)
HANG = 1.5


@pytest.fixture(scope="module")
def server(books: Any) -> TrytonServer:
    """The session's books server: these tests only read, through a proxy or not."""
    server: TrytonServer = books.server
    return server


@pytest.fixture(scope="module")
def expected(server: TrytonServer) -> dict[str, list[Any]]:
    """What a direct read, with no proxy in the way, returns for each entity."""
    adapter = TrytonAdapter(server.url, server.database, server.username, server.password)
    try:
        return {e: [r for p in getattr(adapter, e)(None) for r in p.records] for e in ENTITIES}
    finally:
        adapter.close()


def read_everything(adapter: Any) -> dict[str, list[Any]]:
    return {e: [r for p in getattr(adapter, e)(None) for r in p.records] for e in ENTITIES}


def test_retries_500s_hangs_and_dropped_connections_and_returns_the_same_data(
    server, expected, make_adapter
):
    plan = {
        "common.db.login": ["500", "drop"],
        "model.res.user.get_preferences": ["timeout"],
        "model.company.company.read": ["drop_after"],
        "model.party.party.search_read": ["ok", "500", "drop_after", "timeout"],
        "model.account.invoice.search_read": ["drop", "ok", "500"],
        "model.account.move.line.search_read": ["timeout", "ok", "drop"],
        "model.account.invoice.read": ["500"],
    }
    with FaultProxy(server.url, plan=plan, hang=HANG) as proxy:
        adapter = make_adapter(server, url=proxy.url, page_size=2, timeout=FAST)

        assert read_everything(adapter) == expected

    planned = sum(1 for faults in plan.values() for f in faults if f != "ok")
    assert len(proxy.faults) == planned  # every planned fault was met, and retried through
    assert all(not left for left in proxy.plan.values())
    assert expected["invoices"] and expected["payments"]


def test_a_fifth_of_calls_failing_at_random_still_gives_the_same_data_once(
    server, expected, make_adapter
):
    with FaultProxy(server.url, rate=0.2, seed=42, hang=HANG) as proxy:
        adapter = make_adapter(server, url=proxy.url, page_size=1, timeout=FAST, retrying=retry(10))

        assert read_everything(adapter) == expected

    # The calls are the same every run, so the seed always draws faults of every kind here.
    assert len(proxy.faults) >= 5
    assert {kind for _, kind in proxy.faults} == set(KINDS)


def test_gives_up_with_the_last_transient_error_after_the_allowed_attempts(server, make_adapter):
    sleeps: list[float] = []
    with FaultProxy(server.url, plan={"*": ["500"] * 10}) as proxy:
        adapter = make_adapter(server, url=proxy.url, retrying=retry(3, sleeps))

        with pytest.raises(TransientError, match="HTTP 500") as caught:
            list(adapter.customers(None))

    assert caught.value.status == 500
    assert sum(proxy.calls.values()) == 3
    assert len(sleeps) == 2 and 1 <= sleeps[0] <= 1.5 and 2 <= sleeps[1] <= 2.5


def test_a_wrong_password_is_rejected_at_once_and_not_retried(server, make_adapter):
    with FaultProxy(server.url) as proxy:
        adapter = make_adapter(server, url=proxy.url, password="not-the-password")

        with pytest.raises(RemoteRejected, match="check the username and password") as caught:
            list(adapter.customers(None))

    assert caught.value.status == 401
    assert proxy.calls == {"common.db.login": 1}


def test_a_method_tryton_does_not_expose_is_rejected_with_403_and_not_retried(server, make_adapter):
    with FaultProxy(server.url) as proxy:
        adapter = make_adapter(server, url=proxy.url)

        with pytest.raises(RemoteRejected, match="HTTP 403") as caught:
            adapter.call("party.party", "check_credit_limit", [1], Decimal("1.00"))

    assert caught.value.status == 403
    assert proxy.calls["model.party.party.check_credit_limit"] == 1


def test_an_error_tryton_reports_is_rejected_with_its_message_and_not_retried(server, make_adapter):
    with FaultProxy(server.url) as proxy:
        adapter = make_adapter(server, url=proxy.url)

        with pytest.raises(RemoteRejected, match="don't exist"):
            adapter.call("party.party", "read", [999999], ["name"])

    assert proxy.calls["model.party.party.read"] == 1


def retry(attempts: int, sleeps: list[float] | None = None) -> Any:
    return new_retrying(attempts, sleep=(sleeps.append if sleeps is not None else lambda s: None))
