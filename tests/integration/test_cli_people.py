"""`creditgate apikey list|revoke` and `creditgate user list|disable|enable|unlock|reset-password`:
people and keys are managed without SQL, every change is audited with the CLI as its actor, and a
revoked key is refused by every worker within the API-key cache's lifetime."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import connector.auth
from adapters.db import logins, users
from adapters.db.tables import api_clients, audit_events
from config.settings import Settings
from config.wiring import Services, build_services
from connector import create_app
from connector.cli import main
from gating.commands import CreateUser
from gating.logins import SESSION_LIFETIME
from tests.conftest import AUDIT_KEY

PASSWORD = "correct horse battery staple"


@pytest.fixture
def cli(database_url, monkeypatch) -> Iterator[Services]:
    """The CLI's database (set up by `init-db`), and services over it for the checks."""
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", database_url)
    monkeypatch.delenv("CREDITGATE_CONFIG", raising=False)
    assert run("init-db").exit_code == 0
    settings = Settings(database_url=database_url, rates_reference="CNY", audit_keys=(AUDIT_KEY,))
    services = build_services(settings)
    yield services
    services.engine.dispose()


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=input)


def _audited(services: Services) -> list[tuple[str, str, str]]:
    with services.engine.connect() as conn:
        return [
            (row.actor, row.action, row.subject)
            for row in conn.execute(select(audit_events).order_by(audit_events.c.id))
        ]


def _key(output: str) -> str:
    found = re.search(r"(cg_\w+_[\w-]+)", output)
    assert found, output
    return found.group(1)


