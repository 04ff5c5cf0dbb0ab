"""Fetching the next page while the current one is stored keeps order, errors and bounds."""

from __future__ import annotations

import threading
import time

import pytest

from gating.sources import Page
from sync.engine import prefetched


def _pages(n, fail_at=None, fetched=None):
    for i in range(n):
        if i == fail_at:
            raise ConnectionError(f"lost at page {i}")
        if fetched is not None:
            fetched.append(i)
        yield Page([i])


def test_pages_arrive_in_order_and_all_of_them():
    assert [p.records[0] for p in prefetched(_pages(50))] == list(range(50))


def test_a_source_error_comes_after_the_pages_fetched_before_it():
    seen = []
    with pytest.raises(ConnectionError, match="lost at page 3"):
        for page in prefetched(_pages(10, fail_at=3)):
            seen.append(page.records[0])
    assert seen == [0, 1, 2]


def test_the_source_runs_at_most_one_page_ahead():
    fetched = []
    pages = prefetched(_pages(10, fetched=fetched))
    first = next(pages)
    time.sleep(0.2)  # give the fetcher every chance to run ahead
    assert first.records == [0]
    assert len(fetched) <= 3  # the page handed out, one waiting, one being fetched
    pages.close()


def test_stopping_early_stops_the_fetcher():
    before = threading.active_count()
    pages = prefetched(_pages(1000))
    next(pages)
    pages.close()
    time.sleep(0.3)
    assert threading.active_count() <= before
