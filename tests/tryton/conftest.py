"""Fixtures for tests against a real Tryton: the installation, servers, the adapter.

`books` is one server for the whole session, holding these books (made through Tryton's API;
"today" is the server's UTC date). Tests that use it only read; tests that change data, stop
the server or restart it take their own `tryton`.

| party | limit | invoices (posted unless said) | payments |
| --- | --- | --- | --- |
| C-100 | 5,000.00 | C 220.00 5 days old (net 30); E 100.00; credit note D 20.00; | 100.00 pays E; |
|       |          | S 300.00 made by a sale | 50.00 unapplied |
| C-300 | 3,000.00 | A 550.00 due 45 days ago; B 330.00 due 10 days ago | 130.00 pays part of B |
| C-600 | none     | F 400.00, cancelled | |
| C-900 | 1,000.00 | X 70.00 in XBT, a currency creditgate does not know | |
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.http import new_retrying
from adapters.tryton import TrytonAdapter
from tests.conftest import FixedClock
from tests.tryton.harness import HarnessError, Installation, TrytonServer, install
from tests.tryton.scenario import Invoice, days


@pytest.fixture
def clock(settings: Any) -> FixedClock:
    """Fixed at the real current instant, not the suite's NOW: Tryton dates what it posts by the
    real calendar, and overdue days must agree with those dates."""
    return FixedClock(datetime.now(UTC), settings.zone)


@pytest.fixture(scope="session")
def tryton_install() -> Installation:
    """trytond 8.2 in its own virtualenv plus the template database (cached between runs)."""
    try:
        return install()
    except HarnessError as exc:
        pytest.fail(f"cannot prepare the Tryton test server: {exc}", pytrace=False)


@pytest.fixture
def tryton(tryton_install: Installation, tmp_path: Path) -> Iterator[TrytonServer]:
    """A running trytond on a fresh copy of the template database, for one test."""
    with TrytonServer(tryton_install, tmp_path / "tryton") as server:
        yield server


AdapterFactory = Callable[..., TrytonAdapter]


@pytest.fixture
def make_adapter() -> Iterator[AdapterFactory]:
    """make_adapter(server, url=None, password=None, **kwargs): a TrytonAdapter for the admin
    of `server` (or through `url`, e.g. a FaultProxy); retries do not sleep. Closed after.

    No overlap by default, so tests can count exactly what an incremental read returns; the
    overlap (on by default in production) has its own tests in test_adapter_changes.py."""
    made: list[TrytonAdapter] = []

    def make(
        server: TrytonServer, url: str | None = None, password: str | None = None, **kwargs: Any
    ) -> TrytonAdapter:
        kwargs.setdefault("retrying", new_retrying(sleep=lambda s: None))
        kwargs.setdefault("timeout", (2.0, 10.0))
        kwargs.setdefault("overlap", timedelta(0))
        adapter = TrytonAdapter(
            url or server.url,
            server.database,
            server.username,
            password or server.password,
            **kwargs,
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


@dataclass
class Books:
    """The session's server and the ids of what the table above names."""

    server: TrytonServer
    party: dict[str, int]
    invoice: dict[str, int]
    line: dict[str, int]
    sale_number: str
    company_code: str


@pytest.fixture(scope="session")
def books(tryton_install: Installation, tmp_path_factory: Any) -> Iterator[Books]:
    workdir: Path = tmp_path_factory.mktemp("tryton-books")
    with TrytonServer(tryton_install, workdir) as server:
        b = server.books
        ids = b.parties(
            ("C-100", "Healthy Trading", "5000"),
            ("C-300", "Slow Payer", "3000"),
            ("C-600", "Newly Opened", None),
            ("C-900", "Bitcoin Fan", "1000"),
        )
        party = dict(zip(["C-100", "C-300", "C-600", "C-900"], ids, strict=True))
        a, b_, c, d, e, f = b.invoices(
            Invoice(party["C-300"], "550.00", invoice_date=days(-75), due_date=days(-45)),
            Invoice(party["C-300"], "330.00", invoice_date=days(-40), due_date=days(-10)),
            Invoice(party["C-100"], "220.00", invoice_date=days(-5)),
            Invoice(party["C-100"], "-20.00", invoice_date=days(0)),
            Invoice(party["C-100"], "100.00", invoice_date=days(-3)),
            Invoice(party["C-600"], "400.00", invoice_date=days(-2)),
        )
        line = {"B": b.pay(b_, "130.00"), "E": b.pay(e, "100.00")}
        line["unapplied"] = b.unapplied_payment(party["C-100"], "50.00")
        b.cancel(f)
        sale_number, s = b.sale_invoice(party["C-100"], "300.00")
        xbt = b.currency("XBT", "2")
        x = b.invoice(party["C-900"], "70.00", currency=xbt)
        (company,) = b.read("company.company", [server.install.ids["company"]], ["party.code"])
        yield Books(
            server,
            party,
            dict(A=a, B=b_, C=c, D=d, E=e, F=f, S=s, X=x),
            line,
            sale_number,
            company["party."]["code"],
        )
