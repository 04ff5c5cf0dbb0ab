"""The audit page (auditors, admins): decisions and events with the API's filters, their exports
(CSV or .xlsx), and verifying the audit trail."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError

from connector import audit as audit_api
from connector import i18n
from connector.context import services
from connector.exports import writable
from connector.i18n import _
from connector.schemas import AuditDecisionsQuerySchema, AuditEventsQuerySchema
from connector.web.forms import load_form, path_or_404, said
from connector.web.session import current_user, page
from gating.audit import DecisionQuery, EventQuery

bp = Blueprint("audit", __name__)

AUDITORS = ("auditor", "admin")
# The filters a page's address may carry, loaded as the API loads its query; the page shows the
# newest 100 rows (`limit` and `before` page the API's lists, not these).
_PAGED = ("limit", "before")
_decisions = AuditDecisionsQuerySchema(
    only=("customer_id", "order_id", "outcome", "reason", "first", "last", *_PAGED)
)
_events = AuditEventsQuerySchema(only=("action", "actor", "first", "last", *_PAGED))
_DAYS = {"from", "to"}


def _query(schema: Schema) -> Any:
    """The filters of the address for `schema`'s list: one that no record can match is a 400
    naming it, as the API's 422 does; a day that is not one (or out of range) is left out, as it
    always was."""
    sent = {k: v for k, v in request.args.items() if k not in _PAGED}
    for day in _DAYS & sent.keys():
        try:
            load_form(schema, {day: sent[day]})
        except ValidationError:
            del sent[day]
    try:
        return load_form(schema, sent)["query"]
    except ValidationError as exc:
        abort(400, description=said(exc))


def detail_lines(details: Mapping[str, Any]) -> list[tuple[str, str]]:
    """An event's details as the `key: value` lines the page shows, in the order recorded, text
    as written (never `\\uXXXX`): a change as `old → new`, another list or mapping as JSON,
    nothing as "-"."""
    return [(writable(str(key)), writable(_shown(value))) for key, value in details.items()]


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.keys() == {"old", "new"}:  # sources set: old -> new
        return f"{_shown(value['old'])} → {_shown(value['new'])}"
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _decision_query() -> DecisionQuery:
    query: DecisionQuery = _query(_decisions)
    return query


def _event_query() -> EventQuery:
    query: EventQuery = _query(_events)
    return query


@bp.get("/audit")
@page(*AUDITORS)
def index() -> Any:
    app = services()
    decisions, _next = app.reads.audit_decisions(_decision_query(), 100)
    events, _more = app.reads.audit_events(_event_query(), 100)
    return render_template(
        "web/audit.html",
        decisions=[audit_api.decision_row(r) for r in decisions],
        events=[{**audit_api.event_row(r), "lines": detail_lines(r["details"])} for r in events],
        args=request.args,
        query=request.query_string.decode("latin-1"),
    )


# The exports: /audit/decisions.csv (the address the page always linked) or .xlsx.
@bp.get("/audit/decisions.csv", defaults={"file_format": "csv"})
@bp.get("/audit/decisions.<file_format>")
@page(*AUDITORS)
def decisions_csv(file_format: str) -> Any:
    path_or_404(file_format=file_format)
    rows = services().reads.export_decisions(_decision_query())
    return audit_api.export_decisions(file_format, rows)


@bp.get("/audit/events.csv", defaults={"file_format": "csv"})
@bp.get("/audit/events.<file_format>")
@page(*AUDITORS)
def events_csv(file_format: str) -> Any:
    path_or_404(file_format=file_format)
    return audit_api.export_events(file_format, services().reads.export_events(_event_query()))


@bp.post("/audit/verify")
@page(*AUDITORS)
def verify() -> Any:
    app = services()
    sealed = app.writes.seal_audit_trail()
    result = app.reads.verify_audit_trail()
    user = current_user()
    app.pages.record(
        user.username,
        "audit_verified",
        "audit_chain",
        {"ok": result.ok, "links": result.links, "head": result.head, "broken": result.broken},
    )
    if result.ok:
        flash(
            _(
                "The audit trail holds: %(links)s links (%(sealed)s just sealed); head %(head)s.",
                links=i18n.number(result.links, 0),
                sealed=sealed,
                head=result.head,
            ),
            "info",
        )
    else:
        more = len(result.problems) + result.more - 1
        said = _("BROKEN: %(where)s", where=result.broken)
        if more:
            said += " " + _("(and %(more)s more)", more=i18n.number(more, 0))
        flash(said, "error")
    return redirect(url_for("web.audit.index"))
