"""Run the product's own `wsgi:app` (or a variant of it) under real gunicorn on a free loopback
port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, thresholds: Mapping[str, str], rates: Mapping[str, object]) -> Path:
    """A CREDITGATE_CONFIG TOML file with these [thresholds] and [rates]."""
    lines = ["[thresholds]"]
    lines += [f'{k} = "{v}"' for k, v in thresholds.items()]
    lines += ["", "[rates]"]
    lines += [f'{k} = "{v}"' for k, v in rates.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def gunicorn(
    env: Mapping[str, str],
    log_path: Path,
    *,
    workers: int = 2,
    extra: tuple[str, ...] = (),
    app: str = "wsgi:app",
) -> Iterator[str]:
    """Serve `app` (the product's own by default) with `workers` sync workers; yield the base
    URL; always stop it.

    `env` is added to this process's environment (CREDITGATE_DATABASE_URL and friends)."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--chdir", str(ROOT), "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", "sync", "--graceful-timeout", "5",
        "--log-level", "warning", *extra, app,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, base, log_path)
        yield base
    finally:
        _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log_path.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(base + "/healthz", timeout=5).status_code < 500:
                return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn never answered: {log_path.read_text(errors='replace')[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what this test started
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
