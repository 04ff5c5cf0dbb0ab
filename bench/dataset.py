"""Generate the benchmark dataset as CSV exports and load it through the product's CSV import.

The generated SQLite file is cached under bench/.data/, keyed by the parameters and today's date
(dates in the CSVs are relative to today, and the source's last sync must be fresh), and copied
to a working file for each run so every run starts from the same state.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from adapters.csv_folder.reader import COLUMNS
from adapters.db import schema
from adapters.db.tables import customers, invoices
from bench import AUDIT_KEY
from config.settings import Settings
from config.wiring import Services, build_services
from sync.file_import import ImportResult

GENERATOR_VERSION = 1  # bump when the generated data changes shape
DATA_DIR = Path(__file__).resolve().parent / ".data"

BIG = "C-BIG"  # one customer with a very long list of open invoices
SMALL = "C-SMALL"  # the same limit and terms, 10 open invoices
GENEROUS_LIMIT = "1000000000.00"
CURRENCY = "USD"  # the default thresholds' base currency: no rates needed


@dataclass(frozen=True)
class Params:
    customers: int = 10_000
    invoices: int = 500_000
    big_invoices: int = 100_000
    small_invoices: int = 10
    seed: int = 20261122

    def key(self, today: date) -> str:
        # The schema's revision too: a dataset cached under an older schema is built again.
        doc = {
            **asdict(self),
            "today": today.isoformat(),
            "version": GENERATOR_VERSION,
            "schema": schema.head_revision(),
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class LoadStats:
    rows: int  # rows read from the CSVs
    written: dict[str, int]
    csv_seconds: float  # generating and writing the CSVs
    load_seconds: float  # services.import_folder: parse + load in one transaction
    reused: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.load_seconds if self.load_seconds else 0.0


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def services_for(path: Path) -> Services:
    return build_services(Settings(database_url=sqlite_url(path), audit_keys=(AUDIT_KEY,)))


def customer_ids(count: int) -> list[str]:
    return [f"C-{i:06d}" for i in range(count)]


def _money(rng: random.Random, low: int, high: int) -> str:
    """A random amount with cents, as a string: money never goes through float."""
    cents = rng.randint(low * 100, high * 100)
    return f"{cents // 100}.{cents % 100:02d}"


def _cents(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int(frac or 0)


def _fmt_cents(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def write_csvs(folder: Path, params: Params, today: date) -> int:
    """Write groups, customers, invoices and payments CSVs; return the number of data rows.

    Ordinary customers get a mix of situations so gate decisions come out mixed:
    ~5% on hold, ~10% with an invoice overdue beyond 30 days, ~5% without a credit limit,
    ~10% with open invoices just under their limit, the rest healthy (each with a few open,
    not-yet-due invoices). Most invoices are paid history (open amount 0); ~1% are credit notes.
    """
    rng = random.Random(params.seed)
    d = date.isoformat
    rows = 0
    n_groups = max(1, params.customers // 50)
    with (
        (folder / "groups.csv").open("w", newline="", encoding="utf-8") as gf,
        (folder / "customers.csv").open("w", newline="", encoding="utf-8") as cf,
        (folder / "invoices.csv").open("w", newline="", encoding="utf-8") as inf,
        (folder / "payments.csv").open("w", newline="", encoding="utf-8") as pf,
    ):
        g, c, inv, pay = csv.writer(gf), csv.writer(cf), csv.writer(inf), csv.writer(pf)
        # The product's own column lists, so the bench cannot drift from the import format.
        g.writerow(COLUMNS["groups"])
        c.writerow([*COLUMNS["customers"], "hold_reason"])
        inv.writerow(COLUMNS["invoices"])
        pay.writerow(COLUMNS["payments"])
        for j in range(n_groups):
            # Generous group limits: the group rule is evaluated but rarely decides.
            g.writerow([f"G-{j:05d}", f"Group {j}", "50000000.00", CURRENCY])
            rows += 1

        ids = customer_ids(params.customers)
        per_customer, extra = divmod(params.invoices, max(1, params.customers))
        serial = 0

        def invoice(cust: str, issue: date, due: date, total: str, open_amount: str) -> None:
            nonlocal serial, rows
            serial += 1
            number = f"{serial:08d}"
            row = (f"I-{number}", cust, f"INV-{number}", d(issue), d(due), CURRENCY, total)
            inv.writerow((*row, open_amount, ""))
            rows += 1

        for i, cust in enumerate(ids):
            kind = rng.random()
            limit_cents = rng.randint(50_000, 500_000) * 100
            on_hold = kind < 0.05
            overdue = 0.05 <= kind < 0.15
            no_limit = 0.15 <= kind < 0.20
            near_limit = 0.20 <= kind < 0.30
            group = f"G-{rng.randrange(n_groups):05d}" if rng.random() < 0.3 else ""
            c.writerow(
                [
                    cust,
                    f"Customer {i}",
                    "" if no_limit else _fmt_cents(limit_cents),
                    CURRENCY,
                    group,
                    "true" if on_hold else "false",
                    "credit review" if on_hold else "",
                ]
            )
            rows += 1
            count = per_customer + (1 if i < extra else 0)
            n_open = 1 if near_limit else min(count, rng.randint(0, 3))
            for k in range(count):
                if k < count - n_open:
                    # Paid history: issued 2 to 24 months ago, fully paid (or a used credit note).
                    issue = today - timedelta(days=rng.randint(60, 730))
                    total = _money(rng, 100, 20_000)
                    if rng.random() < 0.01:
                        total = "-" + _money(rng, 10, 500)
                    invoice(cust, issue, issue + timedelta(days=30), total, "0.00")
                    continue
                due = today + timedelta(days=rng.randint(1, 30))
                if overdue and k == count - 1:
                    due = today - timedelta(days=rng.randint(45, 120))
                total = _money(rng, 100, 20_000)
                if near_limit:
                    total = _fmt_cents(limit_cents - rng.randint(1, 50) * 100)
                open_amount = total if rng.random() < 0.8 else _fmt_cents(_cents(total) // 2)
                invoice(cust, due - timedelta(days=30), due, total, open_amount)
            if rng.random() < 0.5:
                amount = _money(rng, 100, 5_000)
                unapplied = "0.00" if rng.random() < 0.8 else _fmt_cents(_cents(amount) // 4)
                days_ago = rng.randint(1, 60)
                paid_on = d(today - timedelta(days=days_ago))
                pay.writerow((f"P-{i:07d}", cust, paid_on, CURRENCY, amount, unapplied))
                rows += 1

        # The two customers the big/small comparison gates: same limit, same terms, all open
        # invoices not yet due (so their orders are approved); only the invoice count differs.
        for cust, count in ((BIG, params.big_invoices), (SMALL, params.small_invoices)):
            c.writerow([cust, f"{cust} Ltd.", GENEROUS_LIMIT, CURRENCY, "", "false", ""])
            rows += 1
            for k in range(count):
                due = today + timedelta(days=1 + k % 60)
                invoice(cust, due - timedelta(days=30), due, "10.00", "10.00")
    return rows


def timed_import(services: Services, folder: Path, rows: int) -> tuple[float, ImportResult]:
    """Time `services.import_folder(folder)` (parse + load in one transaction); check it read
    all `rows` CSV rows and skipped none. The schema must exist already (`init_db`)."""
    started = time.perf_counter()
    result = services.import_folder(folder)
    seconds = time.perf_counter() - started
    if result.errors:
        shown = "; ".join(str(e) for e in result.errors[:5])
        raise RuntimeError(f"{len(result.errors)} rows were skipped by the import: {shown}")
    if sum(result.read.values()) != rows:
        raise RuntimeError(f"wrote {rows} CSV rows but the import read {result.read}")
    return seconds, result


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the main file so a plain file copy is a complete database."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def build(path: Path, params: Params, today: date, work_dir: Path) -> LoadStats:
    """Create a fresh database at `path` and load the generated CSVs through the real import."""
    remove_db(path)
    services = services_for(path)
    try:
        services.init_db()
        folder = work_dir / "csv"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        started = time.perf_counter()
        rows = write_csvs(folder, params, today)
        csv_seconds = time.perf_counter() - started
        load_seconds, result = timed_import(services, folder, rows)
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        services.engine.dispose()
    _checkpoint(path)
    return LoadStats(rows, dict(result.written), csv_seconds, load_seconds)


def _prune(keep: int) -> None:
    cached = sorted(DATA_DIR.glob("dataset-*.db"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in cached[keep:]:
        old.unlink()
        old.with_suffix(".json").unlink(missing_ok=True)
    for stale in DATA_DIR.glob("building-*.db*"):  # left by an interrupted build
        stale.unlink()


def prepare(
    params: Params, today: date, *, rebuild: bool, log: Any = print
) -> tuple[Path, LoadStats]:
    """Return a working copy of the dataset for this run, building (or reusing) the cached one."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = params.key(today)
    cached = DATA_DIR / f"dataset-{key}.db"
    meta = DATA_DIR / f"dataset-{key}.json"
    if cached.exists() and meta.exists() and not rebuild:
        stats = LoadStats(**json.loads(meta.read_text()))
        stats.reused = True
        cached.touch()  # most recently used: kept by _prune
        log(f"  reusing cached dataset {cached.name} (built today; --rebuild to rebuild)")
    else:
        _prune(keep=2)  # datasets are large: keep the two most recent besides this one
        building = DATA_DIR / f"building-{key}.db"
        log(f"  generating CSVs and importing them into {building.name} ...")
        stats = build(building, params, today, DATA_DIR)
        building.rename(cached)
        meta.write_text(json.dumps(asdict(stats)))
    work = DATA_DIR / "work.db"
    remove_db(work)
    shutil.copyfile(cached, work)
    return work, stats


