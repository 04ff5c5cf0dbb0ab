"""The customer list, one customer's position, and putting a customer on creditgate's hold."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from connector.context import services
from connector.i18n import _
from connector.schemas import CustomerHoldSchema
from connector.web.charts import bars
from connector.web.forms import blank, load_form, path_or_404, plain_reason, query_arg
from connector.web.session import current_user, page
from gating.audit import DecisionQuery
from gating.commands import SetCustomerHold
from gating.errors import CreditgateError
from gating.reports import aging_in
from gating.roles import PEOPLE_ROLES, RELEASERS

bp = Blueprint("customers", __name__)

# The source is the page's address's, not the form's.
_hold_form = CustomerHoldSchema(only=("on_hold", "reason"))


@bp.get("/customers")
@page(*PEOPLE_ROLES)
def index() -> Any:
    search = query_arg("q")
    try:
        number = min(max(1, int(request.args.get("page", "1"))), 1_000_000)
    except ValueError:
        number = 1
    listed = services().reads.customers(search, number)
    return render_template("web/customers.html", listed=listed, q=search or "")


@bp.get("/customers/<source>/<path:customer_id>")
@page(*PEOPLE_ROLES)
def customer(source: str, customer_id: str) -> Any:
    path_or_404(source=source, customer_id=customer_id)
    app = services()
    try:
        position = app.reads.credit_position(source, customer_id)
    except CreditgateError as exc:
        abort(404, description=str(exc))
    extras = app.reads.customer_extras(source, customer_id)
    currency = position["currency"]
    buckets, missing = aging_in(extras.get("aging", {}), app.rates, currency)
    title = _("%(customer)s: open invoices by days past due, in %(currency)s")
    chart = bars(buckets, currency, title=title % {"customer": customer_id, "currency": currency})
    query = DecisionQuery(source=source, customer_id=customer_id)
    decisions, _next = app.reads.audit_decisions(query, 20)
    return render_template(
        "web/customer.html",
        p=position,
        source=source,
        chart=chart,
        missing=missing,
        invoices=extras.get("invoices", []),
        warnings=extras.get("warnings", []),
        decisions=decisions,
    )


@bp.post("/customers/<source>/<path:customer_id>/hold")
@page(*RELEASERS)
def hold(source: str, customer_id: str) -> Any:
    path_or_404(source=source, customer_id=customer_id)
    try:
        form = load_form(_hold_form)
    except ValidationError as exc:  # the reason: on_hold is a check box, true or false
        flash(_("Say why.") if blank(exc, "reason") else plain_reason(), "error")
    else:
        on = form["on_hold"]
        try:
            reason = form["reason"] if on else None
            services().writes.set_customer_hold(
                SetCustomerHold(source, customer_id, reason, current_user().username)
            )
            said = _("%(customer)s is on hold.") if on else _("%(customer)s is no longer on hold.")
            flash(said % {"customer": customer_id}, "info")
        except CreditgateError as exc:
            flash(str(exc), "error")
    return redirect(url_for("web.customers.customer", source=source, customer_id=customer_id))
