"""Read a folder of CSV files (groups, customers, invoices, payments), as ERPs that only export
files write them, into source records, row by row: what `creditgate import` loads and what the
csv-folder source (source.py) syncs. Each field goes through the shared field rules
(adapters/fields.py); a bad row is skipped and reported with its file and line, never fatal."""

from __future__ import annotations

import csv
import gc
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from adapters import fields
from adapters.fields import Invalid
from gating.identifiers import MAX_ID_LENGTH
from gating.money import is_currency
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
_ZERO = Decimal(0)


@dataclass
class FileBatch:
    """The good records of one file, in file order, and the rows that were skipped."""

    groups: list[GroupData] = field(default_factory=list)
    customers: list[CustomerData] = field(default_factory=list)
    invoices: list[InvoiceData] = field(default_factory=list)
    payments: list[PaymentData] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    read: dict[str, int] = field(default_factory=dict)
    # entity -> (file, {record id: line}) of every good record, so a row the store skips later
    # (unknown customer or group) is reported with its place in the file too (`where`). The
    # duplicate check's own dict, kept: no second entry per row.
    lines: dict[str, tuple[str, dict[str, int]]] = field(default_factory=dict)

    def where(self, entity: str, record_id: str | None) -> tuple[str, int] | None:
        """(file, line) of a good record, or None."""
        found = self.lines.get(entity)
        if found is None or record_id is None:
            return None
        line = found[1].get(record_id)
        return None if line is None else (found[0], line)


# Per-file memos of parsed amounts and dates: most rows repeat a few values ("0.00", the same
# days), and a dict lookup is much cheaper than Decimal arithmetic or date parsing. Bounded, so
# a file of all-distinct values costs no memory beyond the first few thousand.
_MEMO_LIMIT = 4096


def _amount(
    raw: str,
    key: str,
    currency: str,
    memo: dict[str, Decimal],
    blank_ok: bool = False,
) -> Any:
    """Parse an amount of `currency` (fields.amount); `memo` holds earlier results for that
    same currency."""
    raw = raw.strip()
    if not raw and blank_ok:
        return None
    found = memo.get(raw)
    if found is not None:
        return found
    amount = fields.amount(raw, currency, key)
    if len(memo) < _MEMO_LIMIT:
        memo[raw] = amount
    return amount


def _date(raw: str, key: str, memo: dict[str, date]) -> date:
    raw = raw.strip()
    found = memo.get(raw)
    if found is not None:
        return found
    day = fields.day_text(raw, key)
    if len(memo) < _MEMO_LIMIT:
        memo[raw] = day
    return day


def _bool(raw: str, key: str) -> bool:
    raw = raw.strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise Invalid(f"{key} {raw!r} is not true/false")


# A row parser gets the csv module's list of fields, padded so that every column of the file's
# format has a place: `at[column]` is the column's index, or, for an optional column the header
# lacks, the index of an empty field past the last. Checks run in a fixed order, so a row with
# several faults is reported with the first of them.
_RowParser = Callable[[list[str]], Any]


def _credit_limit(raw: str, currency: str, memo: dict[str, Decimal]) -> Decimal | None:
    """A group's or a customer's limit: blank for none, never negative."""
    limit: Decimal | None = _amount(raw, "credit_limit", currency, memo, True)
    if limit is not None and limit < 0:
        raise Invalid("credit_limit is negative")
    return limit


def _group_parser(at: dict[str, int]) -> _RowParser:
    i_ref, i_name, i_limit, i_cur = (at[c] for c in COLUMNS["groups"])
    amounts: defaultdict[str, dict[str, Decimal]] = defaultdict(dict)

    def parse(row: list[str]) -> GroupData:
        currency = fields.currency(row[i_cur])
        limit = _credit_limit(row[i_limit], currency, amounts[currency])
        return GroupData(
            fields.ref(row[i_ref], "group_id"),
            fields.text(row[i_name], "name"),
            limit,
            currency,
        )

    return parse


