"""After a sync: every customer's warning level; each change recorded with its outbox rows."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from gating.errors import CurrencyRateMissing
from gating.model import Thresholds
from gating.money import Rates
from gating.push import LevelChange, WarningChange
from gating.rules import exposure_of
from gating.warnings import CustomerStanding, Standing, warning_for

log = logging.getLogger(__name__)

BATCH = 500


class WarningStore(Protocol):
    """What the job needs from the store (adapters.db.warnings_store implements it)."""

    def standings(
        self, source_id: int, today: date, tolerance: Decimal
    ) -> Iterator[CustomerStanding]: ...

    def oldest_overdue(
        self, customer_key: int, today: date, tolerance: Decimal
    ) -> tuple[date, str] | None: ...

    def record(
        self,
        changes: Sequence[LevelChange],
        checked: Sequence[int],
        targets: Sequence[str],
        now: datetime,
        thresholds_version: int,
        first_seen: Sequence[int] = (),
    ) -> None: ...


@dataclass
class WarningReport:
    source: str
    checked: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    """New level -> how many customers moved to it."""
    skipped: list[str] = field(default_factory=list)
    error: str | None = None
    """Why no level was worked out: where its changes go cannot be trusted (a source row
    changed outside creditgate)."""


def compute_warnings(
    source_id: int,
    source_name: str,
    *,
    store: WarningStore,
    thresholds: Thresholds,
    rates: Rates,
    clock: Callable[[], datetime],
    targets: Sequence[str],
) -> WarningReport:
    """Work out every customer's level; record the changes, queueing one push per target.

    Unchanged levels queue nothing. A customer whose balances are in a currency without a rate
    is skipped and reported, the others go on. Each batch is one transaction, so a crash leaves
    either a change with all its outbox rows or neither.
    """
    now = clock()
    today = now.date()
    report = WarningReport(source_name)
    changes: list[LevelChange] = []
    checked: list[int] = []
    first_seen: list[int] = []  # no level yet, and none to give: recorded, nothing pushed

    def flush() -> None:
        store.record(changes, checked, targets, now, thresholds.version, first_seen)
        changes.clear()
        checked.clear()
        first_seen.clear()

    for found in store.standings(source_id, today, thresholds.overdue_tolerance):
        party = found.party
        assert party.key is not None
        own = thresholds.for_party(party.ref, found.group_ref)
        try:
            exposure = exposure_of(party, rates, components=own.exposure_components).total
        except CurrencyRateMissing as exc:
            report.skipped.append(f"{party.ref}: {exc}")
            continue
        oldest_due, oldest_invoice = found.oldest_due, found.oldest_invoice
        if own.overdue_tolerance != thresholds.overdue_tolerance:
            oldest = store.oldest_overdue(party.key, today, own.overdue_tolerance)
            oldest_due, oldest_invoice = oldest if oldest else (None, None)
        warning = warning_for(
            Standing(
                today=today,
                exposure=exposure,
                credit_limit=party.credit_limit,
                currency=party.currency,
                oldest_due=oldest_due,
                oldest_invoice=oldest_invoice,
                next_due=found.next_due,
                next_invoice=found.next_invoice,
                on_hold=party.on_hold,
                hold_reason=party.hold_reason,
            ),
            own.warnings,
        )
        report.checked += 1
        if found.level is None and warning.level == "none":
            first_seen.append(party.key)
        elif warning.level == found.level:
            checked.append(party.key)
        else:
            report.changed[warning.level] = report.changed.get(warning.level, 0) + 1
            change = WarningChange(
                change_id=str(uuid.uuid4()),
                customer_ref=party.ref,
                level=warning.level,
                previous_level=found.level or "none",
                reasons=warning.reasons,
                step=warning.step,
                hold=warning.hold,
                decided_at=now,
                texts=warning.texts(),
            )
            changes.append(LevelChange(party.key, found.level, change))
        if len(changes) + len(checked) + len(first_seen) >= BATCH:
            flush()
    flush()
    return report
