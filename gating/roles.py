"""Who may do what: every API client and user has one role."""

from __future__ import annotations

from gating.errors import SourceNotGranted

RELEASERS = ("admin", "credit_specialist", "credit_manager")
"""Roles that work the hold list: release, reject, re-evaluate, customer holds. Approval tiers
may ask for a particular one of them for large amounts."""

ROLES = ("erp", "admin", "auditor", "metrics", "credit_specialist", "credit_manager")
"""erp: gate calls and order events; admin: thresholds and holds; auditor: read-only audit and
credit positions; metrics: /metrics; credit_specialist and credit_manager: the hold list."""

PEOPLE_ROLES = ("admin", "auditor", "credit_specialist", "credit_manager")
"""Roles a person logging in to the web pages may have; erp and metrics are for machines."""


def acting_source(home: str, granted: tuple[str, ...], asked: str | None) -> str:
    """The source an `erp` client acts for: its own (`home`) unless it asks for another that its
    key was granted (`granted`, which holds `home` too). Naming its own is always fine.

    :raises SourceNotGranted: for any other source, known or not (no hint which exist).
    """
    if asked is None or asked == home or asked in granted:
        return home if asked is None else asked
    raise SourceNotGranted(asked, home)
