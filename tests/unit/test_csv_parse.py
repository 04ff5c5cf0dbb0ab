"""CSV parsing row by row: what each odd row gives, line numbers, and the parser's fast paths.

`read_folder` reads with `csv.reader` and the header's column positions, skips the per-character
control scan for printable text, and remembers amounts and dates it parsed before. None of that
may change what a file gives: these pin the behaviour the `csv.DictReader` version had.
"""

from __future__ import annotations

import gc
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.csv_folder.reader import (
    gc_paused,
    parse_customer,
    parse_invoice,
    read_file,
    read_folder,
)
from gating.records import CustomerData, InvoiceData

INVOICE_HEADER = (
    "invoice_id,customer_id,number,issue_date,due_date,currency,total,open_amount,order_id"
)
CUSTOMER_HEADER = "customer_id,name,credit_limit,currency,group_id,on_hold,hold_reason"


def _write(folder: Path, name: str, text: str, *, encoding: str = "utf-8") -> Path:
    path = folder / f"{name}.csv"
    path.write_bytes(text.encode(encoding))
    return path


def _invoice(ref: str, total: str = "10.00", open_amount: str = "0.00", **kw: str) -> str:
    fields = {
        "customer_id": "C-1",
        "number": f"N-{ref}",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
        "currency": "USD",
        "order_id": "",
        **kw,
    }
    return (
        f"{ref},{fields['customer_id']},{fields['number']},{fields['issue_date']},"
        f"{fields['due_date']},{fields['currency']},{total},{open_amount},{fields['order_id']}"
    )


def _errors(batch):
    return [(e.line, e.record_id, e.reason) for e in batch.errors]


def test_blank_lines_are_skipped_and_rows_keep_their_own_line(tmp_path):
    text = "\n".join(
        [INVOICE_HEADER, "", _invoice("I-1"), "", "", _invoice("I-2", total="x"), _invoice("I-1")]
    )
    batch = read_file(_write(tmp_path, "invoices", text + "\n\n"))

    assert [i.ref for i in batch.invoices] == ["I-1"]
    assert _errors(batch) == [
        (6, "I-2", "total: 'x' is not a decimal amount"),
        (7, "I-1", "duplicate invoice_id (first on line 3)"),
    ]
    assert batch.read == {"invoices": 3}
    assert batch.where("invoice", "I-1") == ("invoices.csv", 3)
    assert batch.where("invoice", "I-2") is None  # skipped: not a good record
    assert batch.lines == {"invoice": ("invoices.csv", {"I-1": 3})}


def test_a_quoted_field_over_several_lines_counts_its_last_line(tmp_path):
    row = _invoice("I-1").replace("N-I-1", '"two\nlines"')
    text = "\n".join([INVOICE_HEADER, row, _invoice("I-2", currency="XXX")]) + "\n"
    batch = read_file(_write(tmp_path, "invoices", text))

    # The number holds a newline: a control character, so the row is refused, on line 3.
    assert _errors(batch) == [
        (3, "I-1", "number contains control characters"),
        (4, "I-2", "currency 'XXX' is not an ISO 4217 code"),
    ]


def test_short_rows_read_empty_fields_and_long_rows_are_refused(tmp_path):
    text = "\n".join(
        [
            INVOICE_HEADER,
            "I-1,C-1,N-1,2026-11-01,2026-12-01,USD,10.00,0.00",  # no order_id field: fine
            "I-2,C-1,N-2,2026-11-01,2026-12-01,USD,10.00",  # no open_amount
            " I-3 ,C-1,N-3,2026-11-01,2026-12-01,USD,10.00,0.00,,extra",
            ",C-1,N-4,2026-11-01,2026-12-01,USD,10.00,0.00,,extra",
            "I-5",
        ]
    )
    batch = read_file(_write(tmp_path, "invoices", text))

    assert [(i.ref, i.order_ref) for i in batch.invoices] == [("I-1", None)]
    assert _errors(batch) == [
        (3, "I-2", "open_amount is empty"),
        (4, "I-3", "the row has more fields than the header"),
        (5, None, "the row has more fields than the header"),
        (6, "I-5", "currency '' is not an ISO 4217 code"),
    ]


