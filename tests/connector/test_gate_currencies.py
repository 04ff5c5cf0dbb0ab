"""A decision reads a customer's and its group's balances in every currency, each exactly once.

The decision's read (`statements.DECISION_VIEW`) joins both balance tables in one statement, so
a customer with three currencies in a group with four yields twelve rows: counting a row twice
would show at once in the exposure and in where the group limit bites.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from config.wiring import Services
from connector import create_app
from tests.conftest import Api, Keys, day


@pytest.fixture
def api(services: Services, keys: Keys, csv_dir) -> Api:
    folder = csv_dir(
        groups=[("G-M", "Many Currencies Group", "40000.00", "CNY")],
        customers=[
            ("M-1", "Mixed Ltd.", "100000.00", "CNY", "G-M", "false", ""),
            ("M-2", "Dollar Sister Inc.", "100000.00", "USD", "G-M", "false", ""),
        ],
        invoices=[
            ("I-1", "M-1", "INV-1", day(-5), day(25), "CNY", "10000.00", "10000.00", ""),
            ("I-2", "M-1", "INV-2", day(-5), day(25), "USD", "1000.00", "1000.00", ""),
            ("I-3", "M-1", "INV-3", day(-5), day(25), "EUR", "500.00", "500.00", ""),
            ("I-4", "M-2", "INV-4", day(-5), day(25), "USD", "2000.00", "2000.00", ""),
        ],
        payments=[("P-1", "M-1", day(-1), "CNY", "1000.00", "1000.00")],
    )
    result = services.import_folder(folder)
    assert [str(e) for e in result.errors] == []
    client: FlaskClient = create_app(services).test_client()
    return Api(client, keys)


def test_every_currency_of_the_customer_and_its_group_counts_once(api):
    # M-1: 10,000 CNY + 1,000 USD (7,100) + 500 EUR (3,900) open, less 1,000 unapplied: 20,000.
    first = api.gate("SO-1", "M-1", "5000.00", "CNY").get_json()
    assert first["outcome"] == "approved"
    assert first["customer"]["exposure"] == "25000.00"

    # A reservation in a second currency: 100 EUR is 780 CNY.
    second = api.gate("SO-2", "M-1", "100.00", "EUR").get_json()
    assert second["outcome"] == "approved"
    assert second["customer"]["exposure"] == "25780.00"

    # The group: M-1's 25,780 and M-2's 2,000 USD (14,200): 39,980 of its 40,000 CNY limit.
    third = api.gate("SO-3", "M-1", "20.00", "CNY").get_json()
    assert third["outcome"] == "approved", third["reasons"]
    fourth = api.gate("SO-4", "M-1", "0.01", "CNY").get_json()
    assert fourth["outcome"] == "blocked"
    assert "exceeds the group limit 40,000.00 CNY by 0.01 CNY" in fourth["reasons"][0]["message"]

    assert api.exposure("M-1") == {
        "open_invoices": "21000.00",
        "unapplied_payments": "1000.00",
        "reservations": "5800.00",
        "total": "25800.00",
    }
