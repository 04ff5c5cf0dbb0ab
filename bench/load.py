"""Drive the served app over loopback HTTP from concurrent client threads, and summarise."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

# (method, path, json body or None) for the n-th request of client thread `worker`.
RequestMaker = Callable[[int, int], tuple[str, str, dict[str, Any] | None]]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(len(sorted_values), rank) - 1]


@dataclass
class Run:
    """What one timed segment (or several merged) measured."""

    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, completed requests only
    statuses: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(sorted(self.latencies), q)

    def merge(self, other: Run) -> None:
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.outcomes.update(other.outcomes)

    def line(self) -> str:
        return (
            f"{self.throughput:8.1f} req/s  p50 {self.p(50) * 1000:6.2f} ms  "
            f"p99 {self.p(99) * 1000:6.2f} ms  ({self.count} requests in {self.seconds:.1f} s)"
        )


def drive(
    base: str,
    sessions: Sequence[requests.Session],
    make: RequestMaker,
    seconds: float,
    name: str,
    headers: dict[str, str] | None = None,
) -> Run:
    """Every session sends requests back to back from its own thread until `seconds` pass.

    Only requests started before the deadline count; throughput is completed requests over the
    time from the common start until the last thread finished.
    """
    runs = [Run(name) for _ in sessions]
    start_gate = threading.Barrier(len(sessions) + 1)
    deadline = [0.0]

    def client(i: int) -> None:
        session, run = sessions[i], runs[i]
        start_gate.wait()
        n = 0
        while time.perf_counter() < deadline[0]:
            method, path, body = make(i, n)
            n += 1
            t0 = time.perf_counter()
            try:
                r = session.request(method, base + path, json=body, headers=headers, timeout=30)
                outcome = _outcome(r)
            except requests.RequestException as exc:
                run.statuses[type(exc).__name__] += 1
                continue
            run.latencies.append(time.perf_counter() - t0)
            run.statuses[str(r.status_code)] += 1
            run.outcomes[outcome] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(len(runs))]
    for t in threads:
        t.start()
    started = time.perf_counter()
    deadline[0] = started + seconds
    start_gate.wait()
    for t in threads:
        t.join(timeout=seconds + 120)
    total = Run(name, seconds=time.perf_counter() - started)
    for run in runs:
        total.latencies += run.latencies
        total.statuses.update(run.statuses)
        total.outcomes.update(run.outcomes)
    return total


def _outcome(r: requests.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return "not-json"
    if isinstance(body, dict):
        if "outcome" in body:
            return str(body["outcome"])
        if body.get("ok") is True:
            return "ok"
    return "other"


def ping_maker() -> RequestMaker:
    return lambda _worker, _n: ("GET", "/bench/ping", None)


def empty_transaction_maker() -> RequestMaker:
    """`GET /bench/db` (bench/wsgi_app.py): one read-only transaction, `SELECT 1`, no work."""
    return lambda _worker, _n: ("GET", "/bench/db", None)


def gate_maker(prefix: str, customer_ids: Sequence[str], seed: int) -> RequestMaker:
    """Distinct order ids, customers drawn at random from the whole book, modest amounts."""
    rngs: dict[int, random.Random] = {}

    def make(worker: int, n: int) -> tuple[str, str, dict[str, Any] | None]:
        rng = rngs.setdefault(worker, random.Random(seed * 1000 + worker))
        body = {
            "order_id": f"{prefix}-{worker}-{n}",
            "customer_id": customer_ids[rng.randrange(len(customer_ids))],
            "amount": f"{rng.randint(100, 5000)}.00",
            "currency": "USD",
        }
        return "POST", "/api/v1/gate/orders", body

    return make


@dataclass
class Segments:
    """Alternating trivial and gate segments, each kind merged, and every segment's req/s."""

    trivial: Run
    gate: Run
    order: list[tuple[str, float]]

    @property
    def ratio(self) -> float:
        """gate req/s ÷ trivial req/s (the mean of all the trivial segments)."""
        return self.gate.throughput / self.trivial.throughput if self.trivial.throughput else 0.0

    def line(self) -> str:
        return "; ".join(f"{kind:<8}{rps:8.1f} req/s" for kind, rps in self.order)


def alternate(
    base: str,
    sessions: Sequence[requests.Session],
    customer_ids: Sequence[str],
    auth: dict[str, str],
    *,
    seconds: float,
    rounds: int,
    run_id: str,
    log: Callable[[str], Any] = print,
) -> Segments:
    """1 s of warm-up on each endpoint, then trivial, gate, trivial, ... , trivial.

    Alternating spreads the machine's drift over both kinds; the trivial baseline brackets every
    gate segment. Each gate segment has its own order-id prefix and random stream.
    """
    ping_mk = ping_maker()
    drive(base, sessions, ping_mk, 1.0, "warm-up")
    drive(base, sessions, gate_maker(f"WU{run_id}", customer_ids, seed=1), 1.0, "warm-up", auth)
    found = Segments(Run("trivial"), Run("gate"), [])

    def segment(kind: str, n: int) -> None:
        if kind == "trivial":
            run = drive(base, sessions, ping_mk, seconds, kind)
            found.trivial.merge(run)
        else:
            maker = gate_maker(f"HT{run_id}-{n}", customer_ids, seed=100 + n)
            run = drive(base, sessions, maker, seconds, kind, auth)
            found.gate.merge(run)
        found.order.append((kind, run.throughput))
        log(f"  {kind:<8}{run.line()}")

    for n in range(rounds):
        segment("trivial", n)
        segment("gate", n)
    segment("trivial", rounds)
    return found
