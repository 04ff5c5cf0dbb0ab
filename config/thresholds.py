"""Threshold defaults: the first version a new database starts from (stdlib only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULTS: dict[str, Any] = {
    # Amounts without their own currency (trial amount, approval tiers) are in this currency.
    "base_currency": "USD",
    # An invoice blocks new orders when overdue by MORE than this many days (31 blocks, 30 not).
    "overdue_days": 30,
    # Overdue invoices whose open amount is at or below this (in the invoice's currency) are
    # ignored: rounding remainders and bank charges should not stop a customer's orders.
    "overdue_tolerance": "0.00",
    # Exposure above the limit by at most this fraction of the limit asks for review, not a block.
    "review_band": "0",
    # Orders from customers not synced yet: None sends them to review; an amount approves them
    # up to that total per customer.
    "trial_amount": None,
    # A source not synced successfully within this many hours makes its decisions STALE_DATA.
    "max_data_age_hours": 48,
    "stale_data_outcome": "review",
    # [{amount, role}]: orders above `amount` go to review, released only by `role`.
    "approval_tiers": [],
    # An approved order's reservation lapses after this many days without an invoice.
    "reservation_days": 60,
    # The overdue message counts at most this many invoices ("1000+"), so it stays fast.
    "overdue_count_cap": 1000,
    # The warning ladder pushed to the ERP and CRM (gating/warnings.py): reminder when an
    # invoice falls due within reminder_days; notice, yellow, orange, red when the oldest
    # overdue invoice is MORE than notice/yellow/orange/red_days overdue; yellow also from
    # yellow_utilization of the limit used, orange over the limit, red on hold.
    # What a gate answers when it cannot read the store (503, GATE_UNAVAILABLE): approved,
    # review or blocked; None leaves it to the server's CREDITGATE_FAIL_SAFE_OUTCOME.
    "fail_safe_outcome": None,
    # What exposure adds up. Leaving out "reservations" lets approved orders not yet invoiced
    # stop counting (two orders can then both take the last credit); leaving out
    # "unapplied_payments" ignores money received but not yet matched to an invoice.
    "exposure_components": ["open_invoices", "unapplied_payments", "reservations"],
    # Per-group and per-customer settings over the ones above, by the source's id, e.g.
    # {"customers": {"C-300": {"overdue_days": 60}}, "groups": {"G-1": {"review_band": "0.05"}}}.
    # A customer's own settings win over its group's. Base currency, overdue count cap and the
    # fail-safe outcome hold for everyone.
    "overrides": {"groups": {}, "customers": {}},
    "warnings": {
        "reminder_days": 3,
        "notice_days": 15,
        "yellow_days": 30,
        "yellow_utilization": "0.90",
        "orange_days": 60,
        "red_days": 90,
    },
}


def thresholds_document(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults with a config file's [thresholds] laid over them."""
    return {**DEFAULTS, **overrides}
