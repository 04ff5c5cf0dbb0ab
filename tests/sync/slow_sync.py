"""`python -m tests.sync.slow_sync URL SOURCE_ID ISO_NOW`: a sync that stores one page of groups,
then waits on its source for ever, for a test to kill (tests/sync/test_abandoned_runs.py)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from config.settings import Settings
from config.wiring import build_services
from gating.records import GroupData
from gating.sources import Page, Watermark
from sync.engine import sync_source


class HangingSource:
    """One page, then a source that never answers again."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def groups(self, since: Any) -> Iterator[Page[Any]]:
        records = [GroupData("G-SLOW", "Slow Holdings", None, "CNY")]
        yield Page(records, (), Watermark(self.now, "G-SLOW"))
        while True:
            time.sleep(60)

    def close(self) -> None:
        pass


def main() -> None:
    url, source_id, now = sys.argv[1], int(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
    keys = (os.environ["CREDITGATE_AUDIT_KEY"],)  # the suite's key (tests/conftest.py)
    services = build_services(Settings(database_url=url, audit_keys=keys), clock=lambda: now)
    sync_source(
        source_id,
        "files",
        HangingSource(now),  # type: ignore[arg-type]
        store=services.sync_store(),
        clock=lambda: now,
    )


if __name__ == "__main__":
    main()
