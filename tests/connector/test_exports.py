"""The audit exports as a credit team in China opens them: Chinese text as written (never
`\\uXXXX`), CSV in UTF-8 with a byte order mark, the same rows as .xlsx (openpyxl's write-only
mode, so a large export is written row by row), and every amount beside its currency."""

from __future__ import annotations

import codecs
import csv
import io
import json
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.conftest import RATES

DECISIONS = "/api/v1/audit/decisions"
EVENTS = "/api/v1/audit/events"
HOLD_REASON = "客户涉嫌虚开发票，暂停赊销，待法务核查"


def get(api: Any, path: str, **params: Any) -> Any:
    response = api.client.get(path, query_string=params, headers=api.keys.header("auditor"))
    assert response.status_code == 200, response.data
    return response


def csv_rows(response: Any) -> list[dict[str, str]]:
    data = response.get_data()
    assert data.startswith(codecs.BOM_UTF8)
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def xlsx_rows(response: Any) -> list[dict[str, Any]]:
    """The .xlsx's one sheet as rows keyed by its header row."""
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(response.get_data())).worksheets[0]
    header, *body = sheet.iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in body]


def exported(api: Any, path: str, file_format: str, **params: Any) -> list[dict[str, Any]]:
    response = get(api, f"{path}.{file_format}", **params)
    return csv_rows(response) if file_format == "csv" else xlsx_rows(response)


def amount(value: Any) -> Decimal:
    """An amount as the file holds it: text in a CSV, a number in an .xlsx."""
    return Decimal(str(value))


@pytest.fixture
def chinese_hold(api) -> None:
    """An admin puts C-100 on hold with a Chinese reason, through the API as a person would."""
    response = api.client.put(
        "/api/v1/admin/customers/C-100/hold",
        json={"on_hold": True, "reason": HOLD_REASON},
        headers=api.keys.header("admin"),
    )
    assert response.status_code == 200, response.data


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_chinese_hold_reason_is_exported_as_written(api, chinese_hold, file_format):
    (event,) = exported(api, EVENTS, file_format, action="customer_hold_on")

    assert json.loads(event["details"]) == {"reason": HOLD_REASON}
    assert HOLD_REASON in event["details"] and "\\u" not in event["details"]
    assert event["subject"] == "customer:default/C-100"


def test_the_events_list_answers_the_chinese_reason_as_written(api, chinese_hold):
    response = get(api, EVENTS, action="customer_hold_on")

    assert HOLD_REASON in response.get_data(as_text=True)
    assert "\\u" not in response.get_data(as_text=True)
    assert response.get_json()["events"][0]["details"] == {"reason": HOLD_REASON}


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_each_decision_is_exported_with_its_amounts_and_their_currencies(api, file_format):
    api.gate("SO-1", "C-200", "50000.00")  # blocked: over the limit
    api.gate("SO-2", "C-900", "710.00")  # CNY ordered, USD credit
    api.gate("SO-3", "C-404", "100.00")  # unknown customer: no credit figures

    found = {r["order_id"]: r for r in exported(api, DECISIONS, file_format)}

    over, dollars, unknown = found["SO-1"], found["SO-2"], found["SO-3"]
    assert (amount(over["amount"]), over["currency"]) == (Decimal("50000.00"), "CNY")
    assert over["credit_currency"] == "CNY"
    assert amount(over["credit_limit"]) == Decimal("100000.00")
    assert amount(over["exposure"]) == Decimal("91000.00")  # the blocked order not counted
    assert amount(over["available"]) == Decimal("9000.00")
    assert (amount(dollars["amount"]), dollars["currency"]) == (Decimal("710.00"), "CNY")
    assert (dollars["credit_currency"], amount(dollars["exposure"])) == ("USD", Decimal("100.00"))
    assert (amount(unknown["amount"]), unknown["currency"]) == (Decimal("100.00"), "CNY")
    assert unknown["credit_currency"] in ("", None) and unknown["exposure"] in ("", None)


def test_an_over_limit_customers_negative_available_is_a_number_in_the_csv(api):
    """The CSV's formula guard (a quote before a leading minus) leaves amounts alone."""
    api.gate("SO-1", "C-200", "9000.00")  # approved: exactly the credit left
    api.client.put(
        "/api/v1/admin/customers/C-200/hold",
        json={"on_hold": True, "reason": "x"},
        headers=api.keys.header("admin"),
    )
    api.gate("=SO-2", "C-200", "1.00")

    rows = exported(api, DECISIONS, "csv")

    assert [r["available"] for r in rows] == ["0.00", "0.00"]
    assert rows[1]["order_id"] == "'=SO-2"


