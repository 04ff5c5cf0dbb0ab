"""The nightly job: pull every source, under a database lease so two schedulers never overlap."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

log = logging.getLogger(__name__)

JOB = "nightly-sync"


class Lease(Protocol):
    def try_lock(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool: ...

    def unlock(self, name: str, holder: str) -> None: ...


def run_exclusively(
    job: Callable[[], object],
    *,
    lease: Lease,
    holder: str,
    clock: Callable[[], datetime],
    ttl: timedelta = timedelta(hours=6),
) -> bool:
    """Run `job` unless another scheduler holds the lease; return whether it ran.

    The lease expires after `ttl`, so a scheduler that died mid-run does not block the next night.
    """
    if not lease.try_lock(JOB, holder, clock(), ttl):
        log.info("%s: another scheduler is running it; skipped", JOB)
        return False
    try:
        job()
    finally:
        lease.unlock(JOB, holder)
    return True


def run_seal(seal: Callable[[], int], count: Callable[[str], None]) -> int | None:
    """One periodic seal of the audit trail: how many rows it chained, or None when it failed.

    A failure is an error in the log and counted (`count("failed")`, a Prometheus counter in
    the scheduler), so a sealer that keeps failing is seen, not a silent loop; the next run
    seals what this one could not. No row's content can make it fail (audit_chain.row_hash)."""
    try:
        sealed = seal()
    except Exception:
        log.exception("sealing the audit trail failed")
        count("failed")
        return None
    count("ok")
    return sealed
