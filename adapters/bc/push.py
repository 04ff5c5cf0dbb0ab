"""Business Central as a push target: a hold (red) sets the customer's `blocked` to "All"
through PATCH with the entity's `@odata.etag` in If-Match.

The standard API v2.0 customer has no field for a warning level or a note (Microsoft Learn,
API v2.0 `customer` resource type): levels below red are not written to Business Central
(README "Business Central"); a change to one only checks that the customer exists.
"""

from __future__ import annotations

import logging

from adapters.bc.api import SERVICE, BcClient, Row, odata_text
from adapters.http import RemoteRejected, TransientError
from gating.push import WarningChange

log = logging.getLogger(__name__)

BLOCKED_ALL = "All"


class BcPushTarget(BcClient):
    """Write warning changes on Business Central customers (the PushTarget interface)."""

    stale_etag_retries: int

    def push(self, change: WarningChange) -> None:
        """Set `blocked` = "All" for a hold; nothing to write otherwise.

        Read the customer by number, then PATCH with its etag. A 412 (someone changed the
        customer since it was read) reads it again and retries, up to `stale_etag_retries`
        times. Nothing is written when the customer is already blocked for everything.

        :raises RemoteRejected: no such customer, or Business Central refused the write.
        :raises TransientError: it stayed unreachable or throttling, answered something that
            is not its own JSON (a proxy's page), or the customer kept changing under us; the
            change stays queued.
        """
        customer = self._find(change.customer_ref)
        if not change.hold:
            return
        for attempt in range(self.stale_etag_retries + 1):
            if customer.get("blocked") == BLOCKED_ALL:
                return
            etag = str(customer.get("@odata.etag") or "*")
            url = f"{self.resource('customers')}({customer['id']})"
            try:
                self.call(
                    "PATCH",
                    url,
                    f"block customer {change.customer_ref}",
                    json={"blocked": BLOCKED_ALL},
                    headers={"If-Match": etag, "Content-Type": "application/json"},
                )
                return
            except RemoteRejected as exc:
                if exc.status != 412:
                    raise
                log.info(
                    "bc customer %s changed between read and write (attempt %d)",
                    change.customer_ref,
                    attempt + 1,
                )
                customer = self._find(change.customer_ref)
        raise TransientError(
            f"{SERVICE}: customer {change.customer_ref} changed under every one of "
            f"{self.stale_etag_retries + 1} writes of change {change.change_id}; trying later",
            service=SERVICE,
        )

    def _find(self, number: str) -> Row:
        """The customer with this number. Only a well-formed answer listing none of them means
        there is no such customer: one that is not (TransientError, from `get_json`) leaves the
        change queued."""
        params = {"$filter": f"number eq {odata_text(number)}"}
        what = f"find customer {number}"
        body = self.get_json(self.resource("customers"), what, params=params, collection=True)
        found = [r for r in body["value"] if isinstance(r, dict) and r.get("number") == number]
        if len(found) != 1 or not found[0].get("id"):
            raise RemoteRejected(
                f"{SERVICE}: no customer {number!r} in company {self.company}",
                service=SERVICE,
            )
        return found[0]