def _gate(app: Any, key: str) -> int:
    body = {"order_id": "SO-1", "customer_id": "C-NEW", "amount": "10.00", "currency": "CNY"}
    response = app.test_client().post(
        "/api/v1/gate/orders",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    return int(response.status_code)


def test_apikey_list_shows_every_client_and_never_a_key_or_a_secret(cli):
    erp = run("apikey", "create", "--role", "erp", "--name", "erp-1")
    signed = run("apikey", "create", "--role", "auditor", "--name", "audit-1", "--signed")
    run("apikey", "create", "--role", "admin", "--name", "old-admin")
    run("sources", "add", "erp2", "--kind", "csv-folder", "--path", "/srv/erp2")
    both = run(
        "apikey", "create", "--role", "erp", "--name", "erp-both", "--sources", "default,erp2"
    )
    assert both.exit_code == 0, both.output
    assert _gate(create_app(cli), _key(erp.stdout)) == 200
    run("apikey", "revoke", "old-admin")

    listed = run("apikey", "list")

    assert listed.exit_code == 0, listed.output
    lines = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    # name, role (signed), source, language, created (date, time), last decision, revoked
    assert lines["erp-1"][1:4] == ["erp", "default", "en"]
    assert lines["erp-both"][1:3] == ["erp", "default,erp2"]  # every source it was granted
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", lines["erp-1"][6]) and lines["erp-1"][-1] == "no"
    assert lines["audit-1"][1:5] == ["auditor", "signed", "default", "en"]
    assert lines["audit-1"][7:] == ["-", "no"]
    assert lines["old-admin"][6] == "-" and re.fullmatch(r"\d\d:\d\d", lines["old-admin"][-1])
    secret = re.search(r"signing secret: (\w+)", signed.stdout).group(1)
    with cli.engine.connect() as conn:
        hashes = conn.execute(select(api_clients.c.key_hash)).scalars().all()
    for hidden in [_key(erp.stdout), _key(signed.stdout), secret, *hashes]:
        assert hidden not in listed.output


def test_a_revoked_key_is_refused_by_every_worker_within_the_cache_lifetime(cli):
    key = _key(run("apikey", "create", "--role", "erp", "--name", "erp-1").stdout)
    ticks = [0.0]
    worker = create_app(cli)
    worker.extensions["creditgate.clients"] = connector.auth.new_client_cache(lambda: ticks[0])
    assert _gate(worker, key) == 200  # this worker now holds the key in its cache

    revoked = run("apikey", "revoke", "erp-1")

    assert revoked.exit_code == 0 and revoked.stdout == "API key of erp-1 revoked\n"
    assert _gate(create_app(cli), key) == 401  # a worker that had not cached it: at once
    ticks[0] = connector.auth.FRESH_SECONDS
    assert _gate(worker, key) == 401  # the one that had: once its cache entry is old
    assert ("cli", "api_key_revoked", "api_client:erp-1") in _audited(cli)
    again = run("apikey", "revoke", "erp-1")
    unknown = run("apikey", "revoke", "nobody")
    assert again.exit_code == 1 and "erp-1 was revoked already" in again.output
    assert unknown.exit_code == 1 and "no API client named 'nobody'" in unknown.output


def _session(services: Services, name: str, now: datetime) -> str:
    user = users.authenticate(services.engine, name, PASSWORD)
    assert user is not None
    return logins.start_session(services.engine, user.id, now, SESSION_LIFETIME)


def _user_line(name: str) -> list[str]:
    listed = run("user", "list")
    assert listed.exit_code == 0, listed.output
    for line in listed.stdout.splitlines()[1:]:
        if line.split()[0] == name:
            return line.split()
    raise AssertionError(f"{name} not listed:\n{listed.stdout}")


def test_disabling_a_user_ends_their_sessions_and_enabling_lets_them_in_again(cli, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    created = run(
        "user", "create", "--name", "ada", "--role", "admin", "--password-file", str(secret)
    )
    assert created.exit_code == 0, created.output
    now = datetime.now(UTC)
    token = _session(cli, "ada", now)
    listed = _user_line("ada")

    disabled = run("user", "disable", "ada")
    while_disabled = _user_line("ada")
    enabled = run("user", "enable", "ada")

    # name, role, created (date, time), disabled, failed, locked, sessions
    assert listed[1] == "admin" and listed[4:] == ["-", "0", "-", "1"]
    assert disabled.stdout == "user ada disabled; 1 session(s) ended\n"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", while_disabled[4]) and while_disabled[-1] == "0"
    assert logins.session_user(cli.engine, token, now, SESSION_LIFETIME) is None
    assert enabled.stdout == "user ada: enabled\n"
    assert users.authenticate(cli.engine, "ada", PASSWORD) is not None
    assert [a for a in _audited(cli) if a[1].startswith("user_")] == [
        ("cli", "user_created", "user:ada"),
        ("cli", "user_disabled", "user:ada"),
        ("cli", "user_enabled", "user:ada"),
    ]
    for command in ("disable", "enable", "unlock", "reset-password"):
        unknown = run("user", command, "nobody", input=f"{PASSWORD}\n{PASSWORD}\n")
        assert unknown.exit_code == 1 and "no user named 'nobody'" in unknown.output, command


def test_a_locked_name_is_shown_and_enable_or_unlock_lifts_the_lock(cli):
    cli.writes.create_user(CreateUser("ada", "admin", PASSWORD))
    cli.writes.create_user(CreateUser("sam", "credit_specialist", PASSWORD))
    moment = datetime.now(UTC)
    for name in ("ada", "sam"):
        for _ in range(10):
            assert logins.admit(cli.engine, name, "10.0.0.1", moment).allowed
            logins.failed(cli.engine, name, "10.0.0.1", moment)
            moment += timedelta(minutes=20)  # past every wait
    locked = _user_line("ada")

    unlocked = run("user", "unlock", "ada")
    enabled = run("user", "enable", "sam")
    not_locked = run("user", "unlock", "ada")

    assert locked[5] == "10" and re.fullmatch(r"\d{4}-\d\d-\d\d", locked[6])
    assert unlocked.stdout == "user ada: unlocked\n"
    assert enabled.stdout == "user sam: unlocked\n"
    assert not_locked.stdout == "user ada: was not locked\n"
    assert _user_line("ada")[5:] == ["0", "-", "0"]
    assert logins.admit(cli.engine, "sam", "10.0.0.2", moment).allowed
    unlocks = [a for a in _audited(cli) if a[1] in ("login_locked", "login_unlocked")]
    assert unlocks == [
        ("web", "login_locked", "user:ada"),
        ("web", "login_locked", "user:sam"),
        ("cli", "login_unlocked", "user:ada"),
        ("cli", "login_unlocked", "user:sam"),
    ]


def test_reset_password_reads_it_twice_from_the_terminal_or_a_pipe(cli):
    cli.writes.create_user(CreateUser("ada", "admin", PASSWORD))
    now = datetime.now(UTC)
    token = _session(cli, "ada", now)

    short = run("user", "reset-password", "ada", input="short\nshort\n")
    reset = run("user", "reset-password", "ada", input="a brand new passphrase\n" * 2)

    assert short.exit_code == 1 and "at least 12 characters" in short.output
    assert reset.exit_code == 0 and "password of ada reset; 1 session(s) ended" in reset.stdout
    assert logins.session_user(cli.engine, token, now, SESSION_LIFETIME) is None
    assert users.authenticate(cli.engine, "ada", PASSWORD) is None
    assert users.authenticate(cli.engine, "ada", "a brand new passphrase") is not None
    assert ("cli", "password_reset", "user:ada") in _audited(cli)
