"""The gate's hot-path statements, built once at import.

Building a SQLAlchemy statement (and its cache key) costs more than running it on SQLite; a
decision runs about a dozen, so they are constructed here once and executed with parameters.
"""

from __future__ import annotations

from sqlalchemy import (
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    true,
    union_all,
    update,
)

from adapters.db.tables import (
    customer_balances,
    customers,
    decisions,
    group_balances,
    groups,
    invoices,
    orders,
    sources,
    thresholds_versions,
)
from gating.model import LIVE_STATUSES

_c, _g, _o, _i = customers.c, groups.c, orders.c, invoices.c

SOURCE_BY_NAME = select(sources).where(sources.c.name == bindparam("name"))

CUSTOMER_POSITION = (
    select(
        _c.id, _c.name, _c.currency, _c.credit_limit, _c.on_hold, _c.hold_reason,
        _c.admin_hold, _c.admin_hold_reason,
        _g.id.label("g_id"), _g.external_id.label("g_ref"), _g.name.label("g_name"),
        _g.currency.label("g_currency"), _g.credit_limit.label("g_limit"),
        _g.on_hold.label("g_on_hold"), _g.hold_reason.label("g_hold_reason"),
    )
    .select_from(customers.outerjoin(groups, _c.group_id == _g.id))
    .where(_c.source_id == bindparam("source_id"), _c.external_id == bindparam("ref"))
)  # fmt: skip

_cb, _gb = customer_balances.c, group_balances.c
# A customer's and its group's running totals in one round trip ("c" rows, then "g" rows).
BALANCES = union_all(
    select(
        literal("c").label("owner"), _cb.currency, _cb.open_invoices, _cb.unapplied, _cb.reserved
    ).where(_cb.customer_id == bindparam("customer_id")),
    select(
        literal("g").label("owner"), _gb.currency, _gb.open_invoices, _gb.unapplied, _gb.reserved
    ).where(_gb.group_id == bindparam("group_id")),
).order_by("owner", "currency")

GROUPS_OF = select(_c.id, _c.group_id).where(_c.id.in_(bindparam("ids", expanding=True)))

_OVERDUE = (
    _i.customer_id == bindparam("customer_id"),
    _i.is_open.is_(True),
    _i.due_date < bindparam("due_before"),
    _i.open_amount > bindparam("tolerance"),
)
_OVERDUE_COLUMNS = (_i.number, _i.due_date, _i.open_amount, _i.currency)
OVERDUE_LIST = (
    select(*_OVERDUE_COLUMNS)
    .where(*_OVERDUE)
    .order_by(_i.due_date, _i.id)
    .limit(bindparam("limit"))
)
# Counts at most `cap` rows: as fast for 100,000 overdue invoices as for 2.
OVERDUE_COUNT = select(func.count()).select_from(
    select(_i.id).where(*_OVERDUE).limit(bindparam("cap")).subquery()
)

# What a sync has invoiced against an order (through the partial index on order_ref).
INVOICED_FOR_ORDER = select(func.coalesce(func.sum(_i.total), 0)).where(
    _i.source_id == bindparam("source_id"),
    _i.order_ref == bindparam("order_ref"),
    _i.currency == bindparam("currency"),
    _i.cancelled.is_(False),
)

ORDER = select(orders).where(
    _o.source_id == bindparam("source_id"), _o.external_id == bindparam("order_id")
)
ORDER_FOR_UPDATE = ORDER.with_for_update()
INSERT_ORDER = insert(orders)
UPDATE_ORDER = update(orders).where(_o.id == bindparam("_id"))

# Literal values, not bound parameters: the statuses are fixed, and a literal IN list lets the
# planners seek the (customer_id, status, expires_at) index once per status.
_LIVE = _o.status.in_([literal_column(f"'{status}'") for status in LIVE_STATUSES])
_LAPSED = (_LIVE, _o.expires_at < bindparam("now"))
_LAPSED_COLUMNS = (_o.id, _o.customer_id, _o.currency, _o.reserved, _o.status, _o.last_outcome)
LAPSED_OF_CUSTOMER = select(*_LAPSED_COLUMNS).where(
    _o.customer_id == bindparam("customer_id"), *_LAPSED
)
LAPSED_OF_GROUP = select(*_LAPSED_COLUMNS).where(
    _o.customer_id.in_(select(_c.id).where(_c.group_id == bindparam("group_id"))), *_LAPSED
)
LAPSED_OF_UNSYNCED = select(*_LAPSED_COLUMNS).where(
    _o.source_id == bindparam("source_id"),
    _o.customer_ref == bindparam("ref"),
    _o.customer_id.is_(None),
    *_LAPSED,
)
RESERVED_FOR_UNSYNCED = (
    select(_o.currency, func.sum(_o.reserved).label("reserved"))
    .where(
        _o.source_id == bindparam("source_id"),
        _o.customer_ref == bindparam("ref"),
        _o.customer_id.is_(None),
        _LIVE,
    )
    .group_by(_o.currency)
)

