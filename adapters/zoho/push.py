"""Zoho CRM as a push target: a warning change writes the level and hold into fields on the
customer's Account, and each collection step opens a Task on it, once per change."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from adapters.http import json_body
from adapters.zoho.api import SERVICE, Row, ZohoClient, ZohoRejected, records_of
from gating.errors import TargetRejected, TargetUnavailable
from gating.push import WarningChange

T = TypeVar("T")
Failures = dict[str, TargetRejected | TargetUnavailable]
"""Changes that were not delivered, by change_id, with why."""

UPDATE_BATCH = 100  # records per PUT /Accounts or POST /Tasks (Zoho's maximum)
QUERY_BATCH = 50  # values in one COQL `in (...)` (Zoho's maximum)
SEARCH_PAGE = 200  # records per search page (Zoho's per_page maximum)
SEARCH_PAGES = 10  # search pages read at most (2,000 records: the `page` limit of GET records)
TRIGGERS = ("workflow", "approval", "blueprint", "pathfinder", "orchestration")
"""What Zoho's `trigger` may name on an update or create (Zoho's v8 update-records docs)."""


@dataclass(frozen=True)
class Account:
    """The CRM Account a customer number resolved to."""

    id: str
    name: str
    owner_id: str | None


@dataclass(frozen=True)
class PushResult:
    """What became of one change in `push_many`: `error` is None when it was delivered."""

    change: WarningChange
    error: TargetRejected | TargetUnavailable | None = None


class ZohoPushTarget(ZohoClient):
    """Write warning changes on Zoho Accounts and open their Tasks (the PushTarget interface).

    `level_field` and `hold_field` are custom Account fields, `task_key_field` a custom Task
    field marked unique that carries the change id. `triggers`: None leaves `trigger` out of
    every update and Task, so the organisation's workflow rules, approvals and blueprints run
    as on any edit (Zoho's guidance); a list (empty: none) is sent as Zoho's `trigger`.
    """

    number_field: str
    level_field: str
    hold_field: str
    task_key_field: str
    triggers: list[str] | None
    _accounts: dict[str, Account]

    def push(self, change: WarningChange) -> None:
        """Write the level and hold on the customer's Account; open the step's Task once.

        :raises TargetUnavailable: Zoho is down, slow or rate-limiting (see `retry_after`).
        :raises TargetRejected: no Account carries the number, or Zoho refused the change.
        """
        (result,) = self.push_many([change])
        if result.error is not None:
            raise result.error

    def push_many(self, changes: Sequence[WarningChange]) -> list[PushResult]:
        """Deliver several changes in few calls (fields: 100 Accounts a PUT; Tasks: 50 checked
        and created at a time); report each change's outcome, in order, never raise for one.

        When Zoho becomes unavailable part-way, every change not yet reported is reported
        unavailable, including some already written: delivering them again is harmless.
        """
        errors: Failures = {}
        try:
            accounts = self._resolve(changes, errors)
            written = self._write_levels(changes, accounts, errors)
            self._open_tasks([c for c in written if c.step], accounts, errors)
        except TargetUnavailable as exc:
            for change in changes:
                errors.setdefault(change.change_id, exc)
        return [PushResult(c, errors.get(c.change_id)) for c in changes]

    def find_account(self, customer_ref: str) -> Account:
        """Return the Account whose ERP number field equals `customer_ref` (cached).

        :raises TargetRejected: no Account, or more than one, carries that number.
        """
        if customer_ref not in self._accounts:
            self._accounts[customer_ref] = self.retrying(self._search_account, customer_ref)
        return self._accounts[customer_ref]

    def _resolve(self, changes: Sequence[WarningChange], errors: Failures) -> dict[str, Account]:
        accounts: dict[str, Account] = {}
        for ref in dict.fromkeys(c.customer_ref for c in changes):
            try:
                accounts[ref] = self.find_account(ref)
            except TargetRejected as exc:
                errors.update({c.change_id: exc for c in changes if c.customer_ref == ref})
        return accounts

    def _search_account(self, ref: str) -> Account:
        # Zoho's search docs: parentheses and commas in a criteria value are escaped with a
        # backslash; a backslash is escaped too, so that it stays one.
        value = "".join("\\" + ch if ch in "(),\\" else ch for ch in ref)
        params = {
            "criteria": f"({self.number_field}:equals:{value})",
            "fields": f"Account_Name,Owner,{self.number_field}",
            "per_page": SEARCH_PAGE,
        }
        # `equals` also matches records that merely contain the value (Zoho's v8 search docs):
        # every page is read before the exact numbers are kept.
        rows: list[Row] = []
        for page in range(1, SEARCH_PAGES + 1):
            response = self._call(
                "GET", "/Accounts/search", "search Accounts", params=params | {"page": page}
            )
            body = json_body(response) if response.status_code != 204 else None
            rows += records_of(body)
            info = body.get("info") if isinstance(body, dict) else None
            if not isinstance(info, dict) or not info.get("more_records"):
                break
        else:
            raise ZohoRejected(
                f"{SERVICE}: searching Accounts for {self.number_field} = {ref!r} matched more "
                f"than {SEARCH_PAGE * SEARCH_PAGES} records; Zoho's search reaches no further",
                code="TOO_MANY_MATCHES",
            )
        # Zoho's search may also match on words of the value: keep the exact numbers only.
        exact = [r for r in rows if str(r.get(self.number_field) or "").strip() == ref]
        if len(exact) != 1:
            ids = ", ".join(str(r.get("id")) for r in exact)
            raise ZohoRejected(
                f"{SERVICE}: no Account has {self.number_field} = {ref!r}"
                if not exact
                else f"{SERVICE}: {len(exact)} Accounts have {self.number_field} = {ref!r} "
                f"({ids}); keep the number on one of them",
                code="NO_SUCH_ACCOUNT" if not exact else "AMBIGUOUS_ACCOUNT",
            )
        row = exact[0]
        owner = row.get("Owner")
        owner_id = str(owner["id"]) if isinstance(owner, dict) and owner.get("id") else None
        return Account(str(row["id"]), str(row.get("Account_Name") or ""), owner_id)

    def _write_levels(
        self,
        changes: Sequence[WarningChange],
        accounts: dict[str, Account],
        errors: Failures,
    ) -> list[WarningChange]:
        """Write level and hold, one record per Account (its latest change), 100 a call."""
        latest: dict[str, WarningChange] = {}
        for change in changes:
            account = accounts.get(change.customer_ref)
            if account is None or change.change_id in errors:
                continue
            held = latest.get(account.id)
            if held is None or change.decided_at >= held.decided_at:
                latest[account.id] = change
        records = [
            {"id": account_id, self.level_field: c.level, self.hold_field: c.hold}
            for account_id, c in latest.items()
        ]
        for batch in _chunks(records, UPDATE_BATCH):
            outcomes: Sequence[TargetRejected | None]
            try:
                outcomes = self.retrying(self._write, "PUT", "/Accounts", batch, "update Accounts")
            except TargetRejected as exc:  # the whole call was refused (scope, permission)
                outcomes = [exc] * len(batch)
            for record, error in zip(batch, outcomes, strict=True):
                if error is None:
                    continue
                for change in changes:
                    account = accounts.get(change.customer_ref)
                    if account is not None and account.id == record["id"]:
                        errors[change.change_id] = error
                        if getattr(error, "field", None) == "id":  # merged or deleted since
                            self._accounts.pop(change.customer_ref, None)
        return [c for c in changes if c.customer_ref in accounts and c.change_id not in errors]

    def _open_tasks(
        self,
        changes: Sequence[WarningChange],
        accounts: dict[str, Account],
        errors: Failures,
    ) -> None:
        unique = list({c.change_id: c for c in changes}.values())
        for batch in _chunks(unique, QUERY_BATCH):
            # Checking and creating are retried together: after a create whose answer was
            # lost, the retry finds the Task and does not open a second one.
            try:
                errors.update(self.retrying(self._open_tasks_once, batch, accounts))
            except TargetRejected as exc:  # the whole call was refused (scope, no key field)
                errors.update({c.change_id: exc for c in batch})

    def _open_tasks_once(
        self, changes: list[WarningChange], accounts: dict[str, Account]
    ) -> Failures:
        existing = self._tasks_carrying([c.change_id for c in changes])
        todo = [c for c in changes if c.change_id not in existing]
        if not todo:
            return {}
        tasks = [self._task(c, accounts[c.customer_ref]) for c in todo]
        outcomes = self._write("POST", "/Tasks", tasks, "create Tasks")
        failed: Failures = {}
        for change, error in zip(todo, outcomes, strict=True):
            # The key field marked unique in Zoho refuses a second Task for the same change.
            duplicate = error is not None and error.code == "DUPLICATE_DATA"
            if error is not None and not (duplicate and error.field == self.task_key_field):
                failed[change.change_id] = error
        return failed

    def _tasks_carrying(self, change_ids: list[str]) -> set[str]:
        """Which of these change ids a Task already carries (COQL reads the records
        themselves, so a Task created a moment ago is found, unlike by the search index)."""
        key = self.task_key_field
        values = ", ".join(_coql_text(v) for v in change_ids)
        # COQL, not SQL: read-only by design, and every value is quoted by _coql_text.
        query = f"select id, {key} from Tasks where {key} in ({values}) limit 200"  # noqa: S608
        response = self._call("POST", "/coql", "query Tasks", json={"select_query": query})
        rows = records_of(json_body(response)) if response.status_code != 204 else []
        return {str(row.get(key)) for row in rows}

    def _task(self, change: WarningChange, account: Account) -> Row:
        step = change.step or "follow up"
        subject = f"{step[:1].upper()}{step[1:]}: credit warning {change.level}"
        hold = "; put on hold" if change.hold else ""
        reasons = "\n".join(f"- {reason}" for reason in change.reasons)
        task: Row = {
            self.task_key_field: change.change_id,
            "Subject": f"{subject} for {change.customer_ref}"[:255],
            "Description": f"Credit warning {change.previous_level} → {change.level}{hold}.\n"
            f"{reasons}\n\ncreditgate change {change.change_id}, decided "
            f"{change.decided_at.isoformat(timespec='seconds')}",
            "What_Id": {"id": account.id},
            "$se_module": "Accounts",
            "Due_Date": change.decided_at.date().isoformat(),
            "Priority": "High" if change.hold or change.level == "red" else "Normal",
        }
        if account.owner_id:  # the Account's owner works the step
            task["Owner"] = {"id": account.owner_id}
        return task

    def _write(
        self, method: str, path: str, records: list[Row], what: str
    ) -> list[ZohoRejected | None]:
        """Send records in one call; return, per record in order, None or its ZohoRejected."""
        body: Row = {"data": records}
        if self.triggers is not None:  # left out, Zoho runs the org's workflows
            body["trigger"] = self.triggers
        response = self._call(method, path, what, json=body, per_record=True)
        answer = json_body(response)
        items = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(items, list) or len(items) != len(records):
            raise ZohoRejected(
                f"{SERVICE}: {what} answered HTTP {response.status_code} without one result "
                f"per record: {response.text[:200]}",
                code="UNEXPECTED_RESPONSE",
                status=response.status_code,
            )
        return [_item_error(item, what) for item in items]


def _item_error(item: Any, what: str) -> ZohoRejected | None:
    if isinstance(item, dict) and item.get("status") == "success":
        return None
    item = item if isinstance(item, dict) else {}
    details = item.get("details")
    field = details.get("api_name") if isinstance(details, dict) else None
    where = f" ({field})" if field else ""
    return ZohoRejected(
        f"{SERVICE}: {what}: {item.get('code')}{where}: {item.get('message')}",
        code=str(item.get("code")),
        field=str(field) if field else None,
    )


def _coql_text(value: str) -> str:
    """A COQL string literal: quoted, a quote inside doubled (Zoho's "Kaizen #171: FAQs on
    COQL API": "escape the single quote in the value by adding another single quote")."""
    return "'" + value.replace("'", "''") + "'"


def _chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])
