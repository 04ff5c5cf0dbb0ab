"""The database schema (SQLAlchemy Core tables); domain classes are never mapped onto it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    false,
    literal_column,
)

from adapters.db.types import Money, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BigInteger ids stay plain INTEGER on SQLite so they alias ROWID and autoincrement.
Id = BigInteger().with_variant(Integer(), "sqlite")

sources = Table(
    "sources",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("kind", String(30), nullable=False),
    Column("url", String(500)),
    Column("settings", JSON, nullable=False, default=dict),
    Column("last_success_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("mac", String(120)),  # adapters/db/macs.py: a row changed with SQL builds no adapter
)

groups = Table(
    "groups",
    metadata,
    Column("id", Id, primary_key=True),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    Column("external_id", String(100), nullable=False),
    Column("name", String(300), nullable=False),
    Column("credit_limit", Money),
    Column("currency", String(3), nullable=False),
    Column("on_hold", Boolean, nullable=False, default=False),
    Column("hold_reason", Text),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("source_id", "external_id"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    Column("external_id", String(100), nullable=False),
    Column("name", String(300), nullable=False),
    Column("credit_limit", Money),
    Column("currency", String(3), nullable=False),
    Column("group_id", ForeignKey("groups.id")),
    Column("on_hold", Boolean, nullable=False, default=False),
    Column("hold_reason", Text),
    Column("updated_at", UTCDateTime, nullable=False),
    # A hold an admin put on in creditgate, apart from the ERP's own (on_hold, which every sync
    # overwrites); the gate blocks on either.
    Column("admin_hold", Boolean, nullable=False, server_default=false()),
    Column("admin_hold_reason", Text),
    UniqueConstraint("source_id", "external_id"),
    Index(None, "group_id"),
)

# Running totals per customer and currency, changed in the same transaction as the rows they sum,
# so a decision reads a handful of rows whatever the length of the customer's history.
customer_balances = Table(
    "customer_balances",
    metadata,
    Column("customer_id", ForeignKey("customers.id"), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("open_invoices", Money, nullable=False, default=0),
    Column("unapplied", Money, nullable=False, default=0),
    Column("reserved", Money, nullable=False, default=0),
)

group_balances = Table(
    "group_balances",
    metadata,
    Column("group_id", ForeignKey("groups.id"), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("open_invoices", Money, nullable=False, default=0),
    Column("unapplied", Money, nullable=False, default=0),
    Column("reserved", Money, nullable=False, default=0),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", Id, primary_key=True),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    Column("external_id", String(100), nullable=False),
    Column("customer_id", ForeignKey("customers.id"), nullable=False),
    Column("number", String(100), nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total", Money, nullable=False),
    Column("open_amount", Money, nullable=False),
    Column("is_open", Boolean, nullable=False),
    Column("cancelled", Boolean, nullable=False, default=False),
    Column("order_ref", String(100)),
    Column("updated_at", UTCDateTime, nullable=False),
    # An invoice in several instalments is one row per instalment (adapters/db/loader.py:
    # the first under the invoice's id, the others under "<id>#<k>"), each with its own due
    # date, share of the total and open amount; this is how many it has (NULL: one due date).
    Column("instalments", SmallInteger),
    UniqueConstraint("source_id", "external_id"),
)
# Both indexes are partial. Most synced invoices are paid and carry no order reference, and a
# full index on (customer_id, ...) costs a random leaf write per row: in a 1,000,000-invoice
# sync on SQLite it tripled the insert time (bench/README.md). Queries must repeat the WHERE.
#
# The overdue check: this customer's open invoices, oldest due first, is one index seek.
OPEN_INVOICE = invoices.c.is_open.is_(True)
Index(
    "ix_invoices_open_customer_id_due_date",
    invoices.c.customer_id,
    invoices.c.due_date,
    sqlite_where=OPEN_INVOICE,
    postgresql_where=OPEN_INVOICE,
)
# Invoices that reduce an order's reservation.
WITH_ORDER_REF = invoices.c.order_ref.is_not(None)
Index(
    "ix_invoices_source_id_order_ref",
    invoices.c.source_id,
    invoices.c.order_ref,
    sqlite_where=WITH_ORDER_REF,
    postgresql_where=WITH_ORDER_REF,
)

payments = Table(
    "payments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    Column("external_id", String(100), nullable=False),
    Column("customer_id", ForeignKey("customers.id"), nullable=False),
    Column("date", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", Money, nullable=False),
    Column("unapplied_amount", Money, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("source_id", "external_id"),
    Index(None, "customer_id"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    Column("external_id", String(100), nullable=False),
    Column("customer_ref", String(100), nullable=False),
    Column("customer_id", ForeignKey("customers.id")),
    Column("amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reserved", Money, nullable=False),
    Column("invoiced", Money, nullable=False, default=0),
    Column("status", String(20), nullable=False),
    Column("last_decision_id", String(36)),
    Column("last_outcome", String(20)),
    Column("expires_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The order's latest release or rejection (hold_resolutions), read when it is decided again.
    Column("resolution_id", Id),
    # The approving decision whose reservation the order holds: its last decision, or an earlier
    # approval standing behind a refused amendment (0009).
    Column("reserved_by", String(36)),
    UniqueConstraint("source_id", "external_id"),
    Index(None, "customer_id", "status", "expires_at"),
    Index(None, "source_id", "customer_ref"),
)

# The hold list: open orders whose last decision held them (review or blocked). Partial, so an
# approved order, which most are, costs the gate no write to it. The values are literal SQL, not
# bound parameters: a planner uses a partial index only for a query whose WHERE visibly implies
# the index's, and a parameter's value is not known when the plan is made.
HELD_ORDER = and_(
    orders.c.status == literal_column("'open'"),
    orders.c.last_outcome.in_([literal_column("'review'"), literal_column("'blocked'")]),
)
Index(
    "ix_orders_held",
    orders.c.id,  # in the list's order, newest first; few sources, so no source column
    sqlite_where=HELD_ORDER,
    postgresql_where=HELD_ORDER,
)

# Releases and rejections of held orders: who, with which role, why, up to what and until when.
hold_resolutions = Table(
    "hold_resolutions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("order_id", ForeignKey("orders.id"), nullable=False),
    Column("action", String(20), nullable=False),  # release or reject
    Column("actor", String(100), nullable=False),
    Column("role", String(30), nullable=False),
    Column("reason", Text, nullable=False),
    Column("cap", Money),  # in the order's currency at the time
    Column("currency", String(3), nullable=False),
    Column("expires_at", UTCDateTime),
    Column("held_decision_id", String(36), nullable=False),  # the decision it resolved
    Column("decision_id", String(36), nullable=False),  # the decision it made
    Column("created_at", UTCDateTime, nullable=False),
    Column("mac", String(120)),  # adapters/db/macs.py
    Index(None, "order_id"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("seq", Id, primary_key=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("source", String(100), nullable=False),
    Column("order_id", String(100), nullable=False),
    Column("customer_id", String(100), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("reason_codes", String(300), nullable=False),
    Column("decided_at", UTCDateTime, nullable=False),
    Column("thresholds_version", Integer, nullable=False),
    Column("caller", String(100), nullable=False),
    Column("previous_id", String(36)),
    Column("response", JSON, nullable=False),
    Column("snapshot", JSON, nullable=False),
    Column("mac", String(120)),  # adapters/db/macs.py
    Index(None, "source", "order_id"),
    Index(None, "customer_id", "decided_at"),
    Index(None, "decided_at"),
)

thresholds_versions = Table(
    "thresholds_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("document", JSON, nullable=False),
    Column("mac", String(120)),  # adapters/db/macs.py
)

api_clients = Table(
    "api_clients",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(30), nullable=False),
    Column("key_prefix", String(16), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False),
    Column("signing_secret", String(128)),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    # Every source the key may act for, its own first (`apikey create --sources a,b`); NULL: its
    # own source only.
    Column("granted_sources", JSON),
    Column("mac", String(120)),  # adapters/db/macs.py
    # The language its answers' messages are written in (a tag: zh-CN, en); NULL: English,
    # unless a request sends Accept-Language.
    Column("language", String(10)),
)

# People who use the web pages; passwords are stored as salted hashes only (werkzeug's scrypt).
users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("role", String(30), nullable=False),
    Column("password_hash", String(300), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime),
    Column("mac", String(120)),  # adapters/db/macs.py
    # The language the pages are shown in (a tag: zh-CN, en); NULL: the browser's choice.
    Column("language", String(10)),
)

# A login: the cookie carries a random token, the store only its hash. A page request counts only
# while its row is not ended and is younger than the cookie's lifetime, so logging out, "log out
# everywhere", disabling a user and resetting a password end sessions on every worker at once.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    Column("mac", String(120)),  # adapters/db/macs.py: a session moved to another user is refused
)

# Failed logins per user name (typed, whether or not a user has it) and per client address,
# keyed by a hash of either (gating/logins.py says how long each must wait, when a name locks).
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failed_at", UTCDateTime),
    Column("retry_at", UTCDateTime),
    Column("locked_at", UTCDateTime),
    Column("failed_before", UTCDateTime),
)

# The nonces of signed requests (`n=` in X-Creditgate-Signature), each kept until its signature
# would expire: a second request with the same nonce from the same client is a replay.
request_nonces = Table(
    "request_nonces",
    metadata,
    Column("client", String(100), primary_key=True),
    Column("nonce", String(100), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "expires_at"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(50), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("details", JSON, nullable=False),
    Column("mac", String(120)),  # adapters/db/macs.py
    Index(None, "occurred_at"),
)

# The hash chain over the append-only tables (adapters/db/audit_chain.py); append-only itself.
audit_chain = Table(
    "audit_chain",
    metadata,
    Column("position", Id, primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("row_key", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("sealed_at", UTCDateTime, nullable=False),
    Column("mac", String(120)),  # adapters/db/macs.py
    # Whether the row had no valid MAC when it was sealed (chained all the same, named by verify).
    Column("forged", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("kind", "row_key"),
)

sync_watermarks = Table(
    "sync_watermarks",
    metadata,
    Column("source_id", ForeignKey("sources.id"), primary_key=True),
    Column("entity", String(30), primary_key=True),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("last_id", String(100), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# A lease: whoever holds an unexpired row runs the job; taken with one conditional write.
job_locks = Table(
    "job_locks",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("source_id", ForeignKey("sources.id"), nullable=False),
    Column("entity", String(30), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    # running, succeeded, succeeded_with_errors or failed.
    Column("status", String(30), nullable=False),
    Column("read", Integer, nullable=False, default=0),
    Column("written", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("errors", JSON, nullable=False, default=list),
    # A running run renews this with every page it stores; once it has passed, the process is
    # taken for dead and the next run marks the run failed (adapters/db/sync_store.py).
    Column("lease_expires_at", UTCDateTime),
)

# The warning ladder's current level per customer (gating/warnings.py), and every change to it.
warning_levels = Table(
    "warning_levels",
    metadata,
    Column("customer_id", ForeignKey("customers.id"), primary_key=True),
    Column("level", String(20), nullable=False),
    Column("reasons", JSON, nullable=False, default=list),
    Column("since", UTCDateTime, nullable=False),
    Column("checked_at", UTCDateTime, nullable=False),
)

warning_history = Table(
    "warning_history",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", ForeignKey("customers.id"), nullable=False),
    Column("change_id", String(36), nullable=False, unique=True),
    Column("level", String(20), nullable=False),
    Column("previous_level", String(20), nullable=False),
    Column("reasons", JSON, nullable=False, default=list),
    Column("thresholds_version", Integer, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Index(None, "customer_id", "changed_at"),
)

# One row per (change, target), written in the transaction that records the change; the push
# job delivers them in order per target and records the delivery.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("target", String(100), nullable=False),
    Column("change_id", String(36), nullable=False),
    Column("customer_ref", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    # pending, delivered or failed (refused by the target for good).
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    UniqueConstraint("target", "change_id"),
    Index(None, "target", "status", "id"),
)
