"""Commands: what a person or a client asks the application to change, one small frozen value each.

The API views, the web forms and the command line build the same command from what they were
sent; the use case that carries it out has its dependencies (unit of work, clock, rates, the
business zone, where notices go) bound once, when the application is built (config/wiring.py).
Each command holds the caller's terms only, already checked at the boundary (schemas, forms,
options); the rules that need the store or the clock are the use case's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

# -- the ERP's calls (gating/services.py; the gate's own command is gating.model.OrderRequest) --


@dataclass(frozen=True)
class ApplyOrderEvent:
    """The ERP says an order was `cancelled` or `invoiced`; `caller` is the client's name."""

    source: str
    order_id: str
    event: str
    caller: str


# -- held orders and customer holds (gating/holds.py) ----------------------------------------


@dataclass(frozen=True)
class ReleaseOrder:
    """Approve a held order over its reasons, up to `cap` (the order's currency; default its
    amount), through the end of `expires_on` (a date in the business time zone; default: no
    end). `seen_decision` is the decision the person saw on the hold list: if the order was
    decided again since, the release is refused rather than applied to a newer decision."""

    source: str
    order_id: str
    reason: str
    actor: str
    role: str
    cap: Decimal | None = None
    expires_on: date | None = None
    seen_decision: str | None = None


@dataclass(frozen=True)
class RejectOrder:
    """Block a held order for good (every later call for it answers blocked, `REJECTED_BY`)."""

    source: str
    order_id: str
    reason: str
    actor: str
    role: str
    seen_decision: str | None = None


@dataclass(frozen=True)
class ReevaluateOrder:
    """Decide a held order again on today's data, as the ERP's own call would."""

    source: str
    order_id: str
    actor: str


@dataclass(frozen=True)
class ReevaluateHolds:
    """Decide every held order again (after a sync), `batch` orders per read of the list."""

    batch: int = 200


@dataclass(frozen=True)
class SetCustomerHold:
    """Put a customer on creditgate's hold (`reason`), or take it off (None)."""

    source: str
    customer_id: str
    reason: str | None
    actor: str


# -- thresholds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeThresholds:
    """Store a complete thresholds document as the new active version. With `base_version`,
    refused (Conflict) when another version was saved since that one was read."""

    document: Mapping[str, Any]
    created_by: str
    reason: str
    base_version: int | None = None


# -- API clients (the CLI) ----------------------------------------------------------------------


@dataclass(frozen=True)
class CreateApiClient:
    """Issue a key for a new client. `source` is its own source (default: the default one);
    `grant`, for an ERP, every source it may act for; `signed` also issues a signing secret;
    `key` is a fixed key (the demo's only)."""

    name: str
    role: str
    source: str | None = None
    grant: tuple[str, ...] = ()
    signed: bool = False
    key: str | None = field(default=None, repr=False)
    language: str | None = None


@dataclass(frozen=True)
class SetClientLanguage:
    """The language of `name`'s answers' messages (a tag; None: English unless the request
    sends Accept-Language)."""

    name: str
    language: str | None
    actor: str


@dataclass(frozen=True)
class RevokeApiClient:
    name: str
    actor: str


# -- people (the CLI and the /people page) ------------------------------------------------------


@dataclass(frozen=True)
class CreateUser:
    username: str
    role: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class DisableUser:
    """No more logins for `username`; every session of theirs ends at once."""

    username: str
    actor: str


@dataclass(frozen=True)
class EnableUser:
    """Enable `username` again; also lifts a lock after failed logins."""

    username: str
    actor: str


@dataclass(frozen=True)
class UnlockUser:
    """Lift the lock on `username` after failed logins, and forget the failures."""

    username: str
    actor: str


@dataclass(frozen=True)
class ResetPassword:
    """Set `username`'s password; every session of theirs ends, a lock is lifted."""

    username: str
    password: str = field(repr=False)
    actor: str


@dataclass(frozen=True)
class SetLanguage:
    """`username` reads the pages in `language` (a tag of gating.languages.LANGUAGES); None:
    in the browser's language."""

    username: str
    language: str | None
    actor: str


@dataclass(frozen=True)
class EndAllSessions:
    """Log `username` out everywhere."""

    username: str
    actor: str