INSERT_DECISION = insert(decisions)
DECISION_BY_ID = select(decisions).where(decisions.c.id == bindparam("id"))

# The newest version with every column its MAC covers (repository.thresholds_of checks it).
ACTIVE_THRESHOLDS = (
    select(thresholds_versions).order_by(thresholds_versions.c.version.desc()).limit(1)
)

_tv = ACTIVE_THRESHOLDS.subquery("tv")
# The source and the active thresholds in one round trip.
SOURCE_AND_THRESHOLDS = (
    select(
        sources.c.id,
        sources.c.name,
        sources.c.kind,
        sources.c.last_success_at,
        *(col.label(f"t_{col.name}") for col in _tv.c),
    )
    .select_from(sources.outerjoin(_tv, true()))
    .where(sources.c.name == bindparam("name"))
)

# Everything a decision reads after its locks, in one statement for both databases: the customer
# and its group, the order, the oldest overdue invoice and whether a reservation has lapsed. A
# row per (customer balance, group balance) pair: usually one, a few for several currencies.
_gv_o = orders.alias("o")
_gv_od = invoices.alias("od")
_gv_cb = customer_balances.alias("cb")
_gv_gb = group_balances.alias("gb")
_gv_oldest = (
    select(_i.id)
    .where(*_OVERDUE[1:], _i.customer_id == _c.id)
    .order_by(_i.due_date)
    .limit(1)
    .scalar_subquery()
)
# The three lookups of expire_reservations above, as EXISTS tests correlated to the row.
_gv_m = customers.alias("m")
_gv_lapsed_unsynced = LAPSED_OF_UNSYNCED.exists()
_gv_lapsed_customer = select(_o.id).where(_o.customer_id == _c.id, *_LAPSED).exists()
_gv_lapsed_group = (
    select(_o.id)
    .join(_gv_m, _gv_m.c.id == _o.customer_id)
    .where(_gv_m.c.group_id == _g.id, *_LAPSED)
    .exists()
)
_gv_one = select(literal(1).label("one")).subquery("one")
DECISION_VIEW = select(
    *CUSTOMER_POSITION.selected_columns,
    *(col.label(f"o_{col.name}") for col in _gv_o.c),
    _gv_od.c.number.label("od_number"),
    _gv_od.c.due_date.label("od_due_date"),
    _gv_od.c.open_amount.label("od_open_amount"),
    _gv_od.c.currency.label("od_currency"),
    case(
        (_c.id.is_(None), _gv_lapsed_unsynced),
        (_g.id.is_(None), _gv_lapsed_customer),
        else_=_gv_lapsed_group,
    ).label("lapsed"),
    *(col.label(f"cb_{col.name}") for col in _gv_cb.c if col.name != "customer_id"),
    *(col.label(f"gb_{col.name}") for col in _gv_gb.c if col.name != "group_id"),
).select_from(
    _gv_one.outerjoin(
        customers,
        and_(_c.source_id == bindparam("source_id"), _c.external_id == bindparam("ref")),
    )
    .outerjoin(groups, _g.id == _c.group_id)
    .outerjoin(
        _gv_o,
        and_(
            _gv_o.c.source_id == bindparam("source_id"),
            _gv_o.c.external_id == bindparam("order_id"),
        ),
    )
    .outerjoin(_gv_od, _gv_od.c.id == _gv_oldest)
    .outerjoin(_gv_cb, _gv_cb.c.customer_id == _c.id)
    .outerjoin(_gv_gb, _gv_gb.c.group_id == _g.id)
)

# The customer's decision lock, as adapters/db/decision_reads.py takes it (same key).
CUSTOMER_LOCK = text(
    "SELECT pg_advisory_xact_lock(hashtextextended("
    "'creditgate:customer:' || CAST(:source_id AS text) || ':' || :ref, 0))"
)
