"""The hold list: open orders whose last decision held them (review or blocked), newest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from adapters.db.audit_reads import keyset_page, narrowed
from adapters.db.tables import HELD_ORDER, decisions, orders, sources

_o, _d = orders.c, decisions.c
HELD = (
    select(
        _o.id.label("key"),
        sources.c.name.label("source"),
        _o.external_id.label("order_id"),
        _o.customer_ref.label("customer_id"),
        _o.amount,
        _o.currency,
        _o.last_outcome.label("outcome"),
        _d.id.label("decision_id"),
        _d.decided_at,
        _d.reason_codes,
        _d.response,
    )
    .join(sources, sources.c.id == _o.source_id)
    .join(decisions, _d.id == _o.last_decision_id)
    .where(HELD_ORDER)  # the partial index's own predicate, so the planner can use it
)


def held_page(
    engine: Engine,
    *,
    source: str | None,
    customer_id: str | None,
    outcome: str | None,
    limit: int,
    before: int | None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `limit` held orders, newest first, and the next page's cursor (None after the last)."""
    equal = ((sources.c.name, source), (_o.customer_ref, customer_id), (_o.last_outcome, outcome))
    return keyset_page(engine, narrowed(HELD, equal), _o.id, limit, before)
