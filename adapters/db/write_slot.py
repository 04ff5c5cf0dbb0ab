"""A queue for SQLite's single writer that wakes the next writer at once.

SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps between
tries (1 ms growing to 100 ms) and is not woken when the lock frees, so the database often sits
idle while writers sleep. Gate writers queue here instead: threads of one process on a lock,
processes on an flock() of a file beside the database, polled every few hundred microseconds.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time

_POLL = 0.0003


class WriteSlot:
    def __init__(self, lock_path: str | None) -> None:
        self._threads = threading.Lock()
        self._path = lock_path
        self._fd: tuple[int, int] | None = None  # (pid, fd): reopened after a fork

    def _file(self) -> int:
        pid = os.getpid()
        if self._fd is None or self._fd[0] != pid:
            assert self._path is not None
            self._fd = (pid, os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600))
        return self._fd[1]

    def acquire(self, timeout: float) -> float | None:
        """Wait up to `timeout` seconds for the slot; return the time left, or None if none."""
        deadline = time.monotonic() + timeout
        if not self._threads.acquire(timeout=timeout):
            return None
        if self._path is not None:
            fd = self._file()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        self._threads.release()
                        return None
                    time.sleep(_POLL)
        return max(0.0, deadline - time.monotonic())

    def release(self) -> None:
        if self._path is not None:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        self._threads.release()
