"""A local HTTP source for the sync benchmark, and the SourceAdapter that reads it.

The server is stateless: the URL names the state of the source (`/ds/<spec>/<entity>`, see
`bench.sync_data.Spec`), and every page is generated on request, so it serves 1,000,000
invoices without holding them. Pages are in keyset order on (changed_at, id):

    GET /ds/200-10000-1000000-10000-0/invoices?limit=5000
        &after_changed_at=2026-01-01T00:00:01+00:00&after_id=INV-0000007
    -> {"records": [{"id": ..., "changed_at": ..., ...}, ...], "more": true}

Amounts are decimal strings. Run it with `python -m bench.sync_source` (it prints its port on
the first line of stdout and stops on SIGTERM), or use `serve()` to run it as a subprocess.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from bench.server import stop_process
from bench.sync_data import Key, Spec, parse_after
from gating.records import CustomerData, GroupData, InvoiceData, PaymentData, RecordError
from gating.sources import Entity, Page, Watermark

ROOT = Path(__file__).resolve().parent.parent
MAX_LIMIT = 20_000
ENTITY_NAMES = ("groups", "customers", "invoices", "payments")

# --- the server -----------------------------------------------------------------------------


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    request = Request(environ)
    parts = request.path.strip("/").split("/")
    if parts == ["health"]:
        return Response("ok")(environ, start_response)
    if len(parts) != 3 or parts[0] != "ds" or parts[2] not in ENTITY_NAMES:
        return Response("not found", status=404)(environ, start_response)
    try:
        spec = Spec.from_path(parts[1])
        limit = int(request.args.get("limit", "5000"))
        if not 0 < limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT}")
        after = parse_after(request.args.get("after_changed_at"), request.args.get("after_id"))
    except ValueError as exc:
        return Response(str(exc), status=400)(environ, start_response)
    body = _page_body(spec, parts[2], after, limit)
    return Response(body, mimetype="application/json")(environ, start_response)


PageKey = tuple[Spec, str, Key | None, int]
_prefetched: dict[PageKey, Future[tuple[bytes, Key | None]]] = {}
_prefetch_lock = threading.Lock()
_prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
PREFETCH_KEPT = 4  # pages prepared ahead and not yet asked for, at most


def _render(key: PageKey) -> tuple[bytes, Key | None]:
    """The page's JSON body, and the `after` key of the page that follows it (None: last)."""
    spec, entity, after, limit = key
    rows, more = spec.page(entity, after, limit)
    body = '{"records":[' + ",".join(rows) + '],"more":' + ("true" if more else "false") + "}"
    following = None
    if more:
        last = json.loads(rows[-1])
        following = parse_after(last["changed_at"], last["id"])
    return body.encode(), following


def _page_body(spec: Spec, entity: str, after: Key | None, limit: int) -> bytes:
    """Serve the page, prepared ahead if a client is paging through in order, and start
    preparing the next one: a sequential reader then never waits for generation."""
    key = (spec, entity, after, limit)
    with _prefetch_lock:
        ready = _prefetched.pop(key, None)
    body, following = ready.result() if ready is not None else _render(key)
    if following is not None:
        nxt = (spec, entity, following, limit)
        with _prefetch_lock:
            if nxt not in _prefetched:
                _prefetched[nxt] = _prefetcher.submit(_render, nxt)
            while len(_prefetched) > PREFETCH_KEPT:
                _prefetched.pop(next(iter(_prefetched))).cancel()
    return body


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sync_source", description=__doc__)
    p.add_argument("--port", type=int, default=0, help="0: any free port (printed on stdout)")
    args = p.parse_args(argv)
    # threaded: HTTP/1.1 keep-alive, and a health check is never stuck behind a long page.
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=_QuietHandler)

    def stop(signum: int, _frame: Any) -> None:
        # shutdown() waits for serve_forever to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(server.server_port, flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    _prefetcher.shutdown(wait=False, cancel_futures=True)
    return 0