def test_columns_in_any_order_optional_ones_absent_and_a_repeated_one_read_last(tmp_path):
    text = "\n".join(
        [
            "name,currency,customer_id,credit_limit,name",
            "First,usd,C-1,100,Second",
            "First,USD,C-2,,",
        ]
    )
    batch = read_file(_write(tmp_path, "customers", text))

    assert batch.customers == [
        CustomerData("C-1", "Second", Decimal("100.00"), "USD", None, False, None)
    ]
    assert _errors(batch) == [(3, "C-2", "name is empty")]


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    text = CUSTOMER_HEADER + "\nC-1,One,5,EUR,,yes,late payer\n"
    batch = read_file(_write(tmp_path, "customers", text, encoding="utf-8-sig"))

    assert batch.customers == [
        CustomerData("C-1", "One", Decimal("5.00"), "EUR", None, True, "late payer")
    ]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("a\x00b", "name contains control characters"),
        ("a\x1fb", "name contains control characters"),
        ("a\x7fb", "name contains control characters"),
        ("a\tb", "name contains control characters"),
        ("x" * 301, "name is longer than 300 characters"),
        ("\x01" + "x" * 300, "name is longer than 300 characters"),  # length is checked first
        ("  ", "name is empty"),
        # Not printable, yet not C0 controls or DEL either: accepted as they always were.
        ("a\x85b", None),
        ("a\xa0b", None),
        ("a\u2028b", None),
        ("a\u200bb", None),
        ("x" * 300, None),
    ],
)
def test_text_is_refused_for_exactly_c0_controls_and_del(tmp_path, name, error):
    text = CUSTOMER_HEADER + f'\nC-1,"{name}",5,USD,,,\n'
    batch = read_file(_write(tmp_path, "customers", text))

    if error is None:
        assert [c.name for c in batch.customers] == [name.strip()]
        assert batch.errors == []
    else:
        assert _errors(batch) == [(2, "C-1", error)]


@pytest.mark.parametrize(
    ("ref", "error"),
    [
        ("x" * 101, "invoice_id is longer than 100 characters"),
        ("x" * 100 + "\x07", "invoice_id contains control characters"),  # before the length
        ("x" * 301, "invoice_id is longer than 300 characters"),
        ("x" * 100, None),
    ],
)
def test_references_are_at_most_100_characters(tmp_path, ref, error):
    text = INVOICE_HEADER + "\n" + _invoice(ref, number="N-1") + "\n"
    batch = read_file(_write(tmp_path, "invoices", text))

    if error is None:
        assert [i.ref for i in batch.invoices] == [ref]
    else:
        assert [e.reason for e in batch.errors] == [error]


def test_a_row_reports_its_first_fault_in_the_fixed_order(tmp_path):
    # Bad currency, bad total, empty id, bad date: the currency is checked first.
    rows = [
        _invoice("", total="abc", currency="usdx", issue_date="nope"),
        _invoice("", total="abc", issue_date="nope"),
        _invoice("", issue_date="nope"),
        _invoice("I-4", issue_date="nope", due_date="never", number=""),
        _invoice("I-5", issue_date="nope", due_date="never"),
        _invoice("I-6", "10.00", "20.00", issue_date="nope"),
        _invoice("I-7", "-10.00", "-20.00"),
    ]
    batch = read_file(_write(tmp_path, "invoices", "\n".join([INVOICE_HEADER, *rows])))

    assert [e.reason for e in batch.errors] == [
        "currency 'USDX' is not an ISO 4217 code",
        "total: 'abc' is not a decimal amount",
        "invoice_id is empty",
        "number is empty",
        "issue_date 'nope' is not an ISO date (YYYY-MM-DD)",
        "open_amount must be between 0 and total",
        "a credit note's open_amount must be between total and 0",
    ]


def test_remembered_amounts_and_dates_are_per_currency_and_errors_repeat(tmp_path):
    rows = [
        _invoice("I-1", "1.5", "1.5"),
        _invoice("I-2", "1.5", "1.5", currency="JPY"),
        _invoice("I-3", "1.5", "1.5", currency="KWD"),
        _invoice("I-4", "1.5", "1.5"),
        _invoice("I-5", issue_date="2026-02-30"),
        _invoice("I-6", issue_date="2026-02-30"),
        _invoice("I-7", issue_date=" 2026-11-01 ", due_date="2026-11-01"),
    ]
    batch = read_file(_write(tmp_path, "invoices", "\n".join([INVOICE_HEADER, *rows])))

    assert [(i.ref, str(i.total), i.issue_date) for i in batch.invoices] == [
        ("I-1", "1.50", date(2026, 11, 1)),
        ("I-3", "1.500", date(2026, 11, 1)),
        ("I-4", "1.50", date(2026, 11, 1)),
        ("I-7", "10.00", date(2026, 11, 1)),
    ]
    assert _errors(batch) == [
        (3, "I-2", "total: JPY amounts have at most 0 decimal places"),
        (6, "I-5", "issue_date '2026-02-30' is not an ISO date (YYYY-MM-DD)"),
        (7, "I-6", "issue_date '2026-02-30' is not an ISO date (YYYY-MM-DD)"),
    ]


