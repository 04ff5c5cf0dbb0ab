"""Zoho CRM over its REST API v8: Accounts as a customer source, and a push target for warnings.

Pull: an Account is a creditgate customer when it carries the ERP customer number (creditgate's
customers come from the ERP; the CRM Account is matched to them by that number). Push: the
warning level and hold go into fields on that Account, and each collection step opens a Task on
it, once per change.

Auth is OAuth2's refresh-token grant against the data centre's accounts server. The access token
is cached in memory, per adapter (Zoho lets a refresh token mint only 10 access tokens in 10
minutes): it is refreshed when missing, five minutes before it expires, or once per call after
Zoho answers 401 INVALID_TOKEN. Processes do not share it; each sync or push process mints its
own, about one an hour.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import requests
from tenacity import (
    Retrying,
)

from adapters.http import (
    DEFAULT_TIMEOUT,
    RemoteRejected,
    Timeout,
    TransientError,
    new_retrying,
    retry_after,
    route_status,
    transport_errors,
)
from adapters.http import new_session as _new_session
from gating.errors import InvalidAmount, TargetRejected, TargetUnavailable, UnknownCurrency
from gating.money import is_currency, parse_amount
from gating.push import WarningChange
from gating.records import CustomerData, GroupData, InvoiceData, PaymentData, RecordError
from gating.sources import Page, Watermark

log = logging.getLogger(__name__)

SERVICE = "zoho-crm"
API = "/crm/v8"
T = TypeVar("T")
Row = dict[str, Any]
Failures = dict[str, TargetRejected | TargetUnavailable]
"""Changes that were not delivered, by change_id, with why."""

ACCOUNTS_SERVERS = {
    "us": "https://accounts.zoho.com",
    "eu": "https://accounts.zoho.eu",
    "in": "https://accounts.zoho.in",
    "au": "https://accounts.zoho.com.au",
    "jp": "https://accounts.zoho.jp",
    "cn": "https://accounts.zoho.com.cn",
    "ca": "https://accounts.zohocloud.ca",
    "sa": "https://accounts.zoho.sa",
    "uk": "https://accounts.zoho.uk",
}
"""Data centre code → accounts server; the API domain comes back with each token."""

REFRESH_EARLY = 300.0  # seconds before expiry: a token must not expire during a long page read
PAGE_LIMIT = 2000  # Zoho serves only the first 2,000 records by `page`; past them, `page_token`
UPDATE_BATCH = 100  # records per PUT /Accounts or POST /Tasks (Zoho's maximum)
QUERY_BATCH = 50  # values in one COQL `in (...)` (Zoho's maximum)

# How far before its watermark an incremental read starts again: covers If-Modified-Since's
# one-second grain and whether Zoho compares with > or >=; re-read records upsert harmlessly.
DEFAULT_OVERLAP = timedelta(minutes=2)


class Invalid(ValueError):
    """An Account that cannot become a customer; the message says why."""


class ZohoRejected(RemoteRejected):
    """Zoho refused a request or one record of it; `code` is Zoho's (INVALID_DATA, ...) and
    `field` the field API name it blames, when it names one."""

    def __init__(
        self, message: str, *, code: str, status: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(message, service=SERVICE, status=status)
        self.code = code
        self.field = field


# ---- the adapter ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    value: str
    api_domain: str
    expires_at: float  # on the adapter's monotonic clock


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


class ZohoCrmAdapter:
    """Read Accounts changed since a watermark; write warnings back to them.

    Every call times out, and connection errors, timeouts, 429 and 5xx are retried by
    `retrying` (honouring Retry-After); other 4xx raise ZohoRejected with Zoho's code and
    message at once. Field API names are the org's own: `number_field` holds the ERP customer
    number (default the standard Account_Number), the rest are custom fields set up for
    creditgate (see the defaults).
    """

    kind = "zoho-crm"

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        dc: str = "us",
        accounts_url: str | None = None,
        currency: str | None = None,
        number_field: str = "Account_Number",
        credit_limit_field: str = "Credit_Limit",
        currency_field: str | None = "Currency",
        level_field: str = "Credit_Warning_Level",
        hold_field: str = "Credit_Hold",
        task_key_field: str = "Creditgate_Change_Id",
        triggers: Sequence[str] = (),
        session: requests.Session | None = None,
        retrying: Retrying | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        page_size: int = 200,
        page_limit: int = PAGE_LIMIT,
        overlap: timedelta = DEFAULT_OVERLAP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= page_size <= 200:
            raise ValueError("page_size must be between 1 and 200 (Zoho's per_page)")
        if overlap < timedelta(0):
            raise ValueError("overlap must not be negative")
        if accounts_url is None:
            if dc not in ACCOUNTS_SERVERS:
                known = ", ".join(sorted(ACCOUNTS_SERVERS))
                raise ValueError(f"unknown Zoho data centre {dc!r}; use one of {known}")
            accounts_url = ACCOUNTS_SERVERS[dc]
        if currency is not None and not is_currency(currency):
            raise ValueError(f"currency {currency!r} is not an ISO 4217 code")
        self.accounts_url = accounts_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self.currency = currency
        self.number_field = number_field
        self.credit_limit_field = credit_limit_field
        self.currency_field = currency_field
        self.level_field = level_field
        self.hold_field = hold_field
        self.task_key_field = task_key_field
        self.triggers = list(triggers)
        self._own_session = session is None
        self.session = session if session is not None else _new_session(timeout)
        self.retrying = retrying if retrying is not None else new_retrying()
        self.timeout = timeout
        self.page_size = page_size
        self.page_limit = page_limit
        self.overlap = overlap
        self.clock = clock
        self._token: _Token | None = None
        # The sync engine reads pages in a worker thread while another may push.
        self._token_lock = threading.Lock()
        self._accounts: dict[str, Account] = {}

    def __repr__(self) -> str:  # never the secrets
        return f"<ZohoCrmAdapter {self.accounts_url} client {self.client_id[:8]}…>"

    # ---- the SourceAdapter interface ----------------------------------------------------------

    def groups(self, since: Watermark | None) -> Iterator[Page[GroupData]]:
        """Zoho Accounts carry no credit groups creditgate uses: nothing to read."""
        return iter(())

    def invoices(self, since: Watermark | None) -> Iterator[Page[InvoiceData]]:
        """A CRM holds no receivables: nothing to read."""
        return iter(())

    def payments(self, since: Watermark | None) -> Iterator[Page[PaymentData]]:
        """A CRM holds no receivables: nothing to read."""
        return iter(())

    def customers(self, since: Watermark | None) -> Iterator[Page[CustomerData]]:
        """Accounts changed after `since`, oldest change first; one without an ERP customer
        number is a RecordError and the rest of its page still lands.

        :raises TransientError: Zoho stayed unreachable, slow, rate-limiting or failing.
        :raises ZohoRejected: Zoho refused the read (scope, field names, paging limits).
        """
        start = self._start(since)
        for rows in self._account_pages(start):
            fresh = [row for row in rows if _is_after(row, since, start, exact=not self.overlap)]
            if fresh:
                yield self._page(fresh, floor=since)

    def close(self) -> None:
        """Release the connection pool we opened (a Zoho access token needs no logout)."""
        if self._own_session:
            self.session.close()

    # ---- the PushTarget interface -------------------------------------------------------------

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

    # ---- auth ----------------------------------------------------------------------------------

    def _access(self, stale: str | None = None) -> _Token:
        """The cached token, refreshed if missing, about to expire, or the `stale` one Zoho
        just refused (unless another thread has replaced it meanwhile)."""
        with self._token_lock:
            token = self._token
            if (
                token is None
                or token.value == stale
                or self.clock() >= token.expires_at - REFRESH_EARLY
            ):
                token = self._token = self._refresh()
            return token

    def _refresh(self) -> _Token:
        url = f"{self.accounts_url}/oauth/v2/token"
        # In the body, not the query string: URLs end up in logs (urllib3's among them).
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "refresh_token": self._refresh_token,
        }
        with transport_errors(SERVICE, "token refresh"):
            response = self.session.post(url, data=form, timeout=self.timeout)
        if response.status_code >= 500 or response.status_code == 429:
            route_status(response, SERVICE, f"token refresh at {self.accounts_url}")
        body = _json(response)
        error = body.get("error") if isinstance(body, dict) else "not JSON"
        if error or not isinstance(body, dict) or not body.get("access_token"):
            description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
            message = f"{SERVICE}: the accounts server {self.accounts_url} refused to refresh the "
            if "too many requests" in description.lower():
                # Zoho allows 10 refreshes per 10 minutes per refresh token, then blocks.
                raise TransientError(
                    message + f"access token: {description}", service=SERVICE, status=400
                )
            raise RemoteRejected(
                message + f"access token ({error or 'no access_token'}): check the client id, "
                "client secret and refresh token, and that they belong to this data centre",
                service=SERVICE,
                status=response.status_code,
            )
        if not body.get("api_domain"):  # each data centre has its own; never guess one
            raise RemoteRejected(
                f"{SERVICE}: the accounts server {self.accounts_url} gave a token without its "
                "api_domain",
                service=SERVICE,
                status=response.status_code,
            )
        lifetime = float(body.get("expires_in") or 3600)
        api_domain = str(body["api_domain"]).rstrip("/")
        log.info("%s: new access token from %s for %s", SERVICE, self.accounts_url, api_domain)
        return _Token(str(body["access_token"]), api_domain, self.clock() + lifetime)

    # ---- requests ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        per_record: bool = False,
    ) -> requests.Response:
        """Send one request (not retried); refresh the token once if Zoho says it is invalid.

        `per_record`: a 400 that reports each record's error in `data` is returned, not raised.
        """
        token = self._access()
        response = self._send(token, method, path, what, params, json, headers)
        if response.status_code == 401 and _code(response) == "INVALID_TOKEN":
            log.info("%s: access token refused during %s; refreshing it once", SERVICE, what)
            token = self._access(stale=token.value)
            response = self._send(token, method, path, what, params, json, headers)
        return _route(response, what, per_record)

    def _send(
        self,
        token: _Token,
        method: str,
        path: str,
        what: str,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str] | None,
    ) -> requests.Response:
        all_headers = {"Authorization": f"Zoho-oauthtoken {token.value}", **(headers or {})}
        with transport_errors(SERVICE, what):
            return self.session.request(
                method,
                f"{token.api_domain}{API}{path}",
                params=params,
                json=json,
                headers=all_headers,
                timeout=self.timeout,
            )

    def _write(
        self, method: str, path: str, records: list[Row], what: str
    ) -> list[ZohoRejected | None]:
        """Send records in one call; return, per record in order, None or its ZohoRejected."""
        body = {"data": records, "trigger": self.triggers}
        response = self._call(method, path, what, json=body, per_record=True)
        answer = _json(response)
        items = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(items, list) or len(items) != len(records):
            raise ZohoRejected(
                f"{SERVICE}: {what} answered HTTP {response.status_code} without one result "
                f"per record: {response.text[:200]}",
                code="UNEXPECTED_RESPONSE",
                status=response.status_code,
            )
        return [_item_error(item, what) for item in items]

    # ---- pulling -------------------------------------------------------------------------------

    def _start(self, since: Watermark | None) -> datetime | None:
        """Where a read after `since` starts: `overlap` before the watermark (or one second
        before it without overlap, and the (time, id) keyset drops what was read already)."""
        if since is None:
            return None
        return since.changed_at - (self.overlap or timedelta(seconds=1))

    def _account_pages(self, start: datetime | None) -> Iterator[list[Row]]:
        """Yield pages of Accounts modified at or after `start`, oldest first.

        `page` reaches only the first `page_limit` (2,000) records; the page that would cross
        it, and every one after, is asked for with the `next_page_token` the last one gave.
        """
        fields = ["Account_Name", self.number_field, self.credit_limit_field, "Modified_Time"]
        if self.currency_field:
            fields.append(self.currency_field)
        params: dict[str, Any] = {
            "fields": ",".join(dict.fromkeys(fields)),
            "per_page": self.page_size,
            "sort_by": "Modified_Time",
            "sort_order": "asc",
        }
        # Documented for v2/v2.1 and not listed in v8's OpenAPI: should v8 ignore it, the
        # read is still correct (oldest first, filtered by customers()), only longer.
        headers = {"If-Modified-Since": _iso(start)} if start is not None else {}
        page, token = 1, None
        while True:
            where = {"page_token": token} if token else {"page": page}
            response = self.retrying(
                self._call,
                "GET",
                "/Accounts",
                "read Accounts",
                params=params | where,
                headers=headers,
            )
            if response.status_code in (204, 304):  # nothing (more) modified
                return
            body = _json(response)
            body = body if isinstance(body, dict) else {}
            rows = _rows(body)
            if rows:
                yield rows
            info = body.get("info") or {}
            if not info.get("more_records"):
                return
            if token is None and (page + 1) * self.page_size <= self.page_limit:
                page += 1
                continue
            token = info.get("next_page_token")
            if not token:
                raise ZohoRejected(
                    f"{SERVICE}: read Accounts: more records follow page {page} but Zoho gave "
                    "no next_page_token to reach them",
                    code="NO_PAGE_TOKEN",
                )

    def _page(self, rows: Sequence[Row], floor: Watermark | None) -> Page[CustomerData]:
        """Map a page; its watermark is its latest (time, id), never below `floor`: a page
        re-read within the overlap must not move the stored watermark back."""
        records: list[CustomerData] = []
        errors: list[RecordError] = []
        for row in rows:
            try:
                records.append(self._customer(row))
            except Invalid as exc:
                errors.append(RecordError("customers", f"Accounts,{row.get('id')}", str(exc)))
        marks = [w for w in map(_watermark, rows) if w is not None]
        if floor is not None:
            marks.append(floor)
        last = max(marks, key=lambda w: (w.changed_at, _id_key(w.last_id)), default=None)
        return Page(records, errors, last)

    def _customer(self, row: Row) -> CustomerData:
        number = row.get(self.number_field)
        if isinstance(number, int | Decimal) and not isinstance(number, bool):
            number = str(number)
        if not isinstance(number, str) or not number.strip():
            raise Invalid(f"no ERP customer number ({self.number_field} is empty)")
        if _watermark(row) is None:
            raise Invalid("has no valid Modified_Time or id")
        currency = (row.get(self.currency_field) if self.currency_field else None) or self.currency
        if not isinstance(currency, str) or not is_currency(currency):
            raise Invalid(
                f"currency {currency!r} is not an ISO 4217 code"
                + ("" if currency else " (set the source's default currency)")
            )
        limit = row.get(self.credit_limit_field)
        amount = None if limit is None else _amount(limit, currency, self.credit_limit_field)
        if amount is not None and amount < 0:
            raise Invalid(f"{self.credit_limit_field} is negative")
        return CustomerData(
            ref=_text(number, self.number_field, 100),
            name=_text(row.get("Account_Name"), "Account_Name", 300),
            credit_limit=amount,
            currency=currency,
        )

    # ---- pushing -------------------------------------------------------------------------------

    def _resolve(self, changes: Sequence[WarningChange], errors: Failures) -> dict[str, Account]:
        accounts: dict[str, Account] = {}
        for ref in dict.fromkeys(c.customer_ref for c in changes):
            try:
                accounts[ref] = self.find_account(ref)
            except TargetRejected as exc:
                errors.update({c.change_id: exc for c in changes if c.customer_ref == ref})
        return accounts

    def _search_account(self, ref: str) -> Account:
        value = "".join("\\" + ch if ch in "(),\\" else ch for ch in ref)
        params = {
            "criteria": f"({self.number_field}:equals:{value})",
            "fields": f"Account_Name,Owner,{self.number_field}",
        }
        response = self._call("GET", "/Accounts/search", "search Accounts", params=params)
        body = _json(response) if response.status_code != 204 else None
        rows = _rows(body)
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
        rows = _rows(_json(response)) if response.status_code != 204 else []
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


# ---- Zoho's answers --------------------------------------------------------------------------


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json(parse_float=Decimal)
    except ValueError:
        return None


def _rows(body: Any) -> list[Row]:
    """The records of a GET, search or COQL answer."""
    data = body.get("data") if isinstance(body, dict) else None
    return [row for row in data if isinstance(row, dict)] if isinstance(data, list) else []


def _code(response: requests.Response) -> str | None:
    body = _json(response)
    return str(body.get("code")) if isinstance(body, dict) and body.get("code") else None


def _route(response: requests.Response, what: str, per_record: bool) -> requests.Response:
    """Return a 2xx/3xx answer (and, for `per_record`, a 400 listing each record's error);
    raise TransientError for 429/5xx (with Retry-After, or Zoho's details.retry_after) and
    ZohoRejected, with Zoho's code and message, for any other 4xx."""
    status = response.status_code
    if status < 400:
        return response
    body = _json(response)
    if per_record and status == 400 and isinstance(body, dict) and "data" in body:
        return response
    if not isinstance(body, dict) or not body.get("code"):
        return route_status(response, SERVICE, what)  # raises, quoting the body
    details = body.get("details")
    details = details if isinstance(details, dict) else {}
    message = f"{SERVICE}: {what} answered HTTP {status} {body['code']}: {body.get('message')}"
    if status == 429 or status >= 500:
        wait = retry_after(response)
        if wait is None and isinstance(details.get("retry_after"), int | Decimal):
            wait = float(details["retry_after"])
        raise TransientError(message, service=SERVICE, status=status, retry_after=wait)
    field = details.get("api_name") or details.get("param_name")
    raise ZohoRejected(
        message, code=str(body["code"]), status=status, field=str(field) if field else None
    )


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


# ---- values ----------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _modified(row: Row) -> datetime | None:
    value = row.get("Modified_Time")
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return moment.astimezone(UTC)


def _id_key(record_id: str) -> int:
    """Zoho record ids are 19-digit numbers: they sort as numbers."""
    return int(record_id) if record_id.isdigit() else -1


def _watermark(row: Row) -> Watermark | None:
    moment, record_id = _modified(row), str(row.get("id") or "")
    if moment is None or not record_id.isdigit():
        return None
    return Watermark(moment, record_id)


def _is_after(row: Row, since: Watermark | None, start: datetime | None, *, exact: bool) -> bool:
    """Whether `row` belongs in a read after `since` that starts at `start`: with overlap,
    everything from `start` on; without, strictly after the watermark's (time, id)."""
    if since is None or start is None:
        return True
    mark = _watermark(row)
    if mark is None:
        return True  # becomes a RecordError, which says why
    if not exact:
        return mark.changed_at >= start
    return (mark.changed_at, _id_key(mark.last_id)) > (since.changed_at, _id_key(since.last_id))


def _coql_text(value: str) -> str:
    """A COQL string literal: quoted, with backslashes and quotes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def _text(value: Any, name: str, longest: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Invalid(f"{name} is empty")
    if len(text) > longest:
        raise Invalid(f"{name} is longer than {longest} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise Invalid(f"{name} contains control characters")
    return text


def _amount(value: Any, currency: str, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise Invalid(f"{name} is not an amount: {value!r}")
    try:
        return parse_amount(value, currency)
    except (InvalidAmount, UnknownCurrency) as exc:
        raise Invalid(f"{name}: {exc}") from None
