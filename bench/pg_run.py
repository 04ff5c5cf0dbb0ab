"""creditgate benchmark on PostgreSQL: `python -m bench.pg_run` (see bench/README.md).

Loads 100,000 customers and 2,000,000 invoices through the real CSV import into PostgreSQL (and
into SQLite, for comparison), then measures the gate on PostgreSQL through gunicorn. Every
headline figure is a ratio against a baseline measured in the same run, because the machines it
runs on are shared and noisy. Not a test: it never fails on a missed target, it reports it.

The import has two baselines: the rows it wrote, bulk-loaded into a fresh database with the
product's schema (the headline: what storing creditgate's rows costs the database itself), and
the CSV rows bulk-loaded into index-less staging tables (context: the disk and the driver).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import signal
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import requests
from sqlalchemy import select, update

from adapters.csv_folder.reader import read_folder
from adapters.db.tables import sources
from bench import AUDIT_KEY, bigsmall, dataset, load, plain_load
from bench.dataset import Params
from bench.pg_server import PgServer, pg_server
from bench.plain_load import PlainLoad
from bench.run import _on_sigterm, code_version, verdict
from bench.server import gunicorn
from config.settings import Settings
from config.wiring import Services, build_services, system_clock
from gating.commands import CreateApiClient

TARGET_LOAD = 0.3  # import ÷ plain bulk load of the same rows into the same tables, at least
TARGET_THROUGHPUT = 0.5  # gate req/s ÷ trivial req/s, at least
TARGET_BIG_SMALL = 1.3  # big customer's median decision time ÷ small one's, at most
SAME_TABLE_RUNS = 2  # plain loads of the import's rows into the same tables, averaged


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.pg_run", description=__doc__)
    p.add_argument("--customers", type=int, default=100_000, help="ordinary customers")
    p.add_argument("--invoices", type=int, default=2_000_000, help="their invoices, in total")
    p.add_argument("--big-invoices", type=int, default=100_000, help="open invoices of C-BIG")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each timed segment")
    p.add_argument(
        "--rounds", type=int, default=2, help="trivial/gate segment pairs (then one more trivial)"
    )
    p.add_argument("--clients", type=int, default=16, help="concurrent client threads")
    p.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    p.add_argument("--pairs", type=int, default=500, help="big/small alternations in-process")
    p.add_argument("--http-pairs", type=int, default=200, help="big/small alternations via HTTP")
    p.add_argument("--no-sqlite", action="store_true", help="skip the SQLite load comparison")
    p.add_argument("--rebuild", action="store_true", help="regenerate the cached CSVs")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2,000 customers, 40,000 invoices, C-BIG with 5,000, 2 s segments",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.customers, args.invoices, args.big_invoices = 2_000, 40_000, 5_000
        args.seconds, args.rounds, args.pairs, args.http_pairs = 2.0, 1, 50, 30
    if min(args.customers, args.clients, args.rounds, args.pairs, args.http_pairs) < 1:
        p.error("--customers, --clients, --rounds, --pairs and --http-pairs must be at least 1")
    if not 0 < args.seconds <= 600:
        p.error("--seconds must be between 0 and 600")
    return args


@dataclass
class LoadFigures:
    """One database's import, against two baselines of plain bulk loads.

    - staging: the CSV rows into index-less staging tables, once before the import, once after
      (`plain_load.postgres_copy` / `sqlite_executemany`): the disk and the driver.
    - same tables: exactly the rows the import wrote, into a fresh database with the product's
      schema (`plain_load.postgres_copy_tables` / `sqlite_executemany_tables`): what the
      database itself needs to store them, indexes, constraints and foreign keys included.

    Both ratios compare the time of the same data: import time against plain load time.
    """

    database: str
    rows: int  # CSV rows
    import_seconds: float
    plain: list[PlainLoad]  # staging tables, before and after the import
    written: dict[str, int]
    same: list[PlainLoad] = field(default_factory=list)  # the import's rows, same tables

    @property
    def how(self) -> str:
        return "COPY" if self.database == "PostgreSQL" else "executemany"

    @property
    def import_rate(self) -> float:
        return self.rows / self.import_seconds

    @property
    def plain_rate(self) -> float:
        """Rows over the mean time of the staging loads (one before the import, one after)."""
        return self.rows / statistics.mean(p.seconds for p in self.plain)

    @property
    def ratio(self) -> float:
        """import/plain COPY into staging tables: the same CSV rows on both sides."""
        return self.import_rate / self.plain_rate

    @property
    def same_seconds(self) -> float:
        """The mean time of the same-table loads."""
        return statistics.mean(p.seconds for p in self.same)

    @property
    def same_ratio(self) -> float:
        """import/plain load into the same tables: plain load time ÷ import time, the same
        data (the CSV rows the import read, as the table rows it wrote)."""
        return self.same_seconds / self.import_seconds

    def line(self) -> str:
        return (
            f"import {self.rows:,} CSV rows in {self.import_seconds:.1f} s = "
            f"{self.import_rate:,.0f} rows/s"
        )

    def same_line(self) -> str:
        rows = self.same[0].rows
        tables = ", ".join(f"{name} {n:,}" for name, n in self.same[0].tables.items())
        times = " / ".join(f"{p.seconds:.1f}" for p in self.same)
        return (
            f"plain {self.how} into the same tables: the {rows:,} rows the import wrote "
            f"({tables}) in {times} s = {rows / self.same_seconds:,.0f} rows/s"
        )

    def staging_line(self) -> str:
        plain = " / ".join(f"{p.seconds:.1f}" for p in self.plain)
        return (
            f"plain {self.how} of the CSVs into staging tables (no indexes, constraints or "
            f"keys): {plain} s = {self.plain_rate:,.0f} rows/s"
        )


def _import(database_url: str, folder: Path, rows: int) -> tuple[float, dict[str, int]]:
    """init_db (not timed), then the timed `creditgate import` of the folder."""
    services = build_services(Settings(database_url=database_url, audit_keys=(AUDIT_KEY,)))
    try:
        services.init_db()
        gc.collect()
        seconds, result = dataset.timed_import(services, folder, rows)
    finally:
        services.engine.dispose()
    return seconds, dict(result.written)


def load_postgres(server: PgServer, csvs: dataset.CsvStats) -> tuple[LoadFigures, str]:
    """Plain COPY into staging tables, the import into a fresh database (kept for the gate),
    plain COPY into staging tables again, then the import's rows into the same tables, twice.

    Returns the figures and the name of the imported database.
    """
    plain = []
    scratch = server.create("plain")
    try:
        plain.append(plain_load.postgres_copy(server.conninfo_for(scratch), csvs.folder))
        print(f"  plain COPY, staging (before) {_took(plain[-1])}")
        target = server.create("gate")
        seconds, written = _import(server.url_for(target), csvs.folder, csvs.rows)
        print(f"  creditgate import     {csvs.rows:,} rows in {seconds:.1f} s  written {written}")
        plain.append(plain_load.postgres_copy(server.conninfo_for(scratch), csvs.folder))
        print(f"  plain COPY, staging (after)  {_took(plain[-1])}")
    finally:
        server.drop(scratch)
    _check_rows(plain, csvs.rows)
    same: list[PlainLoad] = []
    tables: list[plain_load.TableRows] = []
    for run in range(1, SAME_TABLE_RUNS + 1):
        fresh = server.create(f"same{run}")
        try:
            _init_db(server.url_for(fresh))  # not timed, nor is reading the import's rows
            if not tables:
                tables = plain_load.read_postgres_tables(
                    server.conninfo_for(target), server.conninfo_for(fresh)
                )
            gc.collect()
            same.append(plain_load.postgres_copy_tables(server.conninfo_for(fresh), tables))
            _check_tables(same[-1], tables, written)
            print(f"  plain COPY, same tables ({run}) {_took(same[-1])}")
        finally:
            server.drop(fresh)
    figures = LoadFigures("PostgreSQL", csvs.rows, seconds, plain, written, same)
    return figures, target


def load_sqlite(csvs: dataset.CsvStats) -> LoadFigures:
    """The same comparison on SQLite: plain executemany into staging tables, the import into
    a fresh file, staging again, then the import's rows into the same tables, twice."""
    scratch = dataset.DATA_DIR / "pg-bench-plain.db"
    target = dataset.DATA_DIR / "pg-bench-import.db"
    fresh = dataset.DATA_DIR / "pg-bench-same.db"
    plain = [plain_load.sqlite_executemany(scratch, csvs.folder)]
    print(f"  plain executemany, staging (before) {_took(plain[-1])}")
    try:
        _remove_sqlite(target)
        _remove_sqlite(fresh)
        seconds, written = _import(dataset.sqlite_url(target), csvs.folder, csvs.rows)
        print(f"  creditgate import     {csvs.rows:,} rows in {seconds:.1f} s  written {written}")
        _init_db(dataset.sqlite_url(fresh))
        tables = plain_load.read_sqlite_tables(target, fresh)  # not timed
    finally:
        _remove_sqlite(target)
    plain.append(plain_load.sqlite_executemany(scratch, csvs.folder))
    print(f"  plain executemany, staging (after)  {_took(plain[-1])}")
    _check_rows(plain, csvs.rows)
    same: list[PlainLoad] = []
    try:
        for run in range(1, SAME_TABLE_RUNS + 1):
            if run > 1:
                _remove_sqlite(fresh)
                _init_db(dataset.sqlite_url(fresh))  # not timed
            gc.collect()
            same.append(plain_load.sqlite_executemany_tables(fresh, tables))
            _check_tables(same[-1], tables, written)
            print(f"  plain executemany, same tables ({run}) {_took(same[-1])}")
    finally:
        _remove_sqlite(fresh)
    return LoadFigures("SQLite", csvs.rows, seconds, plain, written, same)


