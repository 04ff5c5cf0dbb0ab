"""Fixtures for the Business Central adapter: a fake company behind its REST API v2.0 and a
token endpoint on loopback (tests/bc/server.py).

The company (today is 2026-11-22, local currency USD, as in Microsoft Learn's examples):

| customer | creditLimit (LCY) | blocked | sales invoices |
| --- | --- | --- | --- |
| 10000 Coho Winery | 50,000 | " " | PS-INV103001 1,200.00 open, due in 25 days |
| 20000 Trey Research | 30,000 | " " | PS-INV103002 800.00 due 45 days ago; PS-INV103003 500.00 paid |
| 30000 Alpine Ski House | 0 (no limit) | Ship | PS-INV103004 1,000.00 EUR, 400.00 of it paid |
| 40000 School of Fine Art | 15,000 | " " | a draft (not a receivable); PS-INV103006 canceled |
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from adapters.bc import BcApiAdapter
from adapters.http import new_retrying
from tests.bc.server import CLIENT_ID, CLIENT_SECRET, COMPANY, TENANT, BcServer, FakeBc

TODAY = date(2026, 11, 22)
LOCAL = "USD"


def days(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def fill(bc: FakeBc) -> None:
    bc.add_customer("10000", "Coho Winery", "50000")
    bc.add_customer("20000", "Trey Research", "30000")
    bc.add_customer("30000", "Alpine Ski House", "0", currency="EUR", blocked="Ship")
    bc.add_customer("40000", "School of Fine Art", "15000")
    bc.add_invoice("PS-INV103001", "10000", "1200", issued=days(-5), due=days(25), order="S-1")
    bc.add_invoice("PS-INV103002", "20000", "800", issued=days(-75), due=days(-45))
    bc.add_invoice(
        "PS-INV103003", "20000", "500", remaining="0", issued=days(-40), due=days(-10),
        status="Paid",
    )  # fmt: skip
    bc.add_invoice(
        "PS-INV103004", "30000", "1000", remaining="600", issued=days(-3), due=days(27),
        currency="EUR",
    )  # fmt: skip
    bc.add_invoice("1005", "40000", "300", issued=days(0), due=days(30), status="Draft")
    bc.add_invoice(
        "PS-INV103006", "40000", "250", remaining="0", issued=days(-9), due=days(21),
        status="Canceled",
    )  # fmt: skip


@pytest.fixture
def bc() -> FakeBc:
    company = FakeBc()
    fill(company)
    return company


@pytest.fixture
def bc_server(bc: FakeBc) -> Iterator[BcServer]:
    with BcServer(bc) as server:
        yield server


AdapterFactory = Callable[..., BcApiAdapter]


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_adapter(bc_server: BcServer, sleeps: list[float]) -> Iterator[AdapterFactory]:
    """make_adapter(**kwargs): an adapter for `bc_server` whose retries record their waits
    instead of sleeping (3 attempts); closed after the test."""
    made: list[BcApiAdapter] = []

    def make(**kwargs: Any) -> BcApiAdapter:
        kwargs.setdefault("local_currency", LOCAL)
        kwargs.setdefault("retrying", new_retrying(3, jitter=0, sleep=sleeps.append))
        kwargs.setdefault("timeout", (2.0, 2.0))
        kwargs.setdefault("token_url", bc_server.token_url)
        client_secret = kwargs.pop("client_secret", CLIENT_SECRET)
        adapter = BcApiAdapter(bc_server.url, COMPANY, TENANT, CLIENT_ID, client_secret, **kwargs)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()
