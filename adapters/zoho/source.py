"""Zoho CRM as a customer source: Accounts changed since a watermark, read oldest first.

An Account is a creditgate customer when it carries the ERP customer number (creditgate's
customers come from the ERP; the CRM Account is matched to them by that number). Its fields go
through the shared field rules (adapters/fields.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters import fields
from adapters.fields import Invalid
from adapters.http import json_body
from adapters.zoho.api import SCOPES, SERVICE, Row, ZohoClient, ZohoRejected, records_of
from gating.records import CustomerData, GroupData, InvoiceData, PaymentData
from gating.sources import Page, Watermark

log = logging.getLogger(__name__)

PAGE_LIMIT = 2000  # Zoho serves only the first 2,000 records by `page`; past them, `page_token`

# How far before its watermark an incremental read starts again: covers If-Modified-Since's
# one-second grain and whether Zoho compares with > or >=; re-read records upsert harmlessly.
DEFAULT_OVERLAP = timedelta(minutes=2)

ORG_SCOPE = SCOPES[("GET", "/org")]  # ZohoCRM.org.READ


class ZohoSource(ZohoClient):
    """Read Accounts changed since a watermark as customers (the SourceAdapter interface).

    Field API names are the org's own: `number_field` holds the ERP customer number, the
    others the credit limit and the currency (else `currency` applies). Without a
    `currency_field`, Accounts carry Zoho's `Currency` only in a multi-currency organisation:
    the organisation is asked once (GET /org, its `mc_status`), and `Currency` is requested
    only where it exists. A refresh token made before GET /org was needed may lack its scope
    (ZohoCRM.org.READ): then `Currency` is requested, as it always was, with a warning.
    """

    currency: str | None
    number_field: str
    credit_limit_field: str
    currency_field: str | None
    page_size: int
    page_limit: int
    overlap: timedelta
    _currency_known: bool
    _currency_name: str | None

    def currency_field_name(self) -> str | None:
        """The Account field holding each Account's currency: the configured one, else
        `Currency` when the organisation has multi-currency on, else none (asked once).

        Without ZohoCRM.org.READ (OAUTH_SCOPE_MISMATCH), `Currency`, as before that scope
        was needed: a source whose token predates it goes on syncing, and a warning names it.

        :raises TransientError, ZohoRejected: as for any call (but the missing org scope).
        """
        if self.currency_field:
            return self.currency_field
        if not self._currency_known:
            try:
                multi = self.retrying(self._multi_currency)
            except ZohoRejected as exc:
                if exc.code != "OAUTH_SCOPE_MISMATCH":
                    raise
                log.warning(
                    "%s: the refresh token lacks the scope %s, so whether the organisation "
                    "has multi-currency cannot be asked: requesting Accounts' Currency as "
                    "before; generate a refresh token with %s (or give the source a "
                    "currency field)",
                    SERVICE,
                    ORG_SCOPE,
                    ORG_SCOPE,
                )
                multi = True
            self._currency_name = "Currency" if multi else None
            self._currency_known = True
        return self._currency_name

    def _multi_currency(self) -> bool:
        response = self._call("GET", "/org", "read the organisation")
        body = json_body(response)
        orgs = body.get("org") if isinstance(body, dict) else None
        org = orgs[0] if isinstance(orgs, list) and orgs and isinstance(orgs[0], dict) else {}
        return org.get("mc_status") is True

    def groups(self, since: Watermark | None) -> Iterator[Page[GroupData]]:
        """Zoho Accounts carry no credit groups creditgate uses: nothing to read."""
        return iter(())

    def invoices(self, since: Watermark | None) -> Iterator[Page[InvoiceData]]:
        """A CRM holds no receivables: nothing to read."""
        return iter(())

    def payments(self, since: Watermark | None) -> Iterator[Page[PaymentData]]:
        """A CRM holds no receivables: nothing to read."""
        return iter(())

    def customers(self, since: Watermark | None) -> Iterator[Page[CustomerData]]:
        """Accounts changed after `since`, oldest change first; one without an ERP customer
        number is a RecordError and the rest of its page still lands.

        :raises TransientError: Zoho stayed unreachable, slow, rate-limiting or failing.
        :raises ZohoRejected: Zoho refused the read (scope, field names, paging limits).
        """
        start = self._start(since)
        for rows in self._account_pages(start):
            fresh = [row for row in rows if _is_after(row, since, start, exact=not self.overlap)]
            if fresh:
                yield self._page(fresh, floor=since)

    def _start(self, since: Watermark | None) -> datetime | None:
        """Where a read after `since` starts: `overlap` before the watermark (or one second
        before it without overlap, and the (time, id) keyset drops what was read already)."""
        if since is None:
            return None
        return since.changed_at - (self.overlap or timedelta(seconds=1))

    def _account_pages(self, start: datetime | None) -> Iterator[list[Row]]:
        """Yield pages of Accounts modified at or after `start`, oldest first.

        `page` reaches only the first `page_limit` (2,000) records; the page that would cross
        it, and every one after, is asked for with the `next_page_token` the last one gave.
        """
        names = ["Account_Name", self.number_field, self.credit_limit_field, "Modified_Time"]
        currency_field = self.currency_field_name()
        if currency_field:
            names.append(currency_field)
        params: dict[str, Any] = {
            "fields": ",".join(dict.fromkeys(names)),
            "per_page": self.page_size,
            "sort_by": "Modified_Time",
            "sort_order": "asc",
        }
        # Documented for v2/v2.1 and not listed in v8's OpenAPI: should v8 ignore it, the
        # read is still correct (oldest first, filtered by customers()), only longer.
        headers = {"If-Modified-Since": _iso(start)} if start is not None else {}
        page, token = 1, None
        while True:
            where = {"page_token": token} if token else {"page": page}
            response = self.retrying(
                self._call,
                "GET",
                "/Accounts",
                "read Accounts",
                params=params | where,
                headers=headers,
            )
            if response.status_code in (204, 304):  # nothing (more) modified
                return
            body = json_body(response)
            body = body if isinstance(body, dict) else {}
            rows = records_of(body)
            if rows:
                yield rows
            info = body.get("info") or {}
            if not info.get("more_records"):
                return
            if token is None and (page + 1) * self.page_size <= self.page_limit:
                page += 1
                continue
            token = info.get("next_page_token")
            if not token:
                raise ZohoRejected(
                    f"{SERVICE}: read Accounts: more records follow page {page} but Zoho gave "
                    "no next_page_token to reach them",
                    code="NO_PAGE_TOKEN",
                )

    def _page(self, rows: Sequence[Row], floor: Watermark | None) -> Page[CustomerData]:
        """Map a page; its watermark is its latest (time, id), never below `floor`: a page
        re-read within the overlap must not move the stored watermark back."""
        records, errors = fields.mapped(
            "customers", rows, self._customer, lambda row: f"Accounts,{row.get('id')}"
        )
        marks = [w for w in map(_watermark, rows) if w is not None]
        if floor is not None:
            marks.append(floor)
        last = max(marks, key=lambda w: (w.changed_at, _id_key(w.last_id)), default=None)
        return Page(records, errors, last)

    def _customer(self, row: Row) -> CustomerData:
        number = row.get(self.number_field)
        if isinstance(number, int | Decimal) and not isinstance(number, bool):
            number = str(number)
        if not isinstance(number, str) or not number.strip():
            raise Invalid(f"no ERP customer number ({self.number_field} is empty)")
        if _watermark(row) is None:
            raise Invalid("has no valid Modified_Time or id")
        field = self.currency_field_name()
        currency = (row.get(field) if field else None) or self.currency
        if not currency:
            raise Invalid(
                f"currency {currency!r} is not an ISO 4217 code (set the source's default currency)"
            )
        currency = fields.currency(currency)
        limit = row.get(self.credit_limit_field)
        amount = None if limit is None else fields.amount(limit, currency, self.credit_limit_field)
        if amount is not None and amount < 0:
            raise Invalid(f"{self.credit_limit_field} is negative")
        return CustomerData(
            ref=fields.ref(number, self.number_field),
            name=fields.text(row.get("Account_Name"), "Account_Name"),
            credit_limit=amount,
            currency=currency,
        )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _modified(row: Row) -> datetime | None:
    return fields.instant(row.get("Modified_Time"))


def _id_key(record_id: str) -> int:
    """Zoho record ids are 19-digit numbers: they sort as numbers."""
    return int(record_id) if record_id.isdigit() else -1


def _watermark(row: Row) -> Watermark | None:
    moment, record_id = _modified(row), str(row.get("id") or "")
    if moment is None or not record_id.isdigit():
        return None
    return Watermark(moment, record_id)


def _is_after(row: Row, since: Watermark | None, start: datetime | None, *, exact: bool) -> bool:
    """Whether `row` belongs in a read after `since` that starts at `start`: with overlap,
    everything from `start` on; without, strictly after the watermark's (time, id)."""
    if since is None or start is None:
        return True
    mark = _watermark(row)
    if mark is None:
        return True  # becomes a RecordError, which says why
    if not exact:
        return mark.changed_at >= start
    return (mark.changed_at, _id_key(mark.last_id)) > (since.changed_at, _id_key(since.last_id))
