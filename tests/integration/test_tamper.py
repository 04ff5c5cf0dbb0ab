"""The attacker with direct database access, on both databases: every change made around the
application (edit, delete, insert, truncate, cut-and-reseal, a rebuilt chain, a copied row) is
named by `audit verify`, and rows written with SQL grant nothing: a forged thresholds version is
not the rules, a forged API client or user may not act.

The attacker has the database's owner rights (disables or drops the triggers) but not the audit
key, which lives outside the database (CREDITGATE_AUDIT_KEY)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, func, insert, select, text, update
from sqlalchemy.pool import NullPool
from werkzeug.security import generate_password_hash

from adapters.db import admin, audit_chain, logins, users
from adapters.db.tables import (
    api_clients,
    audit_events,
    decisions,
    hold_resolutions,
    sources,
    thresholds_versions,
)
from adapters.db.tables import (
    audit_chain as chain,
)
from connector.cli import main
from gating.commands import CreateApiClient, CreateUser
from gating.logins import SESSION_LIFETIME
from tests.conftest import NOW

APPEND_ONLY = (
    "decisions",
    "audit_events",
    "thresholds_versions",
    "hold_resolutions",
    "audit_chain",
)


@pytest.fixture
def history(api, loaded) -> Engine:
    """Decisions, a release (a resolution and its events), a thresholds change, all sealed."""
    api.gate("SO-1", "C-100", "100.00")
    api.gate("SO-2", "C-300", "100.00")
    api.gate("SO-3", "C-600", "100.00")
    released = api.client.post(
        "/api/v1/admin/holds/SO-3/release",
        json={"reason": "known buyer"},
        headers=api.keys.header("admin"),
    )
    assert released.status_code == 200, released.get_json()
    current = api.client.get("/api/v1/admin/thresholds", headers=api.keys.header("admin"))
    changed = api.client.put(
        "/api/v1/admin/thresholds",
        json={"reason": "longer terms", "thresholds": {**current.get_json()["thresholds"]}},
        headers=api.keys.header("admin"),
    )
    assert changed.status_code == 200, changed.get_json()
    audit_chain.seal(loaded.engine, NOW)
    assert audit_chain.verify(loaded.engine).ok
    return loaded.engine


@pytest.fixture
def attacker(history: Engine) -> Iterator[Engine]:
    """A connection of the attacker's own: the database's URL, no audit key."""
    engine = create_engine(history.url, poolclass=NullPool)
    yield engine
    engine.dispose()


def around_triggers(conn: Any, table: str) -> None:
    """Step around the append-only triggers, as the database's owner can."""
    if conn.dialect.name == "sqlite":
        for action in ("update", "delete"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
    else:
        conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))


def one(engine: Engine, query: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(query).mappings().first() or {})


def problems(engine: Engine, **kwargs: Any) -> str:
    result = audit_chain.verify(engine, **kwargs)
    assert not result.ok
    return "\n".join(result.problems)


def forge_version(attacker: Engine, version: int, document: Any, mac: str | None = None) -> None:
    """A thresholds version inserted with SQL, as an admin's quiet change would look."""
    with attacker.begin() as conn:
        conn.execute(
            insert(thresholds_versions).values(
                version=version,
                created_at=NOW,
                created_by="admin-test",
                reason="quiet change",
                document=document,
                mac=mac,
            )
        )


def session_user_of(engine: Engine, user_id: int) -> Any:
    """Who a session started for `user_id` acts as, on the next page request."""
    token = logins.start_session(engine, user_id, NOW, SESSION_LIFETIME)
    return logins.session_user(engine, token, NOW, SESSION_LIFETIME)


def sealed_then_verified(engine: Engine) -> str:
    audit_chain.seal(engine, NOW)
    return problems(engine)


# -- inserts: each kind of row, written with SQL, is named forged (and sealed as such) ---------


def test_an_inserted_decision_is_named_forged_even_with_a_copied_mac(history, attacker):
    genuine = one(history, select(decisions).where(decisions.c.order_id == "SO-2"))
    forged_id = str(uuid.uuid4())
    forged = {**genuine, "id": forged_id, "order_id": "SO-X", "outcome": "approved"}
    del forged["seq"]
    with attacker.begin() as conn:
        conn.execute(insert(decisions).values(forged))  # the genuine row's MAC, copied

    found = sealed_then_verified(history)

    assert f"decision {forged_id} (order default/SO-X) is forged" in found
    with history.connect() as conn:
        link = conn.execute(select(chain).where(chain.c.kind == "decision")).mappings().all()
    assert [row["forged"] for row in link].count(True) == 1  # recorded as forged when sealed


