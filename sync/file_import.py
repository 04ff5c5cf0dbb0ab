"""Import a folder of CSV exports as one sync: parse, skip bad rows, load the rest atomically."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from gating.records import RecordError


class ImportStore(Protocol):
    """What an import needs from the store (adapters.db.imports implements it)."""

    def load_batch(self, source: str, batch: Any, now: datetime) -> Any: ...


@dataclass
class ImportResult:
    source: str
    read: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    errors: list[RecordError] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.errors)


def import_folder(
    folder: Path,
    source: str,
    *,
    read_folder: Callable[[Path], Any],
    store: ImportStore,
    clock: Callable[[], datetime],
) -> ImportResult:
    """Parse every file first, then load all good records in one transaction.

    A crash or a database error leaves the store exactly as it was before: nothing half-written.
    """
    batch = read_folder(folder)
    report = store.load_batch(source, batch, clock())
    return ImportResult(
        source=source,
        read=dict(batch.read),
        written=dict(report.written),
        errors=[*batch.errors, *report.errors],
    )
