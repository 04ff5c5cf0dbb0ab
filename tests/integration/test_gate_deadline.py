"""The gate's transaction on PostgreSQL: the server gives up on a statement when the caller's
deadline has passed (statement_timeout = what is left of CREDITGATE_GATE_TIMEOUT), and the
deadline's watchdog leaves connections returned in time alone."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

# statement_timeout, libpq's TCP settings and advisory locks are PostgreSQL's (SQLite waits with
# its busy timeout; tests/test_fail_safe.py locks SQLite): these run on PostgreSQL only.
POSTGRESQL_ONLY = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@POSTGRESQL_ONLY
def test_the_gates_transaction_runs_with_what_is_left_of_the_timeout(services, backend):
    budget = services.settings.gate_timeout
    with services.clients.bounded(), services.uow() as uow:
        uow.begin_decision("default", "C-100")
        setting = uow.connection.execute(text("SHOW statement_timeout")).scalar_one()
    assert setting.endswith("ms"), setting
    assert 0 < int(setting[:-2]) <= budget * 1000
    # Only that transaction: the next one on the same pooled connection has the server's own.
    with services.uow() as uow:
        assert uow.connection.execute(text("SHOW statement_timeout")).scalar_one() == "0"


def test_a_connection_returned_in_time_is_not_cut_when_the_deadline_passes(services):
    with services.clients.bounded() as deadline:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        deadline.expire()  # as the watchdog would, after the connection went back to the pool
    time.sleep(0.05)
    with services.engine.connect() as conn:
        assert conn.execute(text("SELECT 2")).scalar_one() == 2


@POSTGRESQL_ONLY
def test_postgresql_connections_drop_a_peer_that_stops_acknowledging(services, backend):
    with services.engine.connect() as conn:
        driver = conn.connection.driver_connection
        options = {o.keyword.decode(): o.val for o in driver.pgconn.info}  # type: ignore[union-attr]
    timeout_ms = int(services.settings.gate_timeout * 1000)
    assert options["tcp_user_timeout"] == str(timeout_ms).encode()
    assert options["keepalives"] == b"1"
    assert int(options["keepalives_idle"]) > 0


@POSTGRESQL_ONLY
def test_a_customer_locked_past_the_timeout_gets_the_server_s_clean_error_not_a_cut(
    api, loaded, backend, caplog
):
    """A live server's lock wait ends by its own lock_timeout, set to what is left of the call's
    budget, just before the watchdog would cut the connection (and with it the worker's pool)."""
    assert api.gate("LK-0", "C-100", "1.00").status_code == 200  # the key is looked up
    source_id = loaded.sync_store().source("default")["id"]
    with loaded.engine.connect() as blocker:
        blocker.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"creditgate:customer:{source_id}:C-100"},
        )
        started = time.monotonic()
        response = api.gate("LK-1", "C-100", "1.00")
        elapsed = time.monotonic() - started
        blocker.rollback()
    assert response.status_code == 503
    assert [r["code"] for r in response.get_json()["reasons"]] == ["GATE_UNAVAILABLE"]
    budget = loaded.settings.gate_timeout
    assert budget - 0.3 <= elapsed <= budget + 0.3, elapsed
    assert "connection(s) cut" not in caplog.text
