"""Request ids and JSON logs, Prometheus metrics (in one process and under gunicorn), /healthz."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from config.settings import Settings, SettingsError
from config.wiring import build_services
from connector import create_app
from connector.auth import SIGNATURE_HEADER, sign
from connector.logs import configure_logging
from gating.commands import CreateApiClient
from tests.conftest import AUDIT_KEY, DATASET, NOW, FixedClock, write_csv

ROOT = Path(__file__).resolve().parents[2]
HEX_ID = re.compile(r"[0-9a-f]{32}")


def _order(order_id, customer_id="C-1", amount="10.00"):
    return {"order_id": order_id, "customer_id": customer_id, "amount": amount, "currency": "CNY"}


def _samples(text):
    """{(sample name, sorted labels): value} from the Prometheus text format."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _scrape(client, key):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return _samples(response.get_data(as_text=True))


@pytest.fixture
def log_output():
    """The JSON log as production writes it (configure_logging on the root logger)."""
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging("INFO", "json", stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def metrics_key(services):
    return services.writes.create_api_client(CreateApiClient("prometheus", "metrics")).key


@pytest.fixture
def own_db(tmp_path):
    """A SQLite database in a folder of its own, so a test can take the folder away."""
    folder = tmp_path / "db"
    folder.mkdir()
    settings = Settings(database_url=f"sqlite:///{folder}/cg.db", gate_timeout=0.5)
    services = build_services(settings, clock=FixedClock(NOW, settings.zone))
    services.init_db()
    yield services, folder
    services.engine.dispose()


# --- request ids and logs ------------------------------------------------------------------


def test_a_request_without_an_id_gets_a_fresh_one_in_the_response(api):
    first = api.client.get("/healthz")
    second = api.client.get("/healthz")

    assert HEX_ID.fullmatch(first.headers["X-Request-ID"])
    assert HEX_ID.fullmatch(second.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_a_sane_incoming_request_id_is_echoed_even_on_an_error(api):
    ok = api.client.get("/healthz", headers={"X-Request-ID": "erp-7.call_42"})
    refused = api.client.get("/metrics", headers={"X-Request-ID": "A" * 64})

    assert ok.headers["X-Request-ID"] == "erp-7.call_42"
    assert refused.status_code == 401
    assert refused.headers["X-Request-ID"] == "A" * 64


@pytest.mark.parametrize(
    "sent", ["A" * 65, "has space", "semi;colon", "<script>", "a/b", 'quote"d', ""]
)
def test_an_unsafe_incoming_request_id_is_replaced_by_a_generated_one(api, sent):
    response = api.client.get("/healthz", headers={"X-Request-ID": sent})

    assert HEX_ID.fullmatch(response.headers["X-Request-ID"])


def test_one_json_access_line_per_request_with_path_status_duration_client_and_id(api, log_output):
    response = api.post(
        "/api/v1/gate/orders?token=in-the-query",
        json.dumps(_order("SO-LOG-1", "C-100", "100.00")),
        **{"X-Request-ID": "trace-200"},
    )
    assert response.status_code == 200

    [line] = [x for x in _lines(log_output) if x["logger"] == "creditgate.access"]
    assert line["request_id"] == "trace-200"
    assert line["method"] == "POST"
    assert line["path"] == "/api/v1/gate/orders"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert (line["client"], line["role"]) == ("erp-test", "erp")
    assert line["level"] == "INFO"
    assert line["pid"] == os.getpid()
    assert "in-the-query" not in log_output.getvalue()


def test_log_lines_never_hold_the_key_the_signature_or_the_request_body(api, keys, log_output):
    body = json.dumps(_order("SO-LOG-2", "C-100", "4321.99")).encode()
    signature = sign(keys.signing_secret, body, int(NOW.timestamp()))
    signed = api.post(
        "/api/v1/gate/orders", body, role="signed_erp", **{SIGNATURE_HEADER: signature}
    )
    wrong_key = api.client.post(
        "/api/v1/gate/orders",
        data=body,
        content_type="application/json",
        headers={"Authorization": "Bearer cg_nothere_not-a-real-key-but-secret-looking"},
    )
    invalid = api.post("/api/v1/gate/orders", json.dumps({"order_id": "x", "amount": "777.77"}))

    assert (signed.status_code, wrong_key.status_code, invalid.status_code) == (200, 401, 422)
    written = log_output.getvalue()
    assert len([x for x in _lines(log_output) if x["logger"] == "creditgate.access"]) == 3
    for secret in (
        keys.signed_erp,
        keys.signing_secret,
        signature,
        "not-a-real-key-but-secret-looking",
        "Bearer",
        "Authorization",
        "4321.99",
        "777.77",
    ):
        assert secret not in written


def test_every_line_logged_while_handling_a_request_carries_its_id(own_db, log_output):
    services, folder = own_db
    issued = services.writes.create_api_client(CreateApiClient("erp", "erp"))
    client = create_app(services).test_client()
    headers = {"Authorization": f"Bearer {issued.key}"}
    client.get("/api/v1/openapi.json", headers=headers)  # warm the key cache
    log_output.truncate(0)
    log_output.seek(0)
    blocker = sqlite3.connect(folder / "cg.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the gate cannot write: it logs an error and fails safe
    try:
        response = client.post(
            "/api/v1/gate/orders",
            json=_order("SO-LOG-3"),
            headers={**headers, "X-Request-ID": "trace-503"},
        )
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert response.status_code == 503
    lines = _lines(log_output)
    assert {x["logger"] for x in lines} >= {"connector.gate", "creditgate.access"}
    assert [x["request_id"] for x in lines] == ["trace-503"] * len(lines)
    assert next(x for x in lines if x["logger"] == "connector.gate")["level"] == "ERROR"


def test_the_text_format_puts_the_request_id_in_brackets(api):
    stream = io.StringIO()
    handler = configure_logging("INFO", "text", stream)
    try:
        api.client.get("/healthz", headers={"X-Request-ID": "trace-text"})
    finally:
        logging.getLogger().removeHandler(handler)

    [line] = [x for x in stream.getvalue().splitlines() if "creditgate.access" in x]
    assert "[trace-text] GET /healthz 200" in line


def test_a_control_character_in_the_path_cannot_forge_a_text_log_line(api):
    stream = io.StringIO()
    handler = configure_logging("INFO", "text", stream)
    try:
        api.client.get("/healthz%0A2026-01-01 INFO creditgate.access [x] GET /forged 200")
    finally:
        logging.getLogger().removeHandler(handler)

    [line] = stream.getvalue().splitlines()
    assert "\\n2026-01-01" in line


# --- /metrics ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 401), ("erp", 403), ("metrics", 200), ("admin", 200), ("auditor", 200)],
)
def test_metrics_need_a_key_with_the_metrics_admin_or_auditor_role(api, metrics_key, role, status):
    key = metrics_key if role == "metrics" else getattr(api.keys, role) if role else None
    headers = {"Authorization": f"Bearer {key}"} if key else {}

    assert api.client.get("/metrics", headers=headers).status_code == status


def test_metrics_count_decisions_per_reason_and_time_every_answer(api, metrics_key):
    approved = api.gate("SO-M-1", "C-100", "1000.00")
    blocked = api.gate("SO-M-2", "C-400", "200000.00")  # on hold, and over its limit
    replayed = api.gate("SO-M-1", "C-100", "1000.00")
    invalid = api.gate("SO-M-3", "C-100", "-5")
    api.client.get("/no/such/route")

    assert (approved.get_json()["outcome"], approved.get_json()["reasons"]) == ("approved", [])
    assert blocked.get_json()["outcome"] == "blocked"
    reasons = {r["code"] for r in blocked.get_json()["reasons"]}
    assert reasons == {"CUSTOMER_ON_HOLD", "CREDIT_LIMIT_EXCEEDED"}
    assert replayed.headers["X-Creditgate-Replayed"] == "true"
    assert invalid.status_code == 422
    m = _scrape(api.client, metrics_key)

    decisions = {
        (dict(labels)["outcome"], dict(labels)["reason"]): value
        for (name, labels), value in m.items()
        if name == "creditgate_decisions_total"
    }
    assert decisions == {
        ("approved", "none"): 1,
        ("blocked", "CUSTOMER_ON_HOLD"): 1,
        ("blocked", "CREDIT_LIMIT_EXCEEDED"): 1,
    }
    assert _value(m, "creditgate_decision_outcomes_total", outcome="approved") == 1
    assert _value(m, "creditgate_decision_outcomes_total", outcome="blocked") == 1
    # Three answers timed (the replay too); the 422 is no decision and is not timed.
    assert _value(m, "creditgate_decision_seconds_count") == 3
    assert _value(m, "creditgate_decision_seconds_bucket", le="2.5") == 3
    assert 0 < _value(m, "creditgate_decision_seconds_sum") < 7.5
    assert _value(m, "creditgate_gate_unavailable_total") == 0
    requests_ = "creditgate_http_requests_total"
    assert _value(m, requests_, method="POST", endpoint="gate.gate", status="200") == 3
    assert _value(m, requests_, method="POST", endpoint="gate.gate", status="422") == 1
    assert _value(m, requests_, method="GET", endpoint="unmatched", status="404") == 1


def test_a_fail_safe_answer_is_counted_and_timed_but_is_no_decision(own_db):
    services, folder = own_db
    erp = services.writes.create_api_client(CreateApiClient("erp", "erp")).key
    prom = services.writes.create_api_client(CreateApiClient("prometheus", "metrics")).key
    client = create_app(services).test_client()
    headers = {"Authorization": f"Bearer {erp}"}
    client.get("/api/v1/openapi.json", headers=headers)
    blocker = sqlite3.connect(folder / "cg.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        response = client.post("/api/v1/gate/orders", json=_order("SO-M-9"), headers=headers)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert response.status_code == 503
    m = _scrape(client, prom)
    assert _value(m, "creditgate_gate_unavailable_total") == 1
    assert _value(m, "creditgate_decision_seconds_count") == 1
    assert not [k for k in m if k[0] == "creditgate_decisions_total"]


def test_two_apps_in_one_process_keep_their_own_counts(api, services, metrics_key):
    api.gate("SO-M-4", "C-100", "1000.00")
    other = create_app(services).test_client()

    assert _value(_scrape(api.client, metrics_key), "creditgate_decision_seconds_count") == 1
    assert _value(_scrape(other, metrics_key), "creditgate_decision_seconds_count") == 0


def test_sync_run_metrics_come_from_the_run_history_in_the_database(loaded, metrics_key, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    for name, rows in DATASET.items():
        write_csv(folder, name, rows)
    loaded.add_source("files", "csv-folder", settings={"path": str(folder)})
    client = create_app(loaded).test_client()
    runs = "creditgate_sync_runs_total"
    last = "creditgate_source_last_success_timestamp_seconds"

    before = _scrape(client, metrics_key)
    [report] = loaded.sync("files")  # as `creditgate sync` would, in another process
    after = _scrape(client, metrics_key)
    shutil.rmtree(folder)
    [broken] = loaded.sync("files")
    failed = _scrape(client, metrics_key)

    assert report.ok and not broken.ok
    assert _value(before, "creditgate_metrics_database_up") == 1
    # The `loaded` fixture's CSV import is a run of the default source.
    assert _value(before, runs, source="default", entity="file_import", status="succeeded") == 1
    assert _value(before, last, source="default") == NOW.timestamp()
    assert not [k for k in before if dict(k[1]).get("source") == "files"]
    for entity in ("groups", "customers", "invoices", "payments"):
        assert _value(after, runs, source="files", entity=entity, status="succeeded") == 1
    assert _value(after, last, source="files") == NOW.timestamp()
    assert _value(failed, runs, source="files", entity="groups", status="failed") == 1
    assert _value(failed, runs, source="files", entity="groups", status="succeeded") == 1
    assert _value(failed, last, source="files") == NOW.timestamp()  # unchanged by the failure


def test_metrics_still_answer_while_the_database_is_down(own_db, tmp_path):
    services, folder = own_db
    key = services.writes.create_api_client(CreateApiClient("prometheus", "metrics")).key
    client = create_app(services).test_client()
    up = _scrape(client, key)  # also puts the key in the app's short-lived key cache
    services.engine.dispose()
    moved = folder.rename(tmp_path / "elsewhere")
    try:
        down = _scrape(client, key)
    finally:
        moved.rename(folder)

    assert _value(up, "creditgate_metrics_database_up") == 1
    assert _value(down, "creditgate_metrics_database_up") == 0
    assert not [k for k in down if k[0].startswith("creditgate_source_last_success")]
    assert _value(down, "creditgate_http_requests_total", method="GET", endpoint="metrics.scrape",
                  status="200") == 1  # fmt: skip


# --- /healthz ------------------------------------------------------------------------------


def test_healthz_goes_503_while_the_database_is_unreachable_and_200_once_it_is_back(
    own_db, tmp_path
):
    services, folder = own_db
    client = create_app(services).test_client()
    before = client.get("/healthz")
    services.engine.dispose()  # no pooled connection keeps the old file open
    moved = folder.rename(tmp_path / "elsewhere")
    try:
        down = client.get("/healthz")
    finally:
        moved.rename(folder)
    after = client.get("/healthz")

    assert (before.status_code, before.get_json()) == (200, {"status": "ok", "database": "ok"})
    assert down.status_code == 503
    assert down.get_json() == {
        "status": "unavailable",
        "database": "unreachable",
        "error": "OperationalError",
    }
    assert (after.status_code, after.get_json()) == (200, {"status": "ok", "database": "ok"})


def test_a_key_that_cannot_be_checked_while_the_database_is_away_gets_a_503_not_a_500(
    own_db, tmp_path
):
    services, folder = own_db
    key = services.writes.create_api_client(CreateApiClient("erp-late", "erp")).key
    client = create_app(services).test_client()  # a new app: the key is in no cache yet
    services.engine.dispose()
    moved = folder.rename(tmp_path / "elsewhere")
    try:
        response = client.post(
            "/api/v1/gate/orders",
            json={"order_id": "SO-1", "customer_id": "C-1", "amount": "1.00", "currency": "USD"},
            headers={"Authorization": f"Bearer {key}"},
        )
    finally:
        moved.rename(folder)

    assert response.status_code == 503
    assert response.headers["Retry-After"]
    body = response.get_data(as_text=True)
    assert "database unavailable" in body
    assert str(folder) not in body and "sqlite" not in body.lower()  # no paths or drivers


def test_healthz_gives_up_within_the_gate_timeout_on_a_database_that_never_answers():
    with socket.socket() as silent:  # accepts connections (the kernel does) and says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        url = f"postgresql+psycopg://creditgate:pw-s3cret@127.0.0.1:{port}/creditgate"
        services = build_services(
            Settings(database_url=url, gate_timeout=0.5, audit_keys=(AUDIT_KEY,))
        )
        client = create_app(services).test_client()
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
        services.engine.dispose()

    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "database": "unreachable",
        "error": "TimeoutError",
    }
    assert 0.45 <= elapsed < 1.6  # libpq alone would wait at least 2 s
    assert "pw-s3cret" not in response.get_data(as_text=True)
    assert "127.0.0.1" not in response.get_data(as_text=True)


# --- under gunicorn ------------------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc):
    """SIGTERM gunicorn, then SIGKILL its own process group if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what this test started
    proc.wait(timeout=5)


def _wait_healthy(proc, base, log_path):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
        with contextlib.suppress(requests.RequestException):
            if requests.get(base + "/healthz", timeout=5).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(log_path.read_text(errors="replace")[-3000:])


def _read_response(sock):
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.slow
def test_gunicorn_workers_add_up_their_counts_on_metrics(tmp_path, dataset_dir):
    url = f"sqlite:///{tmp_path}/cg.db"
    services = build_services(Settings(database_url=url, audit_keys=(AUDIT_KEY,)))
    services.init_db()
    services.import_folder(dataset_dir)
    erp = services.writes.create_api_client(CreateApiClient("erp", "erp")).key
    prom = services.writes.create_api_client(CreateApiClient("prometheus", "metrics")).key
    services.engine.dispose()
    multiproc = tmp_path / "metrics"
    multiproc.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREDITGATE_", "PROMETHEUS"))}
    env.update(
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        CREDITGATE_DATABASE_URL=url,
        CREDITGATE_LOG_LEVEL="INFO",
        CREDITGATE_AUDIT_KEY=AUDIT_KEY,
    )
    # Counts a previous gunicorn left behind: config/gunicorn_conf.py must clear them at start.
    stale = "import prometheus_client as p; p.Counter('creditgate_decision_outcomes', 'x', "
    stale += "['outcome']).labels('approved').inc(1000)"
    subprocess.run([sys.executable, "-c", stale], env=env, check=True)
    assert list(multiproc.glob("counter_*.db"))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "gunicorn.log"
    cmd = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn_conf.py", "--chdir", str(ROOT)]
    cmd += ["-b", f"127.0.0.1:{port}", "-w", "2", "-k", "sync", "--graceful-timeout", "5"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*cmd, "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    orders = 6
    try:
        _wait_healthy(proc, base, log_path)
        # A sync worker serves one connection at a time: hold one worker with a request whose
        # headers are not finished, so the other worker must serve the orders sent meanwhile.
        body = json.dumps(_order("SO-G-held", "C-100", "100.00")).encode()
        head = (
            f"POST /api/v1/gate/orders HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {erp}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as held:
            held.sendall(head)
            time.sleep(0.3)
            for n in range(orders):
                r = requests.post(
                    base + "/api/v1/gate/orders",
                    json=_order(f"SO-G-{n}", "C-100", "100.00"),
                    headers={"Authorization": f"Bearer {erp}"},
                    timeout=30,
                )
                assert r.status_code == 200, r.text
            held.sendall(b"\r\n" + body)
            assert _read_response(held).startswith(b"HTTP/1.1 200")
        scrapes = []
        for _ in range(4):
            r = requests.get(base + "/metrics", headers={"Authorization": f"Bearer {prom}"})
            assert r.status_code == 200, r.text
            scrapes.append(_samples(r.text))
    finally:
        _stop(proc)

    logged = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    gate_pids = {
        x["pid"]
        for x in logged
        if x["logger"] == "creditgate.access" and x["path"] == "/api/v1/gate/orders"
    }
    assert len(gate_pids) == 2, "both workers served gate calls"
    for m in scrapes:  # whichever worker answered, it reports both workers' counts
        outcomes = sum(
            v for (name, _), v in m.items() if name == "creditgate_decision_outcomes_total"
        )
        assert outcomes == orders + 1
        assert _value(m, "creditgate_decision_seconds_count") == orders + 1
        assert (
            _value(
                m,
                "creditgate_http_requests_total",
                method="POST",
                endpoint="gate.gate",
                status="200",
            )
            == orders + 1
        )
        assert (
            _value(
                m,
                "creditgate_sync_runs_total",
                source="default",
                entity="file_import",
                status="succeeded",
            )
            == 1
        )


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("", None), ("json", "json"), ("TEXT", "text")]
)
def test_the_log_format_comes_from_creditgate_log_format(value, expected):
    environ = {} if value is None else {"CREDITGATE_LOG_FORMAT": value}

    assert Settings.from_env(environ).log_format == expected


def test_an_unknown_log_format_is_refused_at_startup():
    with pytest.raises(SettingsError, match="CREDITGATE_LOG_FORMAT='xml' must be json or text"):
        Settings.from_env({"CREDITGATE_LOG_FORMAT": "xml"})
