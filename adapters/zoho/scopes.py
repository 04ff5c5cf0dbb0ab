"""The OAuth scopes creditgate's Zoho calls need, and a check of them at `sources add`.

Scopes, from Zoho's v8 documentation of each call: records
(`ZohoCRM.modules.{module}.{READ|CREATE|UPDATE}`), search (also `ZohoSearch.securesearch.READ`),
COQL (`ZohoCRM.coql.READ`, with the module's READ) and the organisation (`ZohoCRM.org.READ`;
crm-oas v8.0 lists `ZohoCRM.org.ALL`). Zoho answers a call outside the token's scopes with
401 OAUTH_SCOPE_MISMATCH (crm-oas v8.0 API_Exception), which does not name the scope: the
check makes one read per scope, in an order where each call needs one scope more than the
calls before it, so the first refusal names the missing one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import requests

from adapters.zoho.api import SERVICE, ZohoRejected
from adapters.zoho.source import ZohoSource

PROBE = "creditgate-scope-check"  # a value no record carries: the reads find nothing


@dataclass(frozen=True)
class Scope:
    name: str
    used_for: str


READS = (
    Scope("ZohoCRM.modules.accounts.READ", "reading Accounts"),
    Scope("ZohoSearch.securesearch.READ", "finding a customer's Account (search)"),
    Scope("ZohoCRM.modules.tasks.READ", "reading Tasks"),
    Scope("ZohoCRM.coql.READ", "checking whether a change's Task exists (COQL)"),
)
ORG = Scope("ZohoCRM.org.READ", "asking whether the org has multi-currency (no --currency-field)")
WRITES = (
    Scope("ZohoCRM.modules.accounts.UPDATE", "writing the warning level and hold"),
    Scope("ZohoCRM.modules.tasks.CREATE", "opening a Task for each step"),
)
"""Not checkable without writing: a push Zoho refuses for them fails with Zoho's code."""


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
    probes: list[tuple[Scope, Callable[[], requests.Response]]] = [
        (
            READS[0],
            lambda: adapter._call(
                "GET",
                "/Accounts",
                "read Accounts",
                params={"fields": ",".join(dict.fromkeys(names)), "per_page": 1},
            ),
        ),
    ]
    if pushes:
        probes += [
            (
                READS[1],
                lambda: adapter._call(
                    "GET",
                    "/Accounts/search",
                    "search Accounts",
                    params={
                        "criteria": f"({adapter.number_field}:equals:{PROBE})",
                        "fields": adapter.number_field,
                    },
                ),
            ),
            (
                READS[2],
                lambda: adapter._call(
                    "GET", "/Tasks", "read Tasks", params={"fields": key, "per_page": 1}
                ),
            ),
            (
                READS[3],
                lambda: adapter._call(
                    "POST",
                    "/coql",
                    "query Tasks",
                    # COQL, not SQL: read-only; the probe value is a constant.
                    json={"select_query": f"select id from Tasks where {key} = '{PROBE}' limit 1"},  # noqa: S608
                ),
            ),
        ]
    if not adapter.currency_field:
        probes.append((ORG, lambda: adapter._call("GET", "/org", "read the organisation")))
    for scope, probe in probes:
        try:
            adapter.retrying(probe)
        except ZohoRejected as exc:
            if exc.code != "OAUTH_SCOPE_MISMATCH":
                raise
            raise ZohoRejected(
                f"{SERVICE}: the refresh token lacks the scope {scope.name}, needed for "
                f"{scope.used_for}; generate a refresh token with every scope the README lists",
                code=exc.code,
                status=exc.status,
            ) from exc
