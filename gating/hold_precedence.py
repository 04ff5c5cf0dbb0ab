"""Which hold wins: a customer's hold from its ERP and from an admin here, and its group's.

A customer is on hold when its ERP says so or an admin put it on hold in creditgate; the reason
shown names the admin's hold first. The gate weighs the customer's hold and the group's apart
(gating/rules.py, `check_hold`: the customer's first). The warning ladder looks at one party, so
there a group on hold puts each of its customers on hold, and a customer's own hold names the
reason.
"""

from __future__ import annotations

Hold = tuple[bool, str | None]
"""(on hold, reason): a reason may come with no hold (the ERP's field). A plain tuple, not a
NamedTuple: the gate reads one per decision, and a NamedTuple costs about 0.5 µs more."""


def customer_hold(
    erp_hold: bool | None, erp_reason: str | None, admin_hold: bool, admin_reason: str | None
) -> Hold:
    """The customer's own hold: an admin's hold wins, and is named as creditgate's."""
    if admin_hold:
        return True, f"held by creditgate: {admin_reason}"
    return bool(erp_hold), erp_reason


def with_group_hold(customer: Hold, group_on_hold: bool | None, group_reason: str | None) -> Hold:
    """The customer's hold for the warning ladder: its own, else its group's ("group: why")."""
    if group_on_hold and not customer[0]:
        return True, f"group: {group_reason or 'on hold'}"
    return customer