def test_a_file_that_stops_decoding_is_skipped_whole_but_its_rows_stay_counted(tmp_path):
    # Far enough into the file that rows before the bad bytes are read first (the reader
    # decodes ahead, so not all of them).
    rows = [_invoice("I-0", total="x")] + [_invoice(f"I-{i}") for i in range(1, 2001)]
    good = "\n".join([INVOICE_HEADER, *rows]) + "\n"
    path = tmp_path / "invoices.csv"
    path.write_bytes(good.encode() + b"I-Y,\xff\xfe\n" + ("I-Z," * 3000).encode())
    batch = read_file(path)

    assert batch.invoices == []
    assert [(e.line, e.reason[:40]) for e in batch.errors] == [
        (2, "total: 'x' is not a decimal amount"),
        (1, "file skipped: 'utf-8' codec can't decode"),
    ]
    read = batch.read["invoices"]
    assert 1 < read < 2001
    # Good rows before the fault keep their place, as they always did.
    assert len(batch.lines["invoice"][1]) == read - 1
    assert batch.where("invoice", "I-1") == ("invoices.csv", 3)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "",
            "file skipped: missing columns: "
            "amount, currency, customer_id, date, payment_id, unapplied_amount",
        ),
        ("\npayment_id,customer_id,date,currency,amount,unapplied_amount\n", None),
        (
            "payment_id,customer_id,date,currency,amount\nP-1,C-1,2026-11-01,USD,5\n",
            "file skipped: missing columns: unapplied_amount",
        ),
    ],
)
def test_a_file_without_the_columns_it_needs_is_skipped(tmp_path, text, reason):
    batch = read_file(_write(tmp_path, "payments", text))

    assert batch.payments == []
    assert batch.read == {"payments": 0}
    if reason is None:  # a blank first line is an empty header: every column is missing
        assert batch.errors[0].reason.startswith("file skipped: missing columns: amount")
    else:
        assert [(e.line, e.reason) for e in batch.errors] == [(1, reason)]


def test_read_folder_reads_the_known_files_in_their_order(tmp_path):
    _write(tmp_path, "invoices", INVOICE_HEADER + "\n" + _invoice("I-1") + "\n")
    _write(tmp_path, "customers", CUSTOMER_HEADER + "\nC-1,One,,USD,,no,\n")
    _write(tmp_path, "notes", "anything\n")
    batch = read_folder(tmp_path)

    assert list(batch.read) == ["customers", "invoices"]
    assert batch.invoices == [
        InvoiceData(
            "I-1",
            "C-1",
            "N-I-1",
            date(2026, 11, 1),
            date(2026, 12, 1),
            "USD",
            Decimal("10.00"),
            Decimal("0.00"),
            None,
        )
    ]
    assert str(batch.invoices[0].open_amount) == "0.00"


def test_the_row_parsers_still_take_a_dict():
    row = {"customer_id": " C-9 ", "name": "Nine", "credit_limit": "7", "currency": "jpy"}
    assert parse_customer(row) == CustomerData("C-9", "Nine", Decimal("7"), "JPY")
    with pytest.raises(ValueError, match="open_amount is empty"):
        parse_invoice({"invoice_id": "I-1", "currency": "USD", "total": "1"})


@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_is_paused_while_parsing_and_left_as_it_was(enabled):
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        with gc_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError), gc_paused():
            raise RuntimeError
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_an_invoice_row_reads_padded_and_blank_fields_like_any_other_field(tmp_path):
    # The invoice parser tests the common case of each field inline: blank-but-not-empty and
    # padded values must still take the checked path, with the same messages and results.
    rows = [
        _invoice("   ", number="N-1"),  # only spaces: empty once stripped
        _invoice("I-2", customer_id="  "),
        _invoice("I-3", number=" \t "),
        _invoice(" I-4 ", " 10.00", "10.00 ", customer_id=" C-9 ", number=" N-4 "),
        _invoice("I-5", order_id="  "),  # blank order: none
        _invoice("I-6", order_id=" SO-6 ", due_date=" 2026-12-01"),
        _invoice("I-7", " ", "0.00"),
        _invoice("I-8", "10.00", ""),
    ]
    batch = read_file(_write(tmp_path, "invoices", "\n".join([INVOICE_HEADER, *rows]) + "\n"))

    assert [
        (i.ref, i.customer_ref, i.number, str(i.total), str(i.open_amount), i.order_ref, i.due_date)
        for i in batch.invoices
    ] == [
        ("I-4", "C-9", "N-4", "10.00", "10.00", None, date(2026, 12, 1)),
        ("I-5", "C-1", "N-I-5", "10.00", "0.00", None, date(2026, 12, 1)),
        ("I-6", "C-1", "N-I-6", "10.00", "0.00", "SO-6", date(2026, 12, 1)),
    ]
    assert _errors(batch) == [
        (2, None, "invoice_id is empty"),
        (3, "I-2", "customer_id is empty"),
        (4, "I-3", "number is empty"),
        (8, "I-7", "total is empty"),
        (9, "I-8", "open_amount is empty"),
    ]


def test_an_amount_is_a_decimal_string_trimmed_but_nothing_else_decimal_reads(tmp_path):
    # Decimal() reads every one of these; the files' contract is a plain decimal string. A cell
    # is trimmed (exports pad them), so " 10.00 " stays good.
    odd = ["1_000", "1e2", "+10", "\uff11\uff10", "\u0661\u0662", "10.", ".5"]
    rows = [_invoice(f"I-{n}", total) for n, total in enumerate(odd)]
    rows.append(_invoice("I-ok", " 10.00 ", "-0.00"))
    batch = read_file(_write(tmp_path, "invoices", "\n".join([INVOICE_HEADER, *rows]) + "\n"))

    assert [(i.ref, str(i.total)) for i in batch.invoices] == [("I-ok", "10.00")]
    assert [(e.record_id, e.reason.split(" must be ")[0]) for e in batch.errors] == [
        (f"I-{n}", f"total {total!r}") for n, total in enumerate(odd)
    ]
