"""Dynamics NAV as a push target: a warning change is written on the Customer page (level, a
note, and `Blocked` = All for a hold), retried when someone changed the customer meanwhile."""

from __future__ import annotations

import logging

from adapters.http import RemoteRejected, TransientError
from adapters.nav.soap import SERVICE, NavFault, NavPages, Row
from gating.push import WarningChange

log = logging.getLogger(__name__)

BLOCKED_ALL = "All"
NOTE_LENGTH = 250
"""A Text[250] field, the usual length for a note field added by a page extension."""


class NavPushTarget(NavPages):
    """Write warning changes on NAV customers (the PushTarget interface)."""

    warning_field: str
    note_field: str
    stale_key_retries: int

    def push(self, change: WarningChange) -> None:
        """Write the level, the step's note and (for a hold) `Blocked` = All on the customer.

        Read, then Update with the Key read. A fault on Update makes a fresh Read: a new Key
        means someone changed the customer meanwhile (NAV's "Other user has modified", in
        whatever language the server speaks), so the write is tried again on the fresh record,
        up to `stale_key_retries` times; the same Key means NAV refused the write itself.
        Nothing is written when the customer already shows this change: pushing it again is
        harmless.

        :raises RemoteRejected: no such customer, or NAV refused the write (its message).
        :raises TransientError: NAV stayed unreachable or failing, or the customer kept
            changing under us; the change stays queued.
        """
        wanted = self._wanted(change)
        record = self._read_customer(change.customer_ref)
        for attempt in range(self.stale_key_retries + 1):
            if all(getattr(record, f, None) == v for f, v in wanted.items()):
                return
            try:
                self._call(self._customers, "Update", Customer={"Key": record.Key, **wanted})
                return
            except NavFault as fault:
                fresh = self._read_customer(change.customer_ref, after=fault)
                if fresh.Key == record.Key:
                    raise
                log.info(
                    "nav customer %s changed between Read and Update (attempt %d): %s",
                    change.customer_ref,
                    attempt + 1,
                    fault.fault,
                )
                record = fresh
        raise TransientError(
            f"{SERVICE}: customer {change.customer_ref} changed under every one of "
            f"{self.stale_key_retries + 1} writes of change {change.change_id}; trying later",
            service=SERVICE,
        )

    def _wanted(self, change: WarningChange) -> dict[str, str]:
        suffix = f"; creditgate change {change.change_id}"
        step = (change.step or "no collection step")[: max(0, NOTE_LENGTH - len(suffix))]
        wanted = {self.warning_field: change.level, self.note_field: (step + suffix)[:NOTE_LENGTH]}
        if change.hold:
            wanted["Blocked"] = BLOCKED_ALL
        return wanted

    def _read_customer(self, ref: str, *, after: NavFault | None = None) -> Row:
        record = self._call(self._customers, "Read", No=ref)
        if record is None:
            because = f" (Update said: {after.fault})" if after is not None else ""
            raise RemoteRejected(
                f"{SERVICE}: no customer {ref!r} in NAV at {self._customers.url}{because}",
                service=SERVICE,
            )
        return record
