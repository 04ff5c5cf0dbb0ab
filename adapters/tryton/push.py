"""Tryton as a push target: a customer's warning change becomes a note on its party."""

from __future__ import annotations

from adapters.http import RemoteRejected
from adapters.tryton.rpc import SERVICE, TrytonClient
from gating.push import WarningChange


class TrytonPushTarget(TrytonClient):
    """Show warning changes on Tryton parties (the PushTarget interface)."""

    def push(self, change: WarningChange) -> None:
        """Show a warning change on the Tryton party: a note (`ir.note`) with the level, the
        collection step and the reasons. A party has no field for it (see the Tryton note).

        Idempotent: a note carrying `change.change_id` is created only if none exists yet, so a
        change pushed again after a lost answer leaves one note.

        :raises RemoteRejected: no party has the customer's code.
        :raises TransientError: Tryton stayed unreachable (after the retries).
        """
        parties = self.call(
            "party.party", "search", [["code", "=", change.customer_ref]], 0, 2, None,
            context={"active_test": False},
        )  # fmt: skip
        if len(parties) != 1:
            raise RemoteRejected(
                f"tryton: no single party with code {change.customer_ref!r} (found {len(parties)})",
                service=SERVICE,
            )
        resource = f"party.party,{parties[0]}"
        marker = f"[creditgate {change.change_id}]"
        existing = self.call(
            "ir.note", "search", [["resource", "=", resource], ["message", "like", f"%{marker}%"]]
        )
        if existing:
            return
        self.call("ir.note", "create", [{"resource": resource, "message": _note(change, marker)}])


def _note(change: WarningChange, marker: str) -> str:
    lines = [f"Credit warning: {change.level.upper()} (was {change.previous_level})"]
    if change.step:
        lines.append(f"Next step: {change.step}")
    if change.hold:
        lines.append("Put this customer on hold: no new orders.")
    lines += [f"- {reason}" for reason in change.reasons]
    lines.append(f"{change.decided_at:%Y-%m-%d %H:%M %Z} {marker}")
    return "\n".join(lines)