def _customer_parser(at: dict[str, int]) -> _RowParser:
    i_ref, i_name, i_limit, i_cur, i_group, i_hold = (at[c] for c in COLUMNS["customers"])
    i_reason = at["hold_reason"]
    amounts: defaultdict[str, dict[str, Decimal]] = defaultdict(dict)

    def parse(row: list[str]) -> CustomerData:
        currency = fields.currency(row[i_cur])
        limit = _credit_limit(row[i_limit], currency, amounts[currency])
        return CustomerData(
            fields.ref(row[i_ref], "customer_id"),
            fields.text(row[i_name], "name"),
            limit,
            currency,
            fields.optional_ref(row[i_group], "group_id"),
            _bool(row[i_hold], "on_hold"),
            fields.optional_text(row[i_reason], "hold_reason"),
        )

    return parse


def _invoice_parser(at: dict[str, int]) -> _RowParser:
    i_ref, i_cust, i_number, i_issue, i_due, i_cur, i_total, i_open, i_order = (
        at[c] for c in COLUMNS["invoices"]
    )
    amounts: defaultdict[str, dict[str, Decimal]] = defaultdict(dict)
    dates: dict[str, date] = {}

    def parse(row: list[str]) -> InvoiceData:
        # Millions of rows go through here: the common case of each field (a clean value, an
        # amount or a date seen before) is tested inline, and anything else goes through the
        # field's own checker, in the same order, so a bad row fails with the same message.
        currency = row[i_cur]
        if not is_currency(currency):
            currency = fields.currency(currency)
        memo = amounts[currency]
        total = memo.get(row[i_total])
        if total is None:
            total = _amount(row[i_total], "total", currency, memo)
        open_amount = memo.get(row[i_open])
        if open_amount is None:
            open_amount = _amount(row[i_open], "open_amount", currency, memo)
        if total >= 0 and not _ZERO <= open_amount <= total:
            raise Invalid("open_amount must be between 0 and total")
        if total < 0 and not total <= open_amount <= _ZERO:
            raise Invalid("a credit note's open_amount must be between total and 0")
        ref, customer, number = row[i_ref].strip(), row[i_cust].strip(), row[i_number].strip()
        if not (ref and len(ref) <= MAX_ID_LENGTH and ref.isprintable()):
            ref = fields.ref(ref, "invoice_id")
        if not (customer and len(customer) <= MAX_ID_LENGTH and customer.isprintable()):
            customer = fields.ref(customer, "customer_id")
        if not (number and len(number) <= MAX_ID_LENGTH and number.isprintable()):
            number = fields.text(number, "number", MAX_ID_LENGTH)
        issued = dates.get(row[i_issue]) or _date(row[i_issue], "issue_date", dates)
        due = dates.get(row[i_due]) or _date(row[i_due], "due_date", dates)
        order = row[i_order]
        order_ref = fields.optional_ref(order, "order_id") if order else None
        return InvoiceData(
            ref,
            customer,
            number,
            issued,
            due,
            currency,
            total,
            open_amount,
            order_ref,
        )

    return parse


def _payment_parser(at: dict[str, int]) -> _RowParser:
    i_ref, i_cust, i_date, i_cur, i_amount, i_unapplied = (at[c] for c in COLUMNS["payments"])
    amounts: defaultdict[str, dict[str, Decimal]] = defaultdict(dict)
    dates: dict[str, date] = {}

    def parse(row: list[str]) -> PaymentData:
        currency = fields.currency(row[i_cur])
        memo = amounts[currency]
        amount = _amount(row[i_amount], "amount", currency, memo)
        unapplied = _amount(row[i_unapplied], "unapplied_amount", currency, memo)
        if amount < 0:
            raise Invalid("amount is negative")
        if not _ZERO <= unapplied <= amount:
            raise Invalid("unapplied_amount must be between 0 and amount")
        return PaymentData(
            fields.ref(row[i_ref], "payment_id"),
            fields.ref(row[i_cust], "customer_id"),
            _date(row[i_date], "date", dates),
            currency,
            amount,
            unapplied,
        )

    return parse


_ROW_PARSERS: dict[str, Callable[[dict[str, int]], _RowParser]] = {
    "groups": _group_parser,
    "customers": _customer_parser,
    "invoices": _invoice_parser,
    "payments": _payment_parser,
}
# Every column a file's parser reads: its format's columns, and for customers the optional
# hold_reason, which COLUMNS (the header the exports are written with) leaves out.
_READS = {
    name: (*columns, *(("hold_reason",) if name == "customers" else ()))
    for name, columns in COLUMNS.items()
}


