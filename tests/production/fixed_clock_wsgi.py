"""The product's `wsgi:app`, built the same way but on the suite's fixed clock.

The shared dataset (tests/conftest.py) is dated around `tests.conftest.NOW`: its last sync, due
dates and payments. A server on the wall clock would see that data age (STALE_DATA after 48 h,
invoices drifting overdue) and the tests' expected reasons would change with the calendar.
"""

from __future__ import annotations

import os

from config.settings import Settings
from config.wiring import build_services
from connector import create_app
from connector.logs import configure_logging
from tests.conftest import NOW, FixedClock

settings = Settings.from_env(os.environ)
configure_logging(settings.log_level, settings.log_format or "json")
app = create_app(build_services(settings, clock=FixedClock(NOW, settings.zone)))
