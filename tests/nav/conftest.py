"""Fixtures for the NAV adapter: a fake NAV company behind a real SOAP server on loopback.

The company (today is 2026-11-22, local currency CNY; `ledger` posts it):

| customer | limit (LCY) | ledger entries |
| --- | --- | --- |
| C10000 Healthy Trading | 200,000.00 | invoice 1,200.00 (5 days old, due in 25); credit memo 200.00; payment 300.00 unapplied |
| C20000 Slow Payer | 300,000.00 | invoice 800.00 due 45 days ago; invoice 500.00 paid by a payment of 500.00 |
| C30000 Dollar Buyer (billed in USD) | 50,000.00 | invoice 1,000.00 USD, 400.00 of it paid |
| C40000 Disputed Goods | 150,000.00, Blocked: Ship | none |
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from adapters.http import new_retrying
from adapters.nav import NavSoapAdapter, NavWsdls
from tests.nav.server import DETAILED, NAV2013_LEDGER, WARNING_FIELDS_CUSTOMER, FakeNav, NavServer

TODAY = date(2026, 11, 22)
LOCAL = "CNY"


def days(offset: int) -> date:
    return TODAY + timedelta(days=offset)


@dataclass
class Ledger:
    """Entry numbers of the company's ledger entries, by what they are."""

    current: int
    credit_memo: int
    unapplied: int
    overdue: int
    paid: int
    payment: int
    dollars: int
    dollar_payment: int


def add_customers(nav: FakeNav) -> None:
    nav.add_customer("C10000", "Healthy Trading", "200000.00")
    nav.add_customer("C20000", "Slow Payer", "300000.00")
    nav.add_customer("C30000", "Dollar Buyer", "50000.00", currency="USD")
    nav.add_customer("C40000", "Disputed Goods", "150000.00", blocked="Ship")


def post_ledger(nav: FakeNav) -> Ledger:
    current = nav.post("Invoice", "C10000", "SI-1001", "1200.00", days(-5), due=days(25))
    memo = nav.post("Credit_Memo", "C10000", "SCM-1001", "-200.00", days(-1), due=days(-1))
    unapplied = nav.post("Payment", "C10000", "PAY-1", "-300.00", days(-2))
    overdue = nav.post("Invoice", "C20000", "SI-0901", "800.00", days(-75), due=days(-45))
    paid = nav.post("Invoice", "C20000", "SI-0902", "500.00", days(-40), due=days(-10))
    payment = nav.post("Payment", "C20000", "PAY-2", "-500.00", days(-8))
    nav.apply(payment, paid, "500.00", days(-8))
    dollars = nav.post(
        "Invoice", "C30000", "SI-1002", "1000.00", days(-3), due=days(27), currency="USD"
    )
    dollar_payment = nav.post("Payment", "C30000", "PAY-3", "-400.00", days(-1), currency="USD")
    nav.apply(dollar_payment, dollars, "400.00", days(-1))
    return Ledger(current, memo, unapplied, overdue, paid, payment, dollars, dollar_payment)


@pytest.fixture
def nav() -> FakeNav:
    """An empty company; tests add what they need (add_customers, post_ledger)."""
    return FakeNav()


@pytest.fixture
def nav_server(nav: FakeNav) -> Iterator[NavServer]:
    with NavServer(nav) as server:
        yield server


AdapterFactory = Callable[..., NavSoapAdapter]


@pytest.fixture
def make_adapter(nav_server: NavServer) -> Iterator[AdapterFactory]:
    """make_adapter(**kwargs): an adapter for `nav_server` whose retries do not sleep (3
    attempts), with short timeouts; closed after the test. By default it has the WSDLs the
    server serves by default and writes warnings to the fields added to that Customer page."""
    made: list[NavSoapAdapter] = []

    def make(**kwargs: Any) -> NavSoapAdapter:
        kwargs.setdefault("local_currency", LOCAL)
        kwargs.setdefault("retrying", new_retrying(3, sleep=lambda s: None))
        kwargs.setdefault("timeout", (2.0, 2.0))
        kwargs.setdefault("username", nav_server.username)
        kwargs.setdefault("password", nav_server.password)
        if "wsdls" not in kwargs:
            kwargs["wsdls"] = NavWsdls(WARNING_FIELDS_CUSTOMER, NAV2013_LEDGER, DETAILED)
            kwargs.setdefault("warning_field", "Credit_Warning")
            kwargs.setdefault("note_field", "Credit_Warning_Note")
        adapter = NavSoapAdapter(nav_server.url, **kwargs)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()
