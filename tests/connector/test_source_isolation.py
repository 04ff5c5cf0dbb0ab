"""An `erp` key acts for its own source only (issue 13, item 4): another `source` in the body of a
gate call or an order event is a 403 naming the field, unless the key was granted that source
(`creditgate apikey create --sources a,b`). People's roles are not limited to a source."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.db.admin import ensure_source
from connector.cli import main
from gating.commands import CreateApiClient
from tests.conftest import NOW

GATE = "/api/v1/gate/orders"


@pytest.fixture
def erp2(loaded: Any) -> Any:
    """A second ERP source, "erp2", with no customers of its own, and a third, "erp3"."""
    ensure_source(loaded.engine, "erp2", "csv", NOW)
    ensure_source(loaded.engine, "erp3", "csv", NOW)
    return loaded


def _key(services: Any, name: str, **kwargs: Any) -> dict[str, str]:
    issued = services.writes.create_api_client(CreateApiClient(name, "erp", **kwargs))
    return {"Authorization": f"Bearer {issued.key}"}


def _gate(api: Any, headers: dict[str, str], order_id: str, **extra: Any) -> Any:
    body = {"order_id": order_id, "customer_id": "C-100", "amount": "1000.00", "currency": "CNY"}
    return api.client.post(GATE, json={**body, **extra}, headers=headers)


def _event(api: Any, headers: dict[str, str], order_id: str, **extra: Any) -> Any:
    return api.client.post(
        f"{GATE}/{order_id}/events", json={"event": "cancelled", **extra}, headers=headers
    )


def _forbidden_source(response: Any, asked: str) -> None:
    assert response.status_code == 403, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "forbidden"
    assert list(body["fields"]) == ["source"]
    assert asked in body["fields"]["source"][0]


def test_a_key_of_another_source_cannot_cancel_this_sources_order(api, erp2):
    assert api.gate("SO-1", "C-100", "1000.00").get_json()["outcome"] == "approved"
    other = _key(erp2, "erp2-key", source="erp2")

    _forbidden_source(_event(api, other, "SO-1", source="default"), "default")

    assert api.exposure("C-100")["reservations"] == "1000.00"


def test_a_key_of_another_source_cannot_gate_against_this_sources_customers(api, erp2):
    other = _key(erp2, "erp2-key", source="erp2")

    _forbidden_source(_gate(api, other, "SO-2", source="default"), "default")

    assert api.exposure("C-100")["reservations"] == "0.00"
    # Without a source it acts for its own: C-100 is not erp2's customer.
    own = _gate(api, other, "SO-2").get_json()
    assert "UNKNOWN_CUSTOMER" in [r["code"] for r in own["reasons"]]
    assert api.exposure("C-100")["reservations"] == "0.00"


@pytest.mark.parametrize("asked", ["erp3", "no-such-source"])
def test_any_source_not_granted_is_403_known_or_not(api, erp2, asked):
    granted = _key(erp2, "erp-two", grant=["default", "erp2"])

    _forbidden_source(_gate(api, granted, "SO-3", source=asked), asked)
    _forbidden_source(_event(api, granted, "SO-3", source=asked), asked)


def test_naming_the_keys_own_source_is_always_fine(api, erp2, keys):
    response = _gate(api, keys.header("erp"), "SO-4", source="default")

    assert response.status_code == 200
    assert _event(api, keys.header("erp"), "SO-4", source="default").status_code == 200


def test_a_key_granted_several_sources_acts_for_each_and_defaults_to_the_first(api, erp2):
    granted = _key(erp2, "erp-two", grant=["erp2", "default"])

    assert _gate(api, granted, "SO-5", source="default").get_json()["outcome"] == "approved"
    assert api.exposure("C-100")["reservations"] == "1000.00"
    home = _gate(api, granted, "SO-6").get_json()  # erp2, where C-100 is unknown
    assert "UNKNOWN_CUSTOMER" in [r["code"] for r in home["reasons"]]
    assert api.exposure("C-100")["reservations"] == "1000.00"

    released = _event(api, granted, "SO-5", source="default")
    assert released.status_code == 200, released.get_json()
    assert api.exposure("C-100")["reservations"] == "0.00"


def test_the_grant_is_stored_and_read_back_with_the_key(erp2):
    issued = erp2.writes.create_api_client(
        CreateApiClient("erp-two", "erp", grant=["erp2", "default", "erp2"])
    )
    found = erp2.clients.find_client(issued.key)

    assert (found.source, found.sources) == ("erp2", ("erp2", "default"))
    plain = erp2.clients.find_client(
        erp2.writes.create_api_client(CreateApiClient("erp-one", "erp")).key
    )
    assert (plain.source, plain.sources) == ("default", ())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grant": ["default", "nowhere"]}, "no source named 'nowhere'"),
        ({"source": "erp2", "grant": ["default", "erp2"]}, "must come first"),
        ({"grant": ["default", ""]}, "none empty"),
    ],
)
def test_a_bad_grant_is_refused(erp2, kwargs, message):
    with pytest.raises(ValueError, match=message):
        erp2.writes.create_api_client(CreateApiClient("erp-bad", "erp", **kwargs))


def test_only_erp_keys_take_a_grant(erp2):
    with pytest.raises(ValueError, match="role erp"):
        erp2.writes.create_api_client(
            CreateApiClient("admin-two", "admin", grant=["default", "erp2"])
        )


def test_people_roles_still_read_any_source(api, erp2, keys):
    response = api.client.get(
        "/api/v1/customers/C-100/credit?source=default", headers=keys.header("auditor")
    )

    assert response.status_code == 200


def test_apikey_create_with_sources_prints_them_and_the_key_works(erp2, monkeypatch, client):
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", erp2.settings.database_url)
    monkeypatch.delenv("CREDITGATE_CONFIG", raising=False)
    args = ["apikey", "create", "--role", "erp", "--name", "erp-both", "--sources", "erp2,default"]

    result = CliRunner().invoke(main, args)

    assert result.exit_code == 0, result.output
    assert "acts for source(s): erp2, default" in result.output
    key = result.output.split(": ", 1)[1].split()[0]
    headers = {"Authorization": f"Bearer {key}"}
    body = {"order_id": "SO-7", "customer_id": "C-100", "amount": "1.00", "currency": "CNY"}
    answer = client.post(GATE, data=json.dumps({**body, "source": "default"}), headers=headers)
    assert answer.status_code == 200
    refused = client.post(GATE, data=json.dumps({**body, "source": "erp3"}), headers=headers)
    assert refused.status_code == 403
    bad = CliRunner().invoke(
        main, ["apikey", "create", "--role", "erp", "--name", "x", "--sources", "erp2,nowhere"]
    )
    assert bad.exit_code == 1
    assert "no source named 'nowhere'" in bad.output
