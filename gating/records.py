"""Source records: customers, groups, invoices and payments as a sync or an import delivers them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class GroupData:
    ref: str
    name: str
    credit_limit: Decimal | None
    currency: str


@dataclass(frozen=True)
class CustomerData:
    ref: str
    name: str
    credit_limit: Decimal | None
    currency: str
    group_ref: str | None = None
    on_hold: bool = False
    hold_reason: str | None = None


@dataclass(frozen=True)
class Instalment:
    """One due date of an invoice paid in several: its share of the total and what is still
    open of it (0 once paid)."""

    due_date: date
    amount: Decimal
    open_amount: Decimal


@dataclass(frozen=True)
class InvoiceData:
    """A receivable; a credit note has a negative total and open amount.

    `instalments`, when the invoice has several due dates, lists them in due-date order; their
    amounts sum to `total` and their open amounts to `open_amount`, and each one ages from its
    own due date (a paid one not at all). Empty: one due date, `due_date`, for the whole open
    amount.
    """

    ref: str
    customer_ref: str
    number: str
    issue_date: date
    due_date: date
    currency: str
    total: Decimal
    open_amount: Decimal
    order_ref: str | None = None
    # Cancelled or deleted at the source: counts nowhere (not open, not against its order).
    cancelled: bool = False
    instalments: tuple[Instalment, ...] = ()


@dataclass(frozen=True)
class PaymentData:
    ref: str
    customer_ref: str
    date: date
    currency: str
    amount: Decimal
    unapplied: Decimal


@dataclass(frozen=True)
class RecordError:
    """A record that was skipped, and why; `line` is the file line for file sources."""

    entity: str
    record_id: str | None
    reason: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file else ""
        what = f"{self.entity} {self.record_id}" if self.record_id else self.entity
        return f"{where}{what}: {self.reason}"