def _remove_sqlite(path: Path) -> None:
    dataset.remove_db(path)
    Path(f"{path}-gatelock").unlink(missing_ok=True)


def _check_tables(
    loaded: PlainLoad, tables: list[plain_load.TableRows], written: dict[str, int]
) -> None:
    """The same-table load stored every row read out of the import, which wrote every record."""
    read = {t.name: t.rows for t in tables}
    if loaded.tables != read:
        raise RuntimeError(
            f"the same-table load wrote {loaded.tables}, the import's tables hold {read}"
        )
    for entity, n in written.items():
        if read.get(entity, 0) != n:
            raise RuntimeError(
                f"the import wrote {n:,} {entity} but its table holds {read.get(entity)}"
            )


def _took(load: PlainLoad) -> str:
    return f"{load.rows:,} rows in {load.seconds:.1f} s"


def _init_db(database_url: str) -> None:
    """A fresh database with the product's schema (migrations, default source, thresholds)."""
    services = build_services(Settings(database_url=database_url, audit_keys=(AUDIT_KEY,)))
    try:
        services.init_db()
    finally:
        services.engine.dispose()


def time_parse(folder: Path) -> float:
    """How long the import's first half takes alone: parsing every CSV row into records
    (`adapters.csv_folder.read_folder`, which `import_folder` calls before it loads anything)."""
    gc.collect()
    started = time.perf_counter()
    batch = read_folder(folder)
    seconds = time.perf_counter() - started
    del batch
    gc.collect()
    return seconds


