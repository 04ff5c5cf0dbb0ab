"""Alembic migrations build the schema tables.py describes and carry existing data across.

Each test runs on the suite's fresh, empty `database_url` (SQLite, then PostgreSQL). Tests that
compare with a schema made by `metadata.create_all` build it in `second_engine`, a second fresh
database of the same backend (on SQLite another file in tmp_path).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner

from adapters.db import schema, statements
from adapters.db.engine import make_engine
from adapters.db.tables import metadata
from adapters.db.types import Money, UTCDateTime
from config.settings import Settings
from config.wiring import Services, build_services
from connector.cli import main
from gating.model import OrderRequest
from gating.services import credit_position, gate_order
from tests import databases
from tests.conftest import AUDIT_KEY, NOW, RATES, THRESHOLDS, TODAY, FixedClock

HEAD = "0017"
# Tables added by revisions after 0003: no database made before migrations has them.
TABLES_SINCE_MIGRATIONS = {
    "warning_levels",
    "warning_history",
    "outbox",
    "hold_resolutions",
    "audit_chain",
    "users",
    "web_sessions",
    "login_throttle",
    "request_nonces",
}
# Columns added by revisions after 0003 to tables that existed before (0006, 0012, 0016, 0017).
COLUMNS_SINCE_MIGRATIONS = (
    ("orders", "resolution_id"),
    ("orders", "reserved_by"),
    ("customers", "admin_hold"),
    ("customers", "admin_hold_reason"),
    ("invoices", "instalments"),
    ("api_clients", "granted_sources"),
    ("sync_runs", "lease_expires_at"),
    ("decisions", "mac"),
    ("audit_events", "mac"),
    ("thresholds_versions", "mac"),
    ("api_clients", "mac"),
    ("sources", "mac"),
    ("api_clients", "language"),
)
# Indexes added by revisions after 0003 on tables that existed before (0005: the hold list's).
INDEXES_SINCE_MIGRATIONS = ("ix_orders_held",)
NEW_INDEXES = ("ix_invoices_open_customer_id_due_date", "ix_invoices_source_id_order_ref")
OLD_INDEXES = ("ix_invoices_customer_id_is_open_due_date", "ix_invoices_source_id_order_ref")

# What create_schema() ran after create_all before there were migrations (git ce23979).
LEGACY_TRIGGERS = {
    "sqlite": [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op} BEFORE {op.upper()} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END"
        for table in ("decisions", "audit_events")
        for op in ("update", "delete")
    ],
    "postgresql": [
        """CREATE OR REPLACE FUNCTION creditgate_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql""",
        *(
            f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION creditgate_append_only()"
            for table in ("decisions", "audit_events")
        ),
    ],
}


NEWER_APPEND_ONLY = ("thresholds_versions", "hold_resolutions", "audit_chain")
NEWER_TRIGGERS = {
    "sqlite": [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op} BEFORE {op.upper()} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END"
        for table in NEWER_APPEND_ONLY
        for op in ("update", "delete")
    ],
    "postgresql": [
        *(
            f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION creditgate_append_only()"
            for table in NEWER_APPEND_ONLY
        ),
        # 0012: TRUNCATE refused on every append-only table and the chain.
        *(
            f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION creditgate_append_only()"
            for table in ("decisions", "audit_events", *NEWER_APPEND_ONLY)
        ),
    ],
}


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def second_engine(backend: str, tmp_path: Path) -> Iterator[sa.Engine]:
    """Another empty database of the same backend, for a schema to compare with."""
    folder = tmp_path / "second"
    folder.mkdir()
    with databases.fresh_database(backend, folder, migrated=False) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def services_here(database_url: str) -> Iterator[Services]:
    """Services on this test's database (the suite's `services` get an already migrated one)."""
    settings = Settings(
        database_url=database_url,
        timezone="UTC",
        thresholds=dict(THRESHOLDS),
        rates_reference="CNY",
        rates=dict(RATES),
        audit_keys=(AUDIT_KEY,),
    )
    services = build_services(settings, clock=FixedClock(NOW, settings.zone))
    yield services
    services.engine.dispose()


@contextlib.contextmanager
def _status_as_before_0003() -> Iterator[None]:
    """tables.py as it stood when create_all made the schema: sync_runs.status was 20 long
    (revision 0003 widened it). Swapped in place, so the DDL is spelled exactly as before."""
    column = metadata.tables["sync_runs"].c.status
    current = column.type
    column.type = sa.String(20)
    try:
        yield
    finally:
        column.type = current


def create_all_with_triggers(engine: sa.Engine, *, legacy: bool = False) -> None:
    """Build the schema with create_all and the triggers, the way creditgate did before
    migrations: from today's tables.py, or (`legacy`) from tables.py before revision 0003."""
    if legacy:
        before = [t for t in metadata.sorted_tables if t.name not in TABLES_SINCE_MIGRATIONS]
        with _status_as_before_0003():
            metadata.create_all(engine, tables=before)
        with engine.begin() as conn:
            for index in INDEXES_SINCE_MIGRATIONS:
                conn.execute(sa.text(f"DROP INDEX {index}"))
            for table, column in COLUMNS_SINCE_MIGRATIONS:
                conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    else:
        metadata.create_all(engine)
    with engine.begin() as conn:
        for statement in LEGACY_TRIGGERS[engine.dialect.name]:
            conn.execute(sa.text(statement))
        if not legacy:  # today's tables: the triggers revision 0007 adds as well
            for statement in NEWER_TRIGGERS[engine.dialect.name]:
                conn.execute(sa.text(statement))


