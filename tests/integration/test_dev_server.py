"""`creditgate serve` (Werkzeug's development server) as a person starts it: its answers carry
the security headers and a `Server` header that names no version of anything."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str) -> http.client.HTTPResponse:
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            conn.close()
            return response
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_creditgate_serve_names_no_server_version(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "CREDITGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'cg.db'}",
        "CREDITGATE_SECRET_KEY": "test-secret",
    }
    env.pop("CREDITGATE_CONFIG", None)
    command = [sys.executable, "-c", "from connector.cli import main; main()"]
    subprocess.run([*command, "init-db"], env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = _get(port, "/login")
        api = _get(port, "/api/v1/gate/orders")  # 405 without a POST, from the same server
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert page.status == 200
    for response in (page, api):
        assert response.getheader("Server") == "creditgate"
        assert response.getheader("X-Content-Type-Options") == "nosniff"
        assert "frame-ancestors 'none'" in response.getheader("Content-Security-Policy", "")
