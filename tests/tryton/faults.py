"""A loopback HTTP proxy in front of trytond that breaks chosen calls: 500s, hangs, drops."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

KINDS = ("500", "timeout", "drop", "drop_after")
"""500: answer HTTP 500 without forwarding. timeout: hold the request `hang` seconds, then
close without an answer. drop: close the connection at once. drop_after: forward the call (the
server does the work) and close before answering, as when a response is lost on the way."""


class FaultProxy:
    """Forward JSON-RPC POSTs to `target`, injecting faults by plan or at random.

    plan: for a JSON-RPC method (e.g. "model.party.party.search_read"), the faults for its
    successive calls, "ok" for a call to let through; "*" applies to every method.
    rate: the chance that any call not covered by a plan gets a random fault from `kinds`.
    rewrite: given a JSON-RPC method and the server's decoded answer to it, the answer to send
    instead (a value trytond itself would never send, such as `true` for an amount).
    """

    def __init__(
        self,
        target: str,
        *,
        plan: Mapping[str, Iterable[str]] | None = None,
        rate: float = 0.0,
        kinds: Iterable[str] = KINDS,
        seed: int = 0,
        hang: float = 1.0,
        rewrite: Callable[[str, Any], Any] | None = None,
    ) -> None:
        self.target = target.rstrip("/")
        self.plan: dict[str, list[str]] = defaultdict(list)
        for method, faults in (plan or {}).items():
            self.plan[method] = list(faults)
        self.rate = rate
        self.kinds = tuple(kinds)
        self.hang = hang
        self.rewrite = rewrite
        self.calls: Counter[str] = Counter()
        self.faults: list[tuple[str, str]] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._upstream = requests.Session()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._upstream.close()

    def fault_for(self, method: str) -> str:
        with self._lock:
            self.calls[method] += 1
            for key in (method, "*"):
                if self.plan.get(key):
                    fault = self.plan[key].pop(0)
                    break
            else:
                fault = "ok"
                if self.rate and self._random.random() < self.rate:
                    fault = self._random.choice(self.kinds)
            if fault != "ok":
                self.faults.append((method, fault))
            return fault

    def forward(self, path: str, body: bytes, headers: Mapping[str, str]) -> requests.Response:
        keep = {k: v for k, v in headers.items() if k.lower() in {"authorization", "content-type"}}
        return self._upstream.post(self.target + path, data=body, headers=keep, timeout=60)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    method = str(json.loads(body).get("method"))
                except ValueError:
                    method = "?"
                fault = proxy.fault_for(method)
                self.close_connection = True
                if fault == "timeout":
                    time.sleep(proxy.hang)
                    return
                if fault == "drop":
                    return
                if fault == "500":
                    self._answer(500, b"injected failure", "text/plain")
                    return
                upstream = proxy.forward(self.path, body, dict(self.headers))
                if fault == "drop_after":
                    return
                content_type = upstream.headers.get("Content-Type", "application/octet-stream")
                payload = upstream.content
                if proxy.rewrite is not None and upstream.status_code == 200:
                    payload = json.dumps(proxy.rewrite(method, json.loads(payload))).encode()
                self._answer(upstream.status_code, payload, content_type)

            def _answer(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
