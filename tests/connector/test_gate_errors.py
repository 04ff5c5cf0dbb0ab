"""Every client mistake gets a 4xx with a JSON body naming what is wrong; never a 500."""

from __future__ import annotations

import json

import pytest

from connector.auth import sign

GATE = "/api/v1/gate/orders"
GOOD = {"order_id": "SO-1", "customer_id": "C-100", "amount": "100.00", "currency": "CNY"}


def _body(**changes):
    return json.dumps({**GOOD, **changes})


def _error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body["error"], str)
    assert isinstance(body["message"], str)
    assert body["message"]
    return body


@pytest.mark.parametrize("raw", ["{", '{"order_id": "SO-1",}', "{'a': 1}", "", "nul", "\x00"])
def test_malformed_json_is_400(api, raw):
    body = _error(api.post(GATE, raw), 400)

    assert body["error"] == "bad_request"


@pytest.mark.parametrize("raw", ["[]", '["SO-1"]', '"SO-1"', "42", "12.50", "null", "true"])
def test_a_body_that_is_not_a_json_object_is_400(api, raw):
    body = _error(api.post(GATE, raw), 400)

    assert body["message"] == "the body must be a JSON object"


def test_missing_fields_are_each_named(api):
    body = _error(api.post(GATE, "{}"), 422)

    assert body["error"] == "validation_failed"
    assert set(body["fields"]) == {"order_id", "customer_id", "amount", "currency"}
    assert body["fields"]["amount"] == ["Missing data for required field."]


def test_extra_fields_are_each_named(api):
    body = _error(api.post(GATE, _body(discount="5.00", priority=1)), 422)

    assert set(body["fields"]) == {"discount", "priority"}


@pytest.mark.parametrize(
    "amount",
    [
        "-1.00",
        "0",
        "0.00",
        "-0",
        -5,
        "abc",
        "",
        "12,50",
        "NaN",
        "Infinity",
        "-Infinity",
        "12.345",
        12.345,
        "0.001",
        True,
        None,
        [],
        {"value": "1.00"},
    ],
)
def test_a_bad_amount_is_422_naming_amount(api, amount):
    body = _error(api.post(GATE, _body(amount=amount)), 422)

    assert set(body["fields"]) == {"amount"}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_json_number_literals_are_422_naming_amount(api, literal):
    raw = _body(amount="X").replace('"X"', literal)

    body = _error(api.post(GATE, raw), 422)

    assert set(body["fields"]) == {"amount"}


@pytest.mark.parametrize("amount", ["1e30", "1E+999999", 10**20, "100000000000000000000.00"])
def test_an_amount_too_large_to_hold_is_422_naming_amount(api, amount):
    body = _error(api.post(GATE, _body(amount=amount)), 422)

    assert set(body["fields"]) == {"amount"}


def test_too_many_decimals_for_the_currency_is_422_saying_how_many(api):
    cny = _error(api.post(GATE, _body(amount="12.345")), 422)
    jpy = _error(api.post(GATE, _body(amount="12.5", currency="JPY")), 422)

    assert cny["fields"]["amount"] == ["CNY amounts have at most 2 decimal places"]
    assert jpy["fields"]["amount"] == ["JPY amounts have at most 0 decimal places"]


@pytest.mark.parametrize(
    ("amount", "reserved", "exposure"),
    [
        ('"12.50"', "12.50", "45012.50"),
        ("12.5", "12.50", "45012.50"),
        ("12.50", "12.50", "45012.50"),
        ("12", "12.00", "45012.00"),
        ('"12"', "12.00", "45012.00"),
        ('"12.500"', "12.50", "45012.50"),
    ],
)
def test_an_exact_amount_is_accepted_as_a_string_or_a_json_number(api, amount, reserved, exposure):
    raw = _body(amount="X").replace('"X"', amount)

    response = api.post(GATE, raw)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["customer"]["exposure"] == exposure
    assert api.exposure("C-100")["reservations"] == reserved


@pytest.mark.parametrize("currency", ["XYZ", "usd", "CN", "EURO", "", 978, None])
def test_an_unknown_currency_code_is_422_naming_currency(api, currency):
    body = _error(api.post(GATE, _body(currency=currency)), 422)

    assert set(body["fields"]) == {"currency"}


