"""Exports for spreadsheets, as Excel on a Chinese Windows PC opens them: CSV in UTF-8 with a
byte order mark (without one, Excel reads a CSV in the PC's code page, GBK, and Chinese names
come out garbled), streamed as it is read; and .xlsx, written with openpyxl's write-only mode (rows
go to a temporary file as they come, so a year exports in constant memory). Text is written as it
is, never escaped into `\\uXXXX`; amounts beside their currencies."""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Response, stream_with_context
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from gating.money import is_currency, minor_units

# Each of schemas.EXPORT_FORMATS (the extension of the export's address) and its media type.
MEDIA = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
BOM = "\ufeff"
_ROWS_PER_CHUNK = 500
# An .xlsx is built whole before it is sent (a zip's directory comes last); up to this size in
# memory, beyond it on disk.
_SPOOL_BYTES = 4 * 1024 * 1024
_BLOCK_BYTES = 64 * 1024
# Column widths (in characters) in an .xlsx, by field; others fit their title, at least 12.
_WIDTHS = {
    "decision_id": 38,
    "previous_decision_id": 38,
    "decided_at": 26,
    "occurred_at": 26,
    "reason_codes": 30,
    "subject": 30,
    "details": 80,
}
WRAPPED = frozenset({"details"})

Shape = Callable[[dict[str, Any]], dict[str, Any]]


def export_response(
    name: str,
    file_format: str,
    header: tuple[str, ...],
    rows: Iterable[dict[str, Any]],
    shape: Shape,
    amounts: Mapping[str, str] | None = None,
) -> Response:
    """`rows`, each shaped by `shape` into the `header`'s fields, as the file
    `name`.`file_format` (one of schemas.EXPORT_FORMATS). `amounts` maps an amount's field to its
    currency's field: in an .xlsx the amount is a number shown with its currency's decimals."""
    if file_format == "xlsx":
        return xlsx_response(f"{name}.xlsx", header, rows, shape, amounts or {})
    return csv_response(f"{name}.csv", header, rows, shape)


def csv_response(
    name: str, header: tuple[str, ...], rows: Iterable[dict[str, Any]], shape: Shape
) -> Response:
    """A CSV streamed in chunks of rows, in UTF-8 starting with a byte order mark."""

    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        buffer.write(BOM)
        writer = csv.writer(buffer)
        writer.writerow(header)
        for n, row in enumerate(rows, 1):
            item = shape(row)
            writer.writerow([csv_cell(item[field]) for field in header])
            if n % _ROWS_PER_CHUNK == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(chunks()), mimetype=MEDIA["csv"])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def xlsx_response(
    name: str,
    header: tuple[str, ...],
    rows: Iterable[dict[str, Any]],
    shape: Shape,
    amounts: Mapping[str, str],
) -> Response:
    """An .xlsx of one sheet, written in openpyxl's write-only mode: a header row in bold,
    frozen, then one row per record; columns wide enough for their usual content (set before
    the first row, as write-only mode needs), long text (`WRAPPED`) wrapping in its cell."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(name.rpartition(".")[0] or name)
    sheet.freeze_panes = "A2"
    for n, field in enumerate(header, 1):
        width = _WIDTHS.get(field, max(12, len(field) + 4))
        sheet.column_dimensions[get_column_letter(n)].width = width
    bold = Font(bold=True)
    titles = []
    for field in header:
        title = WriteOnlyCell(sheet, field)
        title.font = bold
        titles.append(title)
    sheet.append(titles)
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        item = shape(row)
        cells = []
        for field in header:
            currency = amounts.get(field)
            if field in WRAPPED:
                cell = _text_cell(sheet, item[field])
                cell.alignment = wrap
                cells.append(cell)
            elif currency is None:
                cells.append(_text_cell(sheet, item[field]))
            else:
                cells.append(_amount_cell(sheet, item[field], item[currency]))
        sheet.append(cells)
    # Closed by `blocks` once it is sent (or the answer is dropped), not by a `with` here.
    file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    book.save(file)
    size = file.tell()
    file.seek(0)

    def blocks() -> Iterator[bytes]:
        try:
            while block := file.read(_BLOCK_BYTES):
                yield block
        finally:
            file.close()

    response = Response(blocks(), mimetype=MEDIA["xlsx"])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Content-Length"] = str(size)
    return response


def _text_cell(sheet: Any, value: Any) -> Any:
    """A text cell, kept as text: one starting with "=" is not a formula (openpyxl would make
    it one), and a control character an .xlsx cannot hold shows as U+FFFD."""
    if value is None:
        return WriteOnlyCell(sheet, None)
    if isinstance(value, int) and not isinstance(value, bool):
        return WriteOnlyCell(sheet, value)
    cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("\ufffd", text(value)))
    cell.data_type = "s"
    return cell


def _amount_cell(sheet: Any, value: Any, currency: Any) -> Any:
    """An amount as a number (exact: a Decimal is written with its digits), shown with its
    currency's decimals and thousands separators; one that is not a number stays text."""
    try:
        amount = Decimal(value)
    except (TypeError, ValueError, InvalidOperation):
        return _text_cell(sheet, value)
    if not amount.is_finite():
        return _text_cell(sheet, value)
    cell = WriteOnlyCell(sheet, amount)  # type: ignore[arg-type]  # openpyxl writes Decimals
    places = minor_units(currency) if isinstance(currency, str) and is_currency(currency) else 2
    cell.number_format = "#,##0" + ("." + "0" * places if places else "")
    return cell


def text(value: Any) -> str:
    """A value as a cell's text: a list as its items separated by spaces, a mapping as JSON
    with its text as written (sorted keys), nothing as an empty cell; `writable`."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return writable(" ".join(str(v) for v in value))
    if isinstance(value, dict):
        return writable(json.dumps(value, sort_keys=True, default=str, ensure_ascii=False))
    return writable(str(value))


# A surrogate code point in a str is a lone one (a pair is one code point): UTF-8 cannot encode
# it. The API and the forms refuse them, but a command line's argument that is not UTF-8 arrives
# as some (Python decodes argv with "surrogateescape"), and `sources add` records its settings.
SURROGATE = re.compile("[\ud800-\udfff]")


def writable(found: str) -> str:
    """`found` with each lone surrogate as U+FFFD, so it can be written out as UTF-8 (escaped
    into `\\uXXXX`, it could; written as it is, it would fail halfway through a download)."""
    return SURROGATE.sub("\ufffd", found)


# A cell a spreadsheet would run as a formula: one that starts with a tab or CR, or whose first
# character after any blanks (spreadsheets skip them) is = + - @ or their full-width forms, which
# some spreadsheets read as the ASCII ones.
_FORMULA = re.compile(r"[\t\r]|[\s\u200b\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20]").match
# A negative amount ("-120.00") is a number to a spreadsheet, not a formula: kept as it is.
_NUMBER = re.compile(r"-[0-9]+(\.[0-9]+)?").fullmatch


def csv_cell(value: Any) -> str:
    """One CSV cell. Text a spreadsheet would run as a formula is prefixed with a quote: ids and
    names come from ERPs and API clients, and the file is opened in Excel."""
    found = text(value)
    if _FORMULA(found) and not _NUMBER(found):
        return "'" + found
    return found
