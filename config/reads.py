"""What the API and the pages read: the application's read side, over the store. Built once by
config/wiring.py with its engine, clock, rates and business time zone; nothing here changes a
row (the read-only unit of work and the store's read queries only)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from adapters.db import admin, audit_chain, audit_reads, dashboard, holds, users
from adapters.db.engine import ping
from adapters.db.sync_store import DbSyncStore
from adapters.db.unit_of_work import SqlAlchemyUnitOfWork
from adapters.db.warnings_store import DbWarningStore
from gating.audit import DecisionQuery, EventQuery, Period
from gating.errors import CurrencyRateMissing
from gating.holdlist import HoldPage, HoldQuery, held_days
from gating.logins import SESSION_LIFETIME
from gating.model import EXPOSURE_COMPONENTS, Exposure, Thresholds
from gating.money import Rates
from gating.policy import thresholds_from_document
from gating.ports import Clock, DecisionRecord
from gating.reports import DSO_DAYS, aging_in, days_sales_outstanding, in_one_currency
from gating.rules import exposure_of
from gating.services import credit_position, get_decision
from gating.whatif import WhatIf, replay, shadowed


class Reads:
    """Held orders, audit pages and exports, thresholds versions, credit positions, decisions,
    sync runs, warnings and the outbox, the what-if replays, and the pages' figures."""

    def __init__(self, engine: Engine, clock: Clock, rates: Rates, zone: ZoneInfo) -> None:
        self._engine = engine
        self._clock = clock
        self._rates = rates
        self._zone = zone

    def _uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self._engine, self._clock, read_only=True)

    def check_database(self) -> None:
        """:raises: whatever the driver raises when the database does not answer."""
        ping(self._engine)

    # -- orders, customers, decisions -------------------------------------------------------

    def held_orders(
        self,
        *,
        source: str | None = None,
        customer_id: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Open orders whose last decision was review or blocked, newest first, and the next
        page's cursor."""
        return holds.held_page(
            self._engine,
            source=source,
            customer_id=customer_id,
            outcome=outcome,
            limit=limit,
            before=before,
        )

    def hold_list(self, query: HoldQuery, page: int = 1, size: int = 50) -> HoldPage:
        """Page `page` of the held orders matching `query`, with the count and the held amount
        per currency of all that match; each row with its customer's name (None: not synced),
        the first held decision's time (`held_since`, `held_days`) and `days_overdue` (the
        customer's oldest open invoice, None when none is past due)."""
        now = self._clock()
        today = now.astimezone(self._zone).date()
        rows, total, totals = holds.hold_list(self._engine, query, now, page, size)
        for row in rows:
            _dress(row, now, today)
        return HoldPage(rows, total, totals, page, size, today, now)

    def held_order(self, source: str, order_id: str) -> dict[str, Any] | None:
        """One gated order as the hold list shows it (held or not any more), with `status` and
        the last decision's `snapshot`; None when no order has this id at this source."""
        row = holds.order_view(self._engine, source, order_id)
        if row is not None:
            now = self._clock()
            _dress(row, now, now.astimezone(self._zone).date())
        return row

    def credit_position(self, source: str, customer_id: str) -> Mapping[str, Any]:
        """:raises CustomerNotFound, SourceNotFound:"""
        return credit_position(
            source, customer_id, uow=self._uow(), clock=self._clock, rates=self._rates
        )

    def decision(self, decision_id: str) -> DecisionRecord:
        """:raises DecisionNotFound:"""
        return get_decision(decision_id, uow=self._uow())

    # -- thresholds -------------------------------------------------------------------------

    def active_thresholds(self) -> Thresholds:
        with self._uow() as uow:
            return uow.thresholds.active()

    def thresholds_versions(
        self, limit: int = 1, version: int | None = None
    ) -> list[dict[str, Any]]:
        """The newest thresholds versions, or only `version`: version, created_at, created_by,
        reason and document."""
        with self._uow() as uow:
            return uow.thresholds.versions(limit, version)

    def active_thresholds_version(self) -> dict[str, Any]:
        """The version the next decision will use (the newest genuine one): version,
        created_at, created_by, reason and document."""
        with self._uow() as uow:
            active = uow.thresholds.active_version()
        assert active is not None, "init-db stores a first version"
        return active

    def simulate(self, document: Mapping[str, Any], period: Period) -> WhatIf:
        """Replay each order's last decision in `period` under the proposed document.

        :raises InvalidThresholds:
        """
        proposed = thresholds_from_document(dict(document))
        recorded = audit_reads.latest_decisions(self._engine, period, self._zone)
        return replay(recorded, proposed)

    def shadow_report(self, period: Period) -> WhatIf:
        """Each order's last decision in `period` against what the shadow decided beside it."""
        return shadowed(audit_reads.latest_decisions(self._engine, period, self._zone))

    # -- the audit record -------------------------------------------------------------------

    def audit_decisions(
        self, query: DecisionQuery, limit: int, before: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """A page of matching decisions, newest first, and the next page's cursor (or None)."""
        return audit_reads.decision_page(self._engine, query, self._zone, limit, before)

    def audit_events(
        self, query: EventQuery, limit: int, before: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        return audit_reads.event_page(self._engine, query, self._zone, limit, before)

    def export_decisions(self, query: DecisionQuery) -> Iterator[dict[str, Any]]:
        """Every matching decision, oldest first, read in batches (for CSV exports)."""
        return audit_reads.stream_decisions(self._engine, query, self._zone)

    def export_events(self, query: EventQuery) -> Iterator[dict[str, Any]]:
        return audit_reads.stream_events(self._engine, query, self._zone)

    def verify_audit_trail(self, expect_head: str | None = None) -> audit_chain.Verification:
        return audit_chain.verify(self._engine, expect_head)

    # -- sync runs, warnings, the outbox ----------------------------------------------------

    def sync_runs(
        self, *, source: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        return DbSyncStore(self._engine).runs(source=source, status=status, limit=limit)

    def sync_figures(self) -> tuple[list[tuple[str, str, str, int]], list[dict[str, Any]]]:
        """Finished runs counted by source, entity and status; every source's row (metrics)."""
        store = DbSyncStore(self._engine)
        return store.run_counts(), store.sources()

    def warnings(self, *, level: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        return DbWarningStore(self._engine).levels(level=level, limit=limit)

    def outbox(
        self, *, status: str | None = None, target: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        return DbWarningStore(self._engine).outbox(status=status, target=target, limit=limit)

    # -- people and keys --------------------------------------------------------------------

    def list_users(self) -> list[users.UserRow]:
        return users.list_users(self._engine, self._clock(), SESSION_LIFETIME)

    def list_api_clients(self) -> list[admin.ClientRow]:
        return admin.list_api_clients(self._engine)

    # -- the pages' figures -----------------------------------------------------------------

    def dashboard(self) -> dict[str, Any]:
        engine, rates = self._engine, self._rates
        now = self._clock()
        today = now.date()
        active = self.active_thresholds()
        currency = active.base_currency  # totals are shown in the thresholds' base currency
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
        components = active.exposure_components
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
            "runs": DbSyncStore(engine).runs(limit=8),
            "missing_rates": sorted({*miss_a, *miss_b, *miss_c, *miss_d, *miss_e}),
        }

    def customers(self, search: str | None, page: int, size: int = 50) -> dict[str, Any]:
        rows, total = dashboard.customer_page(self._engine, search, size, (page - 1) * size)
        listed = []
        active = self.active_thresholds()
        for source, party, level, group_ref in rows:
            components = active.for_party(party.ref, group_ref).exposure_components
            try:
                exposure: Decimal | None = exposure_of(
                    party, self._rates, components=components
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
        key = dashboard.customer_key(self._engine, source, ref)
        if key is None:
            return {}
        today = self._clock().date()
        return {
            "aging": dashboard.aging(self._engine, today, key),
            "invoices": dashboard.open_invoices(self._engine, key),
            "warnings": dashboard.warning_changes(self._engine, key),
        }


def _dress(row: dict[str, Any], now: datetime, today: date) -> None:
    """A hold list row's ages in days: `held_days` and `days_overdue` (None: nothing past due)."""
    row["held_days"] = held_days(row["held_since"], now)
    due = row.pop("oldest_due")
    row["days_overdue"] = (today - due).days if due is not None and due < today else None
