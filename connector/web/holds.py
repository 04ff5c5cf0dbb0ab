"""The hold list, one held order's page, and what people do with a held order: release,
reject, decide again. Every action is confirmed on a page of its own that names the order and
its amount (server-side: the pages run no script), so neither a stray Enter nor a misplaced
click acts alone; a refusal brings the list back with the input kept, the row marked and the
message beside the field."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from connector import i18n, words
from connector.context import services
from connector.i18n import _, _l
from connector.schemas import HoldActionSchema, HoldListQuerySchema, ReleaseSchema
from connector.web.forms import blank, form_values, load_form, path_or_404
from connector.web.session import current_user, page, safe_next
from connector.words import ROLES, word
from gating.commands import ReevaluateHolds, ReevaluateOrder, RejectOrder, ReleaseOrder
from gating.errors import CreditgateError
from gating.holdlist import HOLD_SORTS, HoldQuery
from gating.holds import (
    HoldAnswer,
    InvalidRelease,
    NotHeld,
    ReleaseInThePast,
    ReleaseNotAllowed,
)
from gating.roles import RELEASERS

bp = Blueprint("holds", __name__)

_LIST = HoldListQuerySchema()
# The forms' fields, loaded as the API loads its bodies; the source is the page's address's.
_FORMS = {
    "release": ReleaseSchema(only=("reason", "cap", "expires_on", "decision_id")),
    "reject": HoldActionSchema(only=("reason", "decision_id")),
    "reevaluate": HoldActionSchema(only=("decision_id",)),
}
_ACTIONS = "<any(release, reject, reevaluate):action>"
_TYPED = ("reason", "cap", "expires_on", "decision_id")
CONFIRMED = "confirmed"  # the confirmation page's button sends confirmed=yes; nothing else does

# The words the pages use for codes that stay codes in the data and the API (connector/words.py).
OUTCOMES = words.OUTCOMES
DONE = {
    "released": _l("released"),
    "rejected": _l("rejected"),
    "reevaluated": _l("decided again"),
    "auto_released": _l("released automatically"),
}
# The reasons that hold an order, for the list's filter.
REASONS = {
    code: words.REASONS[code]
    for code in (
        "CUSTOMER_ON_HOLD",
        "OVERDUE_INVOICES",
        "CREDIT_LIMIT_EXCEEDED",
        "GROUP_LIMIT_EXCEEDED",
        "UNKNOWN_CUSTOMER",
        "NO_CREDIT_LIMIT",
        "STALE_DATA",
        "APPROVAL_REQUIRED",
        "REJECTED_BY",
    )
}
SORTS = dict(
    zip(
        HOLD_SORTS,
        (
            _l("newest first"),
            _l("oldest first"),
            _l("held longest first"),
            _l("held shortest first"),
            _l("largest amount first"),
            _l("smallest amount first"),
            _l("customer name"),
        ),
        strict=True,
    )
)
SIZES = (25, 50, 100, 200)


@dataclass
class Failed:
    """An action that was refused (or sent back to be changed): what was typed, kept, and why,
    field by field ("" for the panel as a whole)."""

    source: str
    order_id: str
    action: str
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def on(self, row: dict[str, Any]) -> bool:
        return (row["source"], row["order_id"]) == (self.source, self.order_id)


# -- the list -----------------------------------------------------------------------------------


@bp.get("/holds")
@page(*RELEASERS)
def index() -> Any:
    return _render_list(request.args)


def _list_query(args: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The list's query from the query string, and a message per refused filter: the list is
    then shown with the filters that were good, and each bad one's message beside it."""
    try:
        return load_form(_LIST, args), {}
    except ValidationError as exc:
        refused = exc.messages if isinstance(exc.messages, dict) else {"_schema": []}
        errors = {str(key): str(_FILTER_RULES.get(str(key), _UNKNOWN)) for key in refused}
    kept = {k: v for k, v in args.items() if k in _LIST.fields and k not in errors}
    try:
        return _LIST.load(form_values(_LIST, kept)), errors
    except ValidationError:
        return _LIST.load({}), errors


