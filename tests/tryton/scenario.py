"""Build test data through Tryton's own API: parties, posted invoices, credit notes, payments.

Everything goes over JSON-RPC as a Tryton user would do it: records are created, invoices are
posted with the `post` button (past-due warnings skipped the way the client does), payments go
through the `account.invoice.pay` wizard, an unapplied payment is a posted cash move.

Customer invoices are numbered in date order (Tryton refuses to number an invoice dated before
one already posted in the same sequence), so create a database's invoices oldest first; one
`invoices(...)` call may list them in any order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.tryton.rpc import RpcClient, RpcError

NET_DAYS = 30  # the template's payment term: net 30


def today() -> date:
    return datetime.now(UTC).date()


def days(offset: int) -> date:
    """Today (the server's, UTC) plus `offset` days."""
    return today() + timedelta(days=offset)


@dataclass(frozen=True)
class Invoice:
    """What to post: an amount (negative for a credit note), its date and due date."""

    party: int
    amount: Decimal | str
    invoice_date: date | None = None
    due_date: date | None = None  # default: invoice_date + 30 (the payment term)
    currency: int | None = None
    payment_term: int | None = None  # default: the template's net 30


class Books:
    """A company's books in a running Tryton, seen through one admin session."""

    def __init__(self, client: RpcClient, ids: dict[str, Any]) -> None:
        self.rpc = client
        self.ids = ids
        self._addresses: dict[int, int] = {}

    # ---- parties --------------------------------------------------------------------------

    def parties(self, *specs: tuple[str, str, Decimal | str | None]) -> list[int]:
        """Create parties (code, name, credit limit or None), each with an address."""
        values = []
        for code, name, limit in specs:
            party: dict[str, Any] = {"code": code, "name": name, "addresses": [["create", [{}]]]}
            if limit is not None:
                party["credit_limit_amount"] = Decimal(limit)
            values.append(party)
        ids: list[int] = self.rpc.model("party.party", "create", values)
        return ids

    def party(self, code: str, name: str | None = None, credit_limit: Any = None) -> int:
        (party,) = self.parties((code, name or f"Party {code}", credit_limit))
        return party

    def set_credit_limit(self, party: int, amount: Decimal | str | None) -> None:
        value = None if amount is None else Decimal(amount)
        self.rpc.model("party.party", "write", [party], {"credit_limit_amount": value})

    def rename(self, party: int, name: str) -> None:
        self.rpc.model("party.party", "write", [party], {"name": name})

    def _address(self, party: int) -> int:
        if party not in self._addresses:
            (row,) = self.rpc.model("party.party", "read", [party], ["addresses"])
            self._addresses[party] = row["addresses"][0]
        return self._addresses[party]

    # ---- invoices -------------------------------------------------------------------------

    def invoices(self, *specs: Invoice) -> list[int]:
        """Create and post customer invoices (credit notes when the amount is negative)."""
        values = [self._invoice_values(spec) for spec in specs]
        ids: list[int] = self.rpc.model("account.invoice", "create", values)
        for invoice, spec in zip(ids, specs, strict=True):
            if (spec.due_date or today()) < today():
                self.skip_warning("invoice_payment_term", "account.invoice", invoice)
        self.post(ids)
        return ids

    def skip_warning(self, name: str, model: str, record: int) -> None:
        """Answer "yes" in advance to a warning about a record, as the client's dialog would.

        Tryton names a warning md5("<model>,<id>") + "." + name (res.user.warning.format).
        """
        key = hashlib.md5(f"{model},{record}".encode()).hexdigest()
        self.rpc.model("res.user.warning", "skip", f"{key}.{name}", False)

    def invoice(self, party: int, amount: Decimal | str, **kwargs: Any) -> int:
        (invoice,) = self.invoices(Invoice(party, amount, **kwargs))
        return invoice

    def credit_note(self, party: int, amount: Decimal | str, **kwargs: Any) -> int:
        """Post a credit note of `amount` (given positive, posted negative)."""
        return self.invoice(party, -Decimal(amount), **kwargs)

    def payment_term(self, name: str, *parts: tuple[Decimal | str | None, int]) -> int:
        """Create a payment term in instalments: (share of the total, days after the invoice
        date) each, the last share None for the remainder, e.g. (("0.4", 30), (None, 90))."""
        lines = []
        for share, after in parts:
            line: dict[str, Any] = {"relativedeltas": [["create", [{"days": after}]]]}
            if share is None:
                line["type"] = "remainder"
            else:
                ratio = Decimal(share)
                divisor = (1 / ratio).quantize(Decimal("0.00000001"))
                line.update(type="percent_on_total", ratio=ratio, divisor=divisor)
            lines.append(line)
        (term,) = self.rpc.model(
            "account.invoice.payment_term", "create", [{"name": name, "lines": [["create", lines]]}]
        )
        return int(term)

    def _invoice_values(self, spec: Invoice) -> dict[str, Any]:
        amount = Decimal(spec.amount)
        invoice_date = spec.invoice_date or today()
        currency = spec.currency or self.ids["currency"]
        line = {**self._line(amount), "currency": currency, "company": self.ids["company"]}
        values: dict[str, Any] = {
            "type": "out",
            "party": spec.party,
            "invoice_address": self._address(spec.party),
            "company": self.ids["company"],
            "currency": currency,
            "account": self.ids["receivable"],
            "journal": self.ids["revenue_journal"],
            "payment_term": spec.payment_term or self.ids["payment_term"],
            "invoice_date": invoice_date,
            "lines": [["create", [line]]],
        }
        if spec.due_date is not None:
            # The payment term counts its 30 days from payment_term_date when it is set.
            values["payment_term_date"] = spec.due_date - timedelta(days=NET_DAYS)
        return values

    def _line(self, amount: Decimal) -> dict[str, Any]:
        return {
            "type": "line",
            "product": self.ids["product"],
            "description": "Widget",
            "quantity": 1 if amount >= 0 else -1,
            "unit": self.ids["unit"],
            "unit_price": abs(amount),  # invoice lines do not take the product's list price
            "account": self.ids["revenue"],
        }

    def post(self, invoices: Sequence[int]) -> None:
        """Post invoices, skipping "payment date in the past" warnings as the client would."""
        for _ in range(len(invoices) + 2):
            try:
                self.rpc.model("account.invoice", "post", list(invoices))
                return
            except RpcError as exc:
                if exc.kind != "UserWarning":
                    raise
                self.rpc.model("res.user.warning", "skip", exc.warning_name, False)
        raise AssertionError("posting kept raising warnings")

    def cancel(self, invoice: int) -> None:
        """Cancel a posted customer invoice (the template allows it for the company)."""
        self.rpc.model("account.invoice", "cancel", [invoice])

    def sale_invoice(
        self, party: int, amount: Decimal | str, *, invoice_date: date | None = None
    ) -> tuple[str, int]:
        """Confirm and process a sale of one line, post the invoice it made; return both."""
        address = self._address(party)
        (sale,) = self.rpc.model(
            "sale.sale",
            "create",
            [
                {
                    "party": party,
                    "invoice_address": address,
                    "shipment_address": address,
                    "company": self.ids["company"],
                    "currency": self.ids["currency"],
                    "payment_term": self.ids["payment_term"],
                    "warehouse": self.ids["warehouse"],
                    "sale_date": invoice_date or today(),
                    "lines": [["create", [self._sale_line(Decimal(amount))]]],
                }
            ],
        )
        for button in ("quote", "confirm", "process"):
            self.rpc.model("sale.sale", button, [sale])
        (row,) = self.rpc.model("sale.sale", "read", [sale], ["number", "invoices"])
        (invoice,) = row["invoices"]
        self.rpc.model(
            "account.invoice", "write", [invoice], {"invoice_date": invoice_date or today()}
        )
        self.post([invoice])
        return row["number"], invoice

    def _sale_line(self, amount: Decimal) -> dict[str, Any]:
        return {
            "type": "line",
            "product": self.ids["product"],
            "description": "Widget",
            "quantity": 1,
            "unit": self.ids["unit"],
            "unit_price": amount,
        }

    # ---- payments -------------------------------------------------------------------------

    def pay(self, invoice: int, amount: Decimal | str, *, on: date | None = None) -> int:
        """Pay (part of) an invoice with the pay wizard; return the payment's receivable line."""
        before = set(self._payment_lines(invoice))
        ctx = {"active_model": "account.invoice", "active_id": invoice, "active_ids": [invoice]}
        session, start, _ = self.rpc.call(
            "wizard.account.invoice.pay.create", {**self.rpc.context, **ctx}
        )
        try:
            self._run_pay_wizard(session, start, Decimal(amount), on or today(), ctx)
        finally:
            self.rpc.call("wizard.account.invoice.pay.delete", session, self.rpc.context)
        (line,) = set(self._payment_lines(invoice)) - before
        return line

    def _run_pay_wizard(
        self, session: int, start: str, amount: Decimal, on: date, ctx: dict[str, Any]
    ) -> None:
        def execute(data: dict[str, Any], state: str) -> dict[str, Any]:
            full = {**self.rpc.context, **ctx}
            result: dict[str, Any] = self.rpc.call(
                "wizard.account.invoice.pay.execute", session, data, state, full
            )
            return result

        view = execute({}, start)["view"]
        data = {
            start: {
                **_plain(view["defaults"]),
                "amount": amount,
                "date": on,
                "payment_method": self.ids["payment_method"],
                "description": "payment",
            }
        }
        answer = execute(data, "choice")
        if "view" in answer and answer["view"].get("state") == "ask":
            data["ask"] = {**_plain(answer["view"]["defaults"]), "type": "partial"}
            execute(data, "pay")

    def _payment_lines(self, invoice: int) -> list[int]:
        (row,) = self.rpc.model("account.invoice", "read", [invoice], ["payment_lines"])
        lines: list[int] = row["payment_lines"]
        return lines

    def unapplied_payment(
        self, party: int, amount: Decimal | str, *, on: date | None = None
    ) -> int:
        """Post a cash receipt credited to the party's receivable, linked to no invoice."""
        on = on or today()
        amount = Decimal(amount)
        zero = Decimal(0)
        (move,) = self.rpc.model(
            "account.move",
            "create",
            [
                {
                    "journal": self.ids["cash_journal"],
                    "company": self.ids["company"],
                    "period": self._period(on),
                    "date": on,
                    "description": "payment on account",
                    "lines": [
                        [
                            "create",
                            [
                                {"account": self.ids["cash"], "debit": amount, "credit": zero},
                                {
                                    "account": self.ids["receivable"],
                                    "party": party,
                                    "debit": zero,
                                    "credit": amount,
                                },
                            ],
                        ]
                    ],
                }
            ],
        )
        self.rpc.model("account.move", "post", [move])
        lines = self.rpc.model(
            "account.move.line", "search", [("move", "=", move), ("credit", ">", 0)], 0, None, None
        )
        (line,) = lines
        return int(line)

    def _period(self, on: date) -> int:
        (period,) = self.rpc.model(
            "account.period",
            "search",
            [
                ("company", "=", self.ids["company"]),
                ("type", "=", "standard"),
                ("start_date", "<=", on),
                ("end_date", ">=", on),
            ],
            0,
            1,
            None,
        )
        return int(period)

    # ---- other ----------------------------------------------------------------------------

    def currency(self, code: str, rate: Decimal | str) -> int:
        """Create a currency with one rate (units per company currency unit) from 2000 on."""
        (currency,) = self.rpc.model(
            "currency.currency",
            "create",
            [
                {
                    "name": f"Test {code}",
                    "code": code,
                    "symbol": code,
                    "rounding": Decimal("0.01"),
                    "digits": 2,
                    "rates": [["create", [{"date": date(2000, 1, 1), "rate": Decimal(rate)}]]],
                }
            ],
        )
        return int(currency)

    def read(self, model: str, ids: Sequence[int], fields: Sequence[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.rpc.model(model, "read", list(ids), list(fields))
        return rows


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Wizard defaults without the `field.` rec_name entries, which the server cannot take back."""
    return {k: v for k, v in values.items() if not k.endswith(".")}
