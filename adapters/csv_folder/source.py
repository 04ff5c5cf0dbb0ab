"""A folder of CSV exports as a sync source, for ERPs that only export files (reader.py reads
them)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.csv_folder.reader import read_file
from gating.sources import Entity, Page, Watermark

PAGE_SIZE = 5000


class CsvFolderSource:
    """Each file is one snapshot of an entity: read again whenever it changed since the last sync
    (its modification time is the watermark), skipped when it did not."""

    kind = "csv-folder"

    def __init__(self, folder: Path, page_size: int = PAGE_SIZE) -> None:
        self.folder = folder
        self.page_size = page_size

    def _pages(self, entity: Entity, since: Watermark | None) -> Iterator[Page[Any]]:
        if not self.folder.is_dir():
            raise FileNotFoundError(f"{self.folder} is not a folder")
        path = self.folder / f"{entity}.csv"
        if not path.is_file():
            return
        changed = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        mark = Watermark(changed, path.name)
        if since is not None and changed <= since.changed_at:
            return
        batch = read_file(path)
        records: Sequence[Any] = getattr(batch, entity)
        errors = batch.errors
        if not records:
            yield Page((), errors, mark)
            return
        for start in range(0, len(records), self.page_size):
            last = start + self.page_size >= len(records)
            yield Page(
                records[start : start + self.page_size],
                errors if start == 0 else (),
                mark if last else None,  # the file counts as read only once all of it landed
            )

    def count(self, entity: Entity, since: Watermark | None) -> int | None:
        """The file's data lines if it changed since `since` (quoted newlines aside), else 0."""
        path = self.folder / f"{entity}.csv"
        if not path.is_file():
            return 0
        changed = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        if since is not None and changed <= since.changed_at:
            return 0
        with path.open("rb") as fh:
            return max(0, sum(1 for _ in fh) - 1)

    def groups(self, since: Watermark | None) -> Iterator[Page[Any]]:
        return self._pages("groups", since)

    def customers(self, since: Watermark | None) -> Iterator[Page[Any]]:
        return self._pages("customers", since)

    def invoices(self, since: Watermark | None) -> Iterator[Page[Any]]:
        return self._pages("invoices", since)

    def payments(self, since: Watermark | None) -> Iterator[Page[Any]]:
        return self._pages("payments", since)

    def close(self) -> None:
        return None
