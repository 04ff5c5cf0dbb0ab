"""Demo data: a handful of customers in telling situations, loaded through the CSV import."""

from __future__ import annotations

import csv
import json
import shlex
import tempfile
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.thresholds import thresholds_document
from gating.commands import ChangeThresholds, CreateApiClient, CreateUser, SetLanguage
from gating.languages import DEFAULT_LANGUAGE, check_language
from gating.model import OrderRequest
from gating.services import gate_order

if TYPE_CHECKING:
    from config.wiring import Services

DEMO_ERP_KEY = "cg_demoerp_try-me"
DEMO_AUDITOR_KEY = "cg_demoaudit_try-me"
DEMO_ADMIN_KEY = "cg_demoadmin_try-me"
# The web pages' demo users: name → (role, password). Demo database only.
DEMO_USERS = {
    "demo-admin": ("admin", "try-me-demo-admin"),
    "demo-auditor": ("auditor", "try-me-demo-auditor"),
    "demo-manager": ("credit_manager", "try-me-demo-manager"),
}
# Orders gated while the demo is prepared, so the hold list and the audit record have some.
HELD_AT_START = (("SO-3", "C-300", "1000.00"), ("SO-6", "C-600", "1000.00"))

DEMO_THRESHOLDS = {
    "base_currency": "CNY",
    "approval_tiers": [{"amount": "500000.00", "role": "credit_manager"}],
}

CUSTOMERS = [
    # customer_id, name, credit_limit, currency, group_id, on_hold, hold_reason
    ("C-100", "Healthy Trading Co.", "200000.00", "CNY", "", "false", ""),
    ("C-200", "Near Limit Ltd.", "100000.00", "CNY", "", "false", ""),
    ("C-300", "Slow Payer GmbH", "300000.00", "CNY", "", "false", ""),
    ("C-400", "Disputed Goods Inc.", "150000.00", "CNY", "", "true", "delivery dispute"),
    ("C-510", "Acme North", "400000.00", "CNY", "G-1", "false", ""),
    ("C-520", "Acme South", "300000.00", "CNY", "G-1", "false", ""),
    ("C-600", "Newly Opened Ltd.", "", "CNY", "", "false", ""),
    ("C-700", "Big Buyer Corp.", "2000000.00", "CNY", "", "false", ""),
]

# `creditgate demo --language zh-CN`: the same customers in the same situations, as a credit desk
# in China would see them (names, the hold's reason, the group's name).
CUSTOMERS_ZH = [
    ("C-100", "上海恒通贸易有限公司", "200000.00", "CNY", "", "false", ""),
    ("C-200", "杭州金顺电子有限公司", "100000.00", "CNY", "", "false", ""),
    ("C-300", "苏州华盛机械制造有限公司", "300000.00", "CNY", "", "false", ""),
    ("C-400", "广州宏达商贸有限公司", "150000.00", "CNY", "", "true", "货物质量争议"),
    ("C-510", "中联集团华北有限公司", "400000.00", "CNY", "G-1", "false", ""),
    ("C-520", "中联集团华南有限公司", "300000.00", "CNY", "G-1", "false", ""),
    ("C-600", "深圳启航科技有限公司", "", "CNY", "", "false", ""),
    ("C-700", "北京大华采购有限公司", "2000000.00", "CNY", "", "false", ""),
]
GROUPS = {"en": "Acme Holdings", "zh-CN": "中联控股集团"}


def demo_invoices(today: date) -> list[tuple[str, ...]]:
    def d(days: int) -> str:
        return (today + timedelta(days=days)).isoformat()

    return [
        # invoice_id, customer_id, number, issue, due, currency, total, open, order_id
        ("I-1001", "C-100", "INV-1001", d(-20), d(10), "CNY", "50000.00", "50000.00", ""),
        ("I-1002", "C-100", "INV-1002", d(-80), d(-50), "CNY", "30000.00", "0.00", ""),
        ("I-2001", "C-200", "INV-2001", d(-25), d(5), "CNY", "91000.00", "91000.00", ""),
        ("I-3001", "C-300", "INV-3001", d(-75), d(-45), "CNY", "20000.00", "20000.00", ""),
        ("I-3002", "C-300", "INV-3002", d(-61), d(-31), "CNY", "8000.00", "8000.00", ""),
        ("I-3003", "C-300", "INV-3003", d(-60), d(-30), "CNY", "5000.00", "5000.00", ""),
        ("I-5101", "C-510", "INV-5101", d(-10), d(20), "CNY", "300000.00", "300000.00", ""),
        ("I-5201", "C-520", "INV-5201", d(-10), d(20), "CNY", "150000.00", "150000.00", ""),
        ("I-5202", "C-520", "CN-5202", d(-5), d(-5), "CNY", "-2000.00", "-2000.00", ""),
    ]


def demo_payments(today: date) -> list[tuple[str, ...]]:
    return [("P-1", "C-100", (today - timedelta(days=2)).isoformat(), "CNY", "5000.00", "5000.00")]


def _write(path: Path, header: str, rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header.split(","))
        writer.writerows(rows)


