"""Dynamics NAV as a push target: a warning change is written on the Customer page (`Blocked` =
All for a hold; the level and a note in the page's warning fields, where it has them), retried
when someone changed the customer meanwhile."""

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

    warning_field: str | None
    note_field: str | None
    stale_key_retries: int

    def cannot_push(self) -> str | None:
        """Why this source's Customer page cannot take warnings (a list page, such as Customer
        List, publishes no Update), or None."""
        page = self._customers
        if "Update" in page.operations:
            return None
        return (
            f"{SERVICE}: page {page.name} publishes no Update operation, so creditgate cannot "
            "write warnings there (a list page such as Customer List is read-only); publish the "
            "Customer Card (page 21) as the customer page and save its WSDL, or add the source "
            "with --no-push"
        )

    def not_shown(self, change: WarningChange) -> str | None:
        """What of `change` the Customer page has no field for, and what to add; or None."""
        missing = []
        if self.warning_field is None and change.level != "none":
            missing.append(f"the level {change.level!r}")
        if self.note_field is None and change.step:
            missing.append(f"the step {change.step!r}")
        if not missing:
            return None
        return (
            f"{SERVICE}: page {self._customers.name} has no field for {' and '.join(missing)} "
            f"of customer {change.customer_ref}; add Text fields for the warning level and "
            "note to the Customer Card (NAV 2009-2018: change page 21 in C/AL; Business "
            "Central: a page extension), publish it, save its WSDL, and give them to "
            "`creditgate sources add` as --warning-field and --note-field"
        )

    def push(self, change: WarningChange) -> None:
        """Write the level, the step's note and (for a hold) `Blocked` = All on the customer.

        Read, then Update with the Key read. A fault on Update makes a fresh Read: a new Key
        means someone changed the customer meanwhile (NAV's "Other user has modified", in
        whatever language the server speaks), so the write is tried again on the fresh record,
        up to `stale_key_retries` times; the same Key means NAV refused the write itself.
        Nothing is written when the customer already shows this change: pushing it again is
        harmless.

        Without warning fields only `Blocked` is written (at red); what the page cannot show is
        logged as a warning, and a change of which nothing can be written is refused, saying
        what to add to the page.

        :raises RemoteRejected: the page takes no Update, or nothing of the change can be
            written on it, or no such customer, or NAV refused the write (its message).
        :raises TransientError: NAV stayed unreachable or failing, or the customer kept
            changing under us; the change stays queued.
        """
        refused = self.cannot_push()
        if refused is not None:
            raise RemoteRejected(refused, service=SERVICE)
        wanted = self._wanted(change)
        unshown = self.not_shown(change)
        if not wanted:
            if unshown is None:
                return  # back to no warning, with nothing on the page to clear
            raise RemoteRejected(
                f"{unshown}; nothing of change {change.change_id} written", service=SERVICE
            )
        if unshown is not None:
            log.warning("%s; written: %s", unshown, ", ".join(sorted(wanted)))
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
        wanted: dict[str, str] = {}
        if self.warning_field is not None:
            wanted[self.warning_field] = change.level
        if self.note_field is not None:
            wanted[self.note_field] = (step + suffix)[:NOTE_LENGTH]
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