def _check_rows(plain: list[PlainLoad], rows: int) -> None:
    for p in plain:
        if p.rows != rows:
            raise RuntimeError(f"the plain load wrote {p.rows:,} rows, the CSVs hold {rows:,}")


def freshen(services: Services) -> float:
    """Set the default source's last sync to now; return how old it was, in seconds.

    The import just set it, so this normally changes a few seconds; it keeps STALE_DATA (after
    `max_data_age_hours`) out of the figures however long the load took.
    """
    now = services.clock()
    with services.engine.begin() as conn:
        last = conn.execute(
            select(sources.c.last_success_at).where(sources.c.name == "default")
        ).scalar_one()
        conn.execute(update(sources).where(sources.c.name == "default").values(last_success_at=now))
    return (now - last).total_seconds() if last else float("inf")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    command = "python -m bench.pg_run " + " ".join(sys.argv[1:] if argv is None else argv)
    run_id = datetime.now().strftime("%H%M%S")
    began = time.perf_counter()
    print(f"creditgate PostgreSQL benchmark  ({command.strip()})")
    version = code_version()
    print(
        f"  python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs, {platform.platform()}; code {version}"
    )

    params = Params(args.customers, args.invoices, args.big_invoices)
    today = system_clock(Settings())().date()  # the product's notion of today
    print(f"\n[0] CSVs: {params}")
    csvs = dataset.prepare_csvs(params, today, rebuild=args.rebuild)
    took = "cached, written" if csvs.reused else "written"
    print(f"  {csvs.rows:,} data rows in {csvs.folder}; {took} in {csvs.seconds:.1f} s")

    with pg_server() as server:
        print(f"\nPostgreSQL {server.version}: {server.describe()}")
        print(f"  {server.settings_line()}")

        # 1. Load: the real import against a plain bulk load, per database.
        print("\n[1] load into PostgreSQL")
        pg_load, database = load_postgres(server, csvs)
        url = server.url_for(database)
        sqlite_load = None
        if not args.no_sqlite:
            print("\n[1] load into SQLite")
            sqlite_load = load_sqlite(csvs)
        parse_seconds = time_parse(csvs.folder)
        print(f"\n  parsing alone (read_folder, the import's first step): {parse_seconds:.1f} s")
        counts = dataset.check_url(url)
        print(f"  in the PostgreSQL database: {counts}")
        started = time.perf_counter()
        server.execute(database, "VACUUM ANALYZE")
        analyze_seconds = time.perf_counter() - started
        print(f"  VACUUM ANALYZE {analyze_seconds:.1f} s (after the import; not part of it)")

        services = build_services(Settings(database_url=url, audit_keys=(AUDIT_KEY,)))
        try:
            age = freshen(services)
            print(f"  last sync was {age:.0f} s old; set to now (max data age is 48 h)")
            erp = services.writes.create_api_client(CreateApiClient(f"bench-erp-{run_id}", "erp"))
            # 3a. Big vs small in-process, before the server runs: nothing else competes.
            print(f"\n[3a] {dataset.BIG} ({counts['big_open']:,} open invoices) vs {dataset.SMALL}")
            inproc = bigsmall.in_process(services, f"IP{run_id}", args.pairs)
            for line in inproc.lines():
                print("  " + line)
        finally:
            services.engine.dispose()

        # 2. Throughput and latency through gunicorn, on PostgreSQL.
        print(
            f"\n[2] gunicorn -w {args.workers} -k {args.worker_class} --threads {args.threads}; "
            f"{args.clients} client threads; {args.rounds} rounds of {args.seconds:g} s segments"
        )
        log_path = dataset.DATA_DIR / "pg-gunicorn.log"
        ids = dataset.customer_ids(args.customers)
        auth = {"Authorization": f"Bearer {erp.key}"}
        with gunicorn(
            url,
            log_path,
            workers=args.workers,
            threads=args.threads,
            worker_class=args.worker_class,
        ) as base:
            print(f"  serving on {base} (log: {log_path})")
            sessions = [requests.Session() for _ in range(args.clients)]
            try:
                found = load.alternate(
                    base,
                    sessions,
                    ids,
                    auth,
                    seconds=args.seconds,
                    rounds=args.rounds,
                    run_id=run_id,
                )
                # Context: what an endpoint that only opens a transaction reaches, against a
                # trivial segment run right after it.
                empty = load.drive(
                    base, sessions, load.empty_transaction_maker(), args.seconds, "empty tx"
                )
                after = load.drive(base, sessions, load.ping_maker(), args.seconds, "trivial")
                print(f"  empty tx {empty.line()}")
                print(f"  trivial  {after.line()}")
                print(f"\n[3b] {dataset.BIG} vs {dataset.SMALL} over HTTP, one client")
                http_pair = bigsmall.over_http(base, erp.key, f"HB{run_id}", args.http_pairs)
                for line in http_pair.lines():
                    print("  " + line)
            finally:
                for s in sessions:
                    s.close()

    trivial, gate = found.trivial, found.gate
    server_errors = sum(n for code, n in gate.statuses.items() if code.startswith("5"))
    failures = {c: n for c, n in (gate.statuses + trivial.statuses).items() if not c.isdigit()}
    mixed = sum(1 for o in ("approved", "blocked", "review") if gate.outcomes[o]) >= 2
    cluster = "throwaway cluster" if server.cluster else "given server"

    print("\n" + "=" * 78)
    print("SUMMARY  " + command.strip())
    print(
        f"setup        code {version}; {os.cpu_count()} CPUs; python {platform.python_version()}; "
        f"PostgreSQL {server.version} ({cluster}: fsync={server.settings['fsync']}, "
        f"full_page_writes={server.settings['full_page_writes']}, "
        f"synchronous_commit={server.settings['synchronous_commit']}, "
        f"shared_buffers={server.settings['shared_buffers']}); SQLite {sqlite3.sqlite_version}; "
        f"gunicorn -w {args.workers} -k {args.worker_class} --threads {args.threads}; "
        f"{args.clients} client threads; {time.perf_counter() - began:.0f} s in all"
    )
    print(
        f"dataset      {counts['customers']:,} customers, {counts['invoices']:,} invoices "
        f"(C-BIG {counts['big_open']:,} open, C-SMALL {counts['small_open']:,} open); "
        f"{csvs.rows:,} CSV rows"
    )
    for name, figures in (("PG", pg_load), ("SQLite", sqlite_load)):
        if figures is None:
            continue
        print(f"load {name:<7} {figures.line()}")
        print(f"             {figures.same_line()}")
        print(f"             {figures.staging_line()}")
    print(
        f"parse        {parse_seconds:.1f} s of each import is parsing the CSVs (read_folder "
        f"alone, {csvs.rows / parse_seconds:,.0f} rows/s); the store's part is the rest: "
        f"PG {pg_load.import_seconds - parse_seconds:.1f} s"
        + (
            f", SQLite {sqlite_load.import_seconds - parse_seconds:.1f} s"
            if sqlite_load is not None
            else ""
        )
    )
    print(f"analyze      VACUUM ANALYZE after the PostgreSQL import: {analyze_seconds:.1f} s")
    print(f"trivial      {trivial.line()}")
    print(f"gate         {gate.line()}")
    print(f"segments     {found.line()}")
    print(f"gate codes   {dict(gate.statuses)}  outcomes {dict(gate.outcomes)}")
    if server_errors or failures or not mixed:
        print(
            f"WARNING      5xx: {server_errors}, client errors: {failures or 0}, "
            f"outcomes mixed: {mixed}"
        )
    print(
        f"latency      gate p50 {gate.p(50) / trivial.p(50):.2f}x trivial, "
        f"p99 {gate.p(99) / trivial.p(99):.2f}x trivial"
    )
    loads = [f for f in (pg_load, sqlite_load) if f is not None]
    for figures in loads:
        print(
            f"[1] {'import/plain load into the same tables':<45} {figures.database:<10}  "
            f"{figures.same_ratio:5.2f}   target >= {TARGET_LOAD:.2f}  "
            f"{verdict(figures.same_ratio >= TARGET_LOAD)}   "
            f"(plain {figures.how} {figures.same_seconds:.1f} s / import "
            f"{figures.import_seconds:.1f} s)"
        )
    for figures in loads:
        label = f"import/plain {figures.how} into staging tables"
        print(
            f"    {label:<45} {figures.database:<10}  {figures.ratio:5.2f}   (context only: "
            f"no indexes, constraints or keys; {figures.import_rate:,.0f} / "
            f"{figures.plain_rate:,.0f} rows/s)"
        )
    print(
        f"[2] gate/trivial throughput PG     {found.ratio:5.2f}   "
        f"target >= {TARGET_THROUGHPUT:.2f}  {verdict(found.ratio >= TARGET_THROUGHPUT)}   "
        f"({gate.throughput:.1f} / {trivial.throughput:.1f} req/s)"
    )
    floor = empty.throughput / after.throughput if after.throughput else 0.0
    print(
        f"    empty transaction/trivial PG   {floor:5.2f}   (context only: GET /bench/db, BEGIN, "
        f"SELECT 1, ROLLBACK; {empty.throughput:.1f} / {after.throughput:.1f} req/s, the "
        f"segments after [2])"
    )
    for label, pair in (("in-process", inproc), ("HTTP      ", http_pair)):
        big_ms = statistics.median(pair.big) * 1000
        small_ms = statistics.median(pair.small) * 1000
        print(
            f"[3] big/small PG {label}     {pair.ratio:5.2f}   "
            f"target <= {TARGET_BIG_SMALL:.2f}  {verdict(pair.ratio <= TARGET_BIG_SMALL)}   "
            f"(medians {big_ms:.2f} / {small_ms:.2f} ms)"
        )
    print("=" * 78)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; gunicorn and the throwaway cluster stopped", file=sys.stderr)
        sys.exit(130)