def create_all_as_of_0001(engine: sa.Engine) -> None:
    """Build the schema as create_schema() did at git ce23979, before migrations.

    tables.py has changed in two places since: the invoices' two indexes became partial, and
    sync_runs.status got longer. test_revision_0001_is_the_schema_create_all_made_before_migrations
    keeps this honest.
    """
    create_all_with_triggers(engine, legacy=True)
    with engine.begin() as conn:
        for statement in (
            "DROP INDEX ix_invoices_open_customer_id_due_date",
            "DROP INDEX ix_invoices_source_id_order_ref",
            "CREATE INDEX ix_invoices_customer_id_is_open_due_date "
            "ON invoices (customer_id, is_open, due_date)",
            "CREATE INDEX ix_invoices_source_id_order_ref ON invoices (source_id, order_ref)",
        ):
            conn.exec_driver_sql(statement)


def trimmed(after: list[Any], before: list[Any]) -> list[Any]:
    """Rows as they read after a migration, without the columns it added (at the end)."""
    width = len(before[0]) if before else None
    return [tuple(row)[:width] for row in after]


def schema_objects(engine: sa.Engine) -> dict[str, str | None]:
    """Every table, index, constraint and trigger, as the database itself spells them."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(
                "SELECT type || ' ' || name, sql FROM sqlite_master "
                "WHERE name NOT LIKE 'sqlite_%' AND tbl_name != 'alembic_version'"
            )
            # A table rebuilt by a batch migration is spelled CREATE TABLE "name": same table.
            return {name: _unquote_table(sql) for name, sql in rows}
        here = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        rows = conn.exec_driver_sql(
            "SELECT 'index ' || indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename != 'alembic_version' "
            "UNION ALL SELECT 'constraint ' || conname, pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
            "WHERE c.connamespace = current_schema()::regnamespace "
            "AND t.relname != 'alembic_version' "
            "UNION ALL SELECT 'trigger ' || tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
            "JOIN pg_class r ON r.oid = t.tgrelid "
            "WHERE NOT tgisinternal AND r.relnamespace = current_schema()::regnamespace "
            "UNION ALL SELECT 'column ' || table_name || '.' || column_name, "
            "concat_ws(' ', data_type, character_maximum_length, numeric_precision, "
            "numeric_scale, is_nullable, column_default) FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name != 'alembic_version'"
        )
        return {name: (sql or "").replace(f"{here}.", "") for name, sql in rows}


def _unquote_table(sql: str | None) -> str | None:
    """One spelling per table: unquoted name, and its column and constraint definitions in
    sorted order (ALTER TABLE ADD COLUMN appends a column where create_all lists it in place)."""
    if not sql:
        return sql
    sql = re.sub(r'^CREATE TABLE "(\w+)"', r"CREATE TABLE \1", sql)
    if not sql.startswith("CREATE TABLE"):
        return sql
    head, _, body = sql.partition("(")
    parts, depth, current = [], 0, ""
    for char in body.rstrip().removesuffix(")"):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return f"{head.strip()} ({', '.join(sorted(parts))})"


def index_names(engine: sa.Engine, table: str = "invoices") -> set[str]:
    return {index["name"] for index in sa.inspect(engine).get_indexes(table)}


def test_migrating_an_empty_database_builds_exactly_what_create_all_builds(engine, second_engine):
    migrated = schema.upgrade(engine)
    create_all_with_triggers(second_engine)

    assert migrated == schema.Migrated(None, HEAD)
    assert schema.current_revision(engine) == schema.head_revision() == HEAD
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    # compare_metadata ignores partial-index predicates (and triggers): compare the DDL too.
    assert schema_objects(engine) == schema_objects(second_engine)


def test_revision_0001_is_the_schema_create_all_made_before_migrations(engine, second_engine):
    schema.upgrade(engine, "0001")
    create_all_as_of_0001(second_engine)

    assert index_names(engine) >= set(OLD_INDEXES)
    assert schema_objects(engine) == schema_objects(second_engine)


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE decisions SET outcome = 'blocked'",
        "DELETE FROM decisions",
        "UPDATE audit_events SET actor = 'someone else'",
        "DELETE FROM audit_events",
    ],
)
def test_the_migrated_decision_log_and_audit_trail_refuse_changes(engine, change):
    schema.upgrade(engine)
    with engine.begin() as conn:
        insert_rows(conn)
    before = all_rows(engine)

    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql(change)

    assert all_rows(engine) == before


def test_upgrading_0001_to_head_keeps_the_data_and_the_gate_works_on_it(engine, services_here):
    schema.upgrade(engine, "0001")
    with engine.begin() as conn:
        insert_rows(conn)
    before = all_rows(engine)

    migrated = schema.upgrade(engine)

    assert migrated == schema.Migrated("0001", HEAD)
    after = all_rows(engine)
    assert {name: trimmed(after[name], before[name]) for name in before} == before
    assert all(after[name] == [] for name in TABLES_SINCE_MIGRATIONS)
    indexes = index_names(engine)
    assert set(NEW_INDEXES) <= indexes and OLD_INDEXES[0] not in indexes
    # The order-ref index kept its name: only its definition tells the partial one apart.
    assert "WHERE" in (schema_objects(engine)["index ix_invoices_source_id_order_ref"] or "")
    overdue = plan(
        engine,
        statements.OVERDUE_LIST,
        customer_id=1,
        due_before=TODAY.isoformat(),
        tolerance=0,
        limit=1,
    )
    assert "ix_invoices_open_customer_id_due_date" in overdue
    invoiced = plan(
        engine, statements.INVOICED_FOR_ORDER, source_id=1, order_ref="SO-0", currency="CNY"
    )
    assert "ix_invoices_source_id_order_ref" in invoiced

    services = services_here
    assert services.init_db() == 1
    position = credit_position(
        "erp", "C-1", uow=services.read_uow(), clock=services.clock, rates=services.rates
    )
    late, fine = [
        gate_order(
            OrderRequest("erp", order, customer, Decimal("100.00"), "CNY"),
            uow=services.uow(),
            clock=services.clock,
            rates=services.rates,
            caller="test",
        ).record
        for order, customer in (("SO-2", "C-1"), ("SO-3", "C-2"))
    ]
    assert position["exposure"] == {
        "open_invoices": Decimal("3000.00"),
        "unapplied_payments": Decimal("0.00"),
        "reservations": Decimal("1500.00"),
        "total": Decimal("4500.00"),
        "components": ["open_invoices", "unapplied_payments", "reservations"],
    }
    assert [invoice["number"] for invoice in position["overdue_invoices"]] == ["INV-1"]
    assert (late.outcome.value, late.reason_codes) == ("blocked", ("OVERDUE_INVOICES",))
    assert fine.outcome.value == "approved"


def test_init_db_stamps_a_database_made_before_migrations_as_0001_then_upgrades_it(
    engine, second_engine, services_here, caplog
):
    create_all_as_of_0001(engine)
    with engine.begin() as conn:
        insert_rows(conn)
    before = all_rows(engine)

    with caplog.at_level(logging.WARNING, logger="adapters.db.schema"):
        services_here.init_db()

    assert "made before migrations; stamping it as revision 0001" in caplog.text
    assert schema.current_revision(engine) == HEAD
    create_all_with_triggers(second_engine)
    assert schema_objects(engine) == schema_objects(second_engine)
    # Every row is still there; init_db added the default source and thresholds.
    after = all_rows(engine)
    for table, rows in before.items():
        kept = trimmed(after[table], rows)
        assert [row for row in rows if row not in kept] == [], table


def test_a_database_made_before_migrations_with_partial_indexes_is_stamped_0002_and_upgraded(
    engine, second_engine, caplog
):
    create_all_with_triggers(engine, legacy=True)

    with caplog.at_level(logging.WARNING, logger="adapters.db.schema"):
        migrated = schema.upgrade(engine)

    assert migrated == schema.Migrated("0002", HEAD)
    assert "stamping it as revision 0002" in caplog.text
    assert schema.current_revision(engine) == HEAD
    create_all_with_triggers(second_engine)
    assert schema_objects(engine) == schema_objects(second_engine)


def test_migrate_changes_nothing_at_head_and_brings_a_downgraded_database_back(
    engine, database_url, monkeypatch
):
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", database_url)
    monkeypatch.delenv("CREDITGATE_CONFIG", raising=False)
    runner = CliRunner()
    first = runner.invoke(main, ["init-db"])
    assert first.exit_code == 0, first.output
    assert f"schema migrated from (empty) to {HEAD}" in first.stdout
    objects, rows = schema_objects(engine), all_rows(engine)

    again = runner.invoke(main, ["migrate"])

    assert again.exit_code == 0, again.output
    assert again.stdout == f"schema is at head ({HEAD}); nothing to migrate\n"
    assert (schema_objects(engine), all_rows(engine)) == (objects, rows)

    schema.downgrade(engine, "0001")
    assert index_names(engine) >= set(OLD_INDEXES)
    back = runner.invoke(main, ["migrate"])

    assert back.exit_code == 0, back.output
    assert back.stdout == f"schema migrated from 0001 to {HEAD}\n"
    assert schema.current_revision(engine) == HEAD
    assert schema_objects(engine) == objects
    # Coming back across 0012 adopts the rows recorded before MACs (admin.adopt_unsigned_rows),
    # and across 0016 the sources (DbSyncStore.adopt_unsigned_sources): every row is kept as it
    # was (but its MAC, which the downgrade dropped), the chain, the signed copy of the active
    # thresholds and the adoptions' events are added. Every other table is as it was.
    after = all_rows(engine)
    adopted = {
        "audit_chain",
        "audit_events",
        "thresholds_versions",
        "api_clients",
        "users",
        "sources",
    }
    assert {k: v for k, v in after.items() if k not in adopted} == {
        k: v for k, v in rows.items() if k not in adopted
    }
    for name in adopted - {"audit_chain"}:
        kept = [row[:-1] for row in after[name]][: len(rows[name])]  # the MAC is last
        assert kept == [row[:-1] for row in rows[name]], name
    assert len(after["thresholds_versions"]) == len(rows["thresholds_versions"]) + 1


def test_a_migration_that_fails_half_way_leaves_the_database_as_it_was(engine):
    schema.upgrade(engine, "0001")
    with engine.begin() as conn:
        insert_rows(conn)
        # Takes the name 0002 gives the open-invoices index, so 0002 fails after its drops.
        conn.exec_driver_sql(
            "CREATE INDEX ix_invoices_open_customer_id_due_date ON payments (customer_id)"
        )
    objects, rows = schema_objects(engine), all_rows(engine)

    with pytest.raises(sa.exc.DBAPIError, match="already exists"):
        schema.upgrade(engine)

    assert schema.current_revision(engine) == "0001"
    assert (schema_objects(engine), all_rows(engine)) == (objects, rows)


def test_a_downgrade_that_would_count_instalments_twice_is_refused(engine):
    schema.upgrade(engine)
    with engine.begin() as conn:
        insert_rows(conn)
        conn.execute(sa.text("UPDATE invoices SET instalments = 2"))

    with pytest.raises(RuntimeError, match="would count them twice"):
        schema.downgrade(engine, "0009")


def test_reset_database_drops_the_tables_the_migration_record_and_the_trigger_function(
    engine, services_here
):
    services = services_here
    services.init_db()

    services.reset_database()

    assert sa.inspect(engine).get_table_names() == []
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            assert (
                conn.exec_driver_sql(
                    "SELECT proname FROM pg_proc WHERE proname = 'creditgate_append_only'"
                ).all()
                == []
            )
    assert services.init_db() == 1


# Rows valid at revision 0001, written through ad hoc Core tables (never the live ones, which
# may have moved on), with the storage types the columns had then.
TYPES: dict[str, Any] = {
    **dict.fromkeys(("settings", "response", "snapshot", "details"), sa.JSON()),
    **dict.fromkeys(
        ("created_at", "updated_at", "decided_at", "occurred_at", "expires_at", "last_success_at"),
        UTCDateTime(),
    ),
    **dict.fromkeys(("issue_date", "due_date"), sa.Date()),
    **dict.fromkeys(("on_hold", "is_open", "cancelled"), sa.Boolean()),
    **dict.fromkeys(
        (
            *("credit_limit", "open_invoices", "unapplied", "reserved", "total", "open_amount"),
            *("amount", "invoiced"),
        ),
        Money(),
    ),
}


def add(conn: sa.Connection, table: str, **values: Any) -> Any:
    columns = [sa.column(name, TYPES.get(name)) for name in values]
    target = sa.table(table, sa.column("id"), *columns)
    if table == "customer_balances":
        return conn.execute(target.insert().values(**values))
    return conn.execute(target.insert().values(**values).returning(target.c.id)).scalar_one()


def insert_rows(conn: sa.Connection) -> None:
    """A source, two customers, three invoices, an approved order, its decision, an audit row."""
    source = add(
        conn, "sources", name="erp", kind="csv", settings={}, last_success_at=NOW, created_at=NOW
    )
    late, fine = (
        add(
            conn,
            "customers",
            source_id=source,
            external_id=ref,
            name=name,
            credit_limit=Decimal(limit),
            currency="CNY",
            on_hold=False,
            updated_at=NOW,
        )
        for ref, name, limit in (
            ("C-1", "Late Payer Ltd.", "10000.00"),
            ("C-2", "Fine Co.", "5000.00"),
        )
    )
    add(
        conn,
        "customer_balances",
        customer_id=late,
        currency="CNY",
        open_invoices=Decimal("3000.00"),
        unapplied=Decimal("0.00"),
        reserved=Decimal("1500.00"),
    )
    for ref, customer, due, total, open_amount, order_ref in (
        ("INV-1", late, -60, "1000.00", "1000.00", None),
        ("INV-2", late, 20, "2500.00", "2000.00", "SO-0"),
        ("INV-3", fine, -10, "500.00", "0.00", None),
    ):
        add(
            conn,
            "invoices",
            source_id=source,
            external_id=f"I-{ref}",
            customer_id=customer,
            number=ref,
            issue_date=TODAY + timedelta(days=due - 30),
            due_date=TODAY + timedelta(days=due),
            currency="CNY",
            total=Decimal(total),
            open_amount=Decimal(open_amount),
            is_open=open_amount != "0.00",
            cancelled=False,
            order_ref=order_ref,
            updated_at=NOW,
        )
    decision = "5f0c3c1e-0000-4000-8000-000000000001"
    add(
        conn,
        "orders",
        source_id=source,
        external_id="SO-1",
        customer_ref="C-1",
        customer_id=late,
        amount=Decimal("1500.00"),
        currency="CNY",
        reserved=Decimal("1500.00"),
        invoiced=Decimal("0.00"),
        status="open",
        last_decision_id=decision,
        last_outcome="approved",
        expires_at=NOW + timedelta(days=30),
        created_at=NOW,
        updated_at=NOW,
    )
    add(
        conn,
        "decisions",
        id=decision,
        source="erp",
        order_id="SO-1",
        customer_id="C-1",
        outcome="approved",
        reason_codes="",
        decided_at=NOW,
        thresholds_version=1,
        caller="erp-test",
        response={"outcome": "approved"},
        snapshot={"exposure": "3000.00"},
    )
    add(
        conn,
        "audit_events",
        occurred_at=NOW,
        actor="admin",
        action="customer.hold",
        subject="customer C-2",
        details={"reason": "test"},
    )


def all_rows(engine: sa.Engine) -> dict[str, list[Any]]:
    with engine.connect() as conn:
        names = sorted(set(sa.inspect(conn).get_table_names()) - {"alembic_version"})
        return {
            name: conn.exec_driver_sql(f"SELECT * FROM {name} ORDER BY 1").all() for name in names
        }


def plan(engine: sa.Engine, stmt: Any, **params: Any) -> str:
    """The database's plan for `stmt` (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN)."""
    with engine.begin() as conn:
        compiled = stmt.compile(conn)
        values = {**compiled.params, **params}
        if conn.dialect.name == "sqlite":
            args = tuple(values[name] for name in compiled.positiontup or ())
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", args).all()
            return " | ".join(row[-1] for row in rows)
        # With a few rows PostgreSQL would rather scan the table: forbid that, see which index.
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", values).all()
        return " | ".join(row[0] for row in rows)
