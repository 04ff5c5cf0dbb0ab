"""The demo does what the README promises, and the promises are written out here, not read from
connector.demo: each demo order gets its advertised outcome and reasons, the README's commands
work as pasted against a served demo, and a port in use is refused before anything is printed."""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from config.settings import Settings
from config.wiring import build_services
from connector import create_app
from connector.cli import main
from connector.demo import prepare_demo
from tests.serving import served

README = Path(__file__).resolve().parents[1] / "README.md"
ERP = {"Authorization": "Bearer cg_demoerp_try-me"}
AUDITOR = {"Authorization": "Bearer cg_demoaudit_try-me"}
ADMIN = {"Authorization": "Bearer cg_demoadmin_try-me"}
# What the demo advertises (its printed lines and the README): order, customer, amount (CNY),
# outcome, the reasons' codes.
ADVERTISED = [
    ("SO-1", "C-100", "12500.00", "approved", []),
    ("SO-2", "C-200", "12500.00", "blocked", ["CREDIT_LIMIT_EXCEEDED"]),
    ("SO-3", "C-300", "1000.00", "blocked", ["OVERDUE_INVOICES"]),
    ("SO-4", "C-400", "1000.00", "blocked", ["CUSTOMER_ON_HOLD"]),
    ("SO-5", "C-520", "100000.00", "blocked", ["GROUP_LIMIT_EXCEEDED"]),
    ("SO-6", "C-600", "1000.00", "review", ["NO_CREDIT_LIMIT"]),
    ("SO-7", "C-999", "1000.00", "review", ["UNKNOWN_CUSTOMER"]),
    ("SO-8", "C-700", "600000.00", "review", ["APPROVAL_REQUIRED"]),
]
# The README's logins: user, password, role.
USERS = [
    ("demo-admin", "try-me-demo-admin", "admin"),
    ("demo-auditor", "try-me-demo-auditor", "auditor"),
    ("demo-manager", "try-me-demo-manager", "credit_manager"),
]


def _clock() -> datetime:
    return datetime(2026, 11, 22, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_every_demo_order_gets_the_outcome_and_reasons_the_demo_advertises(tmp_path):
    services = build_services(Settings(database_url=f"sqlite:///{tmp_path}/demo.db"), clock=_clock)
    info = prepare_demo(services)
    client = create_app(services).test_client()
    printed = [(title, shlex.split(line)) for title, line in info["curls"]("http://h:1")]
    orders = [(t, json.loads(argv[argv.index("-d") + 1])) for t, argv in printed if "-d" in argv]

    # The lines the demo prints: these orders, each titled with its outcome, then three reads.
    shown = [
        (o["order_id"], o["customer_id"], o["amount"], o["currency"], title.split(":")[0])
        for title, o in orders
    ]
    assert shown == [(o, c, amount, "CNY", outcome) for o, c, amount, outcome, _ in ADVERTISED]
    assert [argv[-1] for _, argv in printed if "-d" not in argv] == [
        "http://h:1/api/v1/customers/C-300/credit",
        "http://h:1/api/v1/warnings",
        "http://h:1/api/v1/admin/thresholds",
    ]
    answers = {}
    for _, order in orders:
        answers[order["order_id"]] = client.post("/api/v1/gate/orders", json=order, headers=ERP)
    for order_id, _, _, outcome, reasons in ADVERTISED:
        answer = answers[order_id].get_json()
        assert answer["outcome"] == outcome, (order_id, answer)
        assert [r["code"] for r in answer["reasons"]] == reasons, (order_id, answer)
    near_limit = answers["SO-2"].get_json()["customer"]  # the README's blocked answer
    assert (near_limit["exposure"], near_limit["available"]) == ("91000.00", "9000.00")
    position = client.get("/api/v1/customers/C-300/credit", headers=AUDITOR).get_json()
    assert position["exposure"]["total"] == "33000.00"
    assert [i["days_overdue"] for i in position["overdue_invoices"]] == [45, 31, 30]
    warnings = client.get("/api/v1/warnings", headers=AUDITOR).get_json()["warnings"]
    levels = {w["customer_id"]: w["level"] for w in warnings}
    assert levels["C-300"] == "yellow" and levels["C-400"] == "red" and levels["C-100"] == "none"
    thresholds = client.get("/api/v1/admin/thresholds", headers=ADMIN).get_json()
    assert (thresholds["created_by"], thresholds["thresholds"]["base_currency"]) == ("demo", "CNY")
    services.engine.dispose()


def test_the_demo_users_log_in_and_find_held_orders(tmp_path):
    services = build_services(Settings(database_url=f"sqlite:///{tmp_path}/demo.db"), clock=_clock)
    prepare_demo(services)
    app = create_app(services)

    for name, password, _ in USERS:
        client = app.test_client()
        form = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        login = client.post(
            "/login", data={"username": name, "password": password, "csrf_token": token}
        )
        assert login.status_code == 302, (name, login.get_data(as_text=True)[:500])
        if name == "demo-manager":
            holds = client.get("/holds").get_data(as_text=True)
            assert 'data-order="SO-3"' in holds and 'data-order="SO-6"' in holds
    services.engine.dispose()


def test_the_demo_in_chinese_has_chinese_names_pages_and_messages(tmp_path):
    services = build_services(Settings(database_url=f"sqlite:///{tmp_path}/demo.db"), clock=_clock)
    prepare_demo(services, "zh-CN")
    offered = CliRunner().invoke(main, ["demo", "--help"]).output
    client = create_app(services).test_client()

    held = client.post(
        "/api/v1/gate/orders",
        json={"order_id": "SO-4", "customer_id": "C-400", "amount": "1000.00", "currency": "CNY"},
        headers=ERP,
    ).get_json()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    client.post(
        "/login",
        data={"username": "demo-manager", "password": "try-me-demo-manager", "csrf_token": token},
    )
    customers = client.get("/customers").get_data(as_text=True)  # no Accept-Language sent

    assert "--language [zh-CN|en]" in offered
    assert held["reasons"] == [
        {"code": "CUSTOMER_ON_HOLD", "message": "客户 C-400 已被冻结：货物质量争议"}
    ]
    assert '<html lang="zh-CN">' in customers
    assert "上海恒通贸易有限公司" in customers and "中联集团华南有限公司" in customers
    assert "Healthy Trading" not in customers
    services.engine.dispose()


def test_a_port_in_use_is_refused_before_anything_is_printed_or_reset(tmp_path):
    database = tmp_path / "demo.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = CliRunner().invoke(
            main, ["demo", "--port", str(port), "--database", f"sqlite:///{database}"]
        )

    assert result.exit_code == 1, result.output
    assert f"cannot serve on 127.0.0.1:{port}" in result.output
    assert "pick another port with --port" in result.output
    for misleading in ("curl", "listening", "Demo database ready", "key"):
        assert misleading not in result.output
    assert not database.exists()


