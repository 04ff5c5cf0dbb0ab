"""The dashboard: totals, open invoices by days past due, DSO."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from connector.context import services
from connector.i18n import _
from connector.web.charts import bars
from connector.web.session import page
from gating.reports import BUCKETS
from gating.roles import PEOPLE_ROLES

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@page(*PEOPLE_ROLES)
def index() -> Any:
    figures = services().reads.dashboard()
    chart = bars(
        figures["aging"],
        figures["currency"],
        title=_("Open invoices by days past due, in %(currency)s", currency=figures["currency"]),
    )
    return render_template("web/dashboard.html", f=figures, chart=chart, buckets=BUCKETS)
