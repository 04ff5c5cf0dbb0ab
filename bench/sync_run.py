"""creditgate sync benchmark: `python -m bench.sync_run` (see bench/README.md, "Sync benchmark").

A local HTTP source serves generated customers, invoices and payments in keyset pages; the
product's sync engine pulls them into a fresh SQLite file. Figures are ratios against baselines
measured in the same run. Not a test: a missed target is reported, never raised.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench.run import code_version, verdict
from bench.sync_data import Spec
from bench.sync_jobs import remove_db
from bench.sync_source import ROOT, serve

DATA_DIR = ROOT / "bench" / ".data"
TARGET_RATE = 0.5  # full sync records/s ÷ fetch-and-parse records/s, at least
TARGET_MEMORY = 1.2  # peak RSS syncing N invoices ÷ syncing N/10, at most
JOB_TIMEOUT = 1800  # seconds any one measured process may take before it is killed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.sync_run", description=__doc__)
    p.add_argument("--groups", type=int, default=200)
    p.add_argument("--customers", type=int, default=10_000)
    p.add_argument("--invoices", type=int, default=1_000_000, help="for the full sync [1]")
    p.add_argument(
        "--small-invoices", type=int, help="for the memory comparison [2] (default: a tenth)"
    )
    p.add_argument("--payments", type=int, default=10_000)
    p.add_argument("--changed", type=int, default=10_000, help="invoices changed for [3]")
    p.add_argument("--page-size", type=int, help="records per page (default 5,000; 2,000 quick)")
    p.add_argument("--fetch-runs", type=int, default=2, help="baseline runs (around the sync)")
    p.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, cProfile one more sync of the small dataset and print what dominates",
    )
    p.add_argument("--keep", action="store_true", help="keep the SQLite files afterwards")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1,000 customers, 50,000 invoices, 1,000 payments, 1,000 changed",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.customers, args.invoices, args.payments = 1_000, 50_000, 1_000
        args.changed, args.groups = 1_000, 20
    if args.page_size is None:
        args.page_size = 2_000 if args.quick else 5_000
    if args.small_invoices is None:
        args.small_invoices = args.invoices // 10
    if min(args.groups, args.customers, args.fetch_runs) < 1 or args.page_size < 1:
        p.error("--groups, --customers, --fetch-runs and --page-size must be at least 1")
    if not 0 <= args.changed <= args.invoices or args.small_invoices > args.invoices:
        p.error("--changed and --small-invoices must not exceed --invoices")
    if args.page_size > 20_000:
        p.error("--page-size is at most 20,000")
    return args


def _on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally that stops the source


@dataclass
class Job:
    label: str
    result: dict[str, Any]

    @property
    def records(self) -> int:
        return sum(self.result["read"].values())

    @property
    def seconds(self) -> float:
        return float(self.result["seconds"])

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    @property
    def peak_mb(self) -> float:
        return float(self.result["max_rss_mb"])

    @property
    def memory(self) -> str:
        start = float(self.result["start_rss_mb"])
        return f"peak RSS {self.peak_mb:.0f} MB (+{self.peak_mb - start:.0f} MB over the start)"


def run_job(label: str, args: list[str], page_size: int) -> Job:
    """Run one bench.sync_jobs job in a fresh Python process; its progress shows on stderr."""
    cmd = [sys.executable, "-m", "bench.sync_jobs", *args, "--page-size", str(page_size)]
    proc = subprocess.run(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, timeout=JOB_TIMEOUT, check=False
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{label}: {' '.join(cmd)} exited with {proc.returncode}")
    return Job(label, json.loads(lines[-1].removeprefix("RESULT ")))


def runs_line(runs: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{r['entity']} {r['status']} ({r['read']:,}/{r['written']:,}/{r['skipped']:,})"
        for r in runs
    )


def counts_line(read: dict[str, int]) -> str:
    return ", ".join(f"{entity} {n:,}" for entity, n in read.items())


def check_line(verify: dict[str, Any]) -> str:
    counts_ok = verify["counts"] == verify["expected_counts"]
    open_ok = verify["total_open_db_cents"] == verify["total_open_expected_cents"]
    samples = verify["samples"]
    good = sum(1 for s in samples if s["ok"])
    return (
        f"{'OK' if verify['ok'] else 'WRONG'}: invoices in DB {verify['counts']['invoices']:,} "
        f"(served {verify['expected_counts']['invoices']:,}{'' if counts_ok else ', MISMATCH'}); "
        f"total open {verify['total_open_db_cents'] / 100:,.2f} "
        f"({'=' if open_ok else '!='} generator); "
        f"{verify['cancelled']:,} cancelled at the source count 0; "
        f"balances off: {verify['customers_with_wrong_balance']} customers, "
        f"{verify['groups_with_wrong_balance']} groups; "
        f"sampled exposures {good}/{len(samples)} = generator"
    )


def print_checks(verify: dict[str, Any]) -> None:
    print(f"  check      {check_line(verify)}")
    for s in verify["samples"]:
        mark = "ok" if s["ok"] else "WRONG"
        print(
            f"             {s['customer']}  exposure {s['db']:>12}  generator {s['expected']:>12}"
            f"  {mark}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    command = "python -m bench.sync_run " + " ".join(sys.argv[1:] if argv is None else argv)
    command = command.strip()
    print(f"creditgate sync benchmark  ({command})")
    version = code_version()
    print(
        f"  python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs, {platform.platform()}; code {version}"
    )
    base = Spec(args.groups, args.customers, args.invoices, args.payments, 0)
    small = Spec(args.groups, args.customers, args.small_invoices, args.payments, 0)
    changed = Spec(args.groups, args.customers, args.invoices, args.payments, args.changed)
    print(
        f"  source: {base.groups:,} groups, {base.customers:,} customers, "
        f"{base.invoices:,} invoices, {base.payments:,} payments; pages of {args.page_size:,}"
    )
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    full_db, small_db = DATA_DIR / "sync-full.db", DATA_DIR / "sync-small.db"
    profile_db, profile_file = DATA_DIR / "sync-profile.db", DATA_DIR / "sync-profile.prof"
    log_path = DATA_DIR / "sync-source.log"
    started = time.perf_counter()
    fetches: list[Job] = []
    profile = None
    try:
        with serve(log_path) as url:
            print(f"  source serving on {url} in its own process (log: {log_path})")
            ps = args.page_size

            def fetch(n: int) -> None:
                print(f"\n[1] baseline {n}: fetch and parse every page through the adapter")
                job = run_job("fetch", ["fetch", url, base.path()], ps)
                fetches.append(job)
                print(
                    f"  fetch      {job.records:,} records in {job.seconds:.1f} s = "
                    f"{job.rate:,.0f} rec/s; {job.result['requests']} requests; "
                    f"{job.memory}"
                )

            fetch(1)
            print("\n[1] full sync through sync.engine.sync_source into a fresh SQLite file")
            full = run_job(
                "full sync",
                ["sync", url, base.path(), str(full_db), "--fresh", "--full", "--verify"],
                ps,
            )
            store_s = full.seconds - full.result["fetch_seconds"]
            print(
                f"  sync       {full.records:,} records in {full.seconds:.1f} s = "
                f"{full.rate:,.0f} rec/s (getting pages {full.result['fetch_seconds']:.1f} s, "
                f"storing {store_s:.1f} s); {full.memory}; DB {full.result['db_mb']:.0f} MB"
            )
            print(f"  run history (read/written/skipped): {runs_line(full.result['runs'])}")
            print_checks(full.result["verify"])
            for n in range(2, args.fetch_runs + 1):
                fetch(n)

            print(f"\n[2] full sync of {small.invoices:,} invoices into another fresh file")
            small_job = run_job(
                "small sync", ["sync", url, small.path(), str(small_db), "--fresh", "--full"], ps
            )
            print(
                f"  sync       {small_job.records:,} records in {small_job.seconds:.1f} s = "
                f"{small_job.rate:,.0f} rec/s; {small_job.memory}"
            )

            print(
                f"\n[3] incremental sync after {changed.changed:,} invoices changed at the source"
            )
            inc = run_job(
                "incremental", ["sync", url, changed.path(), str(full_db), "--verify"], ps
            )
            print(
                f"  read       {counts_line(inc.result['read'])} in {inc.seconds:.2f} s = "
                f"{inc.rate:,.0f} rec/s; written {counts_line(inc.result['written'])}; "
                f"{inc.memory}"
            )
            print(f"  run history (read/written/skipped): {runs_line(inc.result['runs'])}")
            print_checks(inc.result["verify"])

            if args.profile:
                print(f"\n[p] cProfile of a sync of {small.invoices:,} invoices (not timed)")
                profile = run_job(
                    "profile",
                    [
                        "sync",
                        url,
                        small.path(),
                        str(profile_db),
                        "--fresh",
                        "--full",
                        "--profile",
                        str(profile_file),
                    ],
                    ps,
                )
                print(profile.result["profile_top"])
                print(f"  full profile: {profile_file}")
    finally:
        if not args.keep:
            for path in (full_db, small_db, profile_db):
                remove_db(path)

    fetch_rate = sum(j.records for j in fetches) / sum(j.seconds for j in fetches)
    fetch_peak = max(j.peak_mb for j in fetches)
    rate_ratio = full.rate / fetch_rate
    memory_ratio = full.peak_mb / small_job.peak_mb
    inc_read = inc.result["read"]
    others = sum(n for entity, n in inc_read.items() if entity != "invoices")
    inc_ok = inc_read.get("invoices") == changed.changed and others == 0 and inc.result["ok"]
    data_ok = full.result["verify"]["ok"] and inc.result["verify"]["ok"]
    elapsed = time.perf_counter() - started

    print("\n" + "=" * 78)
    print("SUMMARY  " + command)
    print(
        f"setup        code {version}; {os.cpu_count()} CPUs; sqlite {sqlite3.sqlite_version}; "
        f"pages of {args.page_size:,}; source in its own process on loopback; "
        f"each measurement in a fresh process; {elapsed:.0f} s in all"
    )
    print(
        f"source       {base.groups:,} groups, {base.customers:,} customers, "
        f"{base.invoices:,} invoices, {base.payments:,} payments = {full.records:,} records"
    )
    times = ", ".join(f"{j.seconds:.1f} s" for j in fetches)
    print(
        f"fetch        {fetch_rate:>9,.0f} rec/s  ({len(fetches)} runs: {times}); "
        f"peak RSS {fetch_peak:.0f} MB"
    )
    print(
        f"full sync    {full.rate:>9,.0f} rec/s  ({full.seconds:.1f} s: getting pages "
        f"{full.result['fetch_seconds']:.1f} s, storing {store_s:.1f} s); "
        f"peak RSS {full.peak_mb:.0f} MB"
    )
    print(
        f"small sync   {small_job.rate:>9,.0f} rec/s  ({small.invoices:,} invoices, "
        f"{small_job.seconds:.1f} s); peak RSS {small_job.peak_mb:.0f} MB"
    )
    print(
        f"incremental  {inc.rate:>9,.0f} rec/s  ({inc.seconds:.2f} s); read {counts_line(inc_read)}"
    )
    print(f"data         full sync {check_line(full.result['verify'])}")
    print(f"             after incremental {check_line(inc.result['verify'])}")
    if not (full.result["ok"] and inc.result["ok"]) or full.result["failures"]:
        print(f"WARNING      sync failures: {full.result['failures'] + inc.result['failures']}")
    w = 44  # label column
    print(
        f"{'[1] full sync / fetch rate (records/s)':<{w}}{rate_ratio:5.2f}   "
        f"target >= {TARGET_RATE:.2f}  {verdict(rate_ratio >= TARGET_RATE)}"
    )
    label = f"[2] peak RSS {base.invoices:,} / {small.invoices:,} invoices"
    print(
        f"{label:<{w}}{memory_ratio:5.2f}   target <= {TARGET_MEMORY:.2f}  "
        f"{verdict(memory_ratio <= TARGET_MEMORY)}   "
        f"({full.peak_mb:.0f} / {small_job.peak_mb:.0f} MB)"
    )
    label = f"[3] incremental read only the {changed.changed:,} changed"
    print(
        f"{label:<{w}}{'':5}   {'':14}{verdict(inc_ok)}   "
        f"({inc.seconds:.2f} s, {inc.rate:,.0f} rec/s)"
    )
    print(
        f"{'    synced data equals the source':<{w}}{'':5}   {'':14}{verdict(data_ok)}   "
        f"(peak RSS sync / fetch {full.peak_mb / fetch_peak:.2f}, for information)"
    )
    print("=" * 78)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; the source server was stopped", file=sys.stderr)
        sys.exit(130)
