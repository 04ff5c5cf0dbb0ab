"""CSV import into the real store: bad rows reported by file and line, the rest loaded whole."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, func, select, text

from adapters.db.tables import customers, sources, sync_runs
from gating.errors import SourceNotFound
from tests.conftest import CUSTOMERS, day

GOOD_CUSTOMER = ("C-N1", "New One Ltd.", "50000.00", "CNY", "", "false", "")


def _invoice(ref, customer, total, open_amount, order="", number=None, issue=-5, due=25):
    return (
        ref,
        customer,
        number or f"INV-{ref}",
        day(issue),
        day(due),
        "CNY",
        total,
        open_amount,
        order,
    )


def _errors(result):
    return {(e.file, e.line): e.reason for e in result.errors}


def _sync_runs(services):
    with services.engine.connect() as conn:
        return conn.execute(
            select(
                sync_runs.c.status, sync_runs.c.read, sync_runs.c.written, sync_runs.c.skipped
            ).order_by(sync_runs.c.id)
        ).all()


def test_bad_rows_are_reported_with_file_line_and_reason_and_good_rows_still_load(
    loaded, api, csv_dir
):
    folder = csv_dir(
        customers=[
            GOOD_CUSTOMER,
            ("C-N2", "Comma Ltd.", "12,5", "CNY", "", "false", ""),
            ("C-N1", "New One again", "1.00", "CNY", "", "false", ""),
            ("C-N3", "Mystery Ltd.", "100.00", "XYZ", "", "false", ""),
            ("C-N4", "Orphan Ltd.", "100.00", "CNY", "G-404", "false", ""),
            ("C-N5", "Maybe Ltd.", "100.00", "CNY", "", "maybe", ""),
            ("C-N6", "Six Ltd.", "90000.00", "CNY", "", "false", ""),
        ],
        invoices=[
            _invoice("I-N1", "C-N1", "1000.00", "1000.00"),
            ("I-N2", "C-N1", "INV-N2", "2026-02-30", day(25), "CNY", "10.00", "10.00", ""),
            _invoice("I-N3", "C-N1", "100.00", "200.00"),
            _invoice("I-N4", "C-GHOST", "100.00", "100.00"),
            _invoice("I-N1", "C-N1", "5.00", "5.00"),
            _invoice("I-N5", "C-N6", "abc", "0.00"),
            _invoice("I-N6", "C-N6", "100000000000000000000.00", "0.00"),
            _invoice("I-N7", "C-N6", "2000.00", "500.00"),
        ],
    )
    (folder / "payments.csv").write_text(
        "payment_id,customer_id,date,currency,amount\nP-N1,C-N1,2026-11-20,CNY,900.00\n"
    )

    result = loaded.import_folder(folder)

    errors = _errors(result)
    assert set(errors) == {
        ("customers.csv", 3),
        ("customers.csv", 4),
        ("customers.csv", 5),
        ("customers.csv", 6),
        ("customers.csv", 7),
        ("invoices.csv", 3),
        ("invoices.csv", 4),
        ("invoices.csv", 5),
        ("invoices.csv", 6),
        ("invoices.csv", 7),
        ("invoices.csv", 8),
        ("payments.csv", 1),
    }
    assert "credit_limit" in errors[("customers.csv", 3)]
    assert errors[("customers.csv", 4)] == "duplicate customer_id (first on line 2)"
    assert errors[("customers.csv", 5)] == "currency 'XYZ' is not an ISO 4217 code"
    assert errors[("customers.csv", 6)] == "group 'G-404' does not exist"
    assert errors[("customers.csv", 7)] == "on_hold 'maybe' is not true/false"
    assert "issue_date '2026-02-30' is not an ISO date" in errors[("invoices.csv", 3)]
    assert errors[("invoices.csv", 4)] == "open_amount must be between 0 and total"
    assert errors[("invoices.csv", 5)] == "customer 'C-GHOST' does not exist"
    assert errors[("invoices.csv", 6)] == "duplicate invoice_id (first on line 2)"
    assert errors[("invoices.csv", 7)].startswith("total:")
    assert "too large" in errors[("invoices.csv", 8)]
    assert errors[("payments.csv", 1)] == "file skipped: missing columns: unapplied_amount"
    assert [str(e) for e in result.errors if e.line == 6 and e.file == "invoices.csv"] == [
        "invoices.csv:6: invoice I-N1: duplicate invoice_id (first on line 2)"
    ]
    assert result.skipped == 12
    assert result.written == {"groups": 0, "customers": 2, "invoices": 2, "payments": 0}
    # The good rows are in: C-N1 owes 1,000.00 (I-N1), C-N6 owes 500.00 of I-N7.
    assert api.exposure("C-N1")["total"] == "1000.00"
    assert api.exposure("C-N6")["total"] == "500.00"
    for skipped in ("C-N2", "C-N3", "C-N4", "C-N5"):
        assert api.credit(skipped).status_code == 404
    # 7 customer rows + 8 invoice rows read; payments.csv was skipped before its first row.
    assert _sync_runs(loaded)[-1] == ("succeeded_with_errors", 15, 4, 12)


def test_reimporting_the_same_folder_changes_no_balance(loaded, api, dataset_dir):
    api.gate("SO-1", "C-100", "12500.00")
    refs = [row[0] for row in CUSTOMERS if row[0] != "C-600"]
    before = {ref: api.credit(ref).get_json() for ref in [*refs, "C-600"]}

    again = loaded.import_folder(dataset_dir)
    third = loaded.import_folder(dataset_dir)

    assert again.errors == third.errors == []
    assert again.written == {"groups": 2, "customers": 9, "invoices": 9, "payments": 2}
    after = {ref: api.credit(ref).get_json() for ref in [*refs, "C-600"]}
    for ref in before:
        before[ref].pop("last_synced_at")
        after[ref].pop("last_synced_at")
    assert after == before
    assert after["C-100"]["exposure"]["total"] == "57500.00"
    assert after["C-510"]["group"]["exposure"] == "448000.00"
    assert len(_sync_runs(loaded)) == 3


def test_a_credit_note_lowers_exposure(loaded, api, csv_dir):
    folder = csv_dir(
        invoices=[
            _invoice("CN-1", "C-100", "-3000.00", "-3000.00"),
            _invoice("CN-2", "C-200", "-4000.00", "-1000.00"),
        ]
    )

    assert loaded.import_folder(folder).errors == []

    assert api.exposure("C-100")["open_invoices"] == "47000.00"
    assert api.exposure("C-100")["total"] == "42000.00"
    # Only the part of a credit note still open counts: 91,000 − 1,000.
    assert api.exposure("C-200")["total"] == "90000.00"
    # The dataset's CN-5202 (−2,000) already lowers C-520: 150,000 − 2,000.
    assert api.exposure("C-520")["total"] == "148000.00"
    # The lower exposure is what the gate uses: 10,000 left for C-200 now, not 9,000.
    assert api.gate("SO-1", "C-200", "10000.00").get_json()["outcome"] == "approved"


def test_a_credit_note_with_an_open_amount_beyond_its_total_is_skipped(loaded, csv_dir):
    result = loaded.import_folder(csv_dir(invoices=[_invoice("CN-3", "C-100", "-10.00", "-20.00")]))

    assert _errors(result) == {
        ("invoices.csv", 2): "a credit note's open_amount must be between total and 0"
    }


def test_unapplied_payments_lower_exposure_and_applied_ones_do_not(loaded, api, csv_dir):
    folder = csv_dir(
        payments=[
            ("P-3", "C-100", day(-1), "CNY", "8000.00", "2500.00"),
            ("P-4", "C-300", day(-1), "CNY", "6000.00", "0.00"),
        ]
    )

    assert loaded.import_folder(folder).errors == []

    assert api.exposure("C-100") == {
        "open_invoices": "50000.00",
        "unapplied_payments": "7500.00",
        "reservations": "0.00",
        "total": "42500.00",
    }
    assert api.exposure("C-300")["total"] == "33000.00"


def test_a_changed_payment_or_invoice_replaces_its_old_amount(loaded, api, csv_dir):
    folder = csv_dir(
        payments=[("P-1", "C-100", day(-2), "CNY", "5000.00", "1000.00")],
        invoices=[_invoice("I-1001", "C-100", "50000.00", "20000.00", number="INV-1001")],
    )

    assert loaded.import_folder(folder).errors == []

    # 20,000 still open − 1,000 unapplied.
    assert api.exposure("C-100")["total"] == "19000.00"


def test_an_overdue_invoice_paid_in_a_later_import_stops_blocking(loaded, api, csv_dir):
    assert api.gate("SO-1", "C-300", "100.00").get_json()["outcome"] == "blocked"
    paid = [
        ("I-3001", "C-300", "INV-3001", day(-75), day(-45), "CNY", "20000.00", "0.00", ""),
        ("I-3002", "C-300", "INV-3002", day(-61), day(-31), "CNY", "8000.00", "0.00", ""),
    ]

    assert loaded.import_folder(csv_dir(invoices=paid)).errors == []

    answer = api.gate("SO-1", "C-300", "100.00").get_json()
    assert answer["outcome"] == "approved"
    assert answer["customer"]["exposure"] == "5100.00"


def test_moving_a_customer_to_another_group_moves_its_exposure(loaded, api, csv_dir):
    api.gate("SO-1", "C-520", "10000.00")
    assert api.credit("C-510").get_json()["group"]["exposure"] == "458000.00"
    moved = [("C-520", "Acme South", "300000.00", "CNY", "G-2", "false", "")]

    assert loaded.import_folder(csv_dir(customers=moved)).errors == []

    assert api.credit("C-510").get_json()["group"]["exposure"] == "300000.00"
    group_2 = api.credit("C-520").get_json()["group"]
    assert (group_2["id"], group_2["exposure"]) == ("G-2", "158000.00")
    # G-1 now holds 300,000: 90,000 more passes, where before the move (458,000) it was too much.
    assert api.gate("SO-2", "C-510", "90000.00").get_json()["outcome"] == "approved"
    # Cancelling C-520's order now releases it from G-2, not from G-1.
    api.event("SO-1", "cancelled")
    assert api.credit("C-520").get_json()["group"]["exposure"] == "148000.00"
    assert api.credit("C-510").get_json()["group"]["exposure"] == "390000.00"


def test_leaving_a_group_takes_the_customers_exposure_out_of_it(loaded, api, csv_dir):
    alone = [("C-510", "Acme North", "400000.00", "CNY", "", "false", "")]

    assert loaded.import_folder(csv_dir(customers=alone)).errors == []

    assert api.credit("C-510").get_json()["group"] is None
    assert api.credit("C-520").get_json()["group"]["exposure"] == "148000.00"


def test_an_order_gated_before_its_customer_was_imported_counts_once_it_is(loaded, api, csv_dir):
    first = api.gate("SO-1", "C-NEW", "3000.00").get_json()
    assert (first["outcome"], first["customer"]) == ("approved", None)
    new = [("C-NEW", "Brand New Ltd.", "10000.00", "CNY", "", "false", "")]

    assert loaded.import_folder(csv_dir(customers=new)).errors == []
    assert loaded.import_folder(csv_dir(customers=new)).errors == []

    assert api.exposure("C-NEW") == {
        "open_invoices": "0.00",
        "unapplied_payments": "0.00",
        "reservations": "3000.00",
        "total": "3000.00",
    }
    blocked = api.gate("SO-2", "C-NEW", "8000.00").get_json()
    assert blocked["outcome"] == "blocked"
    assert blocked["customer"]["exposure"] == "3000.00"
    api.event("SO-1", "cancelled")
    assert api.exposure("C-NEW")["total"] == "0.00"


def test_an_unknown_source_is_refused_before_anything_is_written(loaded, csv_dir):
    with pytest.raises(SourceNotFound):
        loaded.import_folder(csv_dir(customers=[GOOD_CUSTOMER]), "nowhere")

    assert len(_sync_runs(loaded)) == 1


def _fail_on_payment(services, payment_id):
    """A database-level refusal of one payment row, as a full disk or a constraint would give."""
    with services.engine.begin() as conn:
        if services.engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_payment BEFORE INSERT ON payments "
                    f"WHEN NEW.external_id = '{payment_id}' "
                    "BEGIN SELECT RAISE(ABORT, 'payment refused by the database'); END"
                )
            )
            return
        conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION refuse_payment() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'payment refused by the database'; END $$ LANGUAGE plpgsql"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER refuse_payment BEFORE INSERT ON payments FOR EACH ROW "
                f"WHEN (NEW.external_id = '{payment_id}') EXECUTE FUNCTION refuse_payment()"
            )
        )


def test_a_failure_mid_load_leaves_nothing_half_written(loaded, api, csv_dir):
    api.gate("SO-1", "C-100", "10000.00")
    before = {ref: api.credit(ref).get_json() for ref in ("C-100", "C-510", "C-520")}
    with loaded.engine.connect() as conn:
        synced_before = conn.execute(select(sources.c.last_success_at)).scalar_one()
        customers_before = conn.execute(select(func.count()).select_from(customers)).scalar_one()
    _fail_on_payment(loaded, "P-BOOM")
    folder = csv_dir(
        groups=[("G-9", "Late Group", "1.00", "CNY")],
        customers=[
            GOOD_CUSTOMER,
            ("C-520", "Acme South", "300000.00", "CNY", "G-2", "false", ""),
        ],
        invoices=[
            _invoice("I-N1", "C-N1", "1000.00", "1000.00"),
            _invoice("I-N2", "C-100", "7000.00", "7000.00", order="SO-1"),
        ],
        payments=[
            ("P-N1", "C-100", day(-1), "CNY", "500.00", "500.00"),
            ("P-BOOM", "C-100", day(-1), "CNY", "1.00", "1.00"),
        ],
    )

    with pytest.raises(exc.DBAPIError, match="payment refused by the database"):
        loaded.import_folder(folder)

    after = {ref: api.credit(ref).get_json() for ref in ("C-100", "C-510", "C-520")}
    assert after == before
    assert after["C-100"]["exposure"]["reservations"] == "10000.00"
    assert after["C-520"]["group"]["id"] == "G-1"
    assert api.credit("C-N1").status_code == 404
    assert len(_sync_runs(loaded)) == 1
    with loaded.engine.connect() as conn:
        assert conn.execute(select(sources.c.last_success_at)).scalar_one() == synced_before
        assert conn.execute(select(func.count()).select_from(customers)).scalar_one() == (
            customers_before
        )
    # Without the refused row the same folder loads completely.
    with loaded.engine.begin() as conn:
        on = "" if loaded.engine.dialect.name == "sqlite" else " ON payments"
        conn.execute(text(f"DROP TRIGGER refuse_payment{on}"))
    assert loaded.import_folder(folder).errors == []
    assert api.exposure("C-100")["reservations"] == "3000.00"
    assert api.credit("C-N1").status_code == 200


def test_an_invoice_in_instalments_is_imported_as_one_row_per_instalment(loaded, api, csv_dir):
    """Issue 13: the CSV format has one due date per row, so an ERP whose invoices fall due in
    instalments exports one row per instalment: its own invoice_id, the invoice's number, the
    instalment's due date, share (total) and open amount. Each row then ages on its own, and a
    paid instalment (open 0.00) counts nowhere. The same invoice_id twice stays a duplicate."""
    customer = ("C-N7", "Instalment Buyer", "50000.00", "CNY", "", "false", "")
    folder = csv_dir(
        customers=[customer],
        invoices=[
            # 40 % due 40 days ago, paid; 60 % due in 20 days, open.
            _invoice("I-7/1", "C-N7", "400.00", "0.00", number="INV-7", issue=-70, due=-40),
            _invoice("I-7/2", "C-N7", "600.00", "600.00", number="INV-7", issue=-70, due=20),
            # The same instalments under one invoice_id: the second row is refused.
            _invoice("I-8", "C-N7", "400.00", "0.00", number="INV-8", issue=-70, due=-40),
            _invoice("I-8", "C-N7", "600.00", "600.00", number="INV-8", issue=-70, due=20),
        ],
    )

    result = loaded.import_folder(folder)

    assert _errors(result) == {("invoices.csv", 5): "duplicate invoice_id (first on line 4)"}
    position = api.credit("C-N7").get_json()
    assert (position["exposure"]["open_invoices"], position["overdue_invoices"]) == ("600.00", [])
    assert api.gate("SO-7", "C-N7", "100.00").get_json()["outcome"] == "approved"
