"""How long a worker trusts an API key it looked up: a revoked key stops working on every worker
within 3 seconds (README, "API keys"); through a database outage a key looked up in the last
10 minutes is trusted as it was."""

from __future__ import annotations

from sqlalchemy import update

from adapters.db.tables import api_clients
from connector import create_app
from connector.auth import new_client_cache
from gating.commands import CreateApiClient
from tests.conftest import NOW

REVOCATION_BOUND = 3.0  # seconds, as documented


class Worker:
    """One process's app: its own key cache, on a monotonic clock the test turns."""

    def __init__(self, services, key: str) -> None:
        self.now = 0.0
        app = create_app(services)
        app.extensions["creditgate.clients"] = new_client_cache(lambda: self.now)
        self.client, self.key, self.calls = app.test_client(), key, 0

    def gate(self) -> int:
        self.calls += 1
        body = {
            "order_id": f"KEY-{id(self)}-{self.calls}",
            "customer_id": "C-100",
            "amount": "1.00",
            "currency": "CNY",
        }
        headers = {"Authorization": f"Bearer {self.key}"}
        return self.client.post("/api/v1/gate/orders", json=body, headers=headers).status_code


def _revoke(services, name: str) -> None:
    with services.engine.begin() as conn:
        conn.execute(update(api_clients).where(api_clients.c.name == name).values(revoked_at=NOW))


def test_a_revoked_key_stops_working_on_every_worker_within_the_bound(loaded):
    key = loaded.writes.create_api_client(CreateApiClient("erp-revoked", "erp")).key
    early, late = Worker(loaded, key), Worker(loaded, key)
    assert early.gate() == 200  # looked up at 0 s
    late.now = 2.0
    assert late.gate() == 200  # looked up at 2 s: the worker that trusts it longest
    _revoke(loaded, "erp-revoked")
    early.now = late.now = 2.9
    assert early.gate() == 200  # within the bound, a worker may still trust its lookup
    early.now = REVOCATION_BOUND
    assert early.gate() == 401
    late.now = 2.0 + REVOCATION_BOUND
    assert late.gate() == 401
    assert early.gate() == 401  # and it stays refused
