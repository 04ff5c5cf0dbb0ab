"""The hold list, and what people do with a held order: release, reject, re-evaluate."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from marshmallow import ValidationError

from connector.context import services
from connector.schemas import HoldActionSchema, ReleaseSchema
from connector.web.forms import PLAIN_REASON, blank, load_form, path_or_404
from connector.web.session import current_user, page
from gating.commands import ReevaluateHolds, ReevaluateOrder, RejectOrder, ReleaseOrder
from gating.errors import CreditgateError
from gating.holds import HoldAnswer, ReleaseInThePast
from gating.roles import RELEASERS

bp = Blueprint("holds", __name__)

# The forms' fields, loaded as the API loads its bodies; the source is the page's address's.
_FORMS = {
    "release": ReleaseSchema(only=("reason", "cap", "expires_on", "decision_id")),
    "reject": HoldActionSchema(only=("reason", "decision_id")),
}
_ACTIONS = "<any(release, reject, reevaluate):action>"


@bp.get("/holds")
@page(*RELEASERS)
def index() -> Any:
    rows, _ = services().reads.held_orders(limit=200)
    return render_template("web/holds.html", rows=rows, today=services().clock().date())


@bp.post(f"/holds/<source>/<path:order_id>/{_ACTIONS}")
@page(*RELEASERS)
def act(source: str, order_id: str, action: str) -> Any:
    path_or_404(source=source, order_id=order_id)
    try:
        if action == "reevaluate":
            answer = services().writes.reevaluate_order(
                ReevaluateOrder(source, order_id, current_user().username)
            )
        else:
            answer = _release_or_reject(source, order_id, action)
        outcome = answer.record.outcome.value
        flash(f"{order_id}: {answer.action.replace('_', ' ')}, now {outcome}.", "info")
    except ReleaseInThePast:
        flash(f"{order_id}: the last day of a release cannot be in the past", "error")
    except (CreditgateError, ValueError) as exc:
        flash(f"{order_id}: {exc}", "error")
    return redirect(url_for("web.holds.index"))


def _release_or_reject(source: str, order_id: str, action: str) -> HoldAnswer:
    """:raises ValueError: saying what the form got wrong; CreditgateError: the service's no."""
    try:
        form = load_form(_FORMS[action])
    except ValidationError as exc:
        raise ValueError(_refusal(exc)) from None
    user, writes = current_user(), services().writes
    reason, seen = form["reason"], form.get("decision_id")
    if action == "reject":
        return writes.reject_order(
            RejectOrder(source, order_id, reason, user.username, user.role, seen)
        )
    return writes.release_order(
        ReleaseOrder(
            source,
            order_id,
            reason,
            user.username,
            user.role,
            cap=form.get("cap"),
            expires_on=form.get("expires_on"),
            seen_decision=seen,
        )
    )


def _refusal(exc: ValidationError) -> str:
    """What the page says about a form the schema refused, naming the first bad field in the
    form's order."""
    messages, sent = exc.messages, exc.data
    assert isinstance(messages, dict) and isinstance(sent, dict)
    if "decision_id" in messages:
        abort(404)  # the page sends the held decision's id: no record has this one
    if "reason" in messages:
        return (
            "say why (the reason is recorded and told to the ERP)"
            if blank(exc, "reason")
            else PLAIN_REASON
        )
    if "cap" in messages:
        return f"{sent['cap']!r} is not an amount: {'; '.join(messages['cap'])}"
    return f"{sent['expires_on']!r} is not a date (YYYY-MM-DD) this side of the year 9999"


@bp.post("/holds/reevaluate")
@page(*RELEASERS)
def reevaluate_all() -> Any:
    report = services().writes.reevaluate_holds(ReevaluateHolds())
    flash(f"{report.checked} held order(s) decided again; {len(report.released)} released.", "info")
    return redirect(url_for("web.holds.index"))
