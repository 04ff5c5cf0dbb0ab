"""The warning ladder: a customer's credit warning level and collection step, from the same
figures the gate decides on (exposure, limit, the oldest overdue invoice, a hold).

| level | when (any of) | step |
| --- | --- | --- |
| reminder | an open invoice falls due within `reminder_days` | payment reminder |
| (none) | oldest overdue 1 to `notice_days` days | |
| notice | oldest overdue > `notice_days` | call the customer |
| yellow | oldest overdue > `yellow_days`, or exposure ≥ `yellow_utilization` of the limit | formal overdue notice |
| orange | oldest overdue > `orange_days`, or exposure > the limit | lawyer's letter; credit frozen |
| red | oldest overdue > `red_days`, or on hold | start legal action; on hold in the ERP |

The highest level that applies wins; every rule that applies is a reason.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from gating.push import LEVELS

if TYPE_CHECKING:
    from gating.model import Party

STEPS = {
    "none": None,
    "reminder": "payment reminder",
    "notice": "call the customer",
    "yellow": "formal overdue notice",
    "orange": "lawyer's letter",
    "red": "start legal action",
}

STEPS_ZH = {
    "none": None,
    "reminder": "付款提醒",
    "notice": "电话联系客户",
    "yellow": "发出正式逾期通知",
    "orange": "发律师函",
    "red": "启动法律程序",
}
"""The steps in Simplified Chinese, for a source whose `language` is zh-CN."""


@dataclass(frozen=True)
class Ladder:
    """The thresholds of the ladder (a part of each thresholds version)."""

    reminder_days: int = 3
    notice_days: int = 15
    yellow_days: int = 30
    yellow_utilization: Decimal = Decimal("0.90")
    orange_days: int = 60
    red_days: int = 90


DEFAULT_LADDER = Ladder()


@dataclass(frozen=True)
class Standing:
    """What the ladder looks at for one customer, on one business day.

    `exposure` and `credit_limit` are in the limit's currency (the gate's own figures);
    `oldest_due` is the due date of the oldest open invoice past its due date (None: nothing
    overdue); `next_due` the earliest due date, today or later, of an open invoice.
    """

    today: date
    exposure: Decimal
    credit_limit: Decimal | None
    currency: str
    oldest_due: date | None = None
    oldest_invoice: str | None = None
    next_due: date | None = None
    next_invoice: str | None = None
    on_hold: bool = False
    hold_reason: str | None = None


@dataclass(frozen=True)
class CustomerStanding:
    """A customer as the store hands it to the warning job: the gate's Party (limit, balances,
    hold) and its earliest overdue and upcoming open invoices, and the level it has now."""

    party: Party
    oldest_due: date | None
    oldest_invoice: str | None
    next_due: date | None
    next_invoice: str | None
    level: str | None
    group_ref: str | None = None


@dataclass(frozen=True)
class WarningLevel:
    """The level the ladder found, every reason for it, and what it asks for."""

    level: str
    reasons: tuple[str, ...]
    reasons_zh: tuple[str, ...] = ()
    """The same reasons in Simplified Chinese (a source's `language` chooses which it reads)."""

    @property
    def step(self) -> str | None:
        return STEPS[self.level]

    def texts(self) -> dict[str, tuple[tuple[str, ...], str | None]]:
        """The reasons and step in each language other than English, by language tag."""
        return {"zh-CN": (self.reasons_zh, STEPS_ZH[self.level])}

    @property
    def hold(self) -> bool:
        return self.level == "red"

    @property
    def rank(self) -> int:
        return LEVELS.index(self.level)


def warning_for(standing: Standing, ladder: Ladder = DEFAULT_LADDER) -> WarningLevel:
    """The customer's warning level and every reason for it (pure; days in business time)."""
    found: list[tuple[str, str, str]] = []  # level, English, Chinese
    s = standing
    if s.oldest_due is not None:
        days = (s.today - s.oldest_due).days
        name = f" {s.oldest_invoice}" if s.oldest_invoice else ""
        what = f"oldest overdue invoice{name} is {days} days overdue"
        zh = f"最早逾期发票{name} 已逾期 {days} 天"
        for level, limit in (
            ("red", ladder.red_days),
            ("orange", ladder.orange_days),
            ("yellow", ladder.yellow_days),
            ("notice", ladder.notice_days),
        ):
            if days > limit:
                found.append((level, f"{what} (more than {limit})", f"{zh}（超过 {limit} 天）"))
                break
    if s.next_due is not None:
        ahead = (s.next_due - s.today).days
        if 0 <= ahead <= ladder.reminder_days:
            when = "today" if ahead == 0 else f"in {ahead} day{'s' if ahead != 1 else ''}"
            name = f" {s.next_invoice}" if s.next_invoice else ""
            zh_when = "今天到期" if ahead == 0 else f"将在 {ahead} 天后到期"
            found.append(("reminder", f"invoice{name} falls due {when}", f"发票{name} {zh_when}"))
    if s.credit_limit is not None:
        cap = s.credit_limit
        figures = f"exposure {s.exposure:,.2f} {s.currency} of a limit of {cap:,.2f}"
        zh = f"风险敞口 {s.exposure:,.2f} {s.currency}，信用额度 {cap:,.2f}"
        if s.exposure > cap:
            found.append(("orange", f"{figures}: over the limit", f"{zh}：已超出信用额度"))
        elif cap > 0 and s.exposure >= cap * ladder.yellow_utilization:
            share = ladder.yellow_utilization * 100
            said = f"{figures}: at least {share:.0f} % used"
            found.append(("yellow", said, f"{zh}：已使用至少 {share:.0f}%"))
    if s.on_hold:
        why = s.hold_reason
        found.append(
            ("red", f"on hold: {why}" if why else "on hold", f"已冻结：{why}" if why else "已冻结")
        )
    if not found:
        return WarningLevel("none", ())
    found.sort(key=lambda item: LEVELS.index(item[0]), reverse=True)
    return WarningLevel(
        found[0][0], tuple(en for _, en, _zh in found), tuple(zh for _, _en, zh in found)
    )


_LADDER_KEYS = {
    "reminder_days",
    "notice_days",
    "yellow_days",
    "yellow_utilization",
    "orange_days",
    "red_days",
}


def ladder_from_document(raw: Any, errors: dict[str, str], base: Ladder = DEFAULT_LADDER) -> Ladder:
    """Parse the thresholds document's "warnings" part; record problems in `errors`.

    Settings it leaves out are `base`'s: the defaults for the global ladder (a document made
    before the ladder existed has none), the global ladder for a group's or customer's override.
    """
    if raw is None:
        return base
    if not isinstance(raw, Mapping):
        errors["warnings"] = "must be a table of the ladder's thresholds"
        return base
    for key in sorted(set(raw) - _LADDER_KEYS):
        errors[f"warnings.{key}"] = "unknown setting"
    values: dict[str, Any] = {}
    for key in sorted(_LADDER_KEYS - {"yellow_utilization"}):
        value = raw.get(key, getattr(base, key))
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3650:
            errors[f"warnings.{key}"] = "must be a whole number of days from 0 to 3,650"
        values[key] = value
    share = raw.get("yellow_utilization", str(base.yellow_utilization))
    try:
        if isinstance(share, float | bool):
            raise ValueError
        values["yellow_utilization"] = Decimal(str(share))
        if not Decimal(0) < values["yellow_utilization"] <= Decimal(1):
            raise ValueError
    except (ValueError, ArithmeticError):
        errors["warnings.yellow_utilization"] = "must be a decimal string in (0, 1], e.g. '0.90'"
        values["yellow_utilization"] = base.yellow_utilization
    days = [values[k] for k in ("notice_days", "yellow_days", "orange_days", "red_days")]
    if all(isinstance(d, int) for d in days) and days != sorted(set(days)):
        errors["warnings"] = "notice_days < yellow_days < orange_days < red_days is required"
    if any(k.startswith("warnings") for k in errors):
        return base
    return Ladder(**values)


def ladder_to_document(ladder: Ladder) -> dict[str, Any]:
    return {
        "reminder_days": ladder.reminder_days,
        "notice_days": ladder.notice_days,
        "yellow_days": ladder.yellow_days,
        "yellow_utilization": str(ladder.yellow_utilization),
        "orange_days": ladder.orange_days,
        "red_days": ladder.red_days,
    }
