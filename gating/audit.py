"""What auditors ask of the record: which decisions and audit events, over which period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo


def end_of_day(day: date, zone: tzinfo) -> datetime:
    """The instant `day` ends in the business zone: the next midnight (when a release through
    `day` lapses, and where a period ending on `day` stops)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


@dataclass(frozen=True)
class Period:
    """Whole days in the business time zone, both ends included; either end may be open."""

    first: date | None = None
    last: date | None = None

    def bounds(self, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """[since, until) as aware instants: the first day's midnight, the day after the last's."""
        since = None if self.first is None else datetime.combine(self.first, time(0), zone)
        until = None if self.last is None else end_of_day(self.last, zone)
        return since, until


@dataclass(frozen=True)
class DecisionQuery:
    source: str | None = None
    customer_id: str | None = None
    order_id: str | None = None
    outcome: str | None = None
    reason: str | None = None  # one reason code the decision must carry
    period: Period = Period()


@dataclass(frozen=True)
class EventQuery:
    action: str | None = None
    actor: str | None = None
    subject: str | None = None
    period: Period = Period()
