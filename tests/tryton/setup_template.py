"""Prepare a fresh Tryton database for creditgate's tests: company, chart, fiscal year, terms.

Runs inside the trytond virtualenv (not the project's), in-process through proteus, once per
template build. Usage: python setup_template.py CONFIG DATABASE START END OUT.json
The ids of what it made are written to OUT.json for the scenario API.
"""

import datetime
import json
import sys
from decimal import Decimal

from proteus import Model, config
from trytond.modules.account.tests.tools import create_chart, create_fiscalyear, get_accounts
from trytond.modules.account_invoice.tests.tools import set_fiscalyear_invoice_sequences
from trytond.modules.company.tests.tools import create_company
from trytond.modules.currency.tests.tools import get_currency


def main(config_file: str, database: str, start: str, end: str, out: str) -> None:
    config.set_trytond(database, config_file=config_file)

    usd = get_currency("USD")
    company_party = Model.get("party.party")(name="Creditgate Test Co")
    company_party.save()
    create_company(party=company_party, currency=usd)
    company = Model.get("company.company").find()[0]
    company.cancel_invoice_out = True  # tests cancel posted customer invoices
    company.save()
    create_chart(company)
    accounts = get_accounts(company)

    first = datetime.date.fromisoformat(start)
    last = datetime.date.fromisoformat(end)
    fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear(company, (first, last)))
    fiscalyear.save()
    fiscalyear.click("create_period")

    term = Model.get("account.invoice.payment_term")(name="Net 30")
    term_line = term.lines.new(type="remainder")
    term_line.relativedeltas.new(days=30)
    term.save()

    category = Model.get("product.category")(name="Goods", accounting=True)
    category.account_revenue = accounts["revenue"]
    category.account_expense = accounts["expense"]
    category.save()
    (unit,) = Model.get("product.uom").find([("name", "=", "Unit")])
    template = Model.get("product.template")(
        name="Widget",
        type="service",
        default_uom=unit,
        list_price=Decimal("10"),
        salable=True,
        account_category=category,
    )
    template.save()
    (product,) = template.products

    Journal = Model.get("account.journal")
    (revenue_journal,) = Journal.find([("code", "=", "REV")])
    (cash_journal,) = Journal.find([("code", "=", "CASH")])
    method = Model.get("account.invoice.payment.method")(
        name="Cash",
        journal=cash_journal,
        credit_account=accounts["cash"],
        debit_account=accounts["cash"],
    )
    method.save()

    (warehouse,) = Model.get("stock.location").find([("type", "=", "warehouse")], limit=1)

    ids = {
        "company": company.id,
        "currency": usd.id,
        "receivable": accounts["receivable"].id,
        "revenue": accounts["revenue"].id,
        "cash": accounts["cash"].id,
        "revenue_journal": revenue_journal.id,
        "cash_journal": cash_journal.id,
        "payment_term": term.id,
        "payment_method": method.id,
        "product": product.id,
        "unit": unit.id,
        "warehouse": warehouse.id,
        "fiscalyear_start": first.isoformat(),
        "fiscalyear_end": last.isoformat(),
    }
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(ids, fh, indent=2)


if __name__ == "__main__":
    main(*sys.argv[1:6])
