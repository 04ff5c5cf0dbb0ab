"""Fixtures of the production tests: a PostgreSQL cluster of the test's own, which it may stop,
freeze or crash."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests import databases


@pytest.fixture
def cluster() -> Iterator[databases.Cluster]:
    try:
        cluster = databases.start_cluster()
    except databases.PostgresUnavailable as exc:
        if os.environ.get(databases.REQUIRE_ENV):
            pytest.fail(f"PostgreSQL is required but no cluster can be started: {exc}")
        pytest.skip(f"needs a PostgreSQL cluster it may stop: {exc}")
    yield cluster
    cluster.stop()