def test_every_bad_field_is_named_at_once(api):
    raw = json.dumps({"customer_id": "C-100", "amount": "-5", "currency": "XYZ", "colour": "red"})

    body = _error(api.post(GATE, raw), 422)

    assert set(body["fields"]) == {"order_id", "amount", "currency", "colour"}
    assert body["fields"]["amount"] == ["must be greater than zero"]
    assert body["fields"]["currency"] == ["'XYZ' is not an ISO 4217 currency code"]
    assert body["message"] == "invalid fields: amount, colour, currency, order_id"


def test_a_currency_without_a_configured_rate_is_422_naming_currency(api):
    body = _error(api.post(GATE, _body(currency="GBP")), 422)

    assert body["error"] == "currency_rate_missing"
    assert list(body["fields"]) == ["currency"]
    assert "no exchange rate configured for GBP" in body["fields"]["currency"][0]
    assert api.exposure("C-100")["reservations"] == "0.00"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"order_id": ""}, "order_id"),
        ({"order_id": "x" * 101}, "order_id"),
        ({"order_id": 1001}, "order_id"),
        ({"customer_id": None}, "customer_id"),
        ({"customer_id": ["C-100"]}, "customer_id"),
        ({"order_date": "2026-02-30"}, "order_date"),
        ({"order_date": "22/11/2026"}, "order_date"),
        ({"source": ""}, "source"),
    ],
)
def test_other_bad_fields_are_422_naming_the_field(api, changes, field):
    body = _error(api.post(GATE, _body(**changes)), 422)

    assert list(body["fields"]) == [field]


def test_a_source_other_than_the_keys_own_is_403_naming_source(api):
    # Was a 422 (unknown source) before issue 13: an erp key may not even ask about another.
    body = _error(api.post(GATE, _body(source="no-such-source")), 403)

    assert list(body["fields"]) == ["source"]


def test_an_oversized_body_is_413(api):
    body = _error(api.post(GATE, _body(note="x" * 70_000)), 413)

    assert body["error"] == "request_entity_too_large"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-key",
        "Bearer cg_nope_nope",
        "Bearer cg__",
        "Bearer cg_a_b_c",
    ],
)
def test_a_missing_or_unknown_key_is_401(api, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}

    response = api.client.post(GATE, data=_body(), content_type="application/json", headers=headers)

    _error(response, 401)
    assert api.exposure("C-100")["reservations"] == "0.00"


def test_a_key_with_one_character_changed_is_401(api, keys):
    wrong = keys.erp[:-1] + ("A" if keys.erp[-1] != "A" else "B")

    response = api.client.post(
        GATE,
        data=_body(),
        content_type="application/json",
        headers={"Authorization": f"Bearer {wrong}"},
    )

    _error(response, 401)


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_a_reader_calling_the_gate_is_403(api, role):
    body = _error(api.post(GATE, _body(), role=role), 403)

    assert body["error"] == "forbidden"
    assert api.exposure("C-100")["reservations"] == "0.00"


def test_an_auditor_sending_an_order_event_is_403(api):
    assert api.gate("SO-1", "C-100", "100.00").status_code == 200

    _error(api.event("SO-1", "cancelled", role="auditor"), 403)

    assert api.exposure("C-100")["reservations"] == "100.00"


def test_the_erp_reading_a_decision_or_a_credit_position_is_403(api):
    decision_id = api.gate("SO-1", "C-100", "100.00").get_json()["decision_id"]

    _error(api.decision(decision_id, role="erp"), 403)
    _error(api.credit("C-100", role="erp"), 403)
    assert api.decision(decision_id, role="admin").status_code == 200
    assert api.decision(decision_id, role="auditor").status_code == 200


