"""gunicorn settings for creditgate: `gunicorn -c config/gunicorn_conf.py wsgi:app`.

Only the hooks that keep Prometheus metrics right across workers live here; pass workers,
bind and the rest on the command line as usual. With PROMETHEUS_MULTIPROC_DIR set, every
worker writes its counters to files in that directory and /metrics adds them up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def on_starting(server: Any) -> None:
    """Start from zero: files left by an earlier run would add its counts to this one's."""
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A worker died or was replaced: drop its live-gauge files (its counters stay counted)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