def _positions(name: str, header: Sequence[str]) -> dict[str, int]:
    """Where each column the parser reads is in a row padded to len(header) + 1 fields.

    A name the header repeats takes its last place, as `csv.DictReader` (which builds each row's
    dict from the header in order) did; a column the header lacks reads the padding's "".
    """
    at = {column: i for i, column in enumerate(header)}
    return {column: at.get(column, len(header)) for column in _READS[name]}


def _parse_dict(name: str, row: Mapping[Any, Any]) -> Any:
    """Parse one row given as a dict of column -> text, as `csv.DictReader` gives it."""
    columns = _READS[name]
    return _ROW_PARSERS[name]({c: i for i, c in enumerate(columns)})(
        [row.get(c) or "" for c in columns]
    )


def parse_group(row: dict[str, str]) -> GroupData:
    return _parse_dict("groups", row)  # type: ignore[no-any-return]


def parse_customer(row: dict[str, str]) -> CustomerData:
    return _parse_dict("customers", row)  # type: ignore[no-any-return]


def parse_invoice(row: dict[str, str]) -> InvoiceData:
    return _parse_dict("invoices", row)  # type: ignore[no-any-return]


def parse_payment(row: dict[str, str]) -> PaymentData:
    return _parse_dict("payments", row)  # type: ignore[no-any-return]


ID_COLUMN = {
    "groups": "group_id",
    "customers": "customer_id",
    "invoices": "invoice_id",
    "payments": "payment_id",
}
ENTITY = {"groups": "group", "customers": "customer", "invoices": "invoice", "payments": "payment"}


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
    with gc_paused():
        for name in present:
            _read_file(folder / f"{name}.csv", name, batch)
    return batch


def read_file(path: Path) -> FileBatch:
    """Parse one export file (customers.csv, groups.csv, ...) named by its stem."""
    if path.stem not in COLUMNS:
        raise FileNotFoundError(f"{path.name} is not one of {', '.join(COLUMNS)} (.csv)")
    batch = FileBatch()
    with gc_paused():
        _read_file(path, path.stem, batch)
    return batch


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk parse (or load), if it is on.

    Every record is a new object that lives on, so the collector keeps running and walking the
    ever larger heap of them, for nothing: records hold no reference cycles, and refcounting
    frees them. That was about a third of parsing a large file. Process-wide while it lasts.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _read_file(path: Path, name: str, batch: FileBatch) -> None:
    """Parse one file into `batch`: its good records, and an error for each row it skips.

    Reads with `csv.reader` and the header's column positions (what `csv.DictReader` did, without
    a dict per row): blank lines are skipped, a short row reads "" for the fields it lacks, and
    a column the header repeats is read at its last place. A row's line is the reader's
    `line_num` once it has read the row (its last line, for a quoted field over several lines).
    """
    seen: dict[str, int] = {}
    target: list[Any] = getattr(batch, name)
    errors = batch.errors
    entity, id_column, file = ENTITY[name], ID_COLUMN[name], path.name
    batch.lines[entity] = (file, seen)
    read = batch.read[name] = 0
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            missing = set(COLUMNS[name]) - OPTIONAL_COLUMNS.get(name, set()) - set(header or ())
            if missing or header is None:
                raise Invalid(f"missing columns: {', '.join(sorted(missing))}")
            width = len(header)
            at = _positions(name, header)
            parse, id_at = _ROW_PARSERS[name](at), at[id_column]
            for row in reader:
                if not row:  # a blank line
                    continue
                line = reader.line_num
                read += 1
                fields = len(row)
                try:
                    # One "" for absent optional columns, and one per field a short row lacks.
                    if fields == width:
                        row.append("")
                    elif fields > width:
                        raise Invalid("the row has more fields than the header")
                    else:
                        row.extend([""] * (width + 1 - fields))
                    record = parse(row)
                except Invalid as exc:
                    record_id = row[id_at].strip() or None
                    errors.append(RecordError(entity, record_id, str(exc), file, line))
                    continue
                ref = record.ref
                first = seen.get(ref)
                if first is not None:
                    reason = f"duplicate {id_column} (first on line {first})"
                    errors.append(RecordError(entity, ref, reason, file, line))
                    continue
                seen[ref] = line
                target.append(record)
    except (Invalid, UnicodeDecodeError, csv.Error) as exc:
        errors.append(RecordError(entity, None, f"file skipped: {exc}", file, 1))
        target.clear()
    finally:
        batch.read[name] = read