def test_an_inserted_hold_released_event_is_named(history, attacker):
    with attacker.begin() as conn:
        conn.execute(
            insert(audit_events).values(
                occurred_at=NOW,
                actor="admin-test",
                action="hold_released",
                subject="order:default/SO-2",
                details={"reason": "trust me"},
            )
        )

    found = sealed_then_verified(history)

    assert "(hold_released order:default/SO-2) is forged" in found


def test_an_inserted_resolution_is_named_with_its_missing_decision(history, attacker):
    order_key = one(history, select(hold_resolutions.c.order_id))["order_id"]
    with attacker.begin() as conn:
        conn.execute(
            insert(hold_resolutions).values(
                order_id=order_key,
                action="release",
                actor="mallory",
                role="admin",
                reason="forged",
                currency="CNY",
                held_decision_id="no-such-decision",
                decision_id="no-such-decision",
                created_at=NOW,
            )
        )

    found = sealed_then_verified(history)

    assert "(release by mallory) is forged" in found
    assert "names decision no-such-decision, which does not exist" in found


def test_an_inserted_thresholds_version_is_named_and_never_becomes_the_rules(
    api, history, attacker
):
    latest = one(
        history, select(thresholds_versions).order_by(thresholds_versions.c.version.desc())
    )
    document = {**latest["document"], "overdue_days": 365}
    forge_version(attacker, latest["version"] + 1, document, mac=latest["mac"])

    # C-300 has invoices 45 and 31 days overdue: under the forged 365 days it would pass.
    decided = api.gate("SO-30", "C-300", "100.00").get_json()
    found = sealed_then_verified(history)

    assert decided["outcome"] == "blocked", decided
    assert "OVERDUE_INVOICES" in [r["code"] for r in decided["reasons"]]
    recorded = api.decision(decided["decision_id"]).get_json()
    assert recorded["thresholds_version"] == latest["version"]
    assert f"thresholds version {latest['version'] + 1} is forged" in found
    assert f"thresholds version {latest['version'] + 1} (by admin-test) has no " in found


def test_an_inserted_admin_user_is_named_and_cannot_log_in(loaded, history, attacker):
    with attacker.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, role, password_hash, created_at) "
                "VALUES ('mallory', 'admin', :hash, :at)"
            ),
            {"hash": generate_password_hash("mallory-password-1"), "at": NOW.replace(tzinfo=None)},
        )
    mallory = one(history, text("SELECT id FROM users WHERE username = 'mallory'"))

    found = problems(history)

    assert "user 'mallory' (role admin) is forged" in found
    assert users.authenticate(history, "mallory", "mallory-password-1") is None
    assert session_user_of(history, mallory["id"]) is None


def test_a_user_raised_to_admin_with_sql_is_named_and_refused(loaded, history, attacker):
    made = loaded.writes.create_user(CreateUser("otto", "auditor", "otto-password-12"))
    assert users.authenticate(history, "otto", "otto-password-12") is not None
    with attacker.begin() as conn:
        conn.execute(text("UPDATE users SET role = 'admin' WHERE username = 'otto'"))

    found = problems(history)

    assert "user 'otto' (role admin) is forged" in found
    assert users.authenticate(history, "otto", "otto-password-12") is None
    assert session_user_of(history, made.id) is None


def test_an_inserted_admin_api_key_is_named_and_refused(api, history, attacker):
    key = "cg_mallory_secret-part-of-the-key"
    source_id = one(history, select(sources.c.id).where(sources.c.name == "default"))["id"]
    with attacker.begin() as conn:
        conn.execute(
            insert(api_clients).values(
                name="mallory",
                role="admin",
                key_prefix="mallory",
                key_hash=hashlib.sha256(key.encode()).hexdigest(),
                source_id=source_id,
                created_at=NOW,
            )
        )

    found = problems(history)
    answer = api.client.get("/api/v1/admin/thresholds", headers={"Authorization": f"Bearer {key}"})

    assert "API client 'mallory' (role admin) is forged" in found
    assert admin.find_client(history, key) is None
    assert answer.status_code == 401


