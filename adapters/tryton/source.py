"""Tryton ERP as a sync source: customers, invoices and payments over JSON-RPC (trytond 8.2)."""

from __future__ import annotations

import base64
import itertools
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from tenacity import Retrying

from adapters.http import (
    DEFAULT_TIMEOUT,
    RemoteError,
    RemoteRejected,
    Timeout,
    TransientError,
    new_retrying,
    new_session,
    route_status,
    transport_errors,
)
from gating.errors import InvalidAmount, UnknownCurrency
from gating.money import is_currency, parse_amount
from gating.push import WarningChange
from gating.records import (
    CustomerData,
    GroupData,
    Instalment,
    InvoiceData,
    PaymentData,
    RecordError,
)
from gating.sources import Page, Watermark

log = logging.getLogger(__name__)

SERVICE = "tryton"
T = TypeVar("T")
Row = dict[str, Any]

# How far before its watermark an incremental read starts again (see TrytonAdapter._start):
# longer than any Tryton transaction that writes parties, invoices or payments should take.
DEFAULT_OVERLAP = timedelta(minutes=10)

PARTY_FIELDS = ["code", "name", "credit_limit_amount", "last_modified_at"]
INVOICE_FIELDS = [
    "number",
    "state",
    "party.code",
    "currency.code",
    "invoice_date",
    "total_amount",
    "amount_to_pay",
    "lines_to_pay.maturity_date",
    "lines_to_pay.debit",
    "lines_to_pay.credit",
    "lines_to_pay.second_currency",
    "lines_to_pay.amount_second_currency",
    "lines_to_pay.reconciliation",
    "sales.number",
    "last_modified_at",
]
LINE_FIELDS = [
    "party.code",
    "date",
    "debit",
    "credit",
    "second_currency.code",
    "amount_second_currency",
    "reconciliation",
    "invoice_payment",
    "move",
    "move_origin",
    "last_modified_at",
]
# Tryton's own exceptions (UserError, AccessError, ...) come back as ["<Name>", args]: the
# server understood and refused. Any other error is an unexpected server failure, like a 500.
_REFUSALS = {"UserError", "UserWarning", "LoginException", "ConcurrencyException"}


class Invalid(ValueError):
    """A Tryton record that cannot become a domain record; the message says why."""


# ---- Tryton's JSON: Decimal, date and datetime travel as {"__class__": ...} objects -------------


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # Tryton keeps naive UTC
            value = value.astimezone(UTC).replace(tzinfo=None)
        fields = ("year", "month", "day", "hour", "minute", "second", "microsecond")
        return {"__class__": "datetime", **{f: getattr(value, f) for f in fields}}
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    raise TypeError(f"cannot send {type(value).__name__} to Tryton")


