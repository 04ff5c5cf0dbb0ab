"""`creditgate sources set`: an existing source's settings changed, checked as `sources add`
checks them, audited with each setting's old and new value, the row signed again; and a source
row changed outside creditgate, flagged and used for nothing until a person adopts it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from adapters.db import schema
from adapters.db.tables import audit_events, sources
from config.settings import Settings
from config.sources import Connections, SourceConfigError
from config.wiring import Services, build_services
from connector.cli import main
from tests.conftest import AUDIT_KEY

TRYTON = (
    "--kind", "tryton", "--url", "http://127.0.0.1:1", "--database", "credit",
    "--username-env", "ERP_USER", "--password-env", "ERP_PASSWORD",
)  # fmt: skip
ZOHO = (
    "--kind", "zoho-crm", "--dc", "eu", "--currency", "EUR", "--client-id-env", "ZOHO_ID",
    "--client-secret-env", "ZOHO_SECRET", "--refresh-token-env", "ZOHO_REFRESH", "--skip-check",
)  # fmt: skip
SECRETS = {
    "ERP_USER": "erp-user-value",
    "ERP_PASSWORD": "tryton-password-value",
    "ZOHO_ID": "1000.client-id-value",
    "ZOHO_SECRET": "zoho-secret-value",
    "ZOHO_REFRESH": "1000.refresh-token-value",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Services]:
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", database_url)
    monkeypatch.delenv("CREDITGATE_CONFIG", raising=False)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    assert run("init-db").exit_code == 0
    services = build_services(Settings.from_env(os.environ))
    yield services
    services.engine.dispose()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def row(services: Services, name: str) -> dict[str, Any]:
    return services.sync_store().source(name)


def events(services: Services, action: str) -> list[dict[str, Any]]:
    with services.engine.connect() as conn:
        found = conn.execute(
            sa.select(audit_events).where(audit_events.c.action == action).order_by("id")
        )
        return [dict(r._mapping) for r in found]


def adapter_of(services: Services, name: str) -> Any:
    return Connections(os.environ).adapter(row(services, name))


def test_set_changes_a_setting_and_the_next_adapter_is_built_with_it(env: Services) -> None:
    added = run("sources", "add", "erp", *TRYTON, "--overlap-seconds", "90")

    changed = run("sources", "set", "erp", "--overlap-seconds", "30", "--url", "http://erp:8000")
    after_set = adapter_of(env, "erp")
    unset = run("sources", "set", "erp", "--unset", "overlap-seconds")
    after_unset = adapter_of(env, "erp")

    assert added.exit_code == 0, added.output
    assert changed.exit_code == 0, changed.output
    assert "overlap_seconds: 90 -> 30" in changed.output
    assert "url: http://127.0.0.1:1 -> http://erp:8000" in changed.output
    assert after_set.overlap.total_seconds() == 30
    assert after_set.base_url == "http://erp:8000"
    assert unset.exit_code == 0, unset.output
    assert "overlap_seconds: 30 -> (none)" in unset.output
    assert "overlap_seconds" not in row(env, "erp")["settings"]
    assert after_unset.overlap.total_seconds() == 600  # the adapter's own default again
    assert row(env, "erp")["genuine"]


def test_add_and_set_are_audited_with_old_and_new_values_and_no_secret(env: Services) -> None:
    run("sources", "add", "erp", *TRYTON[:2], "--url", "http://admin:hunter2@erp:8000",
        *TRYTON[4:])  # fmt: skip
    run("sources", "set", "erp", "--username-env", "ERP_READER", "--url", "http://erp:8000")
    run("sources", "set", "erp", "--url", "http://erp:8000")  # nothing changes, nothing recorded

    added, changed = events(env, "source_added"), events(env, "source_changed")

    assert [(e["actor"], e["subject"]) for e in added] == [("cli", "source:erp")]
    assert added[0]["details"] == {
        "kind": "tryton",
        "database": {"old": None, "new": "credit"},
        "password_env": {"old": None, "new": "ERP_PASSWORD"},
        "url": {"old": None, "new": "http://admin:***@erp:8000"},
        "username_env": {"old": None, "new": "ERP_USER"},
    }
    assert [(e["actor"], e["subject"]) for e in changed] == [("cli", "source:erp")]
    assert changed[0]["details"] == {
        "kind": "tryton",
        "url": {"old": "http://admin:***@erp:8000", "new": "http://erp:8000"},
        "username_env": {"old": "ERP_USER", "new": "ERP_READER"},
    }
    recorded = json.dumps([e["details"] for e in added + changed])
    assert "hunter2" not in recorded
    assert not any(secret in recorded for secret in SECRETS.values())
    assert env.reads.verify_audit_trail().ok  # the events carry valid MACs


def test_warnings_for_is_replaced_and_cleared_and_push_turned_off_and_on(env: Services) -> None:
    run("sources", "add", "crm", *ZOHO, "--warnings-for", "erp")

    replaced = run("sources", "set", "crm", "--warnings-for", "a", "--warnings-for", "b",
                   "--no-push", "--trigger", "none", "--skip-check")  # fmt: skip
    settings_then = row(env, "crm")["settings"]
    cleared = run("sources", "set", "crm", "--unset", "warnings-for", "--push",
                  "--unset", "trigger", "--skip-check")  # fmt: skip

    assert replaced.exit_code == 0, replaced.output
    assert settings_then["warnings_for"] == ["a", "b"]
    assert settings_then["push"] is False and settings_then["triggers"] == []
    assert cleared.exit_code == 0, cleared.output
    settings = row(env, "crm")["settings"]
    assert "warnings_for" not in settings and "push" not in settings
    assert "triggers" not in settings  # Zoho runs the org's own rules again


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (("--dc", "mars"), 1, "--dc takes one of"),
        (("--level-field", "Credit Level"), 1, "--level-field must be a Zoho field API name"),
        (("--trigger", "none", "--trigger", "workflow"), 2, "'none' runs nothing"),
        (("--database", "credit"), 2, "a zoho-crm source does not read --database"),
        (("--unset", "client-id-env"), 2, "not an optional setting of a zoho-crm source"),
        (("--unset", "dc", "--dc", "us"), 2, "--dc is both given and unset"),
    ],
)
def test_an_invalid_set_is_refused_and_the_row_is_unchanged(
    env: Services, args: tuple[str, ...], code: int, said: str
) -> None:
    run("sources", "add", "crm", *ZOHO)
    before = row(env, "crm")

    result = run("sources", "set", "crm", *args, "--skip-check")

    assert result.exit_code == code, result.output
    assert said in result.output
    assert row(env, "crm") == before
    assert events(env, "source_changed") == []


def test_set_tests_the_credentials_as_add_does_unless_skipped(
    env: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("sources", "add", "crm", *ZOHO)
    before = row(env, "crm")
    monkeypatch.delenv("ZOHO_SECRET")

    checked = run("sources", "set", "crm", "--dc", "us")

    assert checked.exit_code == 1
    assert "$ZOHO_SECRET, which is not set" in checked.output
    assert row(env, "crm") == before


def test_an_unknown_source_is_refused(env: Services) -> None:
    result = run("sources", "set", "nope", "--url", "http://erp:8000")

    assert result.exit_code == 1
    assert "no source named 'nope'" in result.output


def test_a_change_saved_meanwhile_is_not_undone(env: Services) -> None:
    run("sources", "add", "erp", *TRYTON)
    read = row(env, "erp")
    run("sources", "set", "erp", "--database", "other")

    with pytest.raises(ValueError, match="changed meanwhile"):
        env.set_source(read, url=read["url"], settings=read["settings"], actor="cli")
    assert row(env, "erp")["settings"]["database"] == "other"


def test_a_row_changed_with_sql_is_flagged_refused_and_adopted_only_on_request(
    env: Services,
) -> None:
    run("sources", "add", "erp", *TRYTON)
    with env.engine.begin() as conn:
        conn.execute(sa.update(sources).where(sources.c.name == "erp").values(url="http://evil"))

    listed = run("sources", "list")
    verified = env.reads.verify_audit_trail()
    synced = run("sync", "--source", "erp")
    refused = run("sources", "set", "erp", "--url", "http://erp:8000")
    adopted = run("sources", "set", "erp", "--url", "http://erp:8000", "--adopt")

    assert "CHANGED OUTSIDE CREDITGATE" in listed.output and "http://evil" in listed.output
    assert "source 'erp' (tryton) is forged" in " ".join(verified.problems)
    assert synced.exit_code == 1
    assert "source 'erp': its row was changed outside creditgate" in synced.output
    assert refused.exit_code == 1 and "--adopt" in refused.output
    assert adopted.exit_code == 0, adopted.output
    assert row(env, "erp")["genuine"] and row(env, "erp")["url"] == "http://erp:8000"
    assert events(env, "source_changed")[-1]["details"] == {
        "kind": "tryton",
        "url": {"old": "http://evil", "new": "http://erp:8000"},
        # Exactly what was signed, on record.
        "adopted": {
            "kind": "tryton",
            "url": "http://erp:8000",
            "settings": {
                "database": "credit",
                "password_env": "ERP_PASSWORD",
                "username_env": "ERP_USER",
            },
        },
    }
    assert "CHANGED OUTSIDE" not in run("sources", "list").output
    assert env.reads.verify_audit_trail().ok


def test_the_upgrade_signs_the_sources_made_before_source_macs(database_url: str) -> None:
    services = build_services(Settings(database_url=database_url, audit_keys=(AUDIT_KEY,)))
    schema.upgrade(services.engine, "0015")
    with services.engine.begin() as conn:  # as `sources add` wrote it then, without a MAC
        conn.execute(
            sa.insert(sources).values(
                name="erp",
                kind="csv-folder",
                settings={"path": str(Path("/srv/erp-exports"))},
                created_at=sa.func.now(),
            )
        )

    migrated = services.migrate()

    assert migrated.crossed(schema.SOURCE_MAC_REVISION)
    assert row(services, "erp")["genuine"]
    # What was signed is on record: a row changed before an upgrade shows as what it held.
    adopted = {
        "kind": "csv-folder",
        "url": None,
        "settings": {"path": str(Path("/srv/erp-exports"))},
    }
    assert [e["details"] for e in events(services, "source_macs_adopted")] == [
        {"sources": {"erp": adopted}}
    ]
    services.engine.dispose()


def test_the_jobs_refuse_a_row_the_store_did_not_vouch_for(env: Services) -> None:
    run("sources", "add", "erp", *TRYTON)
    stored = row(env, "erp")
    unread = {k: v for k, v in stored.items() if k != "genuine"}

    with pytest.raises(SourceConfigError, match="changed outside creditgate"):
        Connections(os.environ).adapter(unread)
    assert Connections(os.environ).push_target(stored) is not None


def test_a_row_changed_with_sql_to_another_kind_is_refused_not_left_quiet(env: Services) -> None:
    run("sources", "add", "erp", *TRYTON)
    with env.engine.begin() as conn:  # a kind that pulls and pushes nothing
        conn.execute(sa.update(sources).where(sources.c.name == "erp").values(kind="csv-folder"))

    synced = {r.source: r for r in env.sync()}
    warned = {r.source: r for r in env.compute_warnings()}
    pushed = {r.target: r for r in env.push()}

    for report in (synced["erp"], warned["erp"], warned["default"], pushed["erp"]):
        assert "source 'erp': its row was changed outside creditgate" in (report.error or "")


def test_two_rows_swapped_with_their_macs_are_both_refused(env: Services) -> None:
    run("sources", "add", "erp-a", *TRYTON)
    run("sources", "add", "erp-b", *TRYTON[:3], "http://127.0.0.1:2", *TRYTON[4:])
    a, b = row(env, "erp-a"), row(env, "erp-b")
    columns = ("name", "kind", "url", "settings", "created_at", "mac")
    with env.engine.begin() as conn:
        conn.execute(sa.update(sources).where(sources.c.id == a["id"]).values(name="swap"))
        for into, take in ((b, a), (a, b)):
            values = {c: take[c] for c in columns}
            conn.execute(sa.update(sources).where(sources.c.id == into["id"]).values(**values))

    assert row(env, "erp-a")["id"] == b["id"] and row(env, "erp-b")["id"] == a["id"]
    assert not row(env, "erp-a")["genuine"] and not row(env, "erp-b")["genuine"]


def test_the_list_shows_a_forged_row_without_its_control_characters_or_a_crash(
    env: Services,
) -> None:
    run("sources", "add", "erp", *TRYTON)
    run("sources", "add", "crm", *ZOHO)
    with env.engine.begin() as conn:
        conn.execute(
            sa.update(sources)
            .where(sources.c.name == "erp")
            .values(url="http://x\x1b]0;pwned\x07/", name="erp\x1b[2J")
        )
        conn.execute(sa.update(sources).where(sources.c.name == "crm").values(settings=["a"]))

    listed = run("sources", "list")
    adopted = run("sources", "set", "crm", "--adopt", *ZOHO[2:])

    assert listed.exit_code == 0, listed.output
    assert "\x1b" not in listed.output and "\x07" not in listed.output
    assert "'http://x\\x1b]0;pwned\\x07/'" in listed.output
    assert "'crm' CHANGED OUTSIDE CREDITGATE" in listed.output
    assert adopted.exit_code == 0, adopted.output
    assert row(env, "crm")["genuine"] and row(env, "crm")["settings"]["dc"] == "eu"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--warnings-for", "erp"), "takes no pushes"),
        (("--no-push",), "takes no pushes"),
        (("--path", " "), "is empty"),
    ],
)
def test_settings_that_would_do_nothing_are_refused(
    env: Services, tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    result = run("sources", "add", "files", "--kind", "csv-folder", "--path", str(tmp_path), *args)

    assert result.exit_code != 0
    assert said in result.output
    assert [r["name"] for r in env.sync_store().sources()] == ["default"]


def test_an_empty_value_is_refused_by_set(env: Services) -> None:
    run("sources", "add", "erp", *TRYTON)
    before = row(env, "erp")

    result = run("sources", "set", "erp", "--url", "")

    assert result.exit_code == 2 and "is empty" in result.output
    assert row(env, "erp") == before


def test_warnings_for_a_source_that_does_not_exist_is_noted(env: Services) -> None:
    result = run("sources", "add", "crm", *ZOHO, "--warnings-for", "erp")

    assert result.exit_code == 0, result.output
    assert "there is no source 'erp' (yet)" in result.output
    assert "(yet)" not in run("sources", "set", "crm", "--warnings-for", "default").output
