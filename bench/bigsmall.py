"""Decision time for a customer with a huge open-invoice list vs one with a short list.

Both customers have the same generous limit and only not-yet-due invoices, so every order is
approved (and reserves its small amount). Calls alternate between the two customers, and which
one goes first flips every pair, so drift on a shared machine hits both alike.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import requests

from bench.dataset import BIG, SMALL
from config.wiring import Services
from gating.model import OrderRequest
from gating.services import gate_order

AMOUNT = "1.00"


@dataclass
class Pair:
    how: str
    big: list[float] = field(default_factory=list)
    small: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def ratio(self) -> float:
        return statistics.median(self.big) / statistics.median(self.small)

    def lines(self) -> list[str]:
        def desc(name: str, values: list[float]) -> str:
            ordered = sorted(values)
            p90 = ordered[int(0.9 * (len(ordered) - 1))]
            return (
                f"{name:<8} median {statistics.median(values) * 1000:6.2f} ms  "
                f"p90 {p90 * 1000:6.2f} ms  (n={len(values)})"
            )

        return [
            desc(BIG, self.big),
            desc(SMALL, self.small),
            f"big/small median ratio {self.ratio:.2f}   outcomes {dict(self.outcomes)}",
        ]


def _order(prefix: str, who: str, i: int) -> OrderRequest:
    return OrderRequest(
        source="default",
        order_id=f"{prefix}-{who}-{i}",
        customer_id=who,
        amount=Decimal(AMOUNT),
        currency="USD",
    )


def in_process(services: Services, prefix: str, n: int, warmup: int = 20) -> Pair:
    """Time gating.services.gate_order itself: unit of work, queries, rules, writes, commit."""
    pair = Pair("in-process gate_order")

    def one(who: str, i: int) -> tuple[float, str]:
        order = _order(prefix, who, i)
        t0 = time.perf_counter()
        result = gate_order(
            order, uow=services.uow(), clock=services.clock, rates=services.rates, caller="bench"
        )
        return time.perf_counter() - t0, result.record.outcome.value

    for i in range(warmup):
        for who in (BIG, SMALL):
            one(who, -1 - i)
    for i in range(n):
        for who in (BIG, SMALL) if i % 2 == 0 else (SMALL, BIG):
            seconds, outcome = one(who, i)
            (pair.big if who == BIG else pair.small).append(seconds)
            pair.outcomes[f"{who}:{outcome}"] += 1
    return pair


def over_http(base: str, key: str, prefix: str, n: int, warmup: int = 20) -> Pair:
    """The same comparison through gunicorn, one request at a time from one client."""
    pair = Pair("HTTP POST /api/v1/gate/orders")
    headers = {"Authorization": f"Bearer {key}"}
    with requests.Session() as session:

        def one(who: str, i: int) -> tuple[float, str]:
            body = {"order_id": f"{prefix}-{who}-{i}", "customer_id": who}
            body |= {"amount": AMOUNT, "currency": "USD"}
            t0 = time.perf_counter()
            r = session.post(base + "/api/v1/gate/orders", json=body, headers=headers, timeout=30)
            seconds = time.perf_counter() - t0
            outcome = r.json().get("outcome") if r.status_code == 200 else f"HTTP {r.status_code}"
            return seconds, str(outcome)

        for i in range(warmup):
            for who in (BIG, SMALL):
                one(who, -1 - i)
        for i in range(n):
            for who in (BIG, SMALL) if i % 2 == 0 else (SMALL, BIG):
                seconds, outcome = one(who, i)
                (pair.big if who == BIG else pair.small).append(seconds)
                pair.outcomes[f"{who}:{outcome}"] += 1
    return pair