def _decode(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind is None:
        return obj
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "date":
        return date(obj["year"], obj["month"], obj["day"])
    if kind == "datetime":
        return datetime(
            obj["year"],
            obj["month"],
            obj["day"],
            obj.get("hour", 0),
            obj.get("minute", 0),
            obj.get("second", 0),
            obj.get("microsecond", 0),
            tzinfo=UTC,
        )
    if kind == "time":
        return time(obj["hour"], obj["minute"], obj["second"], obj.get("microsecond", 0))
    if kind == "timedelta":
        return timedelta(seconds=obj["seconds"])
    if kind == "bytes":
        return base64.b64decode(obj["base64"])
    return obj


class TrytonAdapter:
    """Read customers, invoices and payments changed in a Tryton database since a watermark.

    Every model call carries the user's preferences as context (its company decides credit
    limits and which invoices are visible). The session is opened on first use and opened
    again once when Tryton answers 401 (expired or revoked); connection errors, timeouts and
    5xx are retried by `retrying`, 4xx and Tryton's own errors raise RemoteRejected at once.
    """

    kind = "tryton"

    def __init__(
        self,
        base_url: str,
        database: str,
        username: str,
        password: str,
        *,
        session: requests.Session | None = None,
        retrying: Retrying | None = None,
        page_size: int = 500,
        timeout: Timeout = DEFAULT_TIMEOUT,
        overlap: timedelta = DEFAULT_OVERLAP,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if overlap < timedelta(0):
            raise ValueError("overlap must not be negative")
        self.base_url = base_url.rstrip("/")
        self.database = database
        self.username = username
        self._password = password
        self._own_session = session is None
        self.session = session if session is not None else new_session(timeout)
        self.retrying = retrying if retrying is not None else new_retrying()
        self.page_size = page_size
        self.timeout = timeout
        self.overlap = overlap
        self._url = f"{self.base_url}/{quote(database, safe='')}/rpc/"
        self._ids = itertools.count(1)
        self._authorization: str | None = None
        self._context: dict[str, Any] | None = None
        self._company_currency: str | None = None

    # ---- the SourceAdapter interface ----------------------------------------------------------

    def groups(self, since: Watermark | None) -> Iterator[Page[GroupData]]:
        """Tryton parties have no credit groups: nothing to read."""
        return iter(())

    def customers(self, since: Watermark | None) -> Iterator[Page[CustomerData]]:
        """Parties (inactive ones too) with their code, name and credit limit in the company."""
        for rows in self._changed("party.party", [], PARTY_FIELDS, since, active_test=False):
            yield self._page("customers", "party.party", rows, self._customer)

    def _invoice_domain(self) -> list[Any]:
        return [
            ("type", "=", "out"),
            ("company", "=", self._company()),
            [
                "OR",
                [("state", "in", ["posted", "paid"])],
                [("state", "=", "cancelled"), ("number", "!=", None)],
            ],
        ]

    def _payment_domain(self) -> list[Any]:
        return [
            ("account.type.receivable", "=", True),
            ("credit", ">", 0),
            ("company", "=", self._company()),
        ]

    def invoices(self, since: Watermark | None) -> Iterator[Page[InvoiceData]]:
        """Posted, paid and cancelled customer invoices and credit notes (negative)."""
        domain = self._invoice_domain()
        for rows in self._changed("account.invoice", domain, INVOICE_FIELDS, since):
            yield self._page("invoices", "account.invoice", rows, self._invoice)

    def count(self, entity: str, since: Watermark | None) -> int | None:
        """How many rows a read of `entity` after `since` scans (for progress; payments
        include invoices' own lines, which the read then drops)."""
        if entity == "groups":
            return 0
        model, domain, context = {
            "customers": ("party.party", [], {"active_test": False}),
            "invoices": ("account.invoice", self._invoice_domain(), None),
            "payments": ("account.move.line", self._payment_domain(), None),
        }[entity]
        where = list(domain)
        after = self._start(since)
        if after is not None:
            where.append(_after(*after))
        return int(self.call(model, "search_count", where, context=context))

    def payments(self, since: Watermark | None) -> Iterator[Page[PaymentData]]:
        """Credits on receivable accounts that are not an invoice's (or credit note's) own line."""
        domain = self._payment_domain()
        for rows in self._changed("account.move.line", domain, LINE_FIELDS, since):
            own = self._invoice_moves(rows)
            mapped = [row for row in rows if row["move"] not in own]
            page = self._page("payments", "account.move.line", mapped, self._payment)
            yield Page(page.records, page.errors, _watermark(rows[-1]))

    # ---- the PushTarget interface -------------------------------------------------------------

    def push(self, change: WarningChange) -> None:
        """Show a warning change on the Tryton party: a note (`ir.note`) with the level, the
        collection step and the reasons. A party has no field for it (see the Tryton note).

        Idempotent: a note carrying `change.change_id` is created only if none exists yet, so a
        change pushed again after a lost answer leaves one note.

        :raises RemoteRejected: no party has the customer's code.
        :raises TransientError: Tryton stayed unreachable (after the retries).
        """
        parties = self.call(
            "party.party", "search", [["code", "=", change.customer_ref]], 0, 2, None,
            context={"active_test": False},
        )  # fmt: skip
        if len(parties) != 1:
            raise RemoteRejected(
                f"tryton: no single party with code {change.customer_ref!r} (found {len(parties)})",
                service=SERVICE,
            )
        resource = f"party.party,{parties[0]}"
        marker = f"[creditgate {change.change_id}]"
        existing = self.call(
            "ir.note", "search", [["resource", "=", resource], ["message", "like", f"%{marker}%"]]
        )
        if existing:
            return
        self.call("ir.note", "create", [{"resource": resource, "message": _note(change, marker)}])

    def close(self) -> None:
        """End the Tryton session (best effort) and release the connection pool we opened."""
        if self._authorization is not None:
            try:
                self._post("common.db.logout", [])
            except RemoteError:  # the session ends on its own; nothing to do about it
                log.debug("logout from %s failed", self.base_url, exc_info=True)
            self._authorization = None
        if self._own_session:
            self.session.close()

    # ---- what the server says about us --------------------------------------------------------

    def preferences(self) -> dict[str, Any]:
        """Return the user's preferences, the context sent with every call (logs in if needed)."""
        if self._context is None:
            self.retrying(self._login)
        assert self._context is not None
        return dict(self._context)

    def _company(self) -> int:
        return int(self.preferences()["company"])

    def company_currency(self) -> str:
        """Return the ISO code of the company's currency (customers' credit currency)."""
        if self._company_currency is None:
            (company,) = self.call("company.company", "read", [self._company()], ["currency.code"])
            self._company_currency = str((company.get("currency.") or {}).get("code") or "")
        return self._company_currency

    # ---- JSON-RPC ------------------------------------------------------------------------------

    def call(
        self, model: str, method: str, *args: Any, context: dict[str, Any] | None = None
    ) -> Any:
        """Call `model.<model>.<method>(*args, context)`, retrying transient failures.

        :raises TransientError: the server stayed unreachable, slow or failing (5xx).
        :raises RemoteRejected: a 4xx or an error Tryton reports (access, bad domain, ...).
        """
        return self.retrying(self._call_once, f"model.{model}.{method}", list(args), context)

    def _call_once(self, method: str, args: list[Any], context: dict[str, Any] | None) -> Any:
        if self._authorization is None or self._context is None:
            self._login()
        response = self._post(method, [*args, self._full_context(context)])
        if response.status_code == 401:
            # The session expired or was revoked: open a new one, once, and ask again.
            log.info("tryton session for %s expired; logging in again", self.username)
            self._authorization = None
            self._login()
            response = self._post(method, [*args, self._full_context(context)])
        return self._result(response, method)

    def _full_context(self, extra: dict[str, Any] | None) -> dict[str, Any]:
        assert self._context is not None
        return {**self._context, **(extra or {})}

    def _login(self) -> None:
        self._authorization = self._context = None
        params = [self.username, {"password": self._password}, "en"]
        response = self._post("common.db.login", params)
        if response.status_code in (401, 403):
            raise RemoteRejected(
                f"tryton: login of {self.username!r} to database {self.database!r} at "
                f"{self.base_url} was refused (HTTP {response.status_code}): "
                "check the username and password",
                service=SERVICE,
                status=response.status_code,
            )
        if response.status_code == 404:
            raise RemoteRejected(
                f"tryton: no database {self.database!r} at {self.base_url} (HTTP 404)",
                service=SERVICE,
                status=404,
            )
        result = self._result(response, "common.db.login")
        user_id, token = result[0], result[1]
        raw = f"{self.username}:{user_id}:{token}".encode()
        self._authorization = "Session " + base64.b64encode(raw).decode("ascii")
        response = self._post("model.res.user.get_preferences", [True, {}])
        context = self._result(response, "model.res.user.get_preferences")
        if not context.get("company"):
            raise RemoteRejected(
                f"tryton: user {self.username!r} has no current company; set one in the "
                "user's preferences (credit limits and invoices are per company)",
                service=SERVICE,
            )
        self._context = context

    def _post(self, method: str, params: list[Any]) -> requests.Response:
        body = json.dumps(
            {"id": next(self._ids), "method": method, "params": params}, default=_encode
        )
        headers = {"Content-Type": "application/json"}
        if self._authorization is not None:
            headers["Authorization"] = self._authorization
        with transport_errors(SERVICE, method):
            return self.session.post(self._url, data=body, headers=headers, timeout=self.timeout)

    def _result(self, response: requests.Response, method: str) -> Any:
        route_status(response, SERVICE, method)
        try:
            body = json.loads(response.text, object_hook=_decode, parse_float=Decimal)
        except ValueError as exc:
            raise TransientError(
                f"tryton: {method} answered with a body that is not JSON: {response.text[:100]!r}",
                service=SERVICE,
            ) from exc
        error = body.get("error") if isinstance(body, dict) else None
        if error:
            if isinstance(error, list) and len(error) == 2 and error[0] in _REFUSALS:
                raise RemoteRejected(
                    f"tryton: {method} refused ({error[0]}): {_message(error[0], error[1])}",
                    service=SERVICE,
                )
            message = error[0] if isinstance(error, list) and error else error
            raise TransientError(
                f"tryton: {method} failed on the server: {message}", service=SERVICE
            )
        if not isinstance(body, dict) or "result" not in body:
            raise TransientError(f"tryton: {method} answered without a result", service=SERVICE)
        return body["result"]

    # ---- paging --------------------------------------------------------------------------------

    def _changed(
        self,
        model: str,
        domain: list[Any],
        fields: list[str],
        since: Watermark | None,
        *,
        active_test: bool = True,
    ) -> Iterator[list[Row]]:
        """Yield rows of `model` changed after `since`, oldest change first, a page at a time.

        Keyset paging on (last_modified_at, id): rows written in one transaction share a
        timestamp, and the id breaks the tie, so no row is skipped or repeated between pages.
        """
        order = [["last_modified_at", "ASC"], ["id", "ASC"]]
        context = None if active_test else {"active_test": False}
        after = self._start(since)
        while True:
            where = list(domain)
            if after is not None:
                where.append(_after(*after))
            rows = self.call(
                model, "search_read", where, 0, self.page_size, order, fields, context=context
            )
            if not rows:
                return
            yield rows
            if len(rows) < self.page_size:
                return
            after = (rows[-1]["last_modified_at"], rows[-1]["id"])

    def _start(self, since: Watermark | None) -> tuple[datetime, int] | None:
        """Where a read after `since` starts: `overlap` earlier than the watermark.

        Tryton stamps a row with its transaction's start time, so a transaction that was still
        running during the last read commits rows stamped before that read's watermark. Reading
        the last `overlap` again catches them; the store's upserts make the re-read harmless.
        """
        if since is None:
            return None
        if not self.overlap:
            return since.changed_at, _tryton_id(since.last_id)
        return since.changed_at - self.overlap, 0

    def _page(
        self, entity: str, model: str, rows: Sequence[Row], convert: Callable[[Row], T]
    ) -> Page[T]:
        records: list[T] = []
        errors: list[RecordError] = []
        for row in rows:
            try:
                records.append(convert(row))
            except Invalid as exc:
                errors.append(RecordError(entity, f"{model},{row['id']}", str(exc)))
        return Page(records, errors, _watermark(rows[-1]) if rows else None)

    def _invoice_moves(self, lines: Sequence[Row]) -> set[int]:
        """Return the moves, among those of `lines`, that post an invoice or cancel one."""
        invoice_ids = sorted(
            {
                int(origin.split(",")[1])
                for origin in (row.get("move_origin") or "" for row in lines)
                if origin.startswith("account.invoice,")
            }
        )
        if not invoice_ids:
            return set()
        invoices = self.call("account.invoice", "read", invoice_ids, ["move", "cancel_move"])
        return {m for inv in invoices for m in (inv.get("move"), inv.get("cancel_move")) if m}

    # ---- mapping -------------------------------------------------------------------------------

    def _customer(self, row: Row) -> CustomerData:
        currency = self.company_currency()
        if not is_currency(currency):
            raise Invalid(f"the company currency {currency!r} is not an ISO 4217 code")
        limit = row.get("credit_limit_amount")
        amount = None if limit is None else _amount(limit, currency, "credit_limit_amount")
        if amount is not None and amount < 0:
            raise Invalid("credit_limit_amount is negative")
        return CustomerData(
            ref=_ref(row.get("code"), "code"),
            name=_text(row.get("name"), "name", 300),
            credit_limit=amount,
            currency=currency,
        )

    def _invoice(self, row: Row) -> InvoiceData:
        currency = _currency((row.get("currency.") or {}).get("code"))
        issued = row.get("invoice_date")
        if not isinstance(issued, date):
            raise Invalid("has no invoice date")
        sales = sorted({s["number"] for s in row.get("sales.") or [] if s.get("number")})
        state = row.get("state")
        total = _amount(row.get("total_amount"), currency, "total_amount")
        to_pay = _amount(row.get("amount_to_pay"), currency, "amount_to_pay")
        open_amount = to_pay if state == "posted" else _amount(0, currency, "open amount")
        lines = row.get("lines_to_pay.") or []
        instalments = self._instalments(lines, currency, issued, total, open_amount)
        if instalments:  # ages from its oldest open instalment (its last one once paid)
            due = min((i.due_date for i in instalments if i.open_amount), default=None)
            due = due or instalments[-1].due_date
        else:
            maturities = [ln["maturity_date"] for ln in lines if _is_date(ln.get("maturity_date"))]
            due = min(maturities, default=issued)
        return InvoiceData(
            ref=str(row["id"]),
            customer_ref=_ref((row.get("party.") or {}).get("code"), "party code"),
            number=_text(row.get("number"), "number", 100),
            issue_date=issued,
            due_date=due,
            currency=currency,
            total=total,
            open_amount=open_amount,
            # One sale: its number is the order the gate reserved for. Several: no single
            # order to reduce, so the reservations stay until their orders are invoiced.
            order_ref=sales[0] if len(sales) == 1 else None,
            cancelled=state == "cancelled",
            instalments=instalments,
        )

    def _instalments(
        self, lines: Sequence[Row], currency: str, issued: date, total: Decimal, open_: Decimal
    ) -> tuple[Instalment, ...]:
        """The invoice's lines to pay as instalments, when it has more than one (a payment term
        in several parts), each with its own due date (its line's maturity date).

        A line reconciled (paid) has nothing open. Tryton's amount to pay also deducts payments
        linked to the invoice but not reconciled (partial payments); they belong to no line, so
        they are taken off the open lines oldest due first, as a customer's payment usually
        settles the oldest instalment. The shares and open amounts are made to sum exactly to
        the invoice's total and amount to pay (a rounding difference goes to the last line).
        """
        if len(lines) < 2:
            return ()
        foreign = currency != self.company_currency()
        ordered = sorted(
            lines,
            key=lambda ln: (
                ln["maturity_date"] if _is_date(ln.get("maturity_date")) else issued,
                ln["id"],
            ),
        )
        amounts: list[Decimal] = []
        for ln in ordered:
            second = ln.get("amount_second_currency")
            if foreign and ln.get("second_currency") and second is not None:
                raw = second
            else:
                raw = (ln.get("debit") or Decimal(0)) - (ln.get("credit") or Decimal(0))
            amounts.append(_amount(raw, currency, "line to pay"))
        amounts[-1] += total - sum(amounts, Decimal(0))
        settled = [ln.get("reconciliation") is not None for ln in ordered]
        opens = [Decimal(0) if done else a for a, done in zip(amounts, settled, strict=True)]
        # What was paid without being reconciled: taken off the open lines oldest first.
        unallocated = sum(opens, Decimal(0)) - open_
        sign = 1 if unallocated >= 0 else -1
        for n, value in enumerate(opens):
            if not unallocated:
                break
            if value * sign > 0:
                taken = min(value * sign, unallocated * sign) * sign
                opens[n] -= taken
                unallocated -= taken
        opens[max((n for n, v in enumerate(opens) if v), default=len(opens) - 1)] -= unallocated
        zero = _amount(0, currency, "open amount")
        return tuple(
            Instalment(
                due_date=ln["maturity_date"] if _is_date(ln.get("maturity_date")) else issued,
                amount=amount,
                open_amount=value or zero,
            )
            for ln, amount, value in zip(ordered, amounts, opens, strict=True)
        )

    def _payment(self, row: Row) -> PaymentData:
        second = (row.get("second_currency.") or {}).get("code")
        if second:
            currency = _currency(second)
            raw = -(row.get("amount_second_currency") or Decimal(0))
        else:
            currency = _currency(self.company_currency())
            raw = (row.get("credit") or Decimal(0)) - (row.get("debit") or Decimal(0))
        amount = _amount(raw, currency, "amount")
        applied = row.get("reconciliation") is not None or row.get("invoice_payment") is not None
        when = row.get("date")
        if not isinstance(when, date):
            raise Invalid("has no date")
        return PaymentData(
            ref=str(row["id"]),
            customer_ref=_ref((row.get("party.") or {}).get("code"), "party code"),
            date=when,
            currency=currency,
            amount=amount,
            unapplied=_amount(0, currency, "unapplied") if applied else amount,
        )


def _is_date(value: Any) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _message(kind: str, args: Any) -> str:
    """The human part of a Tryton exception's arguments (see trytond.exceptions)."""
    if not isinstance(args, list):
        return str(args)
    # UserError: (message, description, domain); UserWarning and LoginException: (name, message, …)
    parts = args[:2] if kind == "UserError" else args[1:3]
    return " ".join(str(p) for p in parts if p and isinstance(p, str)) or str(args)


def _after(changed_at: datetime, last_id: int) -> list[Any]:
    """The keyset condition: changed later, or at the same time with a higher id."""
    return [
        "OR",
        [("last_modified_at", ">", changed_at)],
        [("last_modified_at", "=", changed_at), ("id", ">", last_id)],
    ]


def _watermark(row: Row) -> Watermark:
    return Watermark(row["last_modified_at"], str(row["id"]))


def _tryton_id(last_id: str) -> int:
    try:
        return int(last_id)
    except ValueError:
        raise ValueError(f"watermark id {last_id!r} is not a Tryton record id") from None


def _text(value: Any, name: str, longest: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Invalid(f"{name} is empty")
    if len(text) > longest:
        raise Invalid(f"{name} is longer than {longest} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise Invalid(f"{name} contains control characters")
    return text


def _ref(value: Any, name: str) -> str:
    return _text(value, name, 100)


def _currency(code: Any) -> str:
    if not isinstance(code, str) or not is_currency(code):
        raise Invalid(f"currency {code!r} is not an ISO 4217 code")
    return code


def _amount(value: Any, currency: str, name: str) -> Decimal:
    if not isinstance(value, Decimal | int):
        raise Invalid(f"{name} is missing")
    try:
        return parse_amount(Decimal(value), currency)
    except (InvalidAmount, UnknownCurrency) as exc:
        raise Invalid(f"{name}: {exc}") from None


def _note(change: WarningChange, marker: str) -> str:
    lines = [f"Credit warning: {change.level.upper()} (was {change.previous_level})"]
    if change.step:
        lines.append(f"Next step: {change.step}")
    if change.hold:
        lines.append("Put this customer on hold: no new orders.")
    lines += [f"- {reason}" for reason in change.reasons]
    lines.append(f"{change.decided_at:%Y-%m-%d %H:%M %Z} {marker}")
    return "\n".join(lines)
