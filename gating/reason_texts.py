"""A gate reason's message in a reader's language, built from its code and its figures (the
verdict's, as the decision's snapshot keeps them), so an API client and a page can read any
decision's reasons in Chinese or English. The codes never change; only their words do.

English is the rule's own sentence (gating/rules.py). The Chinese is here, in the standard
library's terms, because the gate, the hold desk and the sync jobs make these texts outside any
web request (no Flask-Babel there) and the domain stays pure; the finance terms are those of
Chinese credit desks (信用额度, 风险敞口, 逾期, 冻结, 放行, 驳回).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from gating.languages import DEFAULT_LANGUAGE
from gating.money import is_currency, quantize

Figures = Mapping[str, Any]

ROLE_ZH = {
    "admin": "管理员",
    "credit_specialist": "信用专员",
    "credit_manager": "信用经理",
    "auditor": "审计员",
    "erp": "ERP",
}


def amount(value: object, currency: object = "") -> str:
    """1234.5, "CNY" -> "1,234.50 CNY" (as the English messages write amounts)."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    code = str(currency)
    if not number.is_finite():
        return str(value)
    if is_currency(code):
        # As the English messages write it (gating/rules.py): the currency's own decimals,
        # rounded half up, so both languages state the same amount.
        return f"{quantize(number, code):,} {code}"
    return f"{number:,.2f} {currency}" if currency else f"{number:,.2f}"


def _hold(f: Figures) -> str:
    why = f"：{f['reason']}" if f.get("reason") else ""
    if f.get("party") == "group":
        return f"集团 {f['ref']}（{f.get('name') or ''}）已被冻结{why}"
    return f"客户 {f['ref']} 已被冻结{why}"


def _overdue(f: Figures) -> str:
    count = f"{f['count']}+" if f.get("count_capped") else str(f["count"])
    return (
        f"{count} 张发票逾期超过 {f['overdue_days']} 天"
        f"（最早为 {f['oldest_number']}，已逾期 {f['oldest_days_overdue']} 天）"
    )


def _limit(f: Figures, review: bool) -> str:
    cur = f["currency"]
    over = Decimal(str(f["after"])) - Decimal(str(f["limit"]))
    band = "（在复核区间内）" if review else ""
    return (
        f"风险敞口 {amount(f['exposure'], cur)} + 本订单 {amount(f['order'], cur)} "
        f"超出信用额度 {amount(f['limit'], cur)}，超出 {amount(over, cur)}{band}"
    )


def _group(f: Figures) -> str:
    cur = f["currency"]
    over = Decimal(str(f["after"])) - Decimal(str(f["limit"]))
    return (
        f"集团 {f['group']}（{f.get('group_name') or ''}）风险敞口 {amount(f['exposure'], cur)}"
        f" + 本订单 {amount(f['order'], cur)} 超出集团信用额度 {amount(f['limit'], cur)}，"
        f"超出 {amount(over, cur)}"
    )


def _unknown(f: Figures, approved: bool) -> str:
    said = f"客户 {f['customer']} 尚未同步"
    if "trial_amount" not in f:
        return said
    base = f.get("base_currency", "")
    trial, after = amount(f["trial_amount"], base), amount(f["after"], base)
    if approved:
        return f"{said}；在试用额度 {trial} 内放行（已用 {after}）"
    return f"{said}，且 {after} 超出试用额度 {trial}"


def _stale(f: Figures) -> str:
    if f.get("last_synced_at") is None:
        return f"数据源 {f['source']} 从未成功同步"
    return (
        f"数据源 {f['source']} 上次同步在 {f['hours_since']} 小时前"
        f"（超过 {f['max_data_age_hours']} 小时）"
    )


def _approval(f: Figures) -> str:
    base = f.get("base_currency", "")
    role = ROLE_ZH.get(str(f["required_role"]), str(f["required_role"]))
    return (
        f"订单金额 {amount(f['order_base'], base)} 超过 {amount(f['tier_amount'], base)} "
        f"的审批档位：需由{role}放行"
    )


def _released(f: Figures) -> str:
    role = ROLE_ZH.get(str(f["role"]), str(f["role"]))
    terms = [f"覆盖 {'、'.join(f.get('released_over') or ())}"]
    if f.get("cap") is not None:
        terms.append(f"上限 {amount(f['cap'], f.get('currency') or '')}")
    if f.get("until"):
        terms.append(f"有效至 {f['until']}")
    return f"{f['actor']}（{role}）于 {f['on']} 放行：{f['reason']}（{'；'.join(terms)}）"


def _rejected(f: Figures) -> str:
    role = ROLE_ZH.get(str(f["role"]), str(f["role"]))
    return f"{f['actor']}（{role}）于 {f['on']} 驳回：{f['reason']}"


_ZH: dict[str, Callable[[Figures, str], str]] = {
    "CUSTOMER_ON_HOLD": lambda f, outcome: _hold(f),
    "OVERDUE_INVOICES": lambda f, outcome: _overdue(f),
    "CREDIT_LIMIT_EXCEEDED": lambda f, outcome: _limit(f, outcome == "review"),
    "GROUP_LIMIT_EXCEEDED": lambda f, outcome: _group(f),
    "UNKNOWN_CUSTOMER": lambda f, outcome: _unknown(f, outcome == "approved"),
    "NO_CREDIT_LIMIT": lambda f, outcome: f"客户 {f['customer']} 未设信用额度",
    "STALE_DATA": lambda f, outcome: _stale(f),
    "APPROVAL_REQUIRED": lambda f, outcome: _approval(f),
    "RELEASED_BY": lambda f, outcome: _released(f),
    "REJECTED_BY": lambda f, outcome: _rejected(f),
}

GATE_UNAVAILABLE_ZH = "信用审批服务暂时无法决策（{detail}）"


def reason_message(
    code: str, figures: Figures, outcome: str, english: str, language: str | None
) -> str:
    """The reason's message in `language` (a tag; None or unknown: English, the rule's own
    `english` sentence). A reason recorded before its figures were kept, or with figures this
    version cannot read, keeps its English sentence rather than a wrong one."""
    if not language or language == DEFAULT_LANGUAGE or language not in ("zh-CN",):
        return english
    build = _ZH.get(code)
    if build is None:
        return english
    try:
        return build(figures, outcome)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return english


def reason_messages(
    reasons: list[Mapping[str, Any]], rules: list[Mapping[str, Any]], language: str | None
) -> list[dict[str, Any]]:
    """A stored answer's reasons (code, message) in `language`, the figures taken from the
    decision snapshot's rules (a released or rejected order's verdict is among them)."""
    figures = {r.get("code"): r for r in rules if r.get("tripped")}
    out = []
    for reason in reasons:
        rule = figures.get(reason.get("code"), {})
        # The English is the rule's own sentence: the answer's may be in another language.
        english = rule.get("message") or reason.get("message", "")
        message = reason_message(
            str(reason.get("code")),
            rule.get("figures") or {},
            str(rule.get("outcome") or ""),
            str(english),
            language,
        )
        out.append({**reason, "message": message})
    return out
