"""Load a parsed batch for one source in one transaction, and record the run."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from adapters.csv_folder.reader import FileBatch, gc_paused
from adapters.db.loader import Loader, LoadReport
from adapters.db.tables import sources, sync_runs
from gating.errors import SourceNotFound
from gating.records import RecordError


class DbImportStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load_batch(self, source: str, batch: FileBatch, now: datetime) -> LoadReport:
        """:raises SourceNotFound:"""
        # The cyclic garbage collector is paused for the load, as for the parse: a large batch
        # is millions of objects it would walk again and again, and the load makes few cycles.
        with gc_paused(), self.engine.begin() as conn:
            source_id = conn.execute(select(sources.c.id).where(sources.c.name == source)).scalar()
            if source_id is None:
                raise SourceNotFound(source)
            loader = Loader(conn, source_id, now)
            loader.groups(batch.groups)
            loader.customers(batch.customers)
            loader.invoices(batch.invoices)
            loader.payments(batch.payments)
            report = loader.finish()
            report.errors = [_locate(e, batch) for e in report.errors]
            errors = [*batch.errors, *report.errors]
            conn.execute(
                insert(sync_runs).values(
                    source_id=source_id,
                    entity="file_import",
                    started_at=now,
                    finished_at=now,
                    status="succeeded_with_errors" if errors else "succeeded",
                    read=sum(batch.read.values()),
                    written=sum(report.written.values()),
                    skipped=len(errors),
                    errors=[
                        {
                            "entity": e.entity,
                            "record_id": e.record_id,
                            "reason": e.reason,
                            "file": e.file,
                            "line": e.line,
                        }
                        for e in errors[:1000]
                    ],
                )
            )
            conn.execute(
                update(sources).where(sources.c.id == source_id).values(last_success_at=now)
            )
        return report


def _locate(error: RecordError, batch: FileBatch) -> RecordError:
    """Give a record the store skipped the file and line it came from, when it came from one."""
    where = batch.where(error.entity, error.record_id)
    if where is None or error.file is not None:
        return error
    return replace(error, file=where[0], line=where[1])
