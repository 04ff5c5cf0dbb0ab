"""Extra probe: does a decision slow down as the orders table fills with history?

Every gate call leaves an order row behind, so a deployment accumulates hundreds of thousands of
closed (invoiced, cancelled, expired) orders. Orders have no import path, so this probe writes
closed history rows straight into the `orders` table with the product's own table definition,
then times gate_order again for customers with and without a group. A decision should not care
how many closed orders exist.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import insert, select

from adapters.db.tables import customers, orders, sources
from config.wiring import Services
from gating.model import OrderRequest
from gating.services import gate_order


@dataclass
class Probe:
    grouped_before: float
    grouped_after: float
    plain_before: float
    plain_after: float
    rows: int

    @property
    def grouped_ratio(self) -> float:
        return self.grouped_after / self.grouped_before

    @property
    def plain_ratio(self) -> float:
        return self.plain_after / self.plain_before


def _pick(services: Services, grouped: bool, n: int = 20) -> list[str]:
    c = customers.c
    with services.engine.connect() as conn:
        return list(
            conn.execute(
                select(c.external_id)
                .where(
                    c.group_id.is_not(None) if grouped else c.group_id.is_(None),
                    c.on_hold.is_(False),
                    c.credit_limit.is_not(None),
                    c.external_id.like("C-0%"),
                )
                .order_by(c.id)
                .limit(n)
            ).scalars()
        )


def _median_ms(services: Services, refs: list[str], prefix: str, n: int) -> float:
    times = []
    for i in range(n):
        ref = refs[i % len(refs)]
        order = OrderRequest("default", f"{prefix}-{i}", ref, Decimal("1.00"), "USD")
        t0 = time.perf_counter()
        gate_order(
            order, uow=services.uow(), clock=services.clock, rates=services.rates, caller="bench"
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def add_history(services: Services, rows: int, seed: int = 7) -> None:
    """Write `rows` closed (invoiced) orders spread over the ordinary customers."""
    rng = random.Random(seed)
    now = services.clock()
    with services.engine.begin() as conn:
        source_id = conn.execute(select(sources.c.id).where(sources.c.name == "default")).scalar()
        people = conn.execute(
            select(customers.c.id, customers.c.external_id).where(
                customers.c.external_id.like("C-0%")
            )
        ).all()
        batch = []
        for i in range(rows):
            key, ref = people[rng.randrange(len(people))]
            amount = Decimal(rng.randint(100, 5000))
            when = now - timedelta(days=rng.randint(1, 700))
            batch.append(
                {
                    "source_id": source_id,
                    "external_id": f"HIST-{i:07d}",
                    "customer_ref": ref,
                    "customer_id": key,
                    "amount": amount,
                    "currency": "USD",
                    "reserved": Decimal(0),
                    "invoiced": amount,
                    "status": "invoiced",
                    "last_decision_id": None,
                    "last_outcome": "approved",
                    "expires_at": None,
                    "created_at": when,
                    "updated_at": when,
                }
            )
            if len(batch) == 5000:
                conn.execute(insert(orders), batch)
                batch = []
        if batch:
            conn.execute(insert(orders), batch)


def probe(services: Services, prefix: str, rows: int, n: int = 100) -> Probe:
    grouped, plain = _pick(services, True), _pick(services, False)
    _median_ms(services, grouped + plain, f"{prefix}W", 20)  # warm caches
    g0 = _median_ms(services, grouped, f"{prefix}G0", n)
    p0 = _median_ms(services, plain, f"{prefix}P0", n)
    add_history(services, rows)
    _median_ms(services, grouped + plain, f"{prefix}W2", 20)
    g1 = _median_ms(services, grouped, f"{prefix}G1", n)
    p1 = _median_ms(services, plain, f"{prefix}P1", n)
    return Probe(g0, g1, p0, p1, rows)
