"""Warnings back to Zoho: level and hold on the Account found by its ERP number, one Task per
change however often it is pushed, batches with a 207 where one record is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.zoho import PushResult, ZohoRejected
from gating.errors import TargetRejected, TargetUnavailable
from gating.push import WarningChange
from tests.zoho import payloads as z
from tests.zoho.conftest import AccountBook, TaskBook, body, calls_to, query, tokens

NOW = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)
ACME, BETA, GAMMA = "4876876000005996165", "4876876000005996170", "4876876000005996175"


def change(
    change_id: str = "chg-1",
    customer: str = "C-42",
    level: str = "orange",
    step: str | None = "call the customer",
    *,
    hold: bool = False,
    at: datetime = NOW,
) -> WarningChange:
    return WarningChange(
        change_id=change_id,
        customer_ref=customer,
        level=level,
        previous_level="yellow",
        reasons=("oldest invoice INV-7 is 45 days overdue", "exposure 91,000.00 of 100,000.00"),
        step=step,
        hold=hold,
        decided_at=at,
    )


def test_push_writes_the_fields_and_opens_one_task_on_the_account(zoho, make_adapter):
    tokens(zoho)
    accounts = AccountBook(zoho, {"C-42": ACME})
    tasks = TaskBook(zoho)

    make_adapter().push(change(level="red", hold=True))

    assert accounts.searches == ["C-42"]
    (put,) = calls_to(zoho, z.ACCOUNTS, "PUT")
    assert body(put) == {
        # No `trigger`: the org's workflows, approvals and blueprints run, as Zoho advises.
        "data": [{"id": ACME, "Credit_Warning_Level": "red", "Credit_Hold": True}],
    }
    assert "trigger" not in body(calls_to(zoho, z.TASKS, "POST")[0])
    (created,) = tasks.creates
    assert created == [
        {
            "Creditgate_Change_Id": "chg-1",
            "Subject": "Call the customer: credit warning red for C-42",
            "Description": "Credit warning yellow → red; put on hold.\n"
            "- oldest invoice INV-7 is 45 days overdue\n"
            "- exposure 91,000.00 of 100,000.00\n\n"
            "creditgate change chg-1, decided 2026-11-22T01:30:00+00:00",
            "What_Id": {"id": ACME},
            "$se_module": "Accounts",
            "Due_Date": "2026-11-22",
            "Priority": "High",
            "Owner": {"id": z.OWNER["id"]},  # the Account's owner works the step
        }
    ]
    (select,) = tasks.queries
    assert select == (
        "select id, Creditgate_Change_Id from Tasks where Creditgate_Change_Id in ('chg-1') "
        "limit 200"
    )


@pytest.mark.parametrize("triggers", [[], ["workflow"]])
def test_a_source_may_send_its_own_triggers_or_turn_them_all_off(zoho, make_adapter, triggers):
    tokens(zoho)
    AccountBook(zoho, {"C-42": ACME})
    TaskBook(zoho)

    make_adapter(triggers=triggers).push(change())

    assert body(calls_to(zoho, z.ACCOUNTS, "PUT")[0])["trigger"] == triggers
    assert body(calls_to(zoho, z.TASKS, "POST")[0])["trigger"] == triggers


def test_an_unknown_trigger_is_refused(make_adapter):
    with pytest.raises(ValueError, match="workflow, approval, blueprint"):
        make_adapter(triggers=["workflows"])


def test_field_names_are_the_org_s_own(zoho, make_adapter):
    tokens(zoho)
    zoho.get(z.SEARCH, json={"data": [{"id": ACME, "ERP_No": "C-42", "Owner": z.OWNER}]})
    zoho.put(z.ACCOUNTS, json={"data": [z.success(ACME)]})
    adapter = make_adapter(
        number_field="ERP_No", level_field="Kreditstufe", hold_field="Liefersperre"
    )

    adapter.push(change(step=None))

    assert query(calls_to(zoho, z.SEARCH)[0]) == {
        "criteria": "(ERP_No:equals:C-42)",
        "fields": "Account_Name,Owner,ERP_No",
        "per_page": "200",
        "page": "1",
    }
    (put,) = calls_to(zoho, z.ACCOUNTS, "PUT")
    assert body(put)["data"] == [{"id": ACME, "Kreditstufe": "orange", "Liefersperre": False}]
    assert calls_to(zoho, z.TASKS) == []  # no step, no task


def test_the_same_change_pushed_twice_opens_one_task(zoho, make_adapter):
    tokens(zoho)
    accounts = AccountBook(zoho, {"C-42": ACME})
    tasks = TaskBook(zoho, unique=False)  # the check alone keeps it to one
    adapter = make_adapter()

    adapter.push(change())
    adapter.push(change())

    assert len(tasks.tasks) == 1 and len(tasks.creates) == 1
    assert len(accounts.updates) == 2  # writing the same fields again is harmless
    assert accounts.searches == ["C-42"]  # the Account is looked up once per adapter


def test_a_task_whose_answer_was_lost_is_not_opened_again_by_the_retry(zoho, make_adapter, slept):
    tokens(zoho)
    AccountBook(zoho, {"C-42": ACME})
    tasks = TaskBook(zoho, unique=False)
    tasks.lose_answers = 1  # created, but the 200 never came back: Zoho answered 500

    make_adapter().push(change())

    assert len(tasks.tasks) == 1 and len(tasks.creates) == 1
    assert len(tasks.queries) == 2 and len(slept) == 1  # retried: checked again, found it


def test_a_duplicate_on_the_unique_key_field_counts_as_delivered(zoho, make_adapter):
    tokens(zoho)
    AccountBook(zoho, {"C-42": ACME})
    tasks = TaskBook(zoho, unique=True)
    adapter = make_adapter()
    adapter.push(change())
    tasks.index_lags = True  # the check misses it; the field marked unique refuses a second

    adapter.push(change())

    assert len(tasks.tasks) == 1 and len(tasks.creates) == 2


def test_push_many_reports_the_one_refused_record_of_a_207_and_delivers_the_others(
    zoho, make_adapter
):
    tokens(zoho)
    accounts = AccountBook(zoho, {"C-1": ACME, "C-2": BETA, "C-3": GAMMA})
    accounts.refuse[BETA] = z.invalid("Credit_Warning_Level", 1)
    tasks = TaskBook(zoho)
    changes = [change("a", "C-1"), change("b", "C-2"), change("c", "C-3")]

    results = make_adapter().push_many(changes)

    assert [r.change for r in results] == changes
    assert results[0].error is None and results[2].error is None
    refused = results[1].error
    assert isinstance(refused, ZohoRejected) and isinstance(refused, TargetRejected)
    assert refused.code == "INVALID_DATA" and refused.field == "Credit_Warning_Level"
    assert "update Accounts: INVALID_DATA (Credit_Warning_Level)" in str(refused)
    assert len(accounts.updates) == 1 and len(accounts.updates[0]) == 3  # one PUT for all
    assert [t["Creditgate_Change_Id"] for t in tasks.tasks] == ["a", "c"]  # in one POST
    assert len(tasks.creates) == 1


def test_push_raises_the_change_s_rejection(zoho, make_adapter):
    tokens(zoho)
    accounts = AccountBook(zoho, {"C-42": ACME})
    accounts.refuse[ACME] = z.invalid("Credit_Hold", 0)
    TaskBook(zoho)

    with pytest.raises(ZohoRejected, match="INVALID_DATA"):
        make_adapter().push(change())


def test_push_many_sends_at_most_100_accounts_a_call_and_checks_50_tasks_a_query(
    zoho, make_adapter
):
    tokens(zoho)
    numbers = {f"C-{n}": f"48768760000{n:08d}" for n in range(150)}
    accounts = AccountBook(zoho, numbers)
    tasks = TaskBook(zoho)
    changes = [change(f"chg-{n}", f"C-{n}") for n in range(150)]

    results = make_adapter().push_many(changes)

    assert all(r.error is None for r in results)
    assert [len(u) for u in accounts.updates] == [100, 50]
    assert len(tasks.queries) == 3 and [len(c) for c in tasks.creates] == [50, 50, 50]
    assert len(tasks.tasks) == 150


@pytest.mark.parametrize("later_first", [True, False])
def test_two_changes_of_one_customer_write_its_fields_once_with_the_latest(
    zoho, make_adapter, later_first
):
    tokens(zoho)
    accounts = AccountBook(zoho, {"C-42": ACME})
    tasks = TaskBook(zoho)
    earlier = change("a", level="orange")
    later = change("b", level="red", at=NOW + timedelta(hours=1))
    batch = [later, earlier] if later_first else [earlier, later]

    results = make_adapter().push_many(batch)

    assert [r.error for r in results] == [None, None]
    assert accounts.updates == [[{"id": ACME, "Credit_Warning_Level": "red", "Credit_Hold": False}]]
    assert sorted(t["Creditgate_Change_Id"] for t in tasks.tasks) == ["a", "b"]


def test_an_unknown_customer_is_rejected_without_retries(zoho, make_adapter, slept):
    tokens(zoho)
    accounts = AccountBook(zoho, {"C-42": ACME})
    tasks = TaskBook(zoho)

    with pytest.raises(TargetRejected, match="no Account has Account_Number = 'C-404'"):
        make_adapter().push(change(customer="C-404"))

    assert accounts.searches == ["C-404"] and slept == []
    assert accounts.updates == [] and tasks.creates == []


def test_a_search_that_matches_only_words_of_the_number_finds_no_account(zoho, make_adapter):
    tokens(zoho)
    # Zoho's search may match "C-42 (old)" for C-42: only the exact number counts.
    zoho.get(z.SEARCH, json=z.found(ACME, "C-42 (old)"))

    with pytest.raises(TargetRejected, match="no Account has"):
        make_adapter().find_account("C-42")


def test_two_accounts_with_the_number_are_refused_rather_than_guessed(zoho, make_adapter):
    tokens(zoho)
    two = z.found(ACME, "C-42")
    two["data"].append({**two["data"][0], "id": BETA})
    zoho.get(z.SEARCH, json=two)

    with pytest.raises(TargetRejected, match=f"2 Accounts have Account_Number = 'C-42' \\({ACME}"):
        make_adapter().find_account("C-42")


def test_criteria_values_are_escaped(zoho, make_adapter):
    tokens(zoho)
    accounts = AccountBook(zoho, {"ACME (EU), Ltd": ACME})

    assert make_adapter().find_account("ACME (EU), Ltd").id == ACME
    assert accounts.searches == ["ACME (EU), Ltd"]
    assert "ACME+%5C%28EU%5C%29%5C%2C+Ltd" in calls_to(zoho, z.SEARCH)[0].request.url


def test_every_page_of_search_results_is_read_before_the_exact_number_is_kept(zoho, make_adapter):
    # Zoho's v8 search: `equals` also returns records containing the value, 200 a page.
    tokens(zoho)
    near = [{"id": str(int(BETA) + n), "Account_Name": "N", "Account_Number": f"C-42-{n}"}
            for n in range(2)]  # fmt: skip
    first = z.found(BETA, "C-42 B")
    first["data"] += near
    first["info"] |= {"count": 3, "more_records": True}
    zoho.get(z.SEARCH, json=first)
    zoho.get(z.SEARCH, json=z.found(ACME, "C-42") | {"info": {**z.found(ACME, "C-42")["info"],
             "page": 2}})  # fmt: skip

    assert make_adapter().find_account("C-42").id == ACME

    assert [query(c)["page"] for c in calls_to(zoho, z.SEARCH)] == ["1", "2"]


def test_a_quote_in_a_change_id_is_doubled_in_coql(zoho, make_adapter):
    tokens(zoho)
    AccountBook(zoho, {"C-42": ACME})
    tasks = TaskBook(zoho)

    make_adapter().push(change("O'Hara-1"))
    make_adapter().push(change("O'Hara-1"))

    assert "in ('O''Hara-1')" in tasks.queries[0]
    assert len(tasks.tasks) == 1 and len(tasks.creates) == 1  # found by COQL the second time


def test_in_a_batch_an_unknown_customer_is_reported_and_the_others_delivered(zoho, make_adapter):
    tokens(zoho)
    AccountBook(zoho, {"C-1": ACME})
    TaskBook(zoho)

    ok, unknown = make_adapter().push_many([change("a", "C-1"), change("b", "C-9")])

    assert ok == PushResult(ok.change, None)
    assert isinstance(unknown.error, TargetRejected)


def test_when_zoho_goes_down_every_change_not_yet_reported_is_unavailable(
    zoho, make_adapter, slept
):
    tokens(zoho)
    zoho.get(z.SEARCH, json=z.found(ACME, "C-1"))
    zoho.get(z.SEARCH, status=204)
    zoho.put(z.ACCOUNTS, status=503, json=z.INTERNAL_ERROR)

    results = make_adapter().push_many([change("a", "C-1"), change("b", "C-2")])

    assert isinstance(results[0].error, TargetUnavailable)
    assert results[0].error.status == 503  # type: ignore[union-attr]
    assert isinstance(results[1].error, TargetRejected)  # unknown, found before the outage
    assert len(calls_to(zoho, z.ACCOUNTS, "PUT")) == 3 and len(slept) == 2


def test_a_refused_call_is_reported_for_each_change_of_its_batch(zoho, make_adapter, slept):
    tokens(zoho)
    AccountBook(zoho, {"C-1": ACME, "C-2": BETA})
    zoho.replace("PUT", z.ACCOUNTS, status=403, json=z.NO_PERMISSION)

    results = make_adapter().push_many([change("a", "C-1"), change("b", "C-2")])

    assert [getattr(r.error, "code", None) for r in results] == ["NO_PERMISSION"] * 2
    assert slept == []


def test_an_account_id_zoho_no_longer_knows_is_looked_up_again_next_time(zoho, make_adapter):
    tokens(zoho)
    accounts = AccountBook(zoho, {"C-42": ACME})
    accounts.refuse[ACME] = z.invalid("id", 0)  # merged into another Account meanwhile
    TaskBook(zoho)
    adapter = make_adapter()

    with pytest.raises(TargetRejected, match=r"INVALID_DATA \(id\)"):
        adapter.push(change())
    accounts.numbers["C-42"] = BETA
    adapter.push(change())

    assert accounts.searches == ["C-42", "C-42"]
    assert accounts.updates[-1][0]["id"] == BETA


SCOPE_MISMATCH = z.error("OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")


def test_a_push_refused_for_a_scope_names_the_scope(zoho, make_adapter):
    tokens(zoho)
    zoho.get(z.SEARCH, status=401, json=SCOPE_MISMATCH)
    zoho.get(z.SEARCH, json=z.found(ACME, "C-2"))
    zoho.put(z.ACCOUNTS, status=401, json=SCOPE_MISMATCH)
    adapter = make_adapter()

    (searched,) = adapter.push_many([change("a", "C-1")])
    (written,) = adapter.push_many([change("b", "C-2")])

    assert isinstance(searched.error, TargetRejected)
    assert "lacks the scope ZohoSearch.securesearch.READ" in str(searched.error)
    assert isinstance(written.error, TargetRejected)
    assert "lacks the scope ZohoCRM.modules.accounts.UPDATE" in str(written.error)
