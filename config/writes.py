"""What the API, the pages and the command line change: the application's write side, one
command each (gating/commands.py). Built once by config/wiring.py with what every use case
needs bound (engine, clock, the hold desk with its rates, zone and notice targets)."""

from __future__ import annotations

from sqlalchemy import Engine

from adapters.db import admin, audit_chain, users
from gating.commands import (
    ChangeThresholds,
    CreateApiClient,
    CreateUser,
    DisableUser,
    EnableUser,
    EndAllSessions,
    ReevaluateHolds,
    ReevaluateOrder,
    RejectOrder,
    ReleaseOrder,
    ResetPassword,
    RevokeApiClient,
    SetClientLanguage,
    SetCustomerHold,
    SetLanguage,
    UnlockUser,
)
from gating.holds import HoldAnswer, HoldDesk, ReevaluationReport
from gating.ports import Clock


class Writes:
    """Hold actions and customer holds, thresholds changes, API clients, people, and the audit
    trail's seal."""

    def __init__(self, engine: Engine, clock: Clock, holds: HoldDesk) -> None:
        self._engine = engine
        self._clock = clock
        self._holds = holds

    @property
    def notify(self) -> tuple[str, ...]:
        """The outbox targets hold notices go to (empty: the ERP is not told)."""
        return self._holds.notify

    # -- held orders and customer holds (gating/holds.py) ----------------------------------

    def release_order(self, cmd: ReleaseOrder) -> HoldAnswer:
        """:raises ReleaseInThePast, OrderNotFound, NotHeld, ReleaseNotAllowed, InvalidRelease:"""
        return self._holds.release(cmd)

    def reject_order(self, cmd: RejectOrder) -> HoldAnswer:
        """:raises OrderNotFound, NotHeld, ReleaseNotAllowed:"""
        return self._holds.reject(cmd)

    def reevaluate_order(self, cmd: ReevaluateOrder) -> HoldAnswer:
        """:raises OrderNotFound, NotHeld:"""
        return self._holds.reevaluate(cmd)

    def reevaluate_holds(self, cmd: ReevaluateHolds) -> ReevaluationReport:
        """Decide every held order again; release those whose reasons are gone."""
        return self._holds.reevaluate_all(cmd)

    def set_customer_hold(self, cmd: SetCustomerHold) -> None:
        """:raises CustomerNotFound, SourceNotFound:"""
        self._holds.set_customer_hold(cmd)

    # -- thresholds -------------------------------------------------------------------------

    def change_thresholds(self, cmd: ChangeThresholds) -> int:
        """The new version's number.

        :raises InvalidThresholds, Conflict: (another version saved since `cmd.base_version`)
        """
        return admin.add_thresholds(
            self._engine,
            dict(cmd.document),
            cmd.created_by,
            cmd.reason,
            self._clock(),
            cmd.base_version,
        )

    # -- API clients ------------------------------------------------------------------------

    def create_api_client(self, cmd: CreateApiClient) -> admin.IssuedKey:
        """:raises ValueError: for an unknown role, an unknown source or a name already taken."""
        return admin.create_api_client(
            self._engine,
            cmd.name,
            cmd.role,
            self._clock(),
            source=cmd.source,
            grant=cmd.grant,
            signed=cmd.signed,
            key=cmd.key,
            language=cmd.language,
        )

    def set_client_language(self, cmd: SetClientLanguage) -> bool:
        """:raises ValueError: no such client, or a language creditgate does not speak."""
        return admin.set_client_language(
            self._engine, cmd.name, cmd.language, cmd.actor, self._clock()
        )

    def revoke_api_client(self, cmd: RevokeApiClient) -> None:
        """:raises ValueError: no such client, or revoked already."""
        admin.revoke_api_client(self._engine, cmd.name, cmd.actor, self._clock())

    # -- people -----------------------------------------------------------------------------

    def create_user(self, cmd: CreateUser) -> users.User:
        """:raises ValueError: naming what is wrong."""
        return users.create_user(self._engine, cmd.username, cmd.role, cmd.password, self._clock())

    def disable_user(self, cmd: DisableUser) -> int:
        """:raises ValueError: naming what is wrong. How many sessions ended."""
        return users.disable_user(self._engine, cmd.username, cmd.actor, self._clock())

    def enable_user(self, cmd: EnableUser) -> list[str]:
        """:raises ValueError: no such user. Also lifts a lock; what was done."""
        return users.enable_user(self._engine, cmd.username, cmd.actor, self._clock())

    def unlock_user(self, cmd: UnlockUser) -> bool:
        """:raises ValueError: no such user. True if the name was locked."""
        return users.unlock_user(self._engine, cmd.username, cmd.actor, self._clock())

    def reset_password(self, cmd: ResetPassword) -> int:
        """:raises ValueError: naming what is wrong. How many sessions ended."""
        return users.reset_password(
            self._engine, cmd.username, cmd.password, cmd.actor, self._clock()
        )

    def set_language(self, cmd: SetLanguage) -> bool:
        """The language a user reads the pages in (audited); whether it changed.

        :raises ValueError: no such user, or a language creditgate does not speak.
        """
        return users.set_language(
            self._engine, cmd.username, cmd.language, cmd.actor, self._clock()
        )

    def end_all_sessions(self, cmd: EndAllSessions) -> int:
        """Log the user out everywhere (audited); how many sessions ended.

        :raises ValueError: no such user.
        """
        return users.end_all_sessions(self._engine, cmd.username, cmd.actor, self._clock())

    # -- the audit trail --------------------------------------------------------------------

    def seal_audit_trail(self) -> int:
        """Chain every recorded row not chained yet; return how many."""
        return audit_chain.seal(self._engine, self._clock())
