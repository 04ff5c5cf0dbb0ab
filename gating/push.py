"""Pushing warnings back where people work: the change to deliver and the target port.

A warning level change becomes one outbox row per target (in the transaction that records the
change); the push job hands each row to its target as a `WarningChange`. Delivery is at least
once, so targets make it idempotent with `change_id`: writing fields is naturally idempotent,
and a task or note is created only if none carrying this `change_id` exists yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

LEVELS = ("none", "reminder", "notice", "yellow", "orange", "red")
"""Warning levels, mildest first."""


@dataclass(frozen=True)
class WarningChange:
    change_id: str
    """Stable and unique per (customer, change): the idempotency key at the target."""
    customer_ref: str
    """The customer's id at the ERP creditgate synced it from (a Tryton party code, a NAV
    customer No.); a CRM finds its record by it (Zoho: the Account's ERP number field)."""
    level: str
    previous_level: str
    reasons: tuple[str, ...]
    """Why, in words with the figures, e.g. "oldest invoice INV-7 is 45 days overdue"."""
    step: str | None
    """The collection step to open as a task or note ("payment reminder", "call the customer",
    "formal overdue notice", "lawyer's letter", "start legal action"), or None."""
    hold: bool
    """Red: the customer is to be blocked / put on hold in the ERP."""
    decided_at: datetime


class PushTarget(Protocol):
    """An ERP or CRM that shows creditgate's warnings to the people who work there."""

    kind: str

    def push(self, change: WarningChange) -> None:
        """Write the level (and hold) on the customer's record; open the step's task or note
        once per `change.change_id`, however often the same change is pushed.

        :raises gating.errors.TargetUnavailable: the target is down, slow or rate-limiting;
            the change stays queued (honour `retry_after`).
        :raises gating.errors.TargetRejected: the target refuses this change for good.
        """
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class LevelChange:
    """A customer's new warning level, as recorded with its history and outbox rows."""

    customer_key: int
    """The store's own id of the customer."""
    previous: str | None
    """The level recorded before (None: never computed)."""
    change: WarningChange


@dataclass(frozen=True)
class OutboxItem:
    """One pending delivery of a change to one target."""

    id: int
    target: str
    attempts: int
    change: WarningChange
