"""Zoho CRM v8 payloads, shaped as Zoho's own examples show them (zoho/crm-oas v8.0 examples
for records, search, COQL and errors; the accounts server's token answer from the OAuth docs)."""

from __future__ import annotations

from typing import Any

CLIENT_ID = "1000.7ZWXH2QGA0ROYBNDBLT4SBJRDN3QNO"
CLIENT_SECRET = "9c4b5e0d1f2a3b4c5d6e7f8091a2b3c4d5e6f70812"
REFRESH_TOKEN = "1000.3ph66exxxxxxxxxxxxx68a6a6.b8a3xxxxxxxxxxxxxxxxc3d8c3e"
ACCESS_TOKENS = (
    "1000.8cb99dxxxxxxxxxxxxx9be93.9b8xxxxxxxxxxxxxxxf",
    "1000.41d9xxxxxxxxxxxxxxxx8c2e.1c3axxxxxxxxxxxxxxxx5e0",
    "1000.77aaxxxxxxxxxxxxxxxx0f1b.d2e4xxxxxxxxxxxxxxxx9a7",
)
SECRETS = (CLIENT_SECRET, REFRESH_TOKEN, *ACCESS_TOKENS)

EU_ACCOUNTS = "https://accounts.zoho.eu"
EU_API = "https://www.zohoapis.eu"
TOKEN_URL = f"{EU_ACCOUNTS}/oauth/v2/token"
ACCOUNTS = f"{EU_API}/crm/v8/Accounts"
SEARCH = f"{EU_API}/crm/v8/Accounts/search"
TASKS = f"{EU_API}/crm/v8/Tasks"
COQL = f"{EU_API}/crm/v8/coql"
ORG = f"{EU_API}/crm/v8/org"

OWNER = {"name": "Patricia Boyle", "id": "4150868000000225013", "email": "p.boyle@zylker.com"}
USER = {"name": "Patricia Boyle", "id": "5725767000000411001"}


def token(n: int = 0, **lifetime: int) -> dict[str, Any]:
    """The accounts server's answer to a refresh-token grant (Zoho's OAuth docs:
    access_token, api_domain, token_type, expires_in in seconds). `lifetime` replaces
    expires_in, e.g. the variant Zoho's SDK for v8 reads: expires_in in milliseconds next to
    expires_in_sec (zohocrm-python-sdk-8.0, OAuthToken.get_token_expires_in)."""
    return {
        "access_token": ACCESS_TOKENS[n],
        "api_domain": EU_API,
        "token_type": "Bearer",
        **(lifetime or {"expires_in": 3600}),
    }


def org(*, multi_currency: bool) -> dict[str, Any]:
    """GET /org's answer: {"org": [Org]} with some of the Org schema's properties (crm-oas
    v8.0 org.json: currency, currency_symbol, currency_locale, mc_status: boolean, ...)."""
    return {
        "org": [
            {
                "id": "4150868000000225013",
                "company_name": "Zylker",
                "country_code": "DE",
                "time_zone": "Europe/Berlin",
                "currency": "Euro - EUR",
                "currency_symbol": "€",
                "currency_locale": "de_DE",
                "iso_code": "EUR",
                "mc_status": multi_currency,
                "zgid": "20067990",
            }
        ]
    }


def error(code: str, message: str, **details: Any) -> dict[str, Any]:
    """Zoho's error body (every v2+ error has this shape)."""
    return {"code": code, "details": details, "message": message, "status": "error"}


