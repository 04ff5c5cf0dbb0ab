"""A product server started as a subprocess for a test: on a free loopback port, waited for
until /healthz answers, always stopped."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(
    command: Callable[[int], list[str]], log: Path, cwd: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run `command(port)` (its output in `log`) and yield its base URL once it answers."""
    import requests

    port = free_port()
    kwargs: dict[str, Any] = {"cwd": cwd, "stderr": subprocess.STDOUT}
    if env is not None:
        kwargs["env"] = env
    with log.open("wb") as out:
        server = subprocess.Popen(command(port), stdout=out, **kwargs)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
