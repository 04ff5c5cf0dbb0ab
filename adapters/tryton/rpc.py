"""Tryton's JSON-RPC, transport and auth: the session, its login, calls with retries, and how
Tryton's answers and errors become results, RemoteRejected or TransientError (trytond 8.2)."""

from __future__ import annotations

import base64
import itertools
import json
import logging
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
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

log = logging.getLogger(__name__)

SERVICE = "tryton"

# Tryton's own exceptions (UserError, AccessError, ...) come back as ["<Name>", args]: the
# server understood and refused. Any other error is an unexpected server failure, like a 500.
_REFUSALS = {"UserError", "UserWarning", "LoginException", "ConcurrencyException"}


class TrytonClient:
    """A JSON-RPC session with one Tryton database, as one user.

    Every model call carries the user's preferences as context (its company decides credit
    limits and which invoices are visible). The session is opened on first use and opened
    again once when Tryton answers 401 (expired or revoked); connection errors, timeouts and
    5xx are retried by `retrying`, 4xx and Tryton's own errors raise RemoteRejected at once.
    """

    def __init__(
        self,
        base_url: str,
        database: str,
        username: str,
        password: str,
        *,
        session: requests.Session | None = None,
        retrying: Retrying | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.database = database
        self.username = username
        self._password = password
        self._own_session = session is None
        self.session = session if session is not None else new_session(timeout)
        self.retrying = retrying if retrying is not None else new_retrying()
        self.timeout = timeout
        self._url = f"{self.base_url}/{quote(database, safe='')}/rpc/"
        self._ids = itertools.count(1)
        self._authorization: str | None = None
        self._context: dict[str, Any] | None = None
        self._company_currency: str | None = None

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


def _message(kind: str, args: Any) -> str:
    """The human part of a Tryton exception's arguments (see trytond.exceptions)."""
    if not isinstance(args, list):
        return str(args)
    # UserError: (message, description, domain); UserWarning and LoginException: (name, message, …)
    parts = args[:2] if kind == "UserError" else args[1:3]
    return " ".join(str(p) for p in parts if p and isinstance(p, str)) or str(args)
