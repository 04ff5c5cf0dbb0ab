"""A decision's writes on PostgreSQL in one statement: the decision, its order, the balances.

Each statement is a round trip plus driver and SQLAlchemy work on both ends, and a decision used
to make four of them (bench/README.md). Data-modifying CTEs run them as one, with the same rows
and constraints: a new order is still a plain INSERT, so a concurrent insert of the same order
fails on the unique key instead of overwriting it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, TextClause, bindparam, text

from adapters.db.balances import COLUMNS, Delta
from adapters.db.driver import DriverStatement
from adapters.db.tables import decisions, orders

# The SQL below is assembled once, at import, from the table definitions' own column names; every
# value travels as a bound parameter.

_DECISION = [c for c in decisions.c if c.name != "seq"]
# A decision leaves the order's resolution as it is (a release sets it in its own statement).
_ORDER = [c for c in orders.c if c.name not in ("id", "resolution_id")]
_ORDER_UPDATE = [c for c in _ORDER if c.name not in ("source_id", "external_id", "created_at")]


def _balances(cte: str, table: str, key: str) -> str:
    cols = ", ".join(COLUMNS)
    arrays = ", ".join(f"CAST(:{cte}_{col} AS numeric[])" for col in COLUMNS)
    sums = ", ".join(f"{col} = t.{col} + excluded.{col}" for col in COLUMNS)
    return (
        f"INSERT INTO {table} AS t ({key}, currency, {cols}) "  # noqa: S608 (names from tables.py)
        f"SELECT * FROM unnest(CAST(:{cte}_owner AS bigint[]), CAST(:{cte}_currency AS text[]), "
        f"{arrays}) ON CONFLICT ({key}, currency) DO UPDATE SET {sums}"
    )


def _statement(order_sql: str, order_columns: list[Any]) -> TextClause:
    names = ", ".join(c.name for c in _DECISION)
    values = ", ".join(f":d_{c.name}" for c in _DECISION)
    sql = (
        f"WITH d AS (INSERT INTO decisions ({names}) VALUES ({values})), "  # noqa: S608
        f"o AS ({order_sql}), "
        f"cb AS ({_balances('cb', 'customer_balances', 'customer_id')}) "
        f"{_balances('gb', 'group_balances', 'group_id')}"
    )
    binds = [bindparam(f"d_{c.name}", type_=c.type) for c in _DECISION]
    binds += [bindparam(f"o_{c.name}", type_=c.type) for c in order_columns]
    return text(sql).bindparams(*binds)


_INSERT = _statement(
    f"INSERT INTO orders ({', '.join(c.name for c in _ORDER)}) "  # noqa: S608
    f"VALUES ({', '.join(f':o_{c.name}' for c in _ORDER)})",
    _ORDER,
)
_UPDATE = _statement(
    f"UPDATE orders SET {', '.join(f'{c.name} = :o_{c.name}' for c in _ORDER_UPDATE)} "  # noqa: S608
    "WHERE id = :o_key",
    _ORDER_UPDATE,
)
_RUN_INSERT, _RUN_UPDATE = DriverStatement(_INSERT), DriverStatement(_UPDATE)


def _arrays(prefix: str, deltas: Mapping[tuple[int, str], Delta]) -> dict[str, list[Any]]:
    rows = [(key, delta) for key, delta in deltas.items() if any(delta.values())]
    arrays: dict[str, list[Any]] = {
        f"{prefix}_owner": [owner for (owner, _), _ in rows],
        f"{prefix}_currency": [cur for (_, cur), _ in rows],
    }
    for col in COLUMNS:
        arrays[f"{prefix}_{col}"] = [delta[col] for _, delta in rows]
    return arrays


def record(
    conn: Connection,
    decision: Mapping[str, Any],
    order: Mapping[str, Any],
    order_key: int | None,
    by_customer: Mapping[tuple[int, str], Delta],
    by_group: Mapping[tuple[int, str], Delta],
) -> None:
    """Insert the decision, insert the order (`order_key` None) or update it, add the deltas."""
    params: dict[str, Any] = {f"d_{name}": value for name, value in decision.items()}
    if order_key is None:
        params.update({f"o_{c.name}": order[c.name] for c in _ORDER})
    else:
        params.update({f"o_{c.name}": order[c.name] for c in _ORDER_UPDATE})
        params["o_key"] = order_key
    params.update(_arrays("cb", by_customer))
    params.update(_arrays("gb", by_group))
    (_RUN_INSERT if order_key is None else _RUN_UPDATE).run(conn, params)
