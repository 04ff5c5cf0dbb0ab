"""The audit trail's hash chain: sealing chains every recorded row once, and `creditgate audit
verify` finds a row edited or deleted behind the append-only triggers' back, naming the first
broken link."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select, text

from adapters.db import audit_chain
from adapters.db.tables import audit_events, decisions
from connector.cli import main

CHAINED = ("thresholds_versions", "audit_events", "hold_resolutions", "decisions")


def count_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return sum(
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in CHAINED
        )


def tamper(engine: Engine, table: str, statement: str, **params: Any) -> None:
    """What someone with the database's owner rights can do: step around the triggers."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for action in ("update", "delete"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
        else:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        conn.execute(text(statement), params)


@pytest.fixture
def history(api, loaded) -> Engine:
    """Decisions, a release (a resolution and its events), a thresholds change."""
    api.gate("SO-1", "C-100", "100.00")
    api.gate("SO-2", "C-300", "100.00")
    api.gate("SO-3", "C-600", "100.00")
    api.client.post(
        "/api/v1/admin/holds/SO-3/release",
        json={"reason": "known buyer"},
        headers=api.keys.header("admin"),
    )
    return loaded.engine


def test_sealing_chains_every_row_once_and_verify_passes(history, clock):
    sealed = audit_chain.seal(history, clock())
    again = audit_chain.seal(history, clock())
    result = audit_chain.verify(history)

    assert sealed == count_rows(history) and again == 0
    assert result.ok and result.links == sealed and result.unsealed == 0
    assert len(result.head) == 64


def test_an_edited_decision_is_named(history, clock):
    audit_chain.seal(history, clock())
    with history.connect() as conn:
        seq, decision_id = conn.execute(
            select(decisions.c.seq, decisions.c.id).where(decisions.c.order_id == "SO-2")
        ).one()
    tamper(
        history,
        "decisions",
        "UPDATE decisions SET outcome = 'approved' WHERE seq = :seq",
        seq=seq,
    )

    result = audit_chain.verify(history)

    assert not result.ok
    assert result.broken is not None
    assert f"decision {decision_id} (order default/SO-2) was edited" in result.broken


def test_a_deleted_audit_event_is_named(history, clock):
    audit_chain.seal(history, clock())
    with history.connect() as conn:
        event_id = conn.execute(select(func.min(audit_events.c.id))).scalar_one()
    tamper(history, "audit_events", "DELETE FROM audit_events WHERE id = :id", id=event_id)

    result = audit_chain.verify(history)

    assert result.broken is not None and f"event {event_id} was deleted" in result.broken


def test_an_edited_link_breaks_the_chain(history, clock):
    audit_chain.seal(history, clock())
    tamper(
        history,
        "audit_chain",
        "UPDATE audit_chain SET row_hash = :fake WHERE position = 3",
        fake="f" * 64,
    )

    result = audit_chain.verify(history)

    assert result.broken == "link 3: the chain itself was edited or a link removed"


def test_rows_recorded_after_a_seal_are_chained_by_the_next(api, history, clock):
    first = audit_chain.seal(history, clock())
    api.gate("SO-9", "C-100", "100.00")

    before = audit_chain.verify(history)
    second = audit_chain.seal(history, clock())

    assert before.ok and before.unsealed == 1
    assert second == 1 and audit_chain.verify(history).links == first + 1


def test_sealers_running_at_once_make_one_chain(history, clock):
    results: list[int] = []

    def run() -> None:
        results.append(audit_chain.seal(history, clock()))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(results) == count_rows(history)
    assert audit_chain.verify(history).ok


def test_the_chain_is_append_only_too(history, clock):
    audit_chain.seal(history, clock())

    with pytest.raises(Exception, match="append-only"), history.begin() as conn:
        conn.execute(text("DELETE FROM audit_chain"))


def test_the_cli_seals_verifies_and_names_the_first_broken_link(history, monkeypatch):
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", history.url.render_as_string(False))
    monkeypatch.delenv("CREDITGATE_CONFIG", raising=False)

    good = CliRunner().invoke(main, ["audit", "verify"])
    with history.connect() as conn:
        seq = conn.execute(select(func.max(decisions.c.seq))).scalar_one()
    tamper(history, "decisions", "UPDATE decisions SET caller = 'x' WHERE seq = :seq", seq=seq)
    bad = CliRunner().invoke(main, ["audit", "verify"])

    assert good.exit_code == 0, good.output
    assert "the audit trail holds" in good.output and "head " in good.output
    assert bad.exit_code == 1
    assert "was edited" in bad.output and "BROKEN" in bad.output


def test_a_chain_cut_back_and_sealed_again_misses_the_head_kept_earlier(api, history, clock):
    audit_chain.seal(history, clock())
    kept = audit_chain.verify(history).head
    api.gate("SO-8", "C-100", "100.00")
    audit_chain.seal(history, clock())
    later = audit_chain.verify(history, expect_head=kept)
    # Someone deletes the newest decision and its link, then seals again.
    with history.connect() as conn:
        seq = conn.execute(select(func.max(decisions.c.seq))).scalar_one()
    tamper(
        history,
        "audit_chain",
        "DELETE FROM audit_chain WHERE kind = 'decision' AND row_key = :k",
        k=str(seq),
    )
    tamper(history, "decisions", "DELETE FROM decisions WHERE seq = :seq", seq=seq)
    audit_chain.seal(history, clock())

    assert later.ok  # the head kept earlier is one of the newer chain's links
    assert audit_chain.verify(history).ok  # on its own, the shortened chain looks whole
    again = audit_chain.verify(history, expect_head=later.head)
    assert again.broken is not None and "not in the chain" in again.broken