def test_the_decisions_list_answers_the_same_amounts(api):
    api.gate("SO-1", "C-200", "50000.00")

    (row,) = get(api, DECISIONS).get_json()["decisions"]

    assert (row["amount"], row["currency"]) == ("50000.00", "CNY")
    assert (row["credit_currency"], row["credit_limit"]) == ("CNY", "100000.00")
    assert (row["exposure"], row["available"]) == ("91000.00", "9000.00")


def test_xlsx_details_wrap_in_a_wide_column(api, chinese_hold):
    response = get(api, EVENTS + ".xlsx", action="customer_hold_on")
    sheet = load_workbook(io.BytesIO(response.get_data())).worksheets[0]
    header = [c.value for c in sheet[1]]
    column = header.index("details") + 1
    details = sheet.cell(2, column)

    assert HOLD_REASON in details.value and details.alignment.wrap_text is True
    assert sheet.column_dimensions[details.column_letter].width == 80
    assert sheet.cell(1, 1).font.bold is True


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_an_order_events_released_amount_is_exported_with_its_currency(api, file_format):
    api.gate("SO-1", "C-900", "100.00", currency="USD")
    api.event("SO-1", "cancelled")

    (event,) = exported(api, EVENTS, file_format, action="order_cancelled")

    assert json.loads(event["details"])["released"] == "100.00"
    assert json.loads(event["details"])["currency"] == "USD"


@pytest.mark.parametrize("settings_overrides", [{"rates": {**RATES, "JPY": Decimal("0.048")}}])
def test_xlsx_amounts_are_numbers_shown_with_their_currencys_decimals(api):
    api.gate("SO-1", "C-100", "1234.50")
    api.gate("SO-2", "C-100", "1500", currency="JPY")

    response = get(api, DECISIONS + ".xlsx")
    sheet = load_workbook(io.BytesIO(response.get_data())).worksheets[0]
    header = [c.value for c in sheet[1]]
    column = header.index("amount") + 1
    cny, jpy = sheet.cell(2, column), sheet.cell(3, column)

    assert (cny.value, cny.data_type, cny.number_format) == (1234.5, "n", "#,##0.00")
    assert (jpy.value, jpy.number_format) == (1500, "#,##0")
    assert sheet.freeze_panes == "A2"


def test_xlsx_text_that_looks_like_a_formula_stays_text(api):
    api.gate("=HYPERLINK(1)", "C-100", "1.00")

    response = get(api, DECISIONS + ".xlsx")
    sheet = load_workbook(io.BytesIO(response.get_data())).worksheets[0]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(2, header.index("order_id") + 1)

    assert (cell.value, cell.data_type) == ("=HYPERLINK(1)", "s")  # not "f": never run


def test_a_large_xlsx_export_is_written_in_write_only_mode(api):
    for n in range(2500):
        api.gate(f"SO-{n:04d}", "C-100", "0.01")

    response = get(api, DECISIONS + ".xlsx", customer_id="C-100")

    with zipfile.ZipFile(io.BytesIO(response.get_data())) as book:
        sheet = book.read("xl/worksheets/sheet1.xml")
    # openpyxl's write-only mode writes rows as they come, so it cannot know the sheet's size
    # beforehand and writes no <dimension>; a workbook built whole in memory always has one.
    assert b"<dimension" not in sheet
    rows = xlsx_rows(response)
    assert len(rows) == 2500
    assert rows[0]["order_id"] == "SO-0000" and rows[-1]["order_id"] == "SO-2499"


@pytest.mark.parametrize("path", [DECISIONS, EVENTS])
def test_an_export_in_another_format_is_a_422_naming_it(api, path):
    response = api.client.get(f"{path}.pdf", headers=api.keys.header("auditor"))

    assert response.status_code == 422
    assert set(response.get_json()["fields"]) == {"file_format"}


@pytest.mark.parametrize("path", [DECISIONS, EVENTS])
def test_the_api_document_declares_each_exports_formats(api, path):
    document = get(api, "/api/v1/openapi.json").get_json()

    operation = document["paths"][path + ".{file_format}"]["get"]
    (parameter,) = [p for p in operation["parameters"] if p["in"] == "path"]
    assert parameter["name"] == "file_format" and parameter["required"] is True
    assert parameter["schema"]["enum"] == ["csv", "xlsx"]
    assert set(operation["responses"]["200"]["content"]) == {
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