_UNKNOWN = _l("This filter is not known; clear it.")
_DAYS = _l("Whole days, 0 or more; 'at least' not above 'at most'.")
_AMOUNT = _l("An amount such as 1,500.00, not negative; 'from' not above 'to'.")
_CHOICE = _l("Choose one of the listed values.")
_FILTER_RULES = {
    "customer": _l("A customer id or part of a name: up to 100 characters, plain text."),
    "source": _l("A source name: up to 100 characters, plain text."),
    "currency": _l("Three capital letters, such as CNY."),
    "amount_min": _AMOUNT,
    "amount_max": _AMOUNT,
    "held_days_min": _DAYS,
    "held_days_max": _DAYS,
    "outcome": _CHOICE,
    "reason": _CHOICE,
    "sort": _CHOICE,
    "size": _CHOICE,
    "page": _l("A page number, 1 or more."),
}


def _render_list(args: MultiDict[str, str], failed: Failed | None = None, status: int = 0) -> Any:
    loaded, filter_errors = _list_query(args)
    listing = services().reads.hold_list(loaded["query"], loaded["page"], loaded["size"])
    sent = {k: v for k, v in args.items() if k in _LIST.fields and v.strip()}
    kept = {k: v for k, v in sent.items() if k not in filter_errors and k != "page"}

    def page_url(number: int) -> str:
        return url_for("web.holds.index") + "?" + urlencode({**kept, "page": number})

    here = url_for("web.holds.index") + ("?" + urlencode(sent) if sent else "")
    return render_template(
        "web/holds.html",
        listing=listing,
        query=loaded["query"],
        sent=sent,
        filter_errors=filter_errors,
        failed=failed,
        back_to=here,
        page_url=page_url,
        **_words(),
    ), status or (400 if filter_errors else (422 if failed and failed.errors else 200))


def _words() -> dict[str, Any]:
    # Translated once per page (a lazy string translates each time it is shown).
    return {
        "OUTCOMES": {k: str(v) for k, v in OUTCOMES.items()},
        "REASONS": {k: str(v) for k, v in REASONS.items()},
        "SORTS": {k: str(v) for k, v in SORTS.items()},
        "SIZES": SIZES,
        "today": services().clock().astimezone(services().settings.zone).date(),
    }


# -- one order ----------------------------------------------------------------------------------


@bp.get("/holds/<source>/<path:order_id>")
@page(*RELEASERS)
def order(source: str, order_id: str) -> Any:
    """A gated order's page: what is known of it (even when its customer is not synced yet),
    its last decision's full snapshot, and, while it is held, its action panel."""
    path_or_404(source=source, order_id=order_id)
    return _render_order(source, order_id)


def _render_order(source: str, order_id: str, failed: Failed | None = None) -> Any:
    row = services().reads.held_order(source, order_id)
    if row is None:
        abort(404, description=gettext("No order %(order)s has been gated.", order=order_id))
    snapshot = json.dumps(row["snapshot"], ensure_ascii=False, indent=2, sort_keys=True)
    here = url_for("web.holds.order", source=source, order_id=order_id)
    status = 422 if failed and failed.errors else 200
    return render_template(
        "web/hold_order.html", r=row, snapshot=snapshot, failed=failed, back_to=here, **_words()
    ), status


# -- acting on one order: a confirmation first --------------------------------------------------


@bp.post(f"/holds/<source>/<path:order_id>/{_ACTIONS}")
@page(*RELEASERS)
def act(source: str, order_id: str, action: str) -> Any:
    path_or_404(source=source, order_id=order_id)
    back = _back()
    values = {k: request.form.get(k, "") for k in _TYPED}
    try:
        form = load_form(_FORMS[action])
    except ValidationError as exc:
        return _show_failed(Failed(source, order_id, action, values, _refusals(exc)), back)
    if "edit" in request.form:  # "change it" on the confirmation page: the panel, as typed
        return _show_failed(Failed(source, order_id, action, values), back)
    row = services().reads.held_order(source, order_id)
    if row is None:
        abort(404)
    if row["status"] != "open" or row["outcome"] not in ("review", "blocked"):
        gone = gettext("%(order)s is not held any more: nothing was done.", order=order_id)
        return _show_failed(Failed(source, order_id, action, values, {"": gone}), back)
    if request.form.get(CONFIRMED) != "yes":
        return render_template(
            "web/hold_confirm.html",
            r=row,
            action=action,
            form=form,
            values=values,
            back=back,
            target=url_for("web.holds.act", source=source, order_id=order_id, action=action),
            **_words(),
        )
    try:
        answer = _apply(source, order_id, action, form)
    except CreditgateError as exc:
        where = getattr(exc, "field", "")
        where = where if where in _TYPED and where != "decision_id" else ""
        return _show_failed(Failed(source, order_id, action, values, {where: _said(exc)}), back)
    amount = i18n.money(row["amount"], row["currency"])
    flash(
        gettext(
            "%(order)s (%(amount)s): %(done)s, now %(outcome)s.",
            order=order_id,
            amount=amount,
            done=DONE.get(answer.action, answer.action),
            outcome=OUTCOMES.get(answer.record.outcome.value, answer.record.outcome.value),
        ),
        "info",
    )
    return redirect(back)