def test_an_erp_key_raised_to_admin_with_sql_is_refused(api, loaded, history, attacker):
    issued = loaded.writes.create_api_client(CreateApiClient("erp-2", "erp"))
    assert admin.find_client(history, issued.key) is not None
    with attacker.begin() as conn:
        conn.execute(update(api_clients).where(api_clients.c.name == "erp-2").values(role="admin"))

    assert admin.find_client(history, issued.key) is None
    assert "API client 'erp-2' (role admin) is forged" in problems(history)


# -- edits, deletes, truncates behind the triggers' back -------------------------------------


def test_an_edited_decision_is_named(history, attacker):
    genuine = one(history, select(decisions).where(decisions.c.order_id == "SO-2"))
    with attacker.begin() as conn:
        around_triggers(conn, "decisions")
        conn.execute(
            update(decisions).where(decisions.c.seq == genuine["seq"]).values(outcome="approved")
        )

    assert f"decision {genuine['id']} (order default/SO-2) was edited" in problems(history)


def test_a_deleted_event_and_resolution_are_named(history, attacker):
    event = one(history, select(audit_events).where(audit_events.c.action == "hold_released"))
    resolution = one(history, select(hold_resolutions))
    with attacker.begin() as conn:
        around_triggers(conn, "audit_events")
        around_triggers(conn, "hold_resolutions")
        conn.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": event["id"]})
        conn.execute(text("DELETE FROM hold_resolutions WHERE id = :id"), {"id": resolution["id"]})

    found = problems(history)

    assert f"event {event['id']} was deleted" in found
    assert f"resolution {resolution['id']} was deleted" in found


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_truncate_is_refused(history, attacker, table):
    statement = "TRUNCATE TABLE" if history.dialect.name == "postgresql" else "DELETE FROM"
    with pytest.raises(Exception, match="append-only"), attacker.begin() as conn:
        conn.execute(text(f"{statement} {table}"))


def test_a_table_truncated_around_its_triggers_is_named_row_by_row(history, attacker):
    count = one(history, select(func.count()).select_from(decisions))["count_1"]
    with attacker.begin() as conn:
        around_triggers(conn, "decisions")
        statement = "TRUNCATE TABLE" if history.dialect.name == "postgresql" else "DELETE FROM"
        conn.execute(text(f"{statement} decisions"))

    result = audit_chain.verify(history)

    assert sum("decision" in p and "was deleted" in p for p in result.problems) == count


# -- the chain itself -------------------------------------------------------------------------


def test_a_cut_and_resealed_chain_is_caught_by_the_head_kept_earlier(api, history, attacker):
    earlier = audit_chain.verify(history).head
    api.gate("SO-8", "C-100", "100.00")
    api.gate("SO-9", "C-100", "100.00")
    audit_chain.seal(history, NOW)
    kept = audit_chain.verify(history).head
    tail = one(history, select(func.max(decisions.c.seq)))["max_1"]
    with attacker.begin() as conn:  # the newest decision and its link go
        for table in ("decisions", "audit_chain"):
            around_triggers(conn, table)
        conn.execute(
            text("DELETE FROM audit_chain WHERE kind = 'decision' AND row_key = :k"),
            {"k": str(tail)},
        )
        conn.execute(text("DELETE FROM decisions WHERE seq = :seq"), {"seq": tail})
    audit_chain.seal(history, NOW)

    # A cut tail leaves a whole chain: only a head kept elsewhere shows it.
    assert audit_chain.verify(history).ok
    assert audit_chain.verify(history, expect_head=earlier).ok  # from before the cut rows
    assert f"the head {kept} kept earlier is not in the chain" in problems(
        history, expect_head=kept
    )


def test_the_cli_expect_head_catches_a_cut(api, history, attacker, monkeypatch):
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", history.url.render_as_string(False))
    monkeypatch.delenv("CREDITGATE_CONFIG", raising=False)
    api.gate("SO-8", "C-100", "100.00")
    good = CliRunner().invoke(main, ["audit", "verify"])
    head = good.output.split("head ")[-1].split()[0]
    with attacker.begin() as conn:  # SO-8's decision, the newest row, and its link go
        for table in ("decisions", "audit_chain"):
            around_triggers(conn, table)
        last = conn.execute(select(chain).order_by(chain.c.position.desc())).mappings().first()
        assert last is not None and last["kind"] == "decision"
        conn.execute(text("DELETE FROM audit_chain WHERE position = :p"), {"p": last["position"]})
        conn.execute(text("DELETE FROM decisions WHERE seq = :s"), {"s": int(last["row_key"])})

    cut = CliRunner().invoke(main, ["audit", "verify", "--expect-head", head])

    assert good.exit_code == 0, good.output
    assert cut.exit_code == 1
    assert f"the head {head} kept earlier is not in the chain" in cut.output