class TestSignedClient:
    def _post(self, api, keys, body: bytes, signature: str | None):
        headers = {"Authorization": f"Bearer {keys.signed_erp}"}
        if signature is not None:
            headers["X-Creditgate-Signature"] = signature
        return api.client.post(GATE, data=body, content_type="application/json", headers=headers)

    def test_a_good_signature_is_accepted(self, api, keys, clock):
        body = _body().encode()
        stamp = int(clock().timestamp())

        response = self._post(api, keys, body, sign(keys.signing_secret, body, stamp))

        assert response.status_code == 200
        assert response.get_json()["outcome"] == "approved"

    def test_a_missing_signature_is_401(self, api, keys):
        body = _error(self._post(api, keys, _body().encode(), None), 401)

        assert "X-Creditgate-Signature" in body["message"]

    def test_a_signature_made_with_another_secret_is_401(self, api, keys, clock):
        body = _body().encode()

        response = self._post(
            api, keys, body, sign("not-the-secret", body, int(clock().timestamp()))
        )

        assert _error(response, 401)["message"] == "signature does not match the request body"

    def test_a_signature_over_another_body_is_401(self, api, keys, clock):
        signed = _body(amount="1.00").encode()
        sent = _body(amount="99999.00").encode()
        signature = sign(keys.signing_secret, signed, int(clock().timestamp()))

        _error(self._post(api, keys, sent, signature), 401)
        assert api.exposure("C-100")["reservations"] == "0.00"

    @pytest.mark.parametrize("age", [301, 3600, -301])
    def test_a_signature_outside_the_five_minute_window_is_401(self, api, keys, clock, age):
        body = _body().encode()
        signature = sign(keys.signing_secret, body, int(clock().timestamp()) - age)

        response = self._post(api, keys, body, signature)

        assert "outside the 5-minute window" in _error(response, 401)["message"]

    def test_a_request_replayed_six_minutes_later_is_401(self, api, keys, clock):
        body = _body().encode()
        signature = sign(keys.signing_secret, body, int(clock().timestamp()))
        assert self._post(api, keys, body, signature).status_code == 200

        clock.advance(seconds=360)

        _error(self._post(api, keys, body, signature), 401)

    def test_a_signature_299_seconds_old_is_still_accepted(self, api, keys, clock):
        body = _body().encode()
        signature = sign(keys.signing_secret, body, int(clock().timestamp()) - 299)

        assert self._post(api, keys, body, signature).status_code == 200

    @pytest.mark.parametrize(
        "signature",
        [
            "",
            "garbage",
            "t=,v1=",
            "v1=abc",
            "t=abc,v1=abc",
            "t=1.5,v1=abc",
            "t=-1,v1=abc",
            "t=\u00b2,v1=abc",
            "t=" + "9" * 400 + ",v1=abc",
            "t=" + "9" * 5000 + ",v1=abc",
        ],
    )
    def test_a_malformed_signature_header_is_401(self, api, keys, signature):
        _error(self._post(api, keys, _body().encode(), signature), 401)


def test_unknown_decision_is_404(api):
    body = _error(api.decision("00000000-0000-0000-0000-000000000000"), 404)

    assert body["error"] == "not_found"


def test_unknown_customer_credit_is_404(api):
    body = _error(api.credit("C-999"), 404)

    assert "C-999" in body["message"]


def test_credit_position_for_an_unknown_source_is_422_naming_source(api, keys):
    response = api.client.get(
        "/api/v1/customers/C-100/credit?source=nowhere", headers=keys.header("admin")
    )

    assert list(_error(response, 422)["fields"]) == ["source"]


def test_an_event_for_a_never_gated_order_is_404(api):
    body = _error(api.event("SO-NEVER", "cancelled"), 404)

    assert "SO-NEVER" in body["message"]


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        ('{"event": "shipped"}', {"event"}),
        ("{}", {"event"}),
        ('{"event": "cancelled", "why": "late"}', {"why"}),
        ('{"event": null}', {"event"}),
    ],
)
def test_a_bad_order_event_is_422_naming_the_field(api, raw, fields):
    assert api.gate("SO-1", "C-100", "100.00").status_code == 200

    body = _error(api.post("/api/v1/gate/orders/SO-1/events", raw), 422)

    assert set(body["fields"]) == fields
    assert api.exposure("C-100")["reservations"] == "100.00"


