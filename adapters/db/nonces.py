"""Nonces of signed requests, kept for the signature window: one row per (client, nonce), so a
request replayed to any worker, on any host, finds its nonce already taken."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from adapters.db.tables import request_nonces
from gating.errors import GateUnavailable

log = logging.getLogger(__name__)

KEPT_BEYOND = timedelta(minutes=2)
"""Nonces are kept this long after their signature expires: a replay checked just before the
end of the window on one host, while another host's clock is already past it, still finds the
nonce taken (clock skew between hosts up to this margin)."""


def first_use(engine: Engine, client: str, nonce: str, now: datetime, until: datetime) -> bool:
    """Take `nonce` for `client` until `until`; False when it was taken and has not expired.

    Nonces past their time are dropped in the same transaction, so the table holds at most one
    window's worth of signed requests (the expiry index makes that a range delete).

    :raises GateUnavailable: when the database cannot be written.
    """
    try:
        with engine.begin() as conn:
            conn.execute(
                delete(request_nonces).where(request_nonces.c.expires_at <= now - KEPT_BEYOND)
            )
            conn.execute(
                insert(request_nonces).values(client=client, nonce=nonce, expires_at=until)
            )
    except IntegrityError:
        return False
    except (OperationalError, PoolTimeout) as exc:
        log.warning("nonce store failed: %s", str(getattr(exc, "orig", exc)).splitlines()[0])
        raise GateUnavailable("database unavailable") from exc
    return True