def test_a_chain_rebuilt_without_the_key_is_named_without_a_kept_head(history, attacker):
    """Delete a decision in the middle, drop its link and recompute every later link's hashes:
    plain SHA-256 anyone can compute. The rebuilt links have no MAC the sealer made."""
    victim = one(history, select(decisions).where(decisions.c.order_id == "SO-2"))
    with attacker.begin() as conn:
        for table in ("decisions", "audit_chain"):
            around_triggers(conn, table)
        links = conn.execute(select(chain).order_by(chain.c.position)).mappings().all()
        cut = next(
            i
            for i, link in enumerate(links)
            if link["row_key"] == str(victim["seq"]) and link["kind"] == "decision"
        )
        conn.execute(text("DELETE FROM decisions WHERE seq = :s"), {"s": victim["seq"]})
        conn.execute(
            text("DELETE FROM audit_chain WHERE position >= :p"), {"p": links[cut]["position"]}
        )
        prev = links[cut - 1]["hash"]
        for link in links[cut + 1 :]:
            new = audit_chain.link_hash(prev, link["kind"], link["row_key"], link["row_hash"])
            conn.execute(
                insert(chain).values(
                    kind=link["kind"],
                    row_key=link["row_key"],
                    row_hash=link["row_hash"],
                    prev_hash=prev,
                    hash=new,
                    sealed_at=NOW,
                    mac=link["mac"],  # the old MAC, copied: it covers the old hashes
                )
            )
            prev = new

    found = problems(history)

    assert "made or changed outside creditgate (its MAC fails)" in found


def test_a_copied_event_is_named_as_a_copy(history, attacker):
    event = one(history, select(audit_events).where(audit_events.c.action == "hold_released"))
    copy = {k: v for k, v in event.items() if k != "id"}
    with attacker.begin() as conn:
        conn.execute(insert(audit_events).values(copy))

    found = sealed_then_verified(history)

    assert "2 rows of audit_events carry the same MAC" in found


def test_the_cli_names_every_forged_row(history, attacker, monkeypatch):
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", history.url.render_as_string(False))
    with attacker.begin() as conn:
        for n in range(3):
            conn.execute(
                insert(audit_events).values(
                    occurred_at=NOW,
                    actor="mallory",
                    action="hold_released",
                    subject=f"order:default/SO-{n}",
                    details={},
                )
            )

    result = CliRunner().invoke(main, ["audit", "verify"])

    assert result.exit_code == 1
    assert "BROKEN: 3 problem(s)" in result.output
    for n in range(3):
        assert f"(hold_released order:default/SO-{n}) is forged" in result.output


def test_the_admin_api_shows_and_edits_the_genuine_active_version(api, history, attacker):
    headers = api.keys.header("admin")
    active = api.client.get("/api/v1/admin/thresholds", headers=headers).get_json()
    forge_version(attacker, active["version"] + 1, {**active["thresholds"], "overdue_days": 365})

    shown = api.client.get("/api/v1/admin/thresholds", headers=headers).get_json()
    changed = api.client.put(
        "/api/v1/admin/thresholds",
        json={
            "reason": "Q1 terms",
            "thresholds": {**active["thresholds"], "overdue_days": 40},
            "base_version": active["version"],
        },
        headers=headers,
    )

    assert (shown["version"], shown["thresholds"]["overdue_days"]) == (active["version"], 30)
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["version"] == active["version"] + 2
    now_active = api.client.get("/api/v1/admin/thresholds", headers=headers).get_json()
    assert now_active["thresholds"]["overdue_days"] == 40


def test_the_thresholds_page_marks_a_forged_version(api, loaded, history, attacker):
    from tests.web.test_pages import PASSWORD, Browser

    active = loaded.reads.active_thresholds_version()
    forge_version(attacker, active["version"] + 1, {**active["document"], "overdue_days": 365})
    loaded.writes.create_user(CreateUser("ada", "admin", PASSWORD))
    browser = Browser(api.client.application.test_client())
    browser.login("ada")

    page = browser.text("/thresholds")

    assert f'<span id="active-version">{active["version"]}</span>' in page
    assert page.count("forged: not in force") == 1


