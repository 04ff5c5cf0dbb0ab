"""Logging for the web process: a JSON (or text) line per record, tagged with its request id."""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
import uuid
from datetime import UTC, datetime
from typing import Any, TextIO

from flask import g, has_request_context

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

# Everything a LogRecord carries by itself; any other attribute came in through `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


def request_id_from(header: str | None) -> str:
    """The caller's id when it is a sane token, else a fresh one: never echo arbitrary bytes."""
    if header is not None and _SANE_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def describe(exc: BaseException, limit: int = 200) -> str:
    """`Class: first line of the message`, short: driver errors can run to pages of SQL."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:limit]}" if text else type(exc).__name__


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request being handled, or "-" outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = g.get("request_id") if has_request_context() else None
        record.request_id = rid or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any `extra=`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # which gunicorn worker
        }
        rid = getattr(record, "request_id", "-")
        if rid != "-":
            line["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str, ensure_ascii=False)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler configure_logging installed, so calling it again replaces it."""


def configure_logging(level: str, fmt: str, stream: TextIO | None = None) -> logging.Handler:
    """Send every record to `stream` (stderr) as `fmt` ("json" or "text") at `level` and above.

    :raises ValueError: for any other format.
    """
    if fmt not in ("json", "text"):
        raise ValueError(f"log format must be json or text, not {fmt!r}")
    handler = _Handler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
