"""The schema as it stood before migrations (git ce23979), with the append-only triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Frozen history: every type, name and trigger is spelled out here rather than imported, so this
revision builds the same schema whatever tables.py says later. Money is an exact integer of
1/10,000 units on SQLite and NUMERIC(20, 4) elsewhere (adapters/db/types.py); ids are INTEGER on
SQLite so they alias the ROWID.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(20, 4).with_variant(sa.BigInteger(), "sqlite")
TIMESTAMP = sa.DateTime()

APPEND_ONLY_TABLES = ("decisions", "audit_events")

APPEND_ONLY_SQLITE = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action} BEFORE {action.upper()} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END"
    for table in APPEND_ONLY_TABLES
    for action in ("update", "delete")
]

APPEND_ONLY_PG = [
    """CREATE OR REPLACE FUNCTION creditgate_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql""",
    *(
        f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION creditgate_append_only()"
        for table in APPEND_ONLY_TABLES
    ),
]


def _id(name: str = "id") -> sa.Column[int]:
    return sa.Column(name, ID, nullable=False)


def _fk(column: str, table: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=f"fk_{table}_{column}_{referred}"
    )


def _source_and_external_id(table: str) -> list[sa.Constraint]:
    return [
        sa.UniqueConstraint("source_id", "external_id", name=f"uq_{table}_source_id_external_id"),
        _fk("source_id", table, "sources"),
    ]


def upgrade() -> None:
    _create_parties()
    _create_balances()
    _create_documents()
    _create_log_and_admin()
    _create_sync()
    _create_triggers()


def _create_parties() -> None:
    op.create_table(
        "sources",
        _id(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("url", sa.String(500)),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("last_success_at", TIMESTAMP),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sources"),
        sa.UniqueConstraint("name", name="uq_sources_name"),
    )
    op.create_table(
        "groups",
        _id(),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("external_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("credit_limit", MONEY),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("on_hold", sa.Boolean(), nullable=False),
        sa.Column("hold_reason", sa.Text()),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_groups"),
        *_source_and_external_id("groups"),
    )
    op.create_table(
        "customers",
        _id(),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("external_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("credit_limit", MONEY),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("group_id", ID),
        sa.Column("on_hold", sa.Boolean(), nullable=False),
        sa.Column("hold_reason", sa.Text()),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        *_source_and_external_id("customers"),
        _fk("group_id", "customers", "groups"),
    )
    op.create_index("ix_customers_group_id", "customers", ["group_id"])


def _create_balances() -> None:
    for table, owner in (("customer_balances", "customers"), ("group_balances", "groups")):
        key = f"{owner.removesuffix('s')}_id"
        op.create_table(
            table,
            sa.Column(key, ID, nullable=False),
            sa.Column("currency", sa.String(3), nullable=False),
            sa.Column("open_invoices", MONEY, nullable=False),
            sa.Column("unapplied", MONEY, nullable=False),
            sa.Column("reserved", MONEY, nullable=False),
            sa.PrimaryKeyConstraint(key, "currency", name=f"pk_{table}"),
            _fk(key, table, owner),
        )


def _create_documents() -> None:
    op.create_table(
        "invoices",
        _id(),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("external_id", sa.String(100), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("number", sa.String(100), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("open_amount", MONEY, nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("order_ref", sa.String(100)),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_invoices"),
        *_source_and_external_id("invoices"),
        _fk("customer_id", "invoices", "customers"),
    )
    op.create_index(
        "ix_invoices_customer_id_is_open_due_date",
        "invoices",
        ["customer_id", "is_open", "due_date"],
    )
    op.create_index("ix_invoices_source_id_order_ref", "invoices", ["source_id", "order_ref"])
    op.create_table(
        "payments",
        _id(),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("external_id", sa.String(100), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("unapplied_amount", MONEY, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        *_source_and_external_id("payments"),
        _fk("customer_id", "payments", "customers"),
    )
    op.create_index("ix_payments_customer_id", "payments", ["customer_id"])
    op.create_table(
        "orders",
        _id(),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("external_id", sa.String(100), nullable=False),
        sa.Column("customer_ref", sa.String(100), nullable=False),
        sa.Column("customer_id", ID),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reserved", MONEY, nullable=False),
        sa.Column("invoiced", MONEY, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("last_decision_id", sa.String(36)),
        sa.Column("last_outcome", sa.String(20)),
        sa.Column("expires_at", TIMESTAMP),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        *_source_and_external_id("orders"),
        _fk("customer_id", "orders", "customers"),
    )
    op.create_index(
        "ix_orders_customer_id_status_expires_at",
        "orders",
        ["customer_id", "status", "expires_at"],
    )
    op.create_index("ix_orders_source_id_customer_ref", "orders", ["source_id", "customer_ref"])


def _create_log_and_admin() -> None:
    op.create_table(
        "decisions",
        _id("seq"),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("order_id", sa.String(100), nullable=False),
        sa.Column("customer_id", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("reason_codes", sa.String(300), nullable=False),
        sa.Column("decided_at", TIMESTAMP, nullable=False),
        sa.Column("thresholds_version", sa.Integer(), nullable=False),
        sa.Column("caller", sa.String(100), nullable=False),
        sa.Column("previous_id", sa.String(36)),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_decisions"),
        sa.UniqueConstraint("id", name="uq_decisions_id"),
    )
    op.create_index("ix_decisions_source_order_id", "decisions", ["source", "order_id"])
    op.create_index(
        "ix_decisions_customer_id_decided_at", "decisions", ["customer_id", "decided_at"]
    )
    op.create_index("ix_decisions_decided_at", "decisions", ["decided_at"])
    op.create_table(
        "thresholds_versions",
        sa.Column("version", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_thresholds_versions"),
    )
    op.create_table(
        "api_clients",
        _id(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("signing_secret", sa.String(128)),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP),
        sa.PrimaryKeyConstraint("id", name="pk_api_clients"),
        sa.UniqueConstraint("name", name="uq_api_clients_name"),
        _fk("source_id", "api_clients", "sources"),
    )
    op.create_index("ix_api_clients_key_prefix", "api_clients", ["key_prefix"])
    op.create_table(
        "audit_events",
        _id(),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_occurred_at", "audit_events", ["occurred_at"])


def _create_sync() -> None:
    op.create_table(
        "sync_watermarks",
        sa.Column("source_id", ID, nullable=False),
        sa.Column("entity", sa.String(30), nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.Column("last_id", sa.String(100), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("source_id", "entity", name="pk_sync_watermarks"),
        _fk("source_id", "sync_watermarks", "sources"),
    )
    op.create_table(
        "job_locks",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_job_locks"),
    )
    op.create_table(
        "sync_runs",
        _id(),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("entity", sa.String(30), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("read", sa.Integer(), nullable=False),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sync_runs"),
        _fk("source_id", "sync_runs", "sources"),
    )


def _create_triggers() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in APPEND_ONLY_SQLITE if sqlite else APPEND_ONLY_PG:
        op.execute(statement)


TABLES = (
    "sources",
    "groups",
    "customers",
    "customer_balances",
    "group_balances",
    "invoices",
    "payments",
    "orders",
    "decisions",
    "thresholds_versions",
    "api_clients",
    "audit_events",
    "sync_watermarks",
    "job_locks",
    "sync_runs",
)


def downgrade() -> None:
    # Dropping a table drops its triggers; the PostgreSQL trigger function outlives them.
    for table in reversed(TABLES):
        op.drop_table(table)
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS creditgate_append_only()")
