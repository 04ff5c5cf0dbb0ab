"""Read CSV exports (customers, groups, invoices, payments) into source records, row by row."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from gating.errors import InvalidAmount, UnknownCurrency
from gating.money import is_currency, parse_amount
from gating.records import CustomerData, GroupData, InvoiceData, PaymentData, RecordError

T = TypeVar("T")

COLUMNS = {
    "groups": ("group_id", "name", "credit_limit", "currency"),
    "customers": ("customer_id", "name", "credit_limit", "currency", "group_id", "on_hold"),
    "invoices": (
        "invoice_id",
        "customer_id",
        "number",
        "issue_date",
        "due_date",
        "currency",
        "total",
        "open_amount",
        "order_id",
    ),
    "payments": ("payment_id", "customer_id", "date", "currency", "amount", "unapplied_amount"),
}
OPTIONAL_COLUMNS = {"customers": {"group_id", "on_hold", "hold_reason"}, "invoices": {"order_id"}}
_TRUE, _FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n", ""}


class BadRow(ValueError):
    pass


@dataclass
class FileBatch:
    """The good records of one file, in file order, and the rows that were skipped."""

    groups: list[GroupData] = field(default_factory=list)
    customers: list[CustomerData] = field(default_factory=list)
    invoices: list[InvoiceData] = field(default_factory=list)
    payments: list[PaymentData] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    read: dict[str, int] = field(default_factory=dict)
    # (entity, record id) -> (file, line) of every good record, so a row the store skips later
    # (unknown customer or group) is reported with its place in the file too.
    lines: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)


def _text(row: dict[str, str], key: str, *, required: bool = True) -> str | None:
    value = (row.get(key) or "").strip()
    if not value:
        if required:
            raise BadRow(f"{key} is empty")
        return None
    if len(value) > 300:
        raise BadRow(f"{key} is longer than 300 characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise BadRow(f"{key} contains control characters")
    return value


def _ref(row: dict[str, str], key: str, *, required: bool = True) -> str | None:
    value = _text(row, key, required=required)
    if value is not None and len(value) > 100:
        raise BadRow(f"{key} is longer than 100 characters")
    return value


def _currency(row: dict[str, str]) -> str:
    code = (row.get("currency") or "").strip().upper()
    if not is_currency(code):
        raise BadRow(f"currency {code!r} is not an ISO 4217 code")
    return code


def _amount(row: dict[str, str], key: str, currency: str, *, blank_ok: bool = False) -> Any:
    raw = (row.get(key) or "").strip()
    if not raw:
        if blank_ok:
            return None
        raise BadRow(f"{key} is empty")
    try:
        return parse_amount(raw, currency)
    except (InvalidAmount, UnknownCurrency) as exc:
        raise BadRow(f"{key}: {exc}") from None


def _date(row: dict[str, str], key: str) -> date:
    raw = (row.get(key) or "").strip()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRow(f"{key} {raw!r} is not an ISO date (YYYY-MM-DD)") from None


def _bool(row: dict[str, str], key: str) -> bool:
    raw = (row.get(key) or "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise BadRow(f"{key} {raw!r} is not true/false")


def parse_group(row: dict[str, str]) -> GroupData:
    currency = _currency(row)
    limit = _amount(row, "credit_limit", currency, blank_ok=True)
    if limit is not None and limit < 0:
        raise BadRow("credit_limit is negative")
    return GroupData(_ref(row, "group_id"), _text(row, "name"), limit, currency)  # type: ignore[arg-type]


def parse_customer(row: dict[str, str]) -> CustomerData:
    currency = _currency(row)
    limit = _amount(row, "credit_limit", currency, blank_ok=True)
    if limit is not None and limit < 0:
        raise BadRow("credit_limit is negative")
    return CustomerData(
        ref=_ref(row, "customer_id"),  # type: ignore[arg-type]
        name=_text(row, "name"),  # type: ignore[arg-type]
        credit_limit=limit,
        currency=currency,
        group_ref=_ref(row, "group_id", required=False),
        on_hold=_bool(row, "on_hold"),
        hold_reason=_text(row, "hold_reason", required=False),
    )


def parse_invoice(row: dict[str, str]) -> InvoiceData:
    currency = _currency(row)
    total = _amount(row, "total", currency)
    open_amount = _amount(row, "open_amount", currency)
    if total >= 0 and not Decimal(0) <= open_amount <= total:
        raise BadRow("open_amount must be between 0 and total")
    if total < 0 and not total <= open_amount <= Decimal(0):
        raise BadRow("a credit note's open_amount must be between total and 0")
    return InvoiceData(
        ref=_ref(row, "invoice_id"),  # type: ignore[arg-type]
        customer_ref=_ref(row, "customer_id"),  # type: ignore[arg-type]
        number=_ref(row, "number"),  # type: ignore[arg-type]
        issue_date=_date(row, "issue_date"),
        due_date=_date(row, "due_date"),
        currency=currency,
        total=total,
        open_amount=open_amount,
        order_ref=_ref(row, "order_id", required=False),
    )


def parse_payment(row: dict[str, str]) -> PaymentData:
    currency = _currency(row)
    amount = _amount(row, "amount", currency)
    unapplied = _amount(row, "unapplied_amount", currency)
    if amount < 0:
        raise BadRow("amount is negative")
    if not Decimal(0) <= unapplied <= amount:
        raise BadRow("unapplied_amount must be between 0 and amount")
    return PaymentData(
        ref=_ref(row, "payment_id"),  # type: ignore[arg-type]
        customer_ref=_ref(row, "customer_id"),  # type: ignore[arg-type]
        date=_date(row, "date"),
        currency=currency,
        amount=amount,
        unapplied=unapplied,
    )


PARSERS: dict[str, Callable[[dict[str, str]], Any]] = {
    "groups": parse_group,
    "customers": parse_customer,
    "invoices": parse_invoice,
    "payments": parse_payment,
}
ID_COLUMN = {
    "groups": "group_id",
    "customers": "customer_id",
    "invoices": "invoice_id",
    "payments": "payment_id",
}
ENTITY = {"groups": "group", "customers": "customer", "invoices": "invoice", "payments": "payment"}


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = (
            set(COLUMNS[path.stem])
            - OPTIONAL_COLUMNS.get(path.stem, set())
            - set(reader.fieldnames or ())
        )
        if missing:
            raise BadRow(f"missing columns: {', '.join(sorted(missing))}")
        for row in reader:
            yield reader.line_num, row


def read_folder(folder: Path) -> FileBatch:
    """Parse every known file in `folder`; a bad row is skipped and reported, never fatal.

    :raises FileNotFoundError: if the folder does not exist or holds none of the known files.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    present = [name for name in COLUMNS if (folder / f"{name}.csv").is_file()]
    if not present:
        raise FileNotFoundError(f"{folder} holds none of {', '.join(n + '.csv' for n in COLUMNS)}")
    batch = FileBatch()
    for name in present:
        _read_file(folder / f"{name}.csv", name, batch)
    return batch