ODD_BODIES = [
    b"",
    b"{",
    b"\xff\xfe\xfa",
    b"\x00\x00\x00",
    "[" * 30_000,
    "[" * 60_000,
    '{"a":' * 10_000,
    "1e400",
    '{"order_id": {"$gt": ""}, "customer_id": "C-100", "amount": "1", "currency": "CNY"}',
    _body(order_id="\x00"),
    _body(order_id="😀" * 100),
    _body(customer_id="' OR 1=1 --"),
    _body(customer_id="C-100\r\nX-Injected: 1"),
    _body(amount="1e-30"),
    _body(amount="9" * 100),
    _body(amount=" 12.00 "),
    _body(amount="1_000"),
    _body(amount="\u0661\u0662"),
    _body(amount="0E-10"),
    _body(amount="1e30"),
    _body(amount=10**30),
    _body(amount="1e999999"),
    _body(amount="-1e999999"),
    _body(amount="sNaN"),
    json.dumps({**GOOD, "amount": "1"}).replace('"1"', "1" + "0" * 5000),
    _body(currency="\u0130\u0130\u0130"),
    _body(order_date="9999-12-31"),
    _body(order_date="0000-01-01"),
    _body(order_date=20261122),
    _body(source=None),
    _body(source={"name": "default"}),
    '{"order_id": "SO-1", "order_id": "SO-2", "customer_id": "C-100", "amount": "1",'
    ' "currency": "CNY"}',
    json.dumps(GOOD).encode("utf-16"),
    json.dumps(GOOD).encode("utf-32"),
]


@pytest.mark.parametrize("raw", ODD_BODIES, ids=range(len(ODD_BODIES)))
def test_no_odd_gate_body_gets_a_server_error(api, raw):
    response = api.post(GATE, raw)

    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json


@pytest.mark.parametrize("raw", ODD_BODIES[:8], ids=range(8))
def test_no_odd_event_body_gets_a_server_error(api, raw):
    assert api.gate("SO-1", "C-100", "100.00").status_code == 200

    response = api.post("/api/v1/gate/orders/SO-1/events", raw)

    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/%00/credit",
        "/api/v1/customers/" + "x" * 5000 + "/credit",
        "/api/v1/customers/C-100/credit?source=",
        "/api/v1/customers/C-100/credit?source=a&source=b",
        "/api/v1/customers/C-100/credit?colour=red",
        "/api/v1/customers/%F0%9F%98%80/credit",
        "/api/v1/customers/C%00-100/credit",
        "/api/v1/decisions/%00",
        "/api/v1/decisions/'%3B%20DROP%20TABLE%20decisions%3B--",
        "/api/v1/decisions/" + "x" * 5000,
        "/api/v1/gate/orders/SO-1/events",
        "/api/v1/gate/orders/" + "x" * 101 + "/events",
        "/api/v1/nowhere",
    ],
)
def test_no_odd_read_path_gets_a_server_error(api, keys, path):
    response = api.client.get(path, headers=keys.header("admin"))

    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json


@pytest.mark.parametrize("order_id", ["x" * 101, "%00", "SO-1%2F2"])
def test_no_odd_event_path_gets_a_server_error(api, order_id):
    response = api.post(f"/api/v1/gate/orders/{order_id}/events", '{"event": "cancelled"}')

    assert 400 <= response.status_code < 500
    assert response.is_json


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/customers/C%00-100/credit", "customer_id"),
        ("/api/v1/customers/" + "x" * 101 + "/credit", "customer_id"),
        ("/api/v1/decisions/D%01", "decision_id"),
    ],
)
def test_a_bad_identifier_in_a_read_path_is_422_naming_it(api, keys, path, field):
    response = api.client.get(path, headers=keys.header("admin"))

    assert response.status_code == 422
    assert set(response.get_json()["fields"]) == {field}


def test_a_bad_order_id_in_an_event_path_is_422_naming_it(api):
    response = api.post("/api/v1/gate/orders/SO%00-1/events", '{"event": "cancelled"}')

    assert response.status_code == 422
    assert set(response.get_json()["fields"]) == {"order_id"}


@pytest.mark.parametrize("field", ["order_id", "customer_id", "source"])
def test_an_identifier_with_a_control_character_is_422_naming_it(api, field):
    body = _error(api.post(GATE, _body(**{field: "SO\x00-1"})), 422)

    assert set(body["fields"]) == {field}
