"""One measured job of the sync benchmark, run in a fresh process so peak memory is its own.

    python -m bench.sync_jobs fetch URL SPEC
    python -m bench.sync_jobs sync  URL SPEC DB [--fresh] [--full] [--verify] [--profile FILE]

`fetch` reads every page of every entity through the HTTP adapter (the baseline); `sync` runs
`sync.engine.sync_source` with the same adapter into the SQLite file DB. Progress goes to
stderr; the last line on stdout is `RESULT {json}` for bench.sync_run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench import AUDIT_KEY
from bench.sync_data import Spec
from bench.sync_source import HttpSource
from config.settings import Settings
from config.wiring import Services, build_services
from gating.sources import ENTITIES, Page, Watermark

SOURCE_NAME = "bench-http"
SAMPLE_SIZE = 6  # customers whose exposure is checked against the generator
PROGRESS_EVERY = 100_000  # records between progress lines


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal", "-gatelock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class Ticker:
    """A progress line on stderr every PROGRESS_EVERY records."""

    def __init__(self, label: str) -> None:
        self.label, self.start, self.next = label, time.perf_counter(), PROGRESS_EVERY

    def __call__(
        self, entity: str, read: int, _written: int = 0, _total: int | None = None
    ) -> None:
        if read >= self.next:
            self.next = (read // PROGRESS_EVERY + 1) * PROGRESS_EVERY
            dt = time.perf_counter() - self.start
            print(
                f"    {self.label}: {entity} {read:>9,} read  ({dt:6.1f} s)",
                file=sys.stderr,
                flush=True,
            )


class TimedSource:
    """Wraps the adapter to add up the time spent getting pages (HTTP + parsing)."""

    def __init__(self, inner: HttpSource) -> None:
        self.inner, self.kind, self.fetch_seconds = inner, inner.kind, 0.0

    def _timed(self, pages: Iterator[Page[Any]]) -> Iterator[Page[Any]]:
        while True:
            t0 = time.perf_counter()
            try:
                page = next(pages)
            except StopIteration:
                self.fetch_seconds += time.perf_counter() - t0
                return
            self.fetch_seconds += time.perf_counter() - t0
            yield page

    def groups(self, since: Watermark | None) -> Iterator[Page[Any]]:
        return self._timed(self.inner.groups(since))

    def customers(self, since: Watermark | None) -> Iterator[Page[Any]]:
        return self._timed(self.inner.customers(since))

    def invoices(self, since: Watermark | None) -> Iterator[Page[Any]]:
        return self._timed(self.inner.invoices(since))

    def payments(self, since: Watermark | None) -> Iterator[Page[Any]]:
        return self._timed(self.inner.payments(since))

    def close(self) -> None:
        self.inner.close()


def fetch(url: str, spec: Spec, page_size: int) -> dict[str, Any]:
    adapter = HttpSource(f"{url}/ds/{spec.path()}", page_size=page_size)
    start_rss = rss_mb()
    tick = Ticker("fetch")
    read: dict[str, int] = {}
    errors = 0
    t0 = time.perf_counter()
    try:
        for entity in ENTITIES:
            n = 0
            for page in getattr(adapter, entity)(None):
                n += len(page.records) + len(page.errors)
                errors += len(page.errors)
                tick(entity, n)
            read[entity] = n
    finally:
        adapter.close()
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "read": read,
        "errors": errors,
        "requests": adapter.requests,
        "start_rss_mb": start_rss,
        "max_rss_mb": max_rss_mb(),
    }


def sync(
    url: str,
    spec: Spec,
    db: Path,
    *,
    page_size: int,
    fresh: bool,
    full: bool,
    verify: bool,
    profile: Path | None,
) -> dict[str, Any]:
    from sync.engine import sync_source

    if fresh:
        remove_db(db)
    services = build_services(Settings(database_url=f"sqlite:///{db}", audit_keys=(AUDIT_KEY,)))
    try:
        store = services.sync_store()
        if fresh:
            services.init_db()
            source_id = store.add_source(
                SOURCE_NAME, HttpSource.kind, url, {"spec": spec.path()}, services.clock()
            )
        else:
            source_id = store.source(SOURCE_NAME)["id"]
        adapter = TimedSource(HttpSource(f"{url}/ds/{spec.path()}", page_size=page_size))
        start_rss = rss_mb()
        profiler = cProfile.Profile() if profile else None
        t0 = time.perf_counter()
        try:
            if profiler:
                profiler.enable()
            report = sync_source(
                source_id,
                SOURCE_NAME,
                adapter,  # type: ignore[arg-type]
                store=store,
                clock=services.clock,
                full=full,
                progress=Ticker("sync"),
            )
        finally:
            if profiler:
                profiler.disable()
            adapter.close()
        seconds = time.perf_counter() - t0
        peak = max_rss_mb()
        result: dict[str, Any] = {
            "seconds": seconds,
            "fetch_seconds": adapter.fetch_seconds,
            "requests": adapter.inner.requests,
            "ok": report.ok,
            "read": {p.entity: p.read for p in report.entities},
            "written": {p.entity: p.written for p in report.entities},
            "skipped": {p.entity: p.skipped for p in report.entities},
            "failures": [p.failure for p in report.entities if p.failure],
            "errors": [str(e) for p in report.entities for e in p.errors[:3]],
            "runs": [
                {k: r[k] for k in ("entity", "status", "read", "written", "skipped")}
                for r in reversed(store.runs(source=SOURCE_NAME, limit=len(ENTITIES)))
            ],
            "start_rss_mb": start_rss,
            "max_rss_mb": peak,
            "db_mb": db.stat().st_size / 2**20,
        }
        if profiler and profile:
            profiler.dump_stats(profile)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            result["profile_top"] = out.getvalue()
        if verify:
            result["verify"] = check(services, source_id, spec)
        return result
    finally:
        services.engine.dispose()


def sample_customers(spec: Spec) -> list[int]:
    """A few customers, including some that own changed invoices when there are any."""
    c = spec.customers
    picks = [0, c // 2, c - 1]
    if spec.changed:
        picks += [spec.changed_index(0) % c, spec.changed_index(spec.changed - 1) % c]
    picks.append((c * 7) // 10)
    return sorted(set(picks))[:SAMPLE_SIZE]


def check(services: Services, source_id: int, spec: Spec) -> dict[str, Any]:
    """Is the synced data right? Counts, aggregates against rows, and a few customers'
    exposure against the generator (which never touched the server or the database)."""
    from gating.services import credit_position

    sid = {"sid": source_id}
    with services.engine.connect() as conn:

        def scalar(sql: str) -> int:
            return int(conn.execute(text(sql), sid).scalar_one() or 0)

        counts = {
            name: scalar(f"SELECT count(*) FROM {name} WHERE source_id = :sid")
            for name in ("groups", "customers", "invoices", "payments")
        }
        # Money is stored as integer 1/10,000 units on SQLite: these sums are exact.
        db_open = scalar("SELECT sum(open_amount) FROM invoices WHERE source_id = :sid")
        cancelled = scalar("SELECT count(*) FROM invoices WHERE source_id = :sid AND cancelled")
        bad_customers = scalar(
            """
            SELECT count(*) FROM customers c
            LEFT JOIN (SELECT customer_id, sum(open_amount) AS s FROM invoices
                       WHERE source_id = :sid GROUP BY customer_id) i ON i.customer_id = c.id
            LEFT JOIN (SELECT customer_id, sum(unapplied_amount) AS s FROM payments
                       WHERE source_id = :sid GROUP BY customer_id) p ON p.customer_id = c.id
            LEFT JOIN customer_balances b ON b.customer_id = c.id
            WHERE c.source_id = :sid AND (
                coalesce(b.open_invoices, 0) != coalesce(i.s, 0)
                OR coalesce(b.unapplied, 0) != coalesce(p.s, 0))
            """
        )
        bad_groups = scalar(
            """
            SELECT count(*) FROM groups g
            LEFT JOIN (SELECT c.group_id, sum(b.open_invoices) AS o, sum(b.unapplied) AS u
                       FROM customers c JOIN customer_balances b ON b.customer_id = c.id
                       WHERE c.source_id = :sid GROUP BY c.group_id) m ON m.group_id = g.id
            LEFT JOIN group_balances gb ON gb.group_id = g.id
            WHERE g.source_id = :sid AND (
                coalesce(gb.open_invoices, 0) != coalesce(m.o, 0)
                OR coalesce(gb.unapplied, 0) != coalesce(m.u, 0))
            """
        )
    expected_open = spec.total_open()
    samples = []
    for c in sample_customers(spec):
        ref = f"C-{c:06d}"
        want = spec.customer_expected(c)
        position = credit_position(
            SOURCE_NAME, ref, uow=services.read_uow(), clock=services.clock, rates=services.rates
        )
        got = position["exposure"]
        want_total = (want["open_invoices"] - want["unapplied"]) / 100
        samples.append(
            {
                "customer": ref,
                "expected": f"{want_total:.2f}",
                "db": str(got["total"]),
                "ok": got["open_invoices"] * 100 == want["open_invoices"]
                and got["unapplied_payments"] * 100 == want["unapplied"]
                and got["total"] * 100 == want["open_invoices"] - want["unapplied"],
            }
        )
    expected_counts = {e: spec.count(e) for e in ("groups", "customers", "invoices", "payments")}
    return {
        "counts": counts,
        "expected_counts": expected_counts,
        "total_open_db_cents": db_open // 100,  # stored in 1/10,000
        "total_open_expected_cents": expected_open,
        "cancelled": cancelled,
        "customers_with_wrong_balance": bad_customers,
        "groups_with_wrong_balance": bad_groups,
        "samples": samples,
        "ok": counts == expected_counts
        and db_open == expected_open * 100
        and bad_customers == 0
        and bad_groups == 0
        and all(s["ok"] for s in samples),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sync_jobs", description=__doc__)
    p.add_argument("job", choices=["fetch", "sync"])
    p.add_argument("url")
    p.add_argument("spec", help="groups-customers-invoices-payments-changed")
    p.add_argument("db", nargs="?", type=Path)
    p.add_argument("--fresh", action="store_true", help="start from an empty database")
    p.add_argument("--full", action="store_true", help="ignore the stored watermarks")
    p.add_argument("--verify", action="store_true", help="check the data after the sync")
    p.add_argument("--profile", type=Path, help="cProfile the sync into this file")
    p.add_argument("--page-size", type=int, default=5000)
    args = p.parse_args(argv)
    spec = Spec.from_path(args.spec)
    if args.job == "fetch":
        result = fetch(args.url, spec, args.page_size)
    else:
        if args.db is None:
            p.error("sync needs DB")
        result = sync(
            args.url,
            spec,
            args.db,
            page_size=args.page_size,
            fresh=args.fresh,
            full=args.full,
            verify=args.verify,
            profile=args.profile,
        )
    print("RESULT " + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