@contextlib.contextmanager
def serve(log_path: Path) -> Iterator[str]:
    """Run the source in its own process (so it has its own GIL and its memory is not the
    syncing process's) on a free loopback port; yield its base URL; always stop it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.sync_source"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
    try:
        base = _wait_ready(proc, log_path)
        yield base
    finally:
        stop_process(proc)


def _wait_ready(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()  # the port, or EOF if it died
    if not line.isdigit():
        proc.wait(timeout=5)
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"sync source did not start ({proc.returncode}):\n{tail}")
    base = f"http://127.0.0.1:{line}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(base + "/health", timeout=2).status_code == 200:
                return base
        time.sleep(0.05)
    raise RuntimeError(f"sync source on {base} did not answer within 30 s")


# --- the adapter ----------------------------------------------------------------------------


def _money(raw: Any) -> Decimal:
    if not isinstance(raw, str):
        raise ValueError(f"amount {raw!r} is not a decimal string")
    return Decimal(raw)


def _group(r: dict[str, Any]) -> GroupData:
    limit = r["credit_limit"]
    return GroupData(r["id"], r["name"], None if limit is None else _money(limit), r["currency"])


def _customer(r: dict[str, Any]) -> CustomerData:
    limit = r["credit_limit"]
    return CustomerData(
        ref=r["id"],
        name=r["name"],
        credit_limit=None if limit is None else _money(limit),
        currency=r["currency"],
        group_ref=r["group"],
        on_hold=bool(r["on_hold"]),
        hold_reason=r["hold_reason"],
    )


def _invoice(r: dict[str, Any]) -> InvoiceData:
    return InvoiceData(
        ref=r["id"],
        customer_ref=r["customer"],
        number=r["number"],
        issue_date=date.fromisoformat(r["issue_date"]),
        due_date=date.fromisoformat(r["due_date"]),
        currency=r["currency"],
        total=_money(r["total"]),
        open_amount=_money(r["open_amount"]),
        order_ref=r["order_ref"],
        cancelled=bool(r["cancelled"]),
    )


def _payment(r: dict[str, Any]) -> PaymentData:
    return PaymentData(
        ref=r["id"],
        customer_ref=r["customer"],
        date=date.fromisoformat(r["date"]),
        currency=r["currency"],
        amount=_money(r["amount"]),
        unapplied=_money(r["unapplied"]),
    )


PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "groups": _group,
    "customers": _customer,
    "invoices": _invoice,
    "payments": _payment,
}


class HttpSource:
    """SourceAdapter for the bench server: one GET per page, keyset paging from the watermark."""

    kind = "bench-http"

    def __init__(
        self, base_url: str, *, page_size: int = 5000, timeout: tuple[float, float] = (5, 60)
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.timeout = timeout
        self.session = requests.Session()
        self.requests = 0

    def _pages(self, entity: Entity, since: Watermark | None) -> Iterator[Page[Any]]:
        parse = PARSERS[entity]
        url = f"{self.base_url}/{entity}"
        mark = since
        while True:  # ends when the source says no more follow; each page moves the mark on
            params: dict[str, Any] = {"limit": self.page_size}
            if mark is not None:
                params["after_changed_at"] = mark.changed_at.isoformat()
                params["after_id"] = mark.last_id
            response = self.session.get(url, params=params, timeout=self.timeout)
            self.requests += 1
            response.raise_for_status()
            doc = json.loads(response.content)
            raw_records = doc["records"]
            if not raw_records:
                return
            records, errors = [], []
            for raw in raw_records:
                try:
                    records.append(parse(raw))
                except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
                    errors.append(RecordError(entity[:-1], raw.get("id"), f"unreadable: {exc!r}"))
            last = raw_records[-1]
            new_mark = Watermark(datetime.fromisoformat(last["changed_at"]), last["id"])
            # this source's ids are zero-padded, so (time, id) sorts as text
            if mark is not None and _key(new_mark) <= _key(mark):
                raise RuntimeError(f"{entity}: the source went backwards at {new_mark}")
            mark = new_mark
            yield Page(records, errors, mark)
            if not doc["more"]:
                return

    def groups(self, since: Watermark | None) -> Iterator[Page[GroupData]]:
        return self._pages("groups", since)

    def customers(self, since: Watermark | None) -> Iterator[Page[CustomerData]]:
        return self._pages("customers", since)

    def invoices(self, since: Watermark | None) -> Iterator[Page[InvoiceData]]:
        return self._pages("invoices", since)

    def payments(self, since: Watermark | None) -> Iterator[Page[PaymentData]]:
        return self._pages("payments", since)

    def close(self) -> None:
        self.session.close()


if __name__ == "__main__":
    sys.exit(main())


def _key(mark: Watermark) -> tuple[datetime, str]:
    return (mark.changed_at, mark.last_id)
