"""The audit key: where it comes from, how it rotates, and what happens without one; and text
no row can use to stop the sealer (a lone surrogate)."""

from __future__ import annotations

import hashlib
import logging
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, insert, select
from sqlalchemy.pool import NullPool
from werkzeug.security import generate_password_hash

from adapters.db import audit_chain, macs, schema, users
from adapters.db.engine import make_engine
from adapters.db.tables import api_clients, audit_events, sources, thresholds_versions
from adapters.db.tables import audit_chain as chain
from adapters.db.tables import users as users_table
from config.audit_keys import audit_keyring
from config.settings import Settings, SettingsError
from config.thresholds import thresholds_document
from config.wiring import build_services
from connector.cli import main
from gating.commands import ChangeThresholds, CreateUser
from tests.conftest import AUDIT_KEY, NOW, THRESHOLDS

OTHER_KEY = "another-audit-key-for-rotation-0123456789"
SURROGATE = "\ud800"


def test_settings_read_the_key_the_key_file_and_the_old_keys(tmp_path):
    key_file = tmp_path / "keys"
    key_file.write_text(f"# current first\n{OTHER_KEY}\n\n{AUDIT_KEY}\n")

    from_env = Settings.from_env(
        {"CREDITGATE_AUDIT_KEY": AUDIT_KEY, "CREDITGATE_AUDIT_KEYS_OLD": f"{OTHER_KEY}, "}
    )
    from_file = Settings.from_env({"CREDITGATE_AUDIT_KEY_FILE": str(key_file)})

    assert from_env.audit_keys == (AUDIT_KEY, OTHER_KEY)
    assert from_file.audit_keys == (OTHER_KEY, AUDIT_KEY)
    assert AUDIT_KEY not in repr(from_env)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"CREDITGATE_AUDIT_KEY": "short"}, "CREDITGATE_AUDIT_KEY: an audit key needs at least 32"),
        ({"CREDITGATE_AUDIT_KEYS_OLD": AUDIT_KEY}, "CREDITGATE_AUDIT_KEYS_OLD only verifies"),
        (
            {"CREDITGATE_AUDIT_KEY": AUDIT_KEY, "CREDITGATE_AUDIT_KEY_FILE": "/x"},
            "not both",
        ),
        ({"CREDITGATE_AUDIT_KEY_FILE": "/no/such/file"}, "CREDITGATE_AUDIT_KEY_FILE: cannot read"),
    ],
)
def test_a_bad_key_setting_is_named(environ, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(environ)


def test_a_server_database_without_a_key_refuses_to_start():
    with pytest.raises(SettingsError, match=r"CREDITGATE_AUDIT_KEY .* is not set"):
        build_services(Settings(database_url="postgresql+psycopg://u@127.0.0.1:1/none"))


def test_the_cli_says_so_too(monkeypatch):
    monkeypatch.delenv("CREDITGATE_AUDIT_KEY")
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1:1/none")

    result = CliRunner().invoke(main, ["audit", "verify"])

    assert result.exit_code == 1 and "CREDITGATE_AUDIT_KEY" in result.output
    assert "Traceback" not in result.output


def test_a_sqlite_file_without_a_key_gets_a_key_file_beside_it_once(tmp_path, caplog):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/cg.db")
    with caplog.at_level(logging.WARNING):
        first = audit_keyring(settings)
    second = audit_keyring(settings)
    key_file = tmp_path / "cg.db.audit-key"

    assert first.current == second.current
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "made an audit key at" in caplog.text
    services = build_services(settings, clock=lambda: NOW)
    services.init_db()
    with services.engine.connect() as conn:
        stored = conn.execute(select(thresholds_versions.c.mac)).scalar_one()
    assert stored.startswith(first.current + ":")
    assert key_file.read_text().strip() not in Path(tmp_path / "cg.db").read_bytes().decode(
        "latin-1"
    )
    services.engine.dispose()


def test_a_rotated_key_signs_new_rows_and_the_old_one_still_verifies_old_rows(services, clock):
    document = thresholds_document(THRESHOLDS)
    services.writes.change_thresholds(
        ChangeThresholds(document, "ada", "before the rotation")
    )  # version 2
    url = services.settings.database_url

    rotated = build_services(
        Settings(database_url=url, audit_keys=(OTHER_KEY, AUDIT_KEY)), clock=clock
    )
    rotated.writes.change_thresholds(
        ChangeThresholds(document, "ada", "after the rotation")
    )  # version 3
    audit_chain.seal(rotated.engine, NOW)
    both = audit_chain.verify(rotated.engine)
    retired = build_services(Settings(database_url=url, audit_keys=(OTHER_KEY,)), clock=clock)
    without_old = "\n".join(audit_chain.verify(retired.engine).problems)

    with rotated.engine.connect() as conn:
        kids = [
            mac.split(":")[0]
            for mac in conn.execute(
                select(thresholds_versions.c.mac).order_by(thresholds_versions.c.version)
            ).scalars()
        ]
    assert kids == [macs.key_id(AUDIT_KEY)] * 2 + [macs.key_id(OTHER_KEY)]
    assert both.ok, both.problems
    assert "thresholds version 2 is forged" in without_old
    assert "thresholds version 3 is forged" not in without_old
    for engine in (rotated.engine, retired.engine):
        engine.dispose()


# -- a lone surrogate can no longer stop the sealer -------------------------------------------


def test_a_lone_surrogate_in_a_written_row_is_sealed_and_verified(loaded, clock):
    # Text columns cannot hold one (the drivers refuse it); JSON columns can, escaped.
    loaded.pages.record("ada", "shadow_named", "shadow", {"name": SURROGATE, SURROGATE: 1})
    sealed = audit_chain.seal(loaded.engine, NOW)
    loaded.pages.record("ada", "after", "next", {})  # a later row is still chained

    result = audit_chain.verify(loaded.engine)
    again = audit_chain.seal(loaded.engine, NOW)

    assert sealed > 0 and again == 1
    assert result.ok, result.problems


def test_a_lone_surrogate_inserted_with_sql_is_named_not_a_crash(loaded, monkeypatch):
    attacker = create_engine(loaded.engine.url, poolclass=NullPool)
    with attacker.begin() as conn:
        conn.execute(
            insert(audit_events).values(
                occurred_at=NOW, actor="x", action="overrides", subject="s", details={SURROGATE: 1}
            )
        )
    attacker.dispose()
    loaded.pages.record("ada", "after", "next", {})
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", loaded.engine.url.render_as_string(False))

    result = CliRunner().invoke(main, ["audit", "verify"])

    assert result.exit_code == 1, result.output
    assert "(overrides s) is forged" in result.output
    assert "UnicodeEncodeError" not in result.output
    with loaded.engine.connect() as conn:
        kinds = conn.execute(select(chain.c.kind, chain.c.forged)).all()
    assert ("event", True) in kinds
    assert audit_chain.seal(loaded.engine, NOW) == 0  # everything, the row after it included


def test_the_web_verify_page_answers_with_a_lone_surrogate_stored(api, loaded):
    from tests.web.test_pages import PASSWORD, Browser

    loaded.writes.create_user(CreateUser("otto", "auditor", PASSWORD))
    loaded.pages.record("ada", "shadow_named", "shadow", {"name": SURROGATE})
    attacker = create_engine(loaded.engine.url, poolclass=NullPool)
    with attacker.begin() as conn:
        conn.execute(
            insert(audit_events).values(
                occurred_at=NOW, actor="x", action="forged", subject="s", details={SURROGATE: 1}
            )
        )
    attacker.dispose()
    browser = Browser(api.client.application.test_client())
    browser.login("otto")

    answer = browser.post("/audit/verify", {}, page="/audit")
    page = browser.text("/audit")

    assert answer.status_code == 302
    assert "BROKEN" in page and "(forged s) is forged" in page


def test_the_demo_makes_a_key_of_its_own(store_url, monkeypatch):
    monkeypatch.delenv("CREDITGATE_AUDIT_KEY")

    result = CliRunner().invoke(main, ["demo", "--no-serve", "--database", store_url])

    assert result.exit_code == 0, result.output
    engine = create_engine(store_url, poolclass=NullPool)
    with engine.connect() as conn:
        unsigned = conn.execute(select(audit_events).where(audit_events.c.mac.is_(None))).all()
    engine.dispose()
    assert unsigned == []
    if store_url.startswith("sqlite"):
        assert Path(store_url.removeprefix("sqlite:///") + ".audit-key").exists()


def test_an_upgrade_adopts_the_rows_recorded_before_macs(database_url):
    """A database at 0008 (no MACs) with thresholds, a user, an API key and an audit event:
    after the upgrade the key and the login still work, the gate keeps its thresholds, and
    verify holds, counting the rows sealed before MACs. A row inserted with SQL afterwards is
    forged."""
    engine = make_engine(database_url)
    schema.upgrade(engine, "0008")
    key = "cg_legacy_the-secret-part-of-the-key"
    document = {**thresholds_document(THRESHOLDS), "overdue_days": 45}
    with engine.begin() as conn:
        source = conn.execute(
            insert(sources).values(name="default", kind="csv", settings={}, created_at=NOW)
        ).inserted_primary_key[0]
        conn.execute(
            insert(thresholds_versions).values(
                version=1, created_at=NOW, created_by="ada", reason="ours", document=document
            )
        )
        conn.execute(
            insert(audit_events).values(
                occurred_at=NOW,
                actor="ada",
                action="thresholds_changed",
                subject="thresholds:1",
                details={},
            )
        )
        conn.execute(
            insert(users_table).values(
                username="ada",
                role="admin",
                created_at=NOW,
                password_hash=generate_password_hash("ada-password-123"),
            )
        )
        conn.execute(
            insert(api_clients).values(
                name="erp",
                role="erp",
                key_prefix="legacy",
                source_id=source,
                created_at=NOW,
                key_hash=hashlib.sha256(key.encode()).hexdigest(),
            )
        )
    engine.dispose()
    services = build_services(
        Settings(database_url=database_url, audit_keys=(AUDIT_KEY,), thresholds=THRESHOLDS),
        clock=lambda: NOW,
    )

    services.init_db()

    assert services.clients.find_client(key) is not None
    assert users.authenticate(services.engine, "ada", "ada-password-123") is not None
    assert services.reads.active_thresholds().overdue_days == 45
    result = services.reads.verify_audit_trail()
    assert result.ok, result.problems
    assert result.legacy == 2  # the version and the event, as chained before the upgrade
    attacker = create_engine(database_url, poolclass=NullPool)
    with attacker.begin() as conn:
        conn.execute(
            insert(audit_events).values(
                occurred_at=NOW, actor="x", action="hold_released", subject="s", details={}
            )
        )
    attacker.dispose()
    services.writes.seal_audit_trail()
    assert "(hold_released s) is forged" in "\n".join(services.reads.verify_audit_trail().problems)
    services.engine.dispose()
