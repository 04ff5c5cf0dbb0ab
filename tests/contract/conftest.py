"""The contract tests use the suite's own fixtures (tests/conftest.py), on SQLite only."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def backend() -> str:
    """SQLite only: the HTTP edge under test is the same on either database, and fast here."""
    return "sqlite"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """A business time zone ahead of UTC, as the dataset's customers have (dates turn into
    instants at both ends of the calendar); and a callback URL, so that releases and rejections
    queue notices (nothing is delivered: no test pushes the outbox)."""
    return {
        "timezone": "Asia/Shanghai",
        "callback_url": "http://127.0.0.1:9/creditgate",
        "callback_secret": "whsec-contract",
    }
