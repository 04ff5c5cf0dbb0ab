"""A check of the OAuth scopes a Zoho source needs, at `sources add`.

Zoho answers a call outside the token's scopes with 401 OAUTH_SCOPE_MISMATCH (crm-oas v8.0
API_Exception), which does not name the scope: the check makes one harmless read per read
scope (api.SCOPES), in an order where each call needs one scope more than the calls before
it, so the first refusal names the missing one. The write scopes (PUT /Accounts: UPDATE,
POST /Tasks: CREATE) cannot be tried without writing; a push they refuse names its scope.
"""

from __future__ import annotations

from collections.abc import Callable

import requests

from adapters.zoho.api import SERVICE, ZohoRejected
from adapters.zoho.source import ZohoSource

PROBE = "creditgate-scope-check"  # a value no record carries: the reads find nothing


def check_scopes(adapter: ZohoSource, *, pushes: bool) -> None:
    """Make one harmless read per scope the source needs; the field names are checked too.

    :raises ZohoRejected: naming the first missing scope (OAUTH_SCOPE_MISMATCH), or Zoho's
        own refusal (an unknown field name, no API permission, a refused refresh token).
    :raises TransientError: Zoho stayed unreachable.
    """
    key = getattr(adapter, "task_key_field", "Creditgate_Change_Id")
    names = [adapter.number_field, adapter.credit_limit_field]
    if adapter.currency_field:
        names.append(adapter.currency_field)
    probes: list[Callable[[], requests.Response]] = [
        lambda: adapter._call(
            "GET",
            "/Accounts",
            "read Accounts",
            params={"fields": ",".join(dict.fromkeys(names)), "per_page": 1},
        ),
    ]
    if pushes:
        select = f"select id from Tasks where {key} = '{PROBE}' limit 1"  # noqa: S608 (COQL)
        probes += [
            lambda: adapter._call(
                "GET",
                "/Accounts/search",
                "search Accounts",
                params={
                    "criteria": f"({adapter.number_field}:equals:{PROBE})",
                    "fields": adapter.number_field,
                },
            ),
            lambda: adapter._call(
                "GET", "/Tasks", "read Tasks", params={"fields": key, "per_page": 1}
            ),
            lambda: adapter._call("POST", "/coql", "query Tasks", json={"select_query": select}),
        ]
    if not adapter.currency_field:  # whether the org has multi-currency is asked
        probes.append(lambda: adapter._call("GET", "/org", "read the organisation"))
    for probe in probes:
        try:
            adapter.retrying(probe)
        except ZohoRejected as exc:
            if exc.code != "OAUTH_SCOPE_MISMATCH" or exc.scope is None:
                raise
            raise ZohoRejected(
                f"{SERVICE}: the refresh token lacks the scope {exc.scope}; generate one with "
                "every scope the README lists for a Zoho CRM source",
                code=exc.code,
                status=exc.status,
                scope=exc.scope,
            ) from exc
