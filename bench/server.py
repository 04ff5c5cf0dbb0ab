"""Run gunicorn on a free loopback port for the benchmark, and always stop it afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a server started in its own session, then SIGKILL its process group if it
    lingers; close its stdout pipe if it has one."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    # The server ran in its own session, so its process group id is its pid: this reaches only
    # the processes this benchmark started.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()


@contextlib.contextmanager
def gunicorn(
    database_url: str,
    log_path: Path,
    *,
    workers: int = 2,
    threads: int = 1,
    worker_class: str = "sync",
) -> Iterator[str]:
    """Serve bench.wsgi_app with gunicorn (gthread) and yield its base URL."""
    port = free_port()
    env = {**os.environ, "CREDITGATE_DATABASE_URL": database_url, "CREDITGATE_LOG_LEVEL": "WARNING"}
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(ROOT),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
        "bench.wsgi_app:app",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, base, log_path, workers)
        yield base
    finally:
        stop_process(proc)


def _wait_ready(proc: subprocess.Popen[bytes], base: str, log_path: Path, workers: int) -> None:
    deadline = time.monotonic() + 60
    ok = 0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{tail}")
        try:
            # Fresh connections, so each worker gets a chance to answer (and import the app).
            r = requests.get(base + "/bench/ping", timeout=5)
            ok = ok + 1 if r.status_code == 200 else 0
        except requests.RequestException:
            ok = 0
        if ok >= workers * 4:
            return
        time.sleep(0.05)
    tail = log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"gunicorn did not answer on {base} within 60 s:\n{tail}")
