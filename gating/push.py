"""Pushing warnings back where people work: the change to deliver and the target port.

A warning level change becomes one outbox row per target (in the transaction that records the
change); the push job hands each row to its target as a `WarningChange`. Delivery is at least
once, so targets make it idempotent with `change_id`: writing fields is naturally idempotent,
and a task or note is created only if none carrying this `change_id` exists yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
    texts: Mapping[str, tuple[tuple[str, ...], str | None]] = field(
        default_factory=dict, compare=False
    )
    """The reasons and step in other languages, by tag ("zh-CN"): a target whose source has
    `language` set reads them (`in_language`); English is `reasons` and `step`."""

    def in_language(self, language: str | None) -> WarningChange:
        """The change as a target set to `language` is to show it (English when it has none)."""
        if language is None or language not in self.texts:
            return self
        reasons, step = self.texts[language]
        return replace(self, reasons=reasons, step=step if self.step is not None else None)


@dataclass(frozen=True)
class HoldNotice:
    """A held order's resolution, told to the ERP that asked about it, so nobody has to poll.

    Like a WarningChange it goes through the outbox, at least once; `change_id` is the
    idempotency key the receiver deduplicates on.
    """

    change_id: str
    source: str
    order_id: str
    customer_ref: str
    action: str
    """"released", "rejected" or "auto_released" (a re-evaluation found the reasons gone)."""
    outcome: str
    """What the gate answers for the order from now on: "approved" or "blocked"."""
    actor: str
    """Who resolved it: the API client or user, or "system" for an automatic release."""
    reason: str
    cap: str | None
    """The most the release approves (in `currency`), or None for the order's amount."""
    currency: str
    expires_at: datetime | None
    """When an unused release lapses, or None."""
    decision_id: str | None
    """The decision that approved the order (automatic releases), else None."""
    decided_at: datetime


def notice_document(notice: HoldNotice) -> dict[str, object]:
    """The JSON form a callback receives (and the outbox keeps)."""
    return {
        "event": "hold_resolution",
        "change_id": notice.change_id,
        "source": notice.source,
        "order_id": notice.order_id,
        "customer_id": notice.customer_ref,
        "action": notice.action,
        "outcome": notice.outcome,
        "actor": notice.actor,
        "reason": notice.reason,
        "cap": notice.cap,
        "currency": notice.currency,
        "expires_at": notice.expires_at.isoformat() if notice.expires_at else None,
        "decision_id": notice.decision_id,
        "decided_at": notice.decided_at.isoformat(),
    }


def warning_document(change: WarningChange) -> dict[str, object]:
    """The JSON form a callback receives for a warning level change."""
    return {
        "event": "warning",
        "change_id": change.change_id,
        "customer_id": change.customer_ref,
        "level": change.level,
        "previous_level": change.previous_level,
        "reasons": list(change.reasons),
        "step": change.step,
        "hold": change.hold,
        "decided_at": change.decided_at.isoformat(),
    }


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


class NoticeTarget(Protocol):
    """A callback URL at the ERP: takes hold notices as well as warning changes, each at least
    once, deduplicated by its `change_id` (adapters/callback.py)."""

    kind: str

    def push(self, change: WarningChange | HoldNotice) -> None:
        """:raises TargetUnavailable, TargetRejected: as PushTarget.push."""
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
    change: WarningChange | HoldNotice