INVALID_TOKEN = error("INVALID_TOKEN", "invalid oauth token")  # crm-oas v8.0 API_Exception
# The name Zoho's v8 OAuth token page gives an invalid token; the message is crm-oas's.
INVALID_OAUTHTOKEN = error("INVALID_OAUTHTOKEN", "invalid oauth token")
# NOT PUBLISHED by Zoho: crm-oas v8.0 only lists the code TOO_MANY_REQUESTS (bulk_read) and
# gives no 429 body; this body is our guess at Zoho's error shape. Nothing in the adapter
# depends on its details: Retry-After, else a doubling wait.
TOO_MANY_REQUESTS = error(
    "TOO_MANY_REQUESTS",
    "Rate limit exceeded. Please retry after the specified time.",
    trace_id="c8d3e6f1-5b7a-4e2c-9a1d-3f6b8e0c2d4a",
    retry_after=60,
    limit=100,
    window=60,
)
INTERNAL_ERROR = error("INTERNAL_ERROR", "Internal Server Error")
INVALID_URL_PATTERN = error(
    "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
)
NO_PERMISSION = error("NO_PERMISSION", "permission denied", permissions=["Crm_Implied_Api_Access"])
# The accounts server's refusals. NOT PUBLISHED by Zoho as JSON examples: `invalid_code` for a
# revoked refresh token is what integrations report seeing; the throttling answer is the one
# singer-io/tap-zoho-crm (tap_zoho_crm/client.py) retries on. The adapter relies only on an
# `error` key (refused) and "too many requests" in error_description (retried).
REVOKED = {"error": "invalid_code"}
THROTTLED = {
    "error": "Access Denied",
    "error_description": "You have made too many requests continuously. Please try again after "
    "some time.",
}


def account(
    record_id: str,
    number: str | None,
    name: str,
    modified: str,
    *,
    limit: Any = 100000,
    currency: str | None = "EUR",
) -> dict[str, Any]:
    """One Account as GET /Accounts returns it with fields=Account_Name,Account_Number,..."""
    return {
        "id": record_id,
        "Account_Name": name,
        "Account_Number": number,
        "Credit_Limit": limit,
        "Currency": currency,
        "Modified_Time": modified,
    }


def records(
    rows: list[dict[str, Any]],
    *,
    page: int = 1,
    per_page: int = 200,
    more: bool = False,
    next_token: str | None = None,
) -> dict[str, Any]:
    """A GET records answer: data plus Zoho's paging info."""
    return {
        "data": rows,
        "info": {
            "call": False,
            "per_page": per_page,
            "next_page_token": next_token,
            "count": len(rows),
            "sort_by": "Modified_Time",
            "page": page,
            "page_token_expiry": "2026-11-23T09:30:00+08:00" if next_token else None,
            "sort_order": "asc",
            "email": False,
            "more_records": more,
            "previous_page_token": None,
        },
    }


def found(record_id: str, number: str, name: str = "Zylker Corp") -> dict[str, Any]:
    """A search answer with one Account."""
    row = {"id": record_id, "Account_Name": name, "Account_Number": number, "Owner": OWNER}
    info = {"per_page": 200, "count": 1, "page": 1, "more_records": False}
    return {"data": [row], "info": info}


def success(record_id: str, message: str = "record updated") -> dict[str, Any]:
    """One record's success in a bulk update or create answer."""
    return {
        "code": "SUCCESS",
        "details": {
            "Modified_Time": "2026-11-22T09:30:00+08:00",
            "Modified_By": USER,
            "Created_Time": "2026-11-22T09:30:00+08:00",
            "id": record_id,
            "Created_By": USER,
            "$approval_state": "approved",
        },
        "message": message,
        "status": "success",
    }


def invalid(api_name: str, index: int) -> dict[str, Any]:
    """One record's failure in a bulk answer (the 207 example's second item)."""
    return {
        "code": "INVALID_DATA",
        "details": {"api_name": api_name, "json_path": f"$.data[{index}].{api_name}"},
        "message": "the field api name given seems to be invalid",
        "status": "error",
    }


def duplicate(api_name: str, existing_id: str) -> dict[str, Any]:
    """A create refused by a field marked unique ("Do not allow duplicate values")."""
    return {
        "code": "DUPLICATE_DATA",
        "details": {
            "api_name": api_name,
            "duplicate_record": {"Owner": {**OWNER, "zuid": "75092197"}, "id": existing_id},
            "json_path": f"$.data[0].{api_name}",
            "id": existing_id,
            "more_records": False,
        },
        "message": "duplicate data",
        "status": "error",
    }