def _apply(source: str, order_id: str, action: str, form: dict[str, Any]) -> HoldAnswer:
    """:raises CreditgateError: the service's no."""
    user, writes = current_user(), services().writes
    seen = form.get("decision_id")
    if action == "reevaluate":
        return writes.reevaluate_order(ReevaluateOrder(source, order_id, user.username))
    if action == "reject":
        return writes.reject_order(
            RejectOrder(source, order_id, form["reason"], user.username, user.role, seen)
        )
    return writes.release_order(
        ReleaseOrder(
            source,
            order_id,
            form["reason"],
            user.username,
            user.role,
            cap=form.get("cap"),
            expires_on=form.get("expires_on"),
            seen_decision=seen,
        )
    )


def _refusals(exc: ValidationError) -> dict[str, str]:
    """What the panel says beside each field the schema refused."""
    messages = exc.messages
    assert isinstance(messages, dict)
    if "decision_id" in messages:
        abort(404)  # the page sends the held decision's id: no record has this one
    said: dict[str, str] = {}
    if "reason" in messages:
        said["reason"] = (
            gettext("Say why: the reason is recorded and told to the ERP.")
            if blank(exc, "reason")
            else gettext("The reason must be at most 2,000 characters of plain text.")
        )
    if "cap" in messages:
        said["cap"] = gettext(
            "Not an amount in the order's currency (such as 1,500.00): %(why)s",
            why="; ".join(map(str, messages["cap"])),
        )
    if "expires_on" in messages:
        said["expires_on"] = gettext("Not a date (YYYY-MM-DD) this side of the year 9999.")
    return said


def _back() -> str:
    """Where the form came from (the list with its filters, or the order's page): a path on
    this site only."""
    back = safe_next(request.form.get("back"))
    return back if urlsplit(back).path.startswith("/holds") else url_for("web.holds.index")


def _show_failed(failed: Failed, back: str) -> Any:
    """The page the form came from, with the input kept, the row marked and the messages."""
    parts = urlsplit(back)
    if parts.path == url_for("web.holds.index"):
        return _render_list(MultiDict(parse_qsl(parts.query)), failed)
    return _render_order(failed.source, failed.order_id, failed)


# -- every held order at once -------------------------------------------------------------------


@bp.post("/holds/reevaluate")
@page(*RELEASERS)
def reevaluate_all() -> Any:
    if request.form.get(CONFIRMED) != "yes":
        listing = services().reads.hold_list(HoldQuery(), 1, SIZES[0])
        return render_template(
            "web/hold_confirm.html",
            r=None,
            action="reevaluate_all",
            listing=listing,
            back=_back(),
            target=url_for("web.holds.reevaluate_all"),
            values={},
            form={},
            **_words(),
        )
    report = services().writes.reevaluate_holds(ReevaluateHolds())
    flash(
        gettext(
            "%(checked)s held order(s) decided again; %(released)s released.",
            checked=report.checked,
            released=len(report.released),
        ),
        "info",
    )
    return redirect(_back())


def _said(exc: CreditgateError) -> str:
    """The service's refusal in the reader's words (its own English words otherwise)."""
    if isinstance(exc, ReleaseInThePast):
        return _("The last day of a release cannot be in the past.")
    if isinstance(exc, ReleaseNotAllowed) and exc.needs:
        return _(
            "Releasing %(amount)s needs %(roles)s (approval tiers); you are %(role)s.",
            amount=exc.needs,
            roles=" / ".join(word(ROLES, r) for r in exc.roles),
            role=word(ROLES, exc.role),
        )
    if isinstance(exc, InvalidRelease) and exc.cap:
        return _(
            "The cap %(cap)s is below the order's amount %(amount)s: release at least the "
            "amount, or have the ERP lower the order first.",
            cap=exc.cap,
            amount=exc.amount,
        )
    if isinstance(exc, NotHeld):
        return _(
            "This order was changed or decided again since the list was shown: look at the "
            "hold list again."
        )
    return str(exc)