@dataclass
class CsvStats:
    folder: Path
    rows: int  # data rows in all four files
    seconds: float  # generating and writing them (when they were generated)
    reused: bool = False


def prepare_csvs(
    params: Params, today: date, *, rebuild: bool, keep: int = 2, log: Any = print
) -> CsvStats:
    """The generated CSV folder for `params` and `today`, cached under DATA_DIR/csv-<key>/.

    The PostgreSQL bench loads the same files several times (import and plain bulk load, into
    PostgreSQL and SQLite), so it caches the CSVs rather than a loaded database. A folder is
    complete only once its `meta.json` exists; older folders beyond `keep` are deleted.
    """
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = params.key(today)
    folder = DATA_DIR / f"csv-{key}"
    meta = folder / "meta.json"
    if meta.exists() and not rebuild:
        doc = json.loads(meta.read_text())
        meta.touch()  # most recently used: kept by the pruning below
        log(f"  reusing cached CSVs {folder.name}/ (written today; --rebuild to regenerate)")
        return CsvStats(folder, int(doc["rows"]), float(doc["seconds"]), reused=True)
    cached = sorted(
        (d for d in DATA_DIR.glob("csv-*") if d != folder and (d / "meta.json").exists()),
        key=lambda d: (d / "meta.json").stat().st_mtime,
        reverse=True,
    )
    for old in cached[max(0, keep - 1) :]:
        shutil.rmtree(old, ignore_errors=True)
    for partial in DATA_DIR.glob("csv-*"):  # left by an interrupted generation
        if not (partial / "meta.json").exists():
            shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    log(f"  generating CSVs into {folder.name}/ ...")
    started = time.perf_counter()
    rows = write_csvs(folder, params, today)
    seconds = time.perf_counter() - started
    meta.write_text(json.dumps({"rows": rows, "seconds": seconds, "params": asdict(params)}))
    return CsvStats(folder, rows, seconds)


def check(path: Path) -> dict[str, int]:
    """Count what the gate will see, to show the dataset is what the benchmark says it is."""
    return check_url(sqlite_url(path))


def check_url(database_url: str) -> dict[str, int]:
    """`check` for any database URL (the PostgreSQL bench counts its database the same way)."""
    services = build_services(Settings(database_url=database_url, audit_keys=(AUDIT_KEY,)))
    try:
        with services.engine.connect() as conn:
            n_customers = conn.execute(select(func.count()).select_from(customers)).scalar_one()
            n_invoices = conn.execute(select(func.count()).select_from(invoices)).scalar_one()

            def open_of(ref: str) -> int:
                return conn.execute(
                    select(func.count())
                    .select_from(invoices.join(customers, invoices.c.customer_id == customers.c.id))
                    .where(customers.c.external_id == ref, invoices.c.is_open.is_(True))
                ).scalar_one()

            return {
                "customers": n_customers,
                "invoices": n_invoices,
                "big_open": open_of(BIG),
                "small_open": open_of(SMALL),
            }
    finally:
        services.engine.dispose()
