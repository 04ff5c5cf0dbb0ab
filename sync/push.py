"""Deliver the outbox: each target's pending changes, in order, at least once; never lost."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, cast

from gating.errors import TargetRejected, TargetUnavailable
from gating.push import HoldNotice, NoticeTarget, OutboxItem, PushTarget

log = logging.getLogger(__name__)

# Waits between runs for a target that stays down: 1, 2, 4 ... minutes, at most an hour.
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)


class OutboxStore(Protocol):
    def due(self, target: str, now: datetime, limit: int = 500) -> list[OutboxItem]: ...

    def delivered(self, item_id: int, now: datetime) -> None: ...

    def failed(self, item_id: int, error: str) -> None: ...

    def deferred(self, item_id: int, error: str, until: datetime) -> None: ...


@dataclass
class PushReport:
    target: str
    delivered: int = 0
    failed: list[str] = field(default_factory=list)
    waiting: int = 0
    error: str | None = None
    """Why the target's remaining changes wait for a later run (it was unavailable)."""


def push_pending(
    targets: Mapping[str, PushTarget | NoticeTarget],
    *,
    store: OutboxStore,
    clock: Callable[[], datetime],
) -> list[PushReport]:
    """Push every target's due changes oldest first.

    A target that is unavailable (after its adapter's own retries) keeps its changes, in order,
    for a later run: the first waiting row is deferred by the target's Retry-After or a
    doubling wait (at most LONGEST_WAIT), and the target is left alone until then; an error
    nobody foresaw does the same, so one target's fault never stops the others. A change the
    target refuses for good is marked failed (and listed by GET /api/v1/outbox?status=failed);
    the rest go on.
    A change is marked delivered only after the target took it; if the process dies in between,
    the next run pushes it again and the target's idempotency (the change id) makes that a
    no-op.
    """
    reports = []
    for name, target in targets.items():
        report = PushReport(name)
        items = store.due(name, clock())
        for n, item in enumerate(items):
            try:
                if isinstance(item.change, HoldNotice):
                    # Queued only for targets that take notices (the callback URL).
                    cast(NoticeTarget, target).push(item.change)
                else:
                    target.push(item.change)
            except TargetUnavailable as exc:
                wait = _wait(item.attempts, exc.retry_after)
                store.deferred(item.id, str(exc), clock() + wait)
                report.error = str(exc)
                report.waiting = len(items) - n
                log.warning("push to %s waits %s: %s", name, wait, exc)
                break
            except TargetRejected as exc:
                store.failed(item.id, str(exc))
                report.failed.append(f"{item.change.customer_ref}: {exc}")
                log.warning("push to %s refused for %s: %s", name, item.change.customer_ref, exc)
            except Exception as exc:  # a fault no adapter foresaw: this target waits, not others
                wait = _wait(item.attempts, None)
                store.deferred(item.id, f"unexpected error: {exc!r}", clock() + wait)
                report.error = f"unexpected error: {exc!r}"
                report.waiting = len(items) - n
                log.exception("push to %s waits %s after an unexpected error", name, wait)
                break
            else:
                store.delivered(item.id, clock())
                report.delivered += 1
        reports.append(report)
    return reports


def _wait(attempts: int, retry_after: float | None) -> timedelta:
    """The target's Retry-After, else a doubling wait; at least a second, at most LONGEST_WAIT
    (a target that asks for longer is asked again then)."""
    longest = LONGEST_WAIT.total_seconds()
    if retry_after is not None and math.isfinite(retry_after):
        return timedelta(seconds=min(max(retry_after, 1.0), longest))
    backoff: timedelta = FIRST_WAIT * (2 ** min(attempts, 10))
    return min(LONGEST_WAIT, backoff)
