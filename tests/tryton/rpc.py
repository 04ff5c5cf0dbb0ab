"""The harness's own small JSON-RPC client for Tryton, independent of the adapter under test."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import requests


class RpcError(RuntimeError):
    """Tryton answered with an error; `kind` is e.g. "UserError" or "UserWarning"."""

    def __init__(self, method: str, error: Any) -> None:
        super().__init__(f"{method}: {str(error)[:800]}")
        self.error = error
        self.kind = error[0] if isinstance(error, list) and error else None

    @property
    def warning_name(self) -> str:
        return str(self.error[1][0])


def encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, datetime):
        naive = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        keys = ("year", "month", "day", "hour", "minute", "second", "microsecond")
        return {"__class__": "datetime", **{k: getattr(naive, k) for k in keys}}
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    raise TypeError(type(value).__name__)


def decode(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "date":
        return date(obj["year"], obj["month"], obj["day"])
    if kind == "datetime":
        keys = ("year", "month", "day", "hour", "minute", "second", "microsecond")
        return datetime(*(obj.get(k, 0) for k in keys))
    return obj


class RpcClient:
    """Log in as a user and call Tryton over JSON-RPC; errors raise RpcError."""

    def __init__(self, url: str, database: str, username: str, password: str) -> None:
        self.endpoint = f"{url}/{database}/rpc/"
        self.http = requests.Session()
        self.username = username
        self._password = password
        self._ids = 0
        self.context: dict[str, Any] = {}
        self.login()

    def login(self) -> None:
        self.http.headers.pop("Authorization", None)
        uid, token, *_ = self.call("common.db.login", self.username, {"password": self._password})
        raw = f"{self.username}:{uid}:{token}".encode()
        self.http.headers["Authorization"] = "Session " + base64.b64encode(raw).decode()
        self.context = self.call("model.res.user.get_preferences", True, {})

    def call(self, method: str, *params: Any) -> Any:
        self._ids += 1
        body = json.dumps({"id": self._ids, "method": method, "params": params}, default=encode)
        response = self.http.post(
            self.endpoint, data=body, headers={"Content-Type": "application/json"}, timeout=60
        )
        if response.status_code == 401 and method != "common.db.login":
            self.login()  # the server restarted with a shorter session, or it expired
            return self.call(method, *params)
        if response.status_code != 200:
            raise RpcError(method, [f"HTTP {response.status_code}", response.text[:300]])
        answer = json.loads(response.text, object_hook=decode)
        if answer.get("error"):
            raise RpcError(method, answer["error"])
        return answer["result"]

    def model(self, model: str, method: str, *args: Any, context: dict[str, Any] | None = None):
        return self.call(f"model.{model}.{method}", *args, {**self.context, **(context or {})})

    def close(self) -> None:
        self.http.close()
