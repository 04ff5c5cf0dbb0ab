"""The words people read for creditgate's codes: outcomes, roles, warning levels and collection
steps, reason codes and audit actions. The codes themselves stay as they are (the API, the CSVs
and the audit record keep them); a page shows a code's words in the reader's language, and an
unknown code as it is. Templates use them as filters: `{{ d.outcome|outcome }}`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask

from connector.i18n import _l, reads_chinese, request_tag
from gating.reason_texts import reason_messages
from gating.thresholds_versions import CONFIG_REASON

OUTCOMES = {
    "approved": _l("approved"),
    "review": _l("review"),
    "blocked": _l("blocked"),
}

ROLES = {
    "admin": _l("admin"),
    "auditor": _l("auditor"),
    "credit_specialist": _l("credit specialist"),
    "credit_manager": _l("credit manager"),
    "erp": _l("ERP"),
    "metrics": _l("metrics"),
}

LEVELS = {
    "none": _l("none"),
    "reminder": _l("reminder"),
    "notice": _l("notice"),
    "yellow": _l("yellow"),
    "orange": _l("orange"),
    "red": _l("red"),
}

STEPS = {
    "reminder": _l("payment reminder"),
    "notice": _l("call the customer"),
    "yellow": _l("formal overdue notice"),
    "orange": _l("lawyer's letter"),
    "red": _l("start legal action"),
}

REASONS = {
    "CUSTOMER_ON_HOLD": _l("customer on hold"),
    "OVERDUE_INVOICES": _l("overdue invoices"),
    "CREDIT_LIMIT_EXCEEDED": _l("credit limit exceeded"),
    "GROUP_LIMIT_EXCEEDED": _l("group credit limit exceeded"),
    "UNKNOWN_CUSTOMER": _l("customer not synced yet"),
    "NO_CREDIT_LIMIT": _l("no credit limit set"),
    "STALE_DATA": _l("data not synced recently"),
    "APPROVAL_REQUIRED": _l("approval required"),
    "RELEASED_BY": _l("released by a person"),
    "REJECTED_BY": _l("rejected by a person"),
    "GATE_UNAVAILABLE": _l("gate unavailable"),
}

ACTIONS = {
    "login": _l("logged in"),
    "logout": _l("logged out"),
    "login_failed": _l("login failed"),
    "login_locked": _l("login locked"),
    "login_unlocked": _l("login unlocked"),
    "sessions_ended": _l("sessions ended"),
    "password_reset": _l("password reset"),
    "user_created": _l("user created"),
    "user_disabled": _l("user disabled"),
    "user_enabled": _l("user enabled"),
    "user_language_changed": _l("language changed"),
    "api_key_created": _l("API key created"),
    "api_key_revoked": _l("API key revoked"),
    "api_key_language_changed": _l("API key language changed"),
    "source_added": _l("source added"),
    "source_changed": _l("source changed"),
    "source_macs_adopted": _l("source rows adopted"),
    "audit_macs_adopted": _l("audit rows adopted"),
    "audit_verified": _l("audit trail verified"),
    "thresholds_changed": _l("thresholds changed"),
    "customer_hold_on": _l("customer put on hold"),
    "customer_hold_off": _l("customer hold lifted"),
    "hold_released": _l("held order released"),
    "hold_rejected": _l("held order rejected"),
    "hold_release_not_applied": _l("release not applied"),
    "hold_reevaluated": _l("held order decided again"),
    "hold_auto_released": _l("held order released on re-evaluation"),
}

BUCKETS = {
    "current": _l("not yet due"),
    "1–30": _l("1–30 days"),
    "31–60": _l("31–60 days"),
    "61–90": _l("61–90 days"),
    "> 90": _l("over 90 days"),
}
"""gating.reports.BUCKETS: open invoices by days past due."""

ENTITIES = {
    "customers": _l("customers"),
    "invoices": _l("invoices"),
    "payments": _l("payments"),
    "orders": _l("orders"),
    "file_import": _l("file import"),
}

RUN_STATUSES = {
    "running": _l("running"),
    "succeeded": _l("succeeded"),
    "succeeded_with_errors": _l("succeeded with errors"),
    "failed": _l("failed"),
}

SAID_BY_CREDITGATE = {
    CONFIG_REASON: _l("thresholds from the defaults and CREDITGATE_CONFIG"),
}
"""Reasons creditgate itself records (a person's own words are shown as typed)."""

LANGUAGES = {"zh-CN": "简体中文", "en": "English"}
"""Each language by its own name, as a language menu shows them."""


def word(table: Mapping[str, object], code: object) -> str:
    """The words for `code` in the reader's language; an unknown code as it is."""
    if code is None:
        return ""
    found = table.get(str(code))
    return str(found) if found is not None else str(code)


def words(table: Mapping[str, object], codes: Iterable[object] | str | None) -> str:
    """Several codes' words, comma-separated (a stored "A,B" string or a list)."""
    if not codes:
        return ""
    items = codes.split(",") if isinstance(codes, str) else list(codes)
    said = [word(table, c.strip() if isinstance(c, str) else c) for c in items]
    return ("、" if reads_chinese() else ", ").join(said)


def init_app(app: Flask) -> None:
    for name, table in (
        ("outcome", OUTCOMES),
        ("role", ROLES),
        ("level", LEVELS),
        ("step", STEPS),
        ("reason", REASONS),
        ("action", ACTIONS),
        ("bucket", BUCKETS),
        ("entity", ENTITIES),
        ("run_status", RUN_STATUSES),
        ("said", SAID_BY_CREDITGATE),
    ):
        app.add_template_filter(lambda code, t=table: word(t, code), name)
    app.add_template_filter(lambda codes: words(REASONS, codes), "reasons")
    app.add_template_filter(move, "move")
    app.add_template_global(worded_reasons, "worded_reasons")


def worded_reasons(
    reasons: list[Mapping[str, Any]], rules: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """A stored decision's reasons (its response's) with their messages in the reader's
    language, from the snapshot's rules: `worded_reasons(d.response.reasons, d.snapshot.rules)`
    (the codes stay as they are)."""
    return reason_messages(reasons, rules, request_tag())


def move(text: str) -> str:
    """A what-if's "approved → blocked" in the reader's words."""
    return " → ".join(word(OUTCOMES, part.strip()) for part in str(text).split("→"))
