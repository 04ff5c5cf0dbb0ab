"""What the web pages read and do, over the store: the composition root's part for people."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from adapters.db import dashboard, logins, users
from adapters.db.repository import AuditRepository
from gating.errors import CurrencyRateMissing
from gating.logins import SESSION_LIFETIME, Admission
from gating.model import EXPOSURE_COMPONENTS, Exposure
from gating.reports import DSO_DAYS, aging_in, days_sales_outstanding, in_one_currency
from gating.rules import exposure_of

if TYPE_CHECKING:
    from config.wiring import Services

User = users.User


@dataclass
class Pages:
    """Reads and actions of the web pages; `services` does the rest."""

    services: Services

    # -- people -----------------------------------------------------------------------------

    def create_user(self, username: str, role: str, password: str) -> User:
        """:raises ValueError: naming what is wrong."""
        return users.create_user(
            self.services.engine, username, role, password, self.services.clock()
        )

    def authenticate(self, username: str, password: str) -> User | None:
        return users.authenticate(self.services.engine, username, password)

    # -- logins and sessions (gating/logins.py has the figures) -----------------------------

    def admit_login(self, username: str, address: str) -> Admission:
        """May this attempt check its password now (it then counts as failed until it passes)?"""
        return logins.admit(self.services.engine, username, address, self.services.clock())

    def login_failed(self, username: str, address: str) -> bool:
        """Record a wrong password (audited); True if it locked the name."""
        return logins.failed(self.services.engine, username, address, self.services.clock())

    def login_succeeded(self, username: str, address: str) -> None:
        logins.succeeded(self.services.engine, username, address)

    def start_session(self, user: User) -> str:
        """A new server-side session; the token for the cookie."""
        engine, now = self.services.engine, self.services.clock()
        return logins.start_session(engine, user.id, now, SESSION_LIFETIME)

    def session_user(self, token: str) -> User | None:
        """The user of a live session (not ended, not expired, user not disabled), or None."""
        found = logins.session_user(
            self.services.engine, token, self.services.clock(), SESSION_LIFETIME
        )
        return None if found is None else User(found.id, found.username, found.role)

    def end_session(self, token: str) -> None:
        logins.end_session(self.services.engine, token, self.services.clock())

    def end_all_sessions(self, username: str, actor: str) -> int:
        """Log the user out everywhere (audited); how many sessions ended.

        :raises ValueError: no such user.
        """
        engine, now = self.services.engine, self.services.clock()
        return users.end_all_sessions(engine, username, actor, now)

    # -- user administration (the CLI, and admins on the people page) -----------------------

    def list_users(self) -> list[users.UserRow]:
        return users.list_users(self.services.engine, self.services.clock(), SESSION_LIFETIME)

    def disable_user(self, username: str, actor: str) -> int:
        """:raises ValueError: naming what is wrong. How many sessions ended."""
        return users.disable_user(self.services.engine, username, actor, self.services.clock())

    def enable_user(self, username: str, actor: str) -> list[str]:
        """:raises ValueError: no such user. Also lifts a lock; what was done."""
        return users.enable_user(self.services.engine, username, actor, self.services.clock())

    def unlock_user(self, username: str, actor: str) -> bool:
        """:raises ValueError: no such user. True if the name was locked."""
        return users.unlock_user(self.services.engine, username, actor, self.services.clock())

    def reset_password(self, username: str, password: str, actor: str) -> int:
        """:raises ValueError: naming what is wrong. How many sessions ended."""
        engine, now = self.services.engine, self.services.clock()
        return users.reset_password(engine, username, password, actor, now)

    def record(self, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> None:
        """An audit event outside any other change (logins, logouts, refused logins)."""
        with self.services.engine.begin() as conn:
            AuditRepository(conn).record(actor, action, subject, details, self.services.clock())

    # -- figures ----------------------------------------------------------------------------

    @property
    def currency(self) -> str:
        """Totals are shown in the thresholds' base currency."""
        return self.services.active_thresholds().base_currency

    def dashboard(self) -> dict[str, Any]:
        services, engine = self.services, self.services.engine
        now = services.clock()
        today = now.date()
        currency, rates = self.currency, services.rates
        sums = dashboard.balances(engine)
        open_, miss_a = in_one_currency(
            {c: v["open_invoices"] for c, v in sums.items()}, rates, currency
        )
        unapplied, miss_b = in_one_currency(
            {c: v["unapplied"] for c, v in sums.items()}, rates, currency
        )
        reserved, miss_c = in_one_currency(
            {c: v["reserved"] for c, v in sums.items()}, rates, currency
        )
        buckets, miss_d = aging_in(dashboard.aging(engine, today), rates, currency)
        sales, miss_e = in_one_currency(
            dashboard.sales_since(engine, today - timedelta(days=DSO_DAYS)), rates, currency
        )
        counts = dashboard.counts(engine)
        midnight = datetime.combine(today, time(0), now.tzinfo)
        components = services.active_thresholds().exposure_components
        exposure = Exposure(currency, open_, unapplied, reserved, components).total
        return {
            "currency": currency,
            "exposure": exposure,
            "components": [c for c in EXPOSURE_COMPONENTS if c in components],
            "open_invoices": open_,
            "unapplied": unapplied,
            "reserved": reserved,
            "overdue": sum((v for k, v in buckets.items() if k != "current"), Decimal(0)),
            "aging": buckets,
            "dso": days_sales_outstanding(open_, sales),
            "dso_days": DSO_DAYS,
            "held": counts["held"],
            "customers": counts["customers"],
            "levels": counts["levels"],
            "decided_today": dashboard.decided_today(engine, midnight),
            "runs": services.sync_store().runs(limit=8),
            "missing_rates": sorted({*miss_a, *miss_b, *miss_c, *miss_d, *miss_e}),
        }

    def customers(self, search: str | None, page: int, size: int = 50) -> dict[str, Any]:
        rows, total = dashboard.customer_page(self.services.engine, search, size, (page - 1) * size)
        listed = []
        active = self.services.active_thresholds()
        for source, party, level, group_ref in rows:
            components = active.for_party(party.ref, group_ref).exposure_components
            try:
                exposure: Decimal | None = exposure_of(
                    party, self.services.rates, components=components
                ).total
            except CurrencyRateMissing:
                exposure = None
            limit = party.credit_limit
            listed.append(
                {
                    "source": source,
                    "id": party.ref,
                    "name": party.name,
                    "currency": party.currency,
                    "credit_limit": limit,
                    "exposure": exposure,
                    "available": None if limit is None or exposure is None else limit - exposure,
                    "level": level or "none",
                    "on_hold": party.on_hold,
                }
            )
        return {"customers": listed, "total": total, "page": page, "size": size}

    def customer_extras(self, source: str, ref: str) -> dict[str, Any]:
        """What the customer page shows beside the credit position."""
        engine = self.services.engine
        key = dashboard.customer_key(engine, source, ref)
        if key is None:
            return {}
        today = self.services.clock().date()
        return {
            "aging": dashboard.aging(engine, today, key),
            "invoices": dashboard.open_invoices(engine, key),
            "warnings": dashboard.warning_changes(engine, key),
        }
