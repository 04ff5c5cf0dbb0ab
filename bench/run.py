"""creditgate benchmark: `python -m bench.run` (see bench/README.md).

Prints figures as ratios against baselines measured in the same run, because the machines it
runs on are shared and noisy. Not a test: it never fails on a missed target, it reports it.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
from datetime import datetime
from typing import Any

import requests

from bench import bigsmall, dataset, history, load
from bench.dataset import Params
from bench.server import ROOT, gunicorn
from config.settings import Settings
from config.wiring import system_clock
from gating.commands import CreateApiClient

TARGET_THROUGHPUT = 0.5  # gate req/s ÷ trivial req/s, at least
TARGET_BIG_SMALL = 1.3  # big customer's median decision time ÷ small one's, at most


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--customers", type=int, default=10_000, help="ordinary customers")
    p.add_argument("--invoices", type=int, default=500_000, help="their invoices, in total")
    p.add_argument("--big-invoices", type=int, default=100_000, help="open invoices of C-BIG")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each timed segment")
    p.add_argument(
        "--rounds", type=int, default=2, help="trivial/gate segment pairs (then one more trivial)"
    )
    p.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    # The README's production line for SQLite: two sync workers, one request each at a time, so
    # no GIL contention inside a worker; their writes take turns on the cross-process write slot.
    p.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    p.add_argument("--pairs", type=int, default=500, help="big/small alternations in-process")
    p.add_argument("--http-pairs", type=int, default=200, help="big/small alternations via HTTP")
    p.add_argument(
        "--history-orders",
        type=int,
        default=200_000,
        help="closed orders added for the order-history probe [4] (0 skips it)",
    )
    p.add_argument("--rebuild", action="store_true", help="regenerate the cached dataset")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 500 customers, 10,000 invoices, C-BIG with 5,000, 2 s segments",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.customers, args.invoices, args.big_invoices = 500, 10_000, 5_000
        args.seconds, args.rounds, args.pairs, args.http_pairs = 2.0, 1, 50, 30
        args.history_orders = min(args.history_orders, 20_000)
    if min(args.customers, args.clients, args.rounds, args.pairs, args.http_pairs) < 1:
        p.error("--customers, --clients, --rounds, --pairs and --http-pairs must be at least 1")
    if not 0 < args.seconds <= 600:
        p.error("--seconds must be between 0 and 600")
    return args


def _on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop gunicorn


def code_version() -> str:
    """The commit measured, and whether the working tree differs from it (read-only git)."""
    git = ["git", "--no-optional-locks", "-C", str(ROOT)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes' if dirty else ''}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    # Ctrl+C interrupts even when the shell started us with SIGINT ignored (background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    command = "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv)
    run_id = datetime.now().strftime("%H%M%S")
    print(f"creditgate benchmark  ({command.strip()})")
    version = code_version()
    print(
        f"  python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs, {platform.platform()}; code {version}"
    )

    # 1. Dataset, through the real CSV import.
    params = Params(args.customers, args.invoices, args.big_invoices)
    today = system_clock(Settings())().date()  # the product's notion of today
    print(f"\n[1] dataset: {params}")
    path, stats = dataset.prepare(params, today, rebuild=args.rebuild)
    counts = dataset.check(path)
    reused = "  (cached dataset reused: figures from when it was built)" if stats.reused else ""
    print(
        f"  CSV generation {stats.csv_seconds:.1f} s; import of {stats.rows:,} rows "
        f"{stats.load_seconds:.1f} s = {stats.rows_per_second:,.0f} rows/s{reused}"
    )
    print(f"  written {stats.written}; in the database: {counts}")

    services = dataset.services_for(path)
    try:
        erp = services.writes.create_api_client(CreateApiClient(f"bench-erp-{run_id}", "erp"))

        # 3a. Big vs small customer, in-process (before the server runs: nothing else competes).
        print(f"\n[3a] {dataset.BIG} ({counts['big_open']:,} open invoices) vs {dataset.SMALL}")
        inproc = bigsmall.in_process(services, f"IP{run_id}", args.pairs)
        for line in inproc.lines():
            print("  " + line)
    finally:
        services.engine.dispose()

    # 2. Throughput and latency through gunicorn.
    print(
        f"\n[2] gunicorn -w {args.workers} -k {args.worker_class} --threads {args.threads}; "
        f"{args.clients} client threads; {args.rounds} rounds of {args.seconds:g} s segments"
    )
    log_path = dataset.DATA_DIR / "gunicorn.log"
    ids = dataset.customer_ids(args.customers)
    auth = {"Authorization": f"Bearer {erp.key}"}
    with gunicorn(
        dataset.sqlite_url(path),
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
            trivial, gate = found.trivial, found.gate

            # 3b. Big vs small over HTTP, one request at a time, while the server is warm.
            print(f"\n[3b] {dataset.BIG} vs {dataset.SMALL} over HTTP, one client")
            http_pair = bigsmall.over_http(base, erp.key, f"HB{run_id}", args.http_pairs)
            for line in http_pair.lines():
                print("  " + line)
        finally:
            for s in sessions:
                s.close()

    probe = None
    if args.history_orders > 0:
        print(f"\n[4] decision time before/after adding {args.history_orders:,} closed orders")
        services = dataset.services_for(path)
        try:
            probe = history.probe(services, f"OH{run_id}", args.history_orders)
        finally:
            services.engine.dispose()
        print(
            f"  grouped customers   median {probe.grouped_before:6.2f} ms -> "
            f"{probe.grouped_after:7.2f} ms  ({probe.grouped_ratio:.2f}x)"
        )
        print(
            f"  ungrouped customers median {probe.plain_before:6.2f} ms -> "
            f"{probe.plain_after:7.2f} ms  ({probe.plain_ratio:.2f}x)"
        )

    ratio = gate.throughput / trivial.throughput if trivial.throughput else 0.0
    server_errors = sum(n for code, n in gate.statuses.items() if code.startswith("5"))
    failures = {c: n for c, n in (gate.statuses + trivial.statuses).items() if not c.isdigit()}
    mixed = sum(1 for o in ("approved", "blocked", "review") if gate.outcomes[o]) >= 2

    print("\n" + "=" * 78)
    print("SUMMARY  " + command.strip())
    print(
        f"setup        code {version}; {os.cpu_count()} CPUs; gunicorn -w {args.workers} "
        f"-k {args.worker_class} --threads {args.threads}; {args.clients} client threads"
    )
    print(
        f"dataset      {counts['customers']:,} customers, {counts['invoices']:,} invoices "
        f"(C-BIG {counts['big_open']:,} open, C-SMALL {counts['small_open']:,} open)"
    )
    print(
        f"load         {stats.rows:,} CSV rows in {stats.load_seconds:.1f} s = "
        f"{stats.rows_per_second:,.0f} rows/s via services.import_folder"
        + ("  [cached dataset reused]" if stats.reused else "")
    )
    print(f"trivial      {trivial.line()}")
    print(f"gate         {gate.line()}")
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
    print(
        f"[2] gate/trivial throughput       {ratio:5.2f}   target >= {TARGET_THROUGHPUT:.2f}  "
        f"{verdict(ratio >= TARGET_THROUGHPUT)}"
    )
    for label, pair in (("in-process", inproc), ("HTTP      ", http_pair)):
        big_ms = statistics.median(pair.big) * 1000
        small_ms = statistics.median(pair.small) * 1000
        print(
            f"[3] big/small decision {label} {pair.ratio:5.2f}   "
            f"target <= {TARGET_BIG_SMALL:.2f}  {verdict(pair.ratio <= TARGET_BIG_SMALL)}   "
            f"(medians {big_ms:.2f} / {small_ms:.2f} ms)"
        )
    if probe is not None:
        worst = max(probe.grouped_ratio, probe.plain_ratio)
        print(
            f"[4] decision after/before {probe.rows:,} old orders {worst:5.2f}   "
            f"target <= {TARGET_BIG_SMALL:.2f}  {verdict(worst <= TARGET_BIG_SMALL)}   "
            f"(grouped {probe.grouped_before:.2f} -> {probe.grouped_after:.2f} ms, "
            f"ungrouped {probe.plain_before:.2f} -> {probe.plain_after:.2f} ms; extra probe)"
        )
    print("=" * 78)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; gunicorn stopped", file=sys.stderr)
        sys.exit(130)