# -- found in review: laundering, moved sessions, forged releases ------------------------------


def test_an_admin_action_never_signs_a_forged_user_as_genuine(loaded, history, attacker):
    loaded.writes.create_user(CreateUser("otto", "auditor", "otto-password-12"))
    with attacker.begin() as conn:
        conn.execute(text("UPDATE users SET role = 'admin' WHERE username = 'otto'"))

    with pytest.raises(ValueError, match="outside creditgate"):
        users.reset_password(history, "otto", "new-password-123", "cli", NOW)
    with pytest.raises(ValueError, match="outside creditgate"):
        users.enable_user(history, "otto", "cli", NOW)
    users.disable_user(history, "otto", "cli", NOW)  # disabling it is allowed, signing it is not

    assert "user 'otto' (role admin) is forged" in problems(history)
    assert users.authenticate(history, "otto", "new-password-123") is None


def test_revoking_a_forged_api_key_leaves_it_forged(api, history, attacker):
    with attacker.begin() as conn:
        conn.execute(
            update(api_clients).where(api_clients.c.name == "erp-test").values(role="admin")
        )

    admin.revoke_api_client(history, "erp-test", "cli", NOW)

    assert "API client 'erp-test' (role admin) is forged" in problems(history)


def test_a_session_moved_to_another_user_is_refused_and_named(loaded, history, attacker):
    otto = loaded.writes.create_user(CreateUser("otto", "auditor", "otto-password-12"))
    boss = loaded.writes.create_user(CreateUser("boss", "admin", "boss-password-123"))
    token = logins.start_session(history, otto.id, NOW, SESSION_LIFETIME)
    assert logins.session_user(history, token, NOW, SESSION_LIFETIME).username == "otto"
    with attacker.begin() as conn:
        conn.execute(text("UPDATE web_sessions SET user_id = :boss"), {"boss": boss.id})

    assert logins.session_user(history, token, NOW, SESSION_LIFETIME) is None
    assert "web session" in problems(history)


def test_a_forged_release_never_approves_the_order(api, history, attacker):
    held = api.gate("SO-2", "C-300", "100.00").get_json()
    assert held["outcome"] == "blocked"
    order = one(history, text("SELECT id FROM orders WHERE external_id = 'SO-2'"))
    with attacker.begin() as conn:
        made = conn.execute(
            insert(hold_resolutions).values(
                order_id=order["id"],
                action="release",
                actor="mallory",
                role="admin",
                reason="forged",
                currency="CNY",
                held_decision_id=held["decision_id"],
                decision_id=held["decision_id"],
                created_at=NOW,
            )
        ).inserted_primary_key[0]
        conn.execute(
            text("UPDATE orders SET resolution_id = :r WHERE id = :o"),
            {"r": made, "o": order["id"]},
        )

    again = api.gate("SO-2", "C-300", "100.00").get_json()

    assert again["outcome"] == "blocked"
    assert "RELEASED_BY" not in [r["code"] for r in again["reasons"]]


def test_a_refused_move_of_an_approved_order_is_sealed_as_genuine(api, history):
    api.gate("A", "C-800", "5000.00")
    moved = api.gate("A", "C-200", "9500.00").get_json()
    assert moved["outcome"] == "blocked" and "standing_reservation" in moved

    audit_chain.seal(history, NOW)

    assert audit_chain.verify(history).ok, audit_chain.verify(history).problems


def test_an_unsigned_link_no_upgrade_recorded_is_named(api, loaded):
    """Links without a MAC are accepted only as far as the upgrade to MACs recorded them (its
    signed event): a chain started by hand before the first seal is not taken for such."""
    api.gate("SO-1", "C-100", "100.00")  # recorded, not sealed yet
    with loaded.engine.connect() as conn:
        row = dict(conn.execute(select(decisions)).mappings().one())
    digest, key = audit_chain.row_hash("decision", row), str(row["seq"])
    attacker = create_engine(loaded.engine.url, poolclass=NullPool)
    with attacker.begin() as conn:
        conn.execute(
            insert(chain).values(
                kind="decision",
                row_key=key,
                row_hash=digest,
                prev_hash=audit_chain.GENESIS,
                hash=audit_chain.link_hash(audit_chain.GENESIS, "decision", key, digest),
                sealed_at=NOW,
            )
        )
    attacker.dispose()

    assert "link 1: made outside creditgate (no MAC" in problems(loaded.engine)
