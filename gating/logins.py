"""Logins under attack: how long a name or an address must wait after wrong passwords, and when
a name is locked until an admin lifts the lock.

Every attempt that gets to check a password counts as a failure until the password proves
right (`admit`), so attempts racing on several workers cannot all slip in before the first of
them is counted: past the free ones, one attempt per wait gets through. A name is throttled
whether or not a user has it, and answered alike, so the answers never tell which names exist.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Backoff:
    """Free failures, then a wait that doubles with each further one, up to `longest_wait`."""

    free: int
    first_wait: timedelta
    longest_wait: timedelta
    lock_after: int | None = None
    """Failures in a row that lock the name until an admin unlocks it; None: never locked."""
    forget_after: timedelta | None = None
    """A quiet time after which the count starts again; None: only a success resets it."""

    def wait_after(self, failures: int) -> timedelta:
        """The wait before the next attempt after `failures` failures: none below `free`, then
        first_wait after exactly `free`, twice that after one more, ..., never above
        longest_wait."""
        over = failures - self.free
        if over < 0:
            return timedelta(0)
        doubled: timedelta = self.first_wait * 2 ** min(over, 32)
        return min(doubled, self.longest_wait)


SESSION_LIFETIME = timedelta(hours=8)
"""A login lasts this long at most (the cookie's life, and checked against the session's row)."""

# A user name (whether or not a user has it): 5 free, then 2, 4, 8, 16, 32 s; the 10th failure
# in a row locks it (62 s of waiting at the least before an attacker gets there).
ACCOUNT = Backoff(
    free=5, first_wait=timedelta(seconds=2), longest_wait=timedelta(minutes=15), lock_after=10
)
# A client address, over every name it tries: offices share one, so 20 free; then 2 s doubling
# up to 15 minutes; forgotten after an hour without a failure.
ADDRESS = Backoff(
    free=20,
    first_wait=timedelta(seconds=2),
    longest_wait=timedelta(minutes=15),
    forget_after=timedelta(hours=1),
)


@dataclass(frozen=True)
class Attempts:
    """What is kept per name and per address (failures in a row, counted at the attempt)."""

    failures: int = 0
    last_failed_at: datetime | None = None
    retry_at: datetime | None = None
    locked_at: datetime | None = None
    failed_before: datetime | None = None
    """`last_failed_at` before the attempt now being checked counted itself as a failure: a right
    password puts it back, so a quiet time is counted from the last real failure."""


@dataclass(frozen=True)
class Admission:
    """Whether an attempt may check its password; if not, whether locked or until when."""

    allowed: bool
    locked: bool = False
    retry_at: datetime | None = None


def admit(policy: Backoff, attempts: Attempts, now: datetime) -> tuple[Admission, Attempts]:
    """The verdict on an attempt made at `now`, and the state to keep (counting it as failed)."""
    if attempts.locked_at is not None:
        return Admission(False, locked=True), attempts
    if (
        policy.forget_after is not None
        and attempts.last_failed_at is not None
        and now - attempts.last_failed_at >= policy.forget_after
    ):
        attempts = Attempts()
    if attempts.retry_at is not None and now < attempts.retry_at:
        return Admission(False, retry_at=attempts.retry_at), attempts
    failures = attempts.failures + 1
    wait = policy.wait_after(failures)
    counted = Attempts(failures, now, now + wait if wait else None, None, attempts.last_failed_at)
    return Admission(True), counted


def failed(policy: Backoff, attempts: Attempts, now: datetime) -> Attempts:
    """The state after the admitted attempt's password proved wrong: locked at `lock_after`."""
    if policy.lock_after is not None and attempts.failures >= policy.lock_after:
        return replace(attempts, locked_at=attempts.locked_at or now)
    return attempts


def succeeded(attempts: Attempts) -> Attempts:
    """The state after the admitted attempt's password proved right: it was no failure, so its
    count, its time and the wait it set are taken back (people logging in behind one address
    never keep that address slowed down; only failures do)."""
    return replace(
        attempts,
        failures=max(0, attempts.failures - 1),
        last_failed_at=attempts.failed_before,
        retry_at=None,
        failed_before=None,
    )


def later(*admissions: Admission) -> datetime | None:
    """The latest time any of the refusals asks to wait until."""
    times = [a.retry_at for a in admissions if a.retry_at is not None]
    return max(times) if times else None
