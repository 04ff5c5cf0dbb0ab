"""PostgreSQL up but not answering (every server process SIGSTOPped), and PostgreSQL down for
longer than a key's cache: the gate answers its fail-safe decision body within
CREDITGATE_GATE_TIMEOUT, whatever step waits on the database (a pooled connection mid-statement,
a new connection's start-up, the API key's lookup), and decides again as soon as the server is
back. Each test runs on a PostgreSQL cluster of its own, since it stops the server."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest
import requests
from flask.testing import FlaskClient

from config.settings import Settings
from config.wiring import Services, build_services
from connector import create_app
from connector.auth import new_client_cache
from gating.commands import CreateApiClient
from tests import databases
from tests.conftest import AUDIT_KEY, RATES, THRESHOLDS
from tests.production.gunicorn import gunicorn, write_config

SLACK = 0.5  # the test client's own overhead on a shared 2-core machine


def _services(cluster: databases.Cluster, dataset_dir, gate_timeout: float) -> Services:
    settings = Settings(
        database_url=cluster.url,
        thresholds=dict(THRESHOLDS),
        rates_reference="CNY",
        rates=dict(RATES),
        gate_timeout=gate_timeout,
        audit_keys=(AUDIT_KEY,),
    )
    services = build_services(settings)
    services.init_db()
    assert services.import_folder(dataset_dir).errors == []
    return services


@dataclass
class Gate:
    """A worker (its own key cache, on a clock the test turns) and the keys it is called with."""

    client: FlaskClient
    ticks: list[float]
    erp: str
    auditor: str

    def call(self, order_id: str, key: str | None = None) -> tuple[int, dict, float]:
        body = {"order_id": order_id, "customer_id": "C-100", "amount": "1.00", "currency": "CNY"}
        started = time.monotonic()
        response = self.client.post(
            "/api/v1/gate/orders",
            json=body,
            headers={"Authorization": f"Bearer {key or self.erp}"},
        )
        return response.status_code, response.get_json(), time.monotonic() - started


def _gate(services: Services) -> Gate:
    ticks = [0.0]
    app = create_app(services)
    app.extensions["creditgate.clients"] = new_client_cache(lambda: ticks[0])
    erp = services.writes.create_api_client(CreateApiClient("erp-hang", "erp")).key
    auditor = services.writes.create_api_client(CreateApiClient("auditor-hang", "auditor")).key
    return Gate(app.test_client(), ticks, erp, auditor)


def _is_fail_safe(body: dict, order_id: str | None) -> bool:
    return (
        body["outcome"] == "review"
        and body["decision_id"] is None
        and body["order_id"] == order_id
        and [r["code"] for r in body["reasons"]] == ["GATE_UNAVAILABLE"]
        and body["customer"] is None
    )


@pytest.mark.slow
def test_a_frozen_postgresql_gets_the_fail_safe_answer_within_the_gate_timeout(
    cluster, dataset_dir
):
    timeout = 1.0
    services = _services(cluster, dataset_dir, timeout)
    gate = _gate(services)
    status, body, _ = gate.call("HANG-0")
    assert status == 200, body
    frozen = cluster.freeze()
    # Without a bound the calls below would wait for ever: thawing at 20 s makes that a failure.
    rescue = threading.Timer(20, cluster.thaw, [frozen])
    rescue.start()
    try:
        # A pooled connection, mid-statement.
        pooled = gate.call("HANG-1")
        # The pool was discarded: a new connection, stuck in its start-up.
        fresh = gate.call("HANG-2")
        # The key's last lookup is a minute old, so it is looked up again first: the lookup and
        # the decision share one budget, not one each.
        gate.ticks[0] += 60
        relooked = gate.call("HANG-3")
        # A key never seen here: it cannot be checked, so the same 503, never a 200 or a 500.
        unknown = gate.call("HANG-4", key="cg_nosuch_" + "0" * 64)
    finally:
        rescue.cancel()
        cluster.thaw(frozen)
    for status, body, seconds in (pooled, fresh, relooked, unknown):
        assert status == 503, body
        assert seconds <= timeout + SLACK, seconds
    assert _is_fail_safe(pooled[1], "HANG-1")
    assert _is_fail_safe(fresh[1], "HANG-2")
    assert _is_fail_safe(relooked[1], "HANG-3")
    assert _is_fail_safe(unknown[1], "HANG-4")
    # Thawed: the very next call is decided (its key looked up again, on a new connection).
    gate.ticks[0] += 60
    status, body, _ = gate.call("HANG-5")
    assert status == 200, body
    assert body["decision_id"]
    services.engine.dispose()


@pytest.mark.slow
def test_a_long_outage_keeps_the_fail_safe_body_and_the_keys_known_before_it(cluster, dataset_dir):
    services = _services(cluster, dataset_dir, 1.0)
    gate = _gate(services)
    assert gate.call("DOWN-0")[0] == 200
    auditor = gate.client.get(
        "/api/v1/openapi.json", headers={"Authorization": f"Bearer {gate.auditor}"}
    )
    assert auditor.status_code == 200
    cluster.crash()
    try:
        # Past the 30 s the key cache used to hold: still the decision body, not an error body.
        gate.ticks[0] = 31
        late = gate.call("DOWN-1")
        # Nine minutes in: a key known before the outage is still known, with its role.
        gate.ticks[0] = 540
        still = gate.call("DOWN-2")
        wrong_role = gate.call("DOWN-3", key=gate.auditor)
        # Beyond ten minutes without a lookup, the key is not trusted any more: the same body.
        gate.ticks[0] = 601
        untrusted_erp = gate.call("DOWN-4")
        untrusted_auditor = gate.call("DOWN-5", key=gate.auditor)
    finally:
        cluster.start()
    for status, body, _ in (late, still, untrusted_erp, untrusted_auditor):
        assert status == 503, body
    assert _is_fail_safe(late[1], "DOWN-1")
    assert _is_fail_safe(still[1], "DOWN-2")
    assert _is_fail_safe(untrusted_erp[1], "DOWN-4")
    assert _is_fail_safe(untrusted_auditor[1], "DOWN-5")
    assert wrong_role[0] == 403  # the auditor's role was known: not a gate call it may make
    # Back: the first call is decided.
    status, body, _ = gate.call("DOWN-6")
    assert status == 200, body
    # A restart this worker did not see, and a key last looked up long ago: its lookup meets a
    # connection the restart cut, and asks again on a new one rather than answer a 503.
    gate.ticks[0] = 2000
    assert gate.call("DOWN-7")[0] == 200
    cluster.crash()
    cluster.start()
    gate.ticks[0] = 3000
    status, body, _ = gate.call("DOWN-8")
    assert status == 200, body
    services.engine.dispose()


@pytest.mark.slow
def test_under_gunicorn_a_frozen_postgresql_never_holds_a_call_past_the_gate_timeout(
    cluster, tmp_path, dataset_dir
):
    timeout = 2.0  # the product's default
    services = _services(cluster, dataset_dir, timeout)
    key = services.writes.create_api_client(CreateApiClient("erp-hang", "erp")).key
    services.engine.dispose()
    config = write_config(tmp_path / "cg.toml", THRESHOLDS, {"reference": "CNY", **RATES})
    env = {
        "CREDITGATE_DATABASE_URL": cluster.url,
        "CREDITGATE_CONFIG": str(config),
        "CREDITGATE_LOG_LEVEL": "ERROR",
        "CREDITGATE_GATE_TIMEOUT": str(timeout),
    }
    answers: list[tuple[float, int, dict, float]] = []  # sent at, status, body, seconds
    stop = threading.Event()

    def erp(base: str, number: int) -> None:
        with requests.Session() as session:
            n = 0
            while not stop.is_set():
                n += 1
                body = {
                    "order_id": f"G-{number}-{n}",
                    "customer_id": "C-100",
                    "amount": "1.00",
                    "currency": "CNY",
                }
                sent = time.monotonic()
                response = session.post(
                    f"{base}/api/v1/gate/orders",
                    json=body,
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=60,
                )
                seconds = time.monotonic() - sent
                answers.append((sent, response.status_code, response.json(), seconds))

    # gunicorn's own worker timeout (30 s by default) is what killed the workers before.
    with gunicorn(env, tmp_path / "gunicorn.log", workers=2, extra=("--timeout", "10")) as base:
        # One ERP connection per worker: a third would queue behind a call in progress, and its
        # wait, not the gate's, would be measured.
        threads = [threading.Thread(target=erp, args=(base, i)) for i in range(2)]
        for t in threads:
            t.start()
        time.sleep(2)
        frozen = cluster.freeze()
        frozen_at = time.monotonic()
        try:
            time.sleep(12)  # past the worker timeout: a hung call would get its worker killed
        finally:
            thawed_at = time.monotonic()
            cluster.thaw(frozen)
        time.sleep(4)
        stop.set()
        for t in threads:
            t.join(timeout=60)

    during = [a for a in answers if frozen_at < a[0] and a[0] + a[3] < thawed_at]
    after = [a for a in answers if a[0] > thawed_at + 2.5]
    assert during and after
    assert {status for _, status, _, _ in answers} <= {200, 503}
    for _, status, body, _ in during:
        assert status == 503
        assert _is_fail_safe(body, body["order_id"])
    slowest = max(seconds for _, status, _, seconds in answers if status == 503)
    assert slowest <= timeout + 1.0, slowest
    assert {status for _, status, _, _ in after} == {200}
