"""The product's `wsgi:app`, built the same way but on the suite's fixed clock.

The shared dataset (tests/conftest.py) is dated around `tests.conftest.NOW`: its last sync, due
dates and payments. A server on the wall clock would see that data age (STALE_DATA after 48 h,
invoices drifting overdue) and the tests' expected reasons would change with the calendar.

`CREDITGATE_TEST_HOLD_SECONDS` (tests only): each gate decision waits this long after its read,
still inside its transaction and its locks. A decision takes well under a millisecond there, so
without the wait racing requests rarely overlap; with it, a lock that does not exclude (shared
advisory locks, no SQLite write lock) lets several decisions read the same balance.
"""

from __future__ import annotations

import os
import time
from typing import Any

from adapters.db.unit_of_work import SqlAlchemyUnitOfWork
from config.settings import Settings
from config.wiring import build_services
from connector import create_app
from connector.logs import configure_logging
from gating.ports import DecisionView
from tests.conftest import NOW, FixedClock

HOLD_SECONDS = float(os.environ.get("CREDITGATE_TEST_HOLD_SECONDS", "0"))


class _LingeringUnitOfWork(SqlAlchemyUnitOfWork):
    """The product's unit of work, waiting `HOLD_SECONDS` after a decision's read."""

    def decision_view(self, *args: Any, **kwargs: Any) -> DecisionView:
        view = super().decision_view(*args, **kwargs)
        time.sleep(HOLD_SECONDS)
        return view


settings = Settings.from_env(os.environ)
configure_logging(settings.log_level, settings.log_format or "json")
services = build_services(settings, clock=FixedClock(NOW, settings.zone))
if HOLD_SECONDS:
    services.uow = lambda: _LingeringUnitOfWork(services.engine, services.clock)  # type: ignore[method-assign]
app = create_app(services)
