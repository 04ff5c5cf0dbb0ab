"""A release's last day becomes an instant in one place, the hold desk (gating/holds.py): the API
and the page only hand it the date the person chose."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from gating.audit import end_of_day
from gating.commands import ReleaseOrder
from gating.errors import OrderNotFound
from gating.holds import HoldDesk, ReleaseInThePast
from gating.money import Rates
from gating.ports import UnitOfWork
from tests.fakes import FakeStore, FakeUnitOfWork, FixedClock

SHANGHAI = timezone(timedelta(hours=8))
# 00:30 in Shanghai is still the day before in UTC: "today" is the business zone's.
NOW = datetime(2026, 11, 22, 0, 30, tzinfo=SHANGHAI)
TODAY = date(2026, 11, 22)
RATES = Rates("CNY", {"USD": Decimal("7.2")})


def desk(store: FakeStore, opened: list[UnitOfWork]) -> HoldDesk:
    def uow() -> UnitOfWork:
        made = FakeUnitOfWork(store)
        opened.append(made)
        return made

    return HoldDesk(uow, FixedClock(NOW), RATES, SHANGHAI)


def release(expires_on: date | None) -> ReleaseOrder:
    return ReleaseOrder("erp", "SO-1", "paid by phone", "ada", "admin", expires_on=expires_on)


def test_a_release_through_a_day_lapses_at_the_next_midnight_in_the_business_zone() -> None:
    assert end_of_day(TODAY, SHANGHAI) == datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI)
    assert end_of_day(date(2026, 12, 31), SHANGHAI) == datetime(2027, 1, 1, tzinfo=SHANGHAI)


def test_a_release_whose_last_day_is_yesterday_is_refused_before_the_store_is_opened() -> None:
    store, opened = FakeStore(), []
    store.add_source("erp")

    with pytest.raises(ReleaseInThePast) as refused:
        desk(store, opened).release(release(TODAY - timedelta(days=1)))

    assert (refused.value.last_day, refused.value.today) == (TODAY - timedelta(days=1), TODAY)
    assert refused.value.field == "expires_on"
    assert opened == []


@pytest.mark.parametrize("last_day", [TODAY, None])
def test_a_release_through_today_or_without_an_end_goes_on_to_the_order(
    last_day: date | None,
) -> None:
    store, opened = FakeStore(), []
    store.add_source("erp")

    with pytest.raises(OrderNotFound):  # past the date's check: the order is looked up
        desk(store, opened).release(release(last_day))

    assert len(opened) == 1