def test_the_readme_s_demo_commands_work_as_pasted(tmp_path):
    """The README's marked blocks, run by bash against `creditgate demo` on a free port, in the
    order a reader would paste them (the quick start, then the what-if)."""
    blocks = re.findall(
        r"<!-- tests/test_demo.py runs the commands of this block against a served demo -->\n"
        r"```sh\n(.*?)```",
        README.read_text(encoding="utf-8"),
        flags=re.DOTALL,
    )
    commands = [command for block in blocks for command in _commands(block)]
    assert len(blocks) == 2 and len(commands) == 8, commands

    with _demo(tmp_path) as base:
        answers = []
        for title, command in commands:
            ran = subprocess.run(
                ["bash", "-c", command.replace("http://127.0.0.1:8000", base)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert ran.returncode == 0 and ran.stdout, (title, ran.stderr)
            answers.append((title, json.loads(ran.stdout)))

    for title, answer in answers:
        assert "error" not in answer, (title, answer)
        said = title.split(":")[0]
        if said in ("approved", "blocked", "review"):
            assert answer["outcome"] == said, (title, answer)
    outcomes = {a["order_id"]: a["outcome"] for _, a in answers if "outcome" in a}
    assert outcomes == {"SO-1": "approved", "SO-2": "blocked", "SO-3": "blocked", "SO-6": "review"}
    assert answers[4][1]["exposure"]["total"] == "33000.00"  # C-300's credit position
    what_if = answers[-1][1]
    assert what_if["changed"] == 1 and what_if["transitions"] == {"blocked → approved": 1}
    assert [o["order_id"] for o in what_if["orders"]] == ["SO-3"]


def _commands(block: str) -> Iterator[tuple[str, str]]:
    """(the comment above it, the command) for each paragraph of a shell block."""
    for paragraph in block.strip().split("\n\n"):
        lines = paragraph.splitlines()
        comments = [line.lstrip("# ") for line in lines if line.startswith("#")]
        command = "\n".join(line for line in lines if not line.startswith("#"))
        yield " ".join(comments), command


def _demo(tmp_path: Path) -> contextlib.AbstractContextManager[str]:
    """`creditgate demo` as a reader runs it (the wall clock, its own database), on a free
    port; always stopped."""
    return served(
        lambda port: [
            sys.executable,
            "-c",
            "from connector.cli import main; main()",
            "demo",
            "--port",
            str(port),
            "--database",
            f"sqlite:///{tmp_path}/demo.db",
        ],
        tmp_path / "demo.log",
        tmp_path,
    )