def write_demo_csv(folder: Path, today: date, language: str = DEFAULT_LANGUAGE) -> None:
    chinese = language == "zh-CN"
    _write(
        folder / "groups.csv",
        "group_id,name,credit_limit,currency",
        [("G-1", GROUPS["zh-CN" if chinese else "en"], "500000.00", "CNY")],
    )
    _write(
        folder / "customers.csv",
        "customer_id,name,credit_limit,currency,group_id,on_hold,hold_reason",
        CUSTOMERS_ZH if chinese else CUSTOMERS,
    )
    _write(
        folder / "invoices.csv",
        "invoice_id,customer_id,number,issue_date,due_date,currency,total,open_amount,order_id",
        demo_invoices(today),
    )
    _write(
        folder / "payments.csv",
        "payment_id,customer_id,date,currency,amount,unapplied_amount",
        demo_payments(today),
    )


ORDERS = [
    # what it shows, order_id, customer_id, amount (CNY), expected outcome, expected reason
    ("a healthy customer", "SO-1", "C-100", "12500.00", "approved", None),
    (
        "pushes Near Limit Ltd. past its limit",
        "SO-2",
        "C-200",
        "12500.00",
        "blocked",
        "CREDIT_LIMIT_EXCEEDED",
    ),
    (
        "invoices overdue more than 30 days",
        "SO-3",
        "C-300",
        "1000.00",
        "blocked",
        "OVERDUE_INVOICES",
    ),
    ("customer on hold", "SO-4", "C-400", "1000.00", "blocked", "CUSTOMER_ON_HOLD"),
    (
        "group Acme Holdings over its group limit",
        "SO-5",
        "C-520",
        "100000.00",
        "blocked",
        "GROUP_LIMIT_EXCEEDED",
    ),
    ("no credit limit set", "SO-6", "C-600", "1000.00", "review", "NO_CREDIT_LIMIT"),
    ("customer not synced yet", "SO-7", "C-999", "1000.00", "review", "UNKNOWN_CUSTOMER"),
    (
        "above the 500,000 CNY approval tier",
        "SO-8",
        "C-700",
        "600000.00",
        "review",
        "APPROVAL_REQUIRED",
    ),
]


def prepare_demo(services: Services, language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """Reset the demo database, load the demo CSVs and create keys; return what to print.

    `language` zh-CN: Chinese customer names, and the demo users and the demo ERP's key set to
    Chinese (pages and the gate's messages)."""
    check_language(language)
    chinese = language == "zh-CN"
    services.reset_database()
    services.init_db()
    why = "演示阈值：人民币，一个审批档位" if chinese else "demo thresholds: CNY, one approval tier"
    services.writes.change_thresholds(
        ChangeThresholds(thresholds_document(DEMO_THRESHOLDS), "demo", why)
    )
    with tempfile.TemporaryDirectory() as tmp:
        write_demo_csv(Path(tmp), services.clock().date(), language)
        result = services.import_folder(Path(tmp))
    if result.errors:
        raise RuntimeError(f"demo data did not load: {[str(e) for e in result.errors]}")
    services.compute_warnings()  # the warning ladder, as the nightly job would after a sync
    # Fixed, public keys so the README's curl lines work as written. Demo database only.
    create_client = services.writes.create_api_client
    told = language if chinese else None
    erp = create_client(CreateApiClient("demo-erp", "erp", key=DEMO_ERP_KEY, language=told))
    auditor = create_client(CreateApiClient("demo-auditor", "auditor", key=DEMO_AUDITOR_KEY))
    admin = create_client(CreateApiClient("demo-admin", "admin", key=DEMO_ADMIN_KEY))
    for name, (role, password) in DEMO_USERS.items():
        services.writes.create_user(CreateUser(name, role, password))
        if chinese:
            services.writes.set_language(SetLanguage(name, language, "demo"))
    for order_id, customer, amount in HELD_AT_START:
        gate_order(
            OrderRequest("default", order_id, customer, Decimal(amount), "CNY"),
            uow=services.uow(),
            clock=services.clock,
            rates=services.rates,
            caller=erp.client.name,
            language=told,
        )

    def curls(base: str) -> list[tuple[str, str]]:
        lines = []
        for what, order_id, customer, amount, outcome, _ in ORDERS:
            body = json.dumps(
                {"order_id": order_id, "customer_id": customer, "amount": amount, "currency": "CNY"}
            )
            lines.append((f"{outcome}: {what}", _curl(base + "/api/v1/gate/orders", erp.key, body)))
        lines.append(
            (
                "auditor: C-300's credit position",
                _curl(base + "/api/v1/customers/C-300/credit", auditor.key),
            )
        )
        lines.append(
            (
                "auditor: every customer's warning level (reminder ... red) and why",
                _curl(base + "/api/v1/warnings", auditor.key),
            )
        )
        lines.append(
            (
                "admin: the thresholds in force, with their version, author and reason",
                _curl(base + "/api/v1/admin/thresholds", admin.key),
            )
        )
        return lines

    summary = (
        f"Demo database ready: {services.settings.database_url}\n"
        f"{sum(result.written.values())} records loaded "
        f"({', '.join(f'{k} {v}' for k, v in result.written.items())})"
    )
    return {
        "summary": summary,
        "erp_key": erp.key,
        "auditor_key": auditor.key,
        "admin_key": admin.key,
        "curls": curls,
    }


def _curl(url: str, key: str, body: str | None = None) -> str:
    parts = ["curl", "-s", "-H", f"Authorization: Bearer {key}"]
    if body is not None:
        parts += ["-H", "Content-Type: application/json", "-d", body]
    return " ".join(shlex.quote(p) for p in [*parts, url])
