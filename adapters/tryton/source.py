"""Tryton as a sync source: parties, invoices and payments changed since a watermark, read
page by page over JSON-RPC (rpc.py) and mapped through the shared field rules
(adapters/fields.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from adapters import fields
from adapters.fields import Invalid
from adapters.tryton.rpc import TrytonClient
from gating.identifiers import MAX_ID_LENGTH
from gating.money import is_currency
from gating.records import (
    CustomerData,
    GroupData,
    Instalment,
    InvoiceData,
    PaymentData,
)
from gating.sources import Page, Watermark

T = TypeVar("T")
Row = dict[str, Any]

# How far before its watermark an incremental read starts again (see TrytonSource._start):
# longer than any Tryton transaction that writes parties, invoices or payments should take.
DEFAULT_OVERLAP = timedelta(minutes=10)

PARTY_FIELDS = ["code", "name", "credit_limit_amount", "last_modified_at"]
INVOICE_FIELDS = [
    "number",
    "state",
    "party.code",
    "currency.code",
    "invoice_date",
    "total_amount",
    "amount_to_pay",
    "lines_to_pay.maturity_date",
    "lines_to_pay.debit",
    "lines_to_pay.credit",
    "lines_to_pay.second_currency",
    "lines_to_pay.amount_second_currency",
    "lines_to_pay.reconciliation",
    "sales.number",
    "last_modified_at",
]
LINE_FIELDS = [
    "party.code",
    "date",
    "debit",
    "credit",
    "second_currency.code",
    "amount_second_currency",
    "reconciliation",
    "invoice_payment",
    "move",
    "move_origin",
    "last_modified_at",
]


class TrytonSource(TrytonClient):
    """Read customers, invoices and payments changed in a Tryton database since a watermark
    (the SourceAdapter interface), `page_size` rows a call, starting `overlap` before it."""

    page_size: int
    overlap: timedelta

    def groups(self, since: Watermark | None) -> Iterator[Page[GroupData]]:
        """Tryton parties have no credit groups: nothing to read."""
        return iter(())

    def customers(self, since: Watermark | None) -> Iterator[Page[CustomerData]]:
        """Parties (inactive ones too) with their code, name and credit limit in the company."""
        for rows in self._changed("party.party", [], PARTY_FIELDS, since, active_test=False):
            yield self._page("customers", "party.party", rows, self._customer)

    def _invoice_domain(self) -> list[Any]:
        return [
            ("type", "=", "out"),
            ("company", "=", self._company()),
            [
                "OR",
                [("state", "in", ["posted", "paid"])],
                [("state", "=", "cancelled"), ("number", "!=", None)],
            ],
        ]

    def _payment_domain(self) -> list[Any]:
        return [
            ("account.type.receivable", "=", True),
            ("credit", ">", 0),
            ("company", "=", self._company()),
        ]

    def invoices(self, since: Watermark | None) -> Iterator[Page[InvoiceData]]:
        """Posted, paid and cancelled customer invoices and credit notes (negative)."""
        domain = self._invoice_domain()
        for rows in self._changed("account.invoice", domain, INVOICE_FIELDS, since):
            yield self._page("invoices", "account.invoice", rows, self._invoice)

    def count(self, entity: str, since: Watermark | None) -> int | None:
        """How many rows a read of `entity` after `since` scans (for progress; payments
        include invoices' own lines, which the read then drops)."""
        if entity == "groups":
            return 0
        model, domain, context = {
            "customers": ("party.party", [], {"active_test": False}),
            "invoices": ("account.invoice", self._invoice_domain(), None),
            "payments": ("account.move.line", self._payment_domain(), None),
        }[entity]
        where = list(domain)
        after = self._start(since)
        if after is not None:
            where.append(_after(*after))
        return int(self.call(model, "search_count", where, context=context))

    def payments(self, since: Watermark | None) -> Iterator[Page[PaymentData]]:
        """Credits on receivable accounts that are not an invoice's (or credit note's) own line."""
        domain = self._payment_domain()
        for rows in self._changed("account.move.line", domain, LINE_FIELDS, since):
            own = self._invoice_moves(rows)
            mapped = [row for row in rows if row["move"] not in own]
            page = self._page("payments", "account.move.line", mapped, self._payment)
            yield Page(page.records, page.errors, _watermark(rows[-1]))

    # ---- paging --------------------------------------------------------------------------------

    def _changed(
        self,
        model: str,
        domain: list[Any],
        fields: list[str],
        since: Watermark | None,
        *,
        active_test: bool = True,
    ) -> Iterator[list[Row]]:
        """Yield rows of `model` changed after `since`, oldest change first, a page at a time.

        Keyset paging on (last_modified_at, id): rows written in one transaction share a
        timestamp, and the id breaks the tie, so no row is skipped or repeated between pages.
        """
        order = [["last_modified_at", "ASC"], ["id", "ASC"]]
        context = None if active_test else {"active_test": False}
        after = self._start(since)
        while True:
            where = list(domain)
            if after is not None:
                where.append(_after(*after))
            rows = self.call(
                model, "search_read", where, 0, self.page_size, order, fields, context=context
            )
            if not rows:
                return
            yield rows
            if len(rows) < self.page_size:
                return
            after = (rows[-1]["last_modified_at"], rows[-1]["id"])

    def _start(self, since: Watermark | None) -> tuple[datetime, int] | None:
        """Where a read after `since` starts: `overlap` earlier than the watermark.

        Tryton stamps a row with its transaction's start time, so a transaction that was still
        running during the last read commits rows stamped before that read's watermark. Reading
        the last `overlap` again catches them; the store's upserts make the re-read harmless.
        """
        if since is None:
            return None
        if not self.overlap:
            return since.changed_at, _tryton_id(since.last_id)
        return since.changed_at - self.overlap, 0

    def _page(
        self, entity: str, model: str, rows: Sequence[Row], convert: Callable[[Row], T]
    ) -> Page[T]:
        records, errors = fields.mapped(entity, rows, convert, lambda row: f"{model},{row['id']}")
        return Page(records, errors, _watermark(rows[-1]) if rows else None)

    def _invoice_moves(self, lines: Sequence[Row]) -> set[int]:
        """Return the moves, among those of `lines`, that post an invoice or cancel one."""
        invoice_ids = sorted(
            {
                int(origin.split(",")[1])
                for origin in (row.get("move_origin") or "" for row in lines)
                if origin.startswith("account.invoice,")
            }
        )
        if not invoice_ids:
            return set()
        invoices = self.call("account.invoice", "read", invoice_ids, ["move", "cancel_move"])
        return {m for inv in invoices for m in (inv.get("move"), inv.get("cancel_move")) if m}

    # ---- mapping -------------------------------------------------------------------------------

    def _customer(self, row: Row) -> CustomerData:
        currency = self.company_currency()
        if not is_currency(currency):
            raise Invalid(f"the company currency {currency!r} is not an ISO 4217 code")
        limit = row.get("credit_limit_amount")
        amount = None if limit is None else fields.amount(limit, currency, "credit_limit_amount")
        if amount is not None and amount < 0:
            raise Invalid("credit_limit_amount is negative")
        return CustomerData(
            ref=fields.ref(row.get("code"), "code"),
            name=fields.text(row.get("name"), "name"),
            credit_limit=amount,
            currency=currency,
        )

    def _invoice(self, row: Row) -> InvoiceData:
        currency = fields.currency((row.get("currency.") or {}).get("code"))
        issued = fields.day(row.get("invoice_date"), "invoice_date")
        sales = sorted({s["number"] for s in row.get("sales.") or [] if s.get("number")})
        state = row.get("state")
        total = fields.amount(row.get("total_amount"), currency, "total_amount")
        to_pay = fields.amount(row.get("amount_to_pay"), currency, "amount_to_pay")
        open_amount = to_pay if state == "posted" else fields.amount(0, currency, "open amount")
        lines = row.get("lines_to_pay.") or []
        instalments = self._instalments(lines, currency, issued, total, open_amount)
        if instalments:  # ages from its oldest open instalment (its last one once paid)
            due = min((i.due_date for i in instalments if i.open_amount), default=None)
            due = due or instalments[-1].due_date
        else:
            maturities = [ln["maturity_date"] for ln in lines if _is_date(ln.get("maturity_date"))]
            due = min(maturities, default=issued)
        return InvoiceData(
            ref=str(row["id"]),
            customer_ref=fields.ref((row.get("party.") or {}).get("code"), "party code"),
            number=fields.text(row.get("number"), "number", MAX_ID_LENGTH),
            issue_date=issued,
            due_date=due,
            currency=currency,
            total=total,
            open_amount=open_amount,
            # One sale: its number is the order the gate reserved for. Several: no single
            # order to reduce, so the reservations stay until their orders are invoiced.
            order_ref=sales[0] if len(sales) == 1 else None,
            cancelled=state == "cancelled",
            instalments=instalments,
        )

    def _instalments(
        self, lines: Sequence[Row], currency: str, issued: date, total: Decimal, open_: Decimal
    ) -> tuple[Instalment, ...]:
        """The invoice's lines to pay as instalments, when it has more than one (a payment term
        in several parts), each with its own due date (its line's maturity date).

        A line reconciled (paid) has nothing open. Tryton's amount to pay also deducts payments
        linked to the invoice but not reconciled (partial payments); they belong to no line, so
        they are taken off the open lines oldest due first, as a customer's payment usually
        settles the oldest instalment. The shares and open amounts are made to sum exactly to
        the invoice's total and amount to pay (a rounding difference goes to the last line).
        """
        if len(lines) < 2:
            return ()
        foreign = currency != self.company_currency()
        ordered = sorted(
            lines,
            key=lambda ln: (
                ln["maturity_date"] if _is_date(ln.get("maturity_date")) else issued,
                ln["id"],
            ),
        )
        amounts: list[Decimal] = []
        for ln in ordered:
            second = ln.get("amount_second_currency")
            if foreign and ln.get("second_currency") and second is not None:
                raw = second
            else:
                raw = (ln.get("debit") or Decimal(0)) - (ln.get("credit") or Decimal(0))
            amounts.append(fields.amount(raw, currency, "line to pay"))
        amounts[-1] += total - sum(amounts, Decimal(0))
        settled = [ln.get("reconciliation") is not None for ln in ordered]
        opens = [Decimal(0) if done else a for a, done in zip(amounts, settled, strict=True)]
        # What was paid without being reconciled: taken off the open lines oldest first.
        unallocated = sum(opens, Decimal(0)) - open_
        sign = 1 if unallocated >= 0 else -1
        for n, value in enumerate(opens):
            if not unallocated:
                break
            if value * sign > 0:
                taken = min(value * sign, unallocated * sign) * sign
                opens[n] -= taken
                unallocated -= taken
        opens[max((n for n, v in enumerate(opens) if v), default=len(opens) - 1)] -= unallocated
        zero = fields.amount(0, currency, "open amount")
        return tuple(
            Instalment(
                due_date=ln["maturity_date"] if _is_date(ln.get("maturity_date")) else issued,
                amount=amount,
                open_amount=value or zero,
            )
            for ln, amount, value in zip(ordered, amounts, opens, strict=True)
        )

    def _payment(self, row: Row) -> PaymentData:
        second = (row.get("second_currency.") or {}).get("code")
        if second:
            currency = fields.currency(second)
            raw = -(row.get("amount_second_currency") or Decimal(0))
        else:
            currency = fields.currency(self.company_currency())
            raw = (row.get("credit") or Decimal(0)) - (row.get("debit") or Decimal(0))
        amount = fields.amount(raw, currency, "amount")
        applied = row.get("reconciliation") is not None or row.get("invoice_payment") is not None
        when = fields.day(row.get("date"), "date")
        return PaymentData(
            ref=str(row["id"]),
            customer_ref=fields.ref((row.get("party.") or {}).get("code"), "party code"),
            date=when,
            currency=currency,
            amount=amount,
            unapplied=fields.amount(0, currency, "unapplied") if applied else amount,
        )


def _is_date(value: Any) -> bool:
    return fields.optional_day(value) is not None


def _after(changed_at: datetime, last_id: int) -> list[Any]:
    """The keyset condition: changed later, or at the same time with a higher id."""
    return [
        "OR",
        [("last_modified_at", ">", changed_at)],
        [("last_modified_at", "=", changed_at), ("id", ">", last_id)],
    ]


def _watermark(row: Row) -> Watermark:
    return Watermark(row["last_modified_at"], str(row["id"]))


def _tryton_id(last_id: str) -> int:
    try:
        return int(last_id)
    except ValueError:
        raise ValueError(f"watermark id {last_id!r} is not a Tryton record id") from None
