"""Zoho CRM is a hosted service that cannot run here: `responses` answers for it, with the
payloads Zoho documents (tests/zoho/payloads.py), statefully where idempotency is at stake."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from adapters.http import new_retrying
from adapters.zoho import ZohoCrmAdapter
from tests.zoho import payloads as z

Reply = tuple[int, dict[str, str], str]


class FakeClock:
    """The adapter's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def zoho() -> Iterator[responses.RequestsMock]:
    """The mock Zoho; a request it has no answer for fails the test (the adapter would take
    it for a connection error and retry, which could hide a wrong URL)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        # A multi-currency organisation unless a test replaces it: Accounts carry Currency.
        mock.get(z.ORG, json=z.org(multi_currency=True))
        yield mock
        unmatched = [
            f"{c.request.method} {c.request.url}"
            for c in mock.calls
            if isinstance(c.response, Exception) and "match any registered" in str(c.response)
        ]
        assert not unmatched, f"requests Zoho had no answer for: {unmatched}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def slept() -> list[float]:
    """Every wait the retry policy asked for, in seconds (nothing really sleeps)."""
    return []


@pytest.fixture
def make_adapter(clock: FakeClock, slept: list[float]) -> Iterator[Callable[..., ZohoCrmAdapter]]:
    """ZohoCrmAdapter(...) for the EU data centre, 3 attempts, waits recorded in `slept`."""
    made: list[ZohoCrmAdapter] = []

    def make(**overrides: Any) -> ZohoCrmAdapter:
        options: dict[str, Any] = {
            "dc": "eu",
            "retrying": new_retrying(3, sleep=slept.append),
            "clock": clock,
            "timeout": (3.0, 20.0),
            **overrides,
        }
        adapter = ZohoCrmAdapter(z.CLIENT_ID, z.CLIENT_SECRET, z.REFRESH_TOKEN, **options)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


def tokens(zoho: responses.RequestsMock, count: int = 1) -> None:
    """Answer the next `count` refresh-token grants with fresh access tokens, in turn."""
    for n in range(count):
        zoho.post(z.TOKEN_URL, json=z.token(n))


def calls_to(zoho: responses.RequestsMock, url: str, method: str | None = None) -> list[Any]:
    return [
        c
        for c in zoho.calls
        if c.request.url.split("?")[0] == url and method in (None, c.request.method)
    ]


def query(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def body(call: Any) -> Any:
    return json.loads(call.request.body)


def reply(status: int, payload: Any = None, **headers: str) -> Reply:
    return status, headers, "" if payload is None else json.dumps(payload)


class AccountBook:
    """Zoho's Accounts module for pushes: search by Account_Number, bulk update by id."""

    def __init__(self, zoho: responses.RequestsMock, numbers: dict[str, str]) -> None:
        self.numbers = numbers  # ERP number -> Account id
        self.refuse: dict[str, dict[str, Any]] = {}  # Account id -> its item error
        self.updates: list[list[dict[str, Any]]] = []
        self.searches: list[str] = []
        zoho.add_callback(responses.GET, z.SEARCH, callback=self._search)
        zoho.add_callback(responses.PUT, z.ACCOUNTS, callback=self._update)

    def _search(self, request: requests.PreparedRequest) -> Reply:
        criteria = parse_qs(urlsplit(str(request.url)).query)["criteria"][0]
        match = re.fullmatch(r"\(Account_Number:equals:(.*)\)", criteria)
        assert match, criteria
        number = re.sub(r"\\(.)", r"\1", match.group(1))
        self.searches.append(number)
        if number not in self.numbers:
            return reply(204)
        return reply(200, z.found(self.numbers[number], number))

    def _update(self, request: requests.PreparedRequest) -> Reply:
        data = json.loads(request.body or b"{}")["data"]
        self.updates.append(data)
        items = [self.refuse.get(r["id"]) or z.success(r["id"]) for r in data]
        ok = sum(item["status"] == "success" for item in items)
        return reply(200 if ok == len(items) else 207 if ok else 400, {"data": items})


class TaskBook:
    """Zoho's Tasks module as the adapter uses it: COQL on the key field, bulk create.

    `unique`: the key field is marked "Do not allow duplicate values". `index_lags`: COQL
    does not see Tasks yet (to reach the unique-field backstop). `lose_answers`: that many
    creates succeed but answer 500, as if the answer was lost on the way back.
    """

    KEY = "Creditgate_Change_Id"

    def __init__(self, zoho: responses.RequestsMock, *, unique: bool = True) -> None:
        self.unique = unique
        self.index_lags = False
        self.lose_answers = 0
        self.tasks: list[dict[str, Any]] = []
        self.creates: list[list[dict[str, Any]]] = []
        self.queries: list[str] = []
        zoho.add_callback(responses.POST, z.COQL, callback=self._query)
        zoho.add_callback(responses.POST, z.TASKS, callback=self._create)

    def _query(self, request: requests.PreparedRequest) -> Reply:
        select = json.loads(request.body or b"{}")["select_query"]
        self.queries.append(select)
        match = re.search(rf"where {self.KEY} in \((.*)\) limit", select)
        assert match, select
        # A COQL string doubles a quote inside it (Zoho's Kaizen #171, FAQs on COQL API).
        values = {v.replace("''", "'") for v in re.findall(r"'((?:[^']|'')*)'", match[1])}
        rows = [
            {"id": t["id"], self.KEY: t[self.KEY]}
            for t in self.tasks
            if t[self.KEY] in values and not self.index_lags
        ]
        if not rows:
            return reply(204)
        return reply(200, {"data": rows, "info": {"count": len(rows), "more_records": False}})

    def _create(self, request: requests.PreparedRequest) -> Reply:
        data = json.loads(request.body or b"{}")["data"]
        self.creates.append(data)
        items = []
        for record in data:
            same = [t for t in self.tasks if t[self.KEY] == record[self.KEY]]
            if self.unique and same:
                items.append(z.duplicate(self.KEY, same[0]["id"]))
                continue
            task_id = f"57257670000{len(self.tasks) + 1:08d}"
            self.tasks.append({**record, "id": task_id})
            items.append(z.success(task_id, "record added"))
        if self.lose_answers:
            self.lose_answers -= 1
            return reply(500, z.INTERNAL_ERROR)
        ok = sum(item["status"] == "success" for item in items)
        return reply(201 if ok == len(items) else 207 if ok else 400, {"data": items})