def read_file(path: Path) -> FileBatch:
    """Parse one export file (customers.csv, groups.csv, ...) named by its stem."""
    if path.stem not in COLUMNS:
        raise FileNotFoundError(f"{path.name} is not one of {', '.join(COLUMNS)} (.csv)")
    batch = FileBatch()
    _read_file(path, path.stem, batch)
    return batch


def _read_file(path: Path, name: str, batch: FileBatch) -> None:
    seen: dict[str, int] = {}
    target: list[Any] = getattr(batch, name)
    batch.read[name] = 0
    try:
        for line, row in _rows(path):
            batch.read[name] += 1
            record_id = (row.get(ID_COLUMN[name]) or "").strip() or None
            try:
                if None in row:
                    raise BadRow("the row has more fields than the header")
                record = PARSERS[name](row)
            except BadRow as exc:
                batch.errors.append(RecordError(ENTITY[name], record_id, str(exc), path.name, line))
                continue
            if record.ref in seen:
                reason = f"duplicate {ID_COLUMN[name]} (first on line {seen[record.ref]})"
                batch.errors.append(RecordError(ENTITY[name], record.ref, reason, path.name, line))
                continue
            seen[record.ref] = line
            batch.lines[(ENTITY[name], record.ref)] = (path.name, line)
            target.append(record)
    except (BadRow, UnicodeDecodeError, csv.Error) as exc:
        batch.errors.append(RecordError(ENTITY[name], None, f"file skipped: {exc}", path.name, 1))
        target.clear()
