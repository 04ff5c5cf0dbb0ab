"""Keep customer and group running totals current with relative, atomic updates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from adapters.db.statements import GROUPS_OF
from adapters.db.tables import customer_balances, group_balances

COLUMNS = ("open_invoices", "unapplied", "reserved")
Delta = dict[str, Decimal]
ZERO = Decimal(0)


class BalanceDeltas:
    """Collects changes per (customer, currency) and writes them in one batch.

    Writes are `col = col + delta` upserts, never read-modify-write, so a sync and a gate decision
    touching the same customer at once cannot lose each other's change.
    """

    def __init__(self) -> None:
        self._deltas: dict[tuple[int, str], Delta] = defaultdict(
            lambda: dict.fromkeys(COLUMNS, ZERO)
        )
        self._groups: dict[int, int | None] = {}

    def add(
        self,
        customer_id: int,
        currency: str,
        column: str,
        amount: Decimal,
        *,
        group_id: int | object | None = ...,
    ) -> None:
        """Record a change; pass the customer's `group_id` when known to save a lookup."""
        if amount:
            self._deltas[(customer_id, currency)][column] += amount
            if group_id is not ...:
                self._groups[customer_id] = group_id  # type: ignore[assignment]

    def __bool__(self) -> bool:
        return any(any(d.values()) for d in self._deltas.values())

    def flush(self, conn: Connection) -> None:
        if not self:
            return
        by_customer, by_group = self.resolve(conn)
        apply(conn, customer_balances, "customer_id", by_customer)
        apply(conn, group_balances, "group_id", by_group)

    def resolve(
        self, conn: Connection
    ) -> tuple[dict[tuple[int, str], Delta], dict[tuple[int, str], Delta]]:
        """The changes per (customer, currency) and per (group, currency), looking up the groups
        not given to `add`; the collected changes are handed over and cleared."""
        groups = dict(self._groups)
        unknown = {cid for cid, _ in self._deltas} - groups.keys()
        if unknown:
            groups.update(_groups_of(conn, unknown))
        by_group: dict[tuple[int, str], Delta] = defaultdict(lambda: dict.fromkeys(COLUMNS, ZERO))
        for (cid, cur), delta in self._deltas.items():
            group_id = groups.get(cid)
            if group_id is not None:
                for col in COLUMNS:
                    by_group[(group_id, cur)][col] += delta[col]
        by_customer = dict(self._deltas)
        self._deltas.clear()
        self._groups.clear()
        return by_customer, dict(by_group)


def _groups_of(conn: Connection, customer_ids: Iterable[int]) -> dict[int, int | None]:
    ids = list(customer_ids)
    result: dict[int, int | None] = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(GROUPS_OF, {"ids": ids[start : start + 500]})
        result.update({r.id: r.group_id for r in rows})
    return result


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert(dialect: str, table: Table, key: str) -> Any:
    """`INSERT … ON CONFLICT DO UPDATE SET col = col + excluded.col`, built once per table."""
    stmt = _UPSERTS.get((dialect, table.name))
    if stmt is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        base = insert(table)
        stmt = _UPSERTS[(dialect, table.name)] = base.on_conflict_do_update(
            index_elements=[key, "currency"],
            set_={col: table.c[col] + base.excluded[col] for col in COLUMNS},
        )
    return stmt


def apply(
    conn: Connection, table: Table, key: str, deltas: Mapping[tuple[int, str], Delta]
) -> None:
    """Upsert `col = col + delta` for every (owner, currency) row."""
    rows = [
        {key: owner, "currency": cur, **delta}
        for (owner, cur), delta in deltas.items()
        if any(delta.values())
    ]
    if not rows:
        return
    stmt = _upsert(conn.dialect.name, table, key)
    conn.execute(stmt, rows[0] if len(rows) == 1 else rows)


def move_group(
    conn: Connection, customer_id: int, old_group: int | None, new_group: int | None
) -> None:
    """Carry a customer's totals from its old group to its new one."""
    if old_group == new_group:
        return
    rows = conn.execute(
        select(customer_balances).where(customer_balances.c.customer_id == customer_id)
    ).all()
    for sign, group_id in ((-1, old_group), (1, new_group)):
        if group_id is None:
            continue
        deltas = {
            (group_id, r.currency): {col: sign * getattr(r, col) for col in COLUMNS} for r in rows
        }
        apply(conn, group_balances, "group_id", deltas)
