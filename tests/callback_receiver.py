"""An ERP's callback endpoint on loopback, for the tests: a real HTTP server in a thread that
records every request, verifies its signature with gating.signatures, applies each
Idempotency-Key once, and answers what the test scripts (unscripted requests get 200)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gating.signatures import SIGNATURE_HEADER, verify_signature


@dataclass(frozen=True)
class Answer:
    """What the receiver does with one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    drop: bool = False
    """Close the connection without answering (before applying the event)."""
    lose: bool = False
    """Apply the event, then close the connection without answering: the answer is lost."""
    delay: float = 0.0
    """Seconds to wait before answering."""


@dataclass(frozen=True)
class Received:
    body: bytes
    headers: Message
    verdict: str | None
    """What verify_signature found wrong with the request, or None if it is good."""

    @property
    def stamp(self) -> int:
        value = self.headers[SIGNATURE_HEADER]
        return int(dict(p.split("=", 1) for p in value.split(","))["t"])


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for every handler: no thread outlives a test

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout) makes the late answer fail: expected


class Receiver:
    """An ERP's callback endpoint: verifies, deduplicates, answers as scripted."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.requests: list[Received] = []
        self.applied: dict[str, dict[str, Any]] = {}
        self.duplicates = 0
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/creditgate/events"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _receive(self, body: bytes, headers: Message) -> tuple[Answer, str]:
        """Record the request; return the answer to give and its body."""
        verdict = verify_signature(self.secret, headers.get(SIGNATURE_HEADER), body, time.time())
        with self._lock:
            self.requests.append(Received(body, headers, verdict))
            answer = self._script.popleft() if self._script else Answer()
            if answer.drop:
                return answer, ""
            if not (200 <= answer.status < 300 or answer.lose):
                return answer, answer.body
            if verdict is not None:
                return Answer(401), verdict
            key = headers.get("Idempotency-Key")
            if not key:
                return Answer(400), "Idempotency-Key is required"
            if key in self.applied:
                self.duplicates += 1
                return answer, "duplicate: already applied"
            self.applied[key] = json.loads(body)
            return answer, "applied"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer, text = receiver._receive(body, self.headers)
                if answer.delay:
                    time.sleep(answer.delay)
                if answer.drop or answer.lose:
                    self.close_connection = True
                    return
                payload = text.encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST  # a followed redirect would arrive as a GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
