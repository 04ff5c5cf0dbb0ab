"""Web pages for people (server-rendered, no build step, no network), one blueprint per page
(Flask's tutorial shape) under the `web` blueprint, which holds what they share: templates, the
stylesheet, the CSRF check, the template filters and what every template sees. The API's own
rules apply: the same services, roles, schemas (connector/web/forms.py) and audit events.

| page | module |
| --- | --- |
| /login, /logout | auth.py |
| / | dashboard.py |
| /customers, a customer, its hold | customers.py |
| /holds and what people do with them | holds.py |
| /thresholds, overrides, what-if | thresholds.py |
| /audit, its exports, verifying the trail | audit.py |
| /people (admins) | people.py |
| /profile (everyone: who you are, your language) | profile.py |
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint

from connector import i18n
from connector.context import services
from connector.web import audit, auth, customers, dashboard, holds, people, profile, thresholds
from connector.web.session import check_csrf, csrf_token, current_user
from gating.roles import RELEASERS

bp = Blueprint("web", __name__, template_folder="../templates", static_folder="../static")
for _page in (auth, profile, people, dashboard, customers, holds, thresholds, audit):
    bp.register_blueprint(_page.bp)


@bp.before_request
def _csrf() -> None:
    check_csrf()


@bp.app_context_processor
def _context() -> dict[str, Any]:
    return {
        "user": current_user(),
        "csrf_token": csrf_token,
        "RELEASERS": RELEASERS,
        "zone": services().settings.zone,
    }


@bp.app_template_filter("money")
def _money(value: Any, currency: str = "") -> str:
    return i18n.money(value, currency)


@bp.app_template_filter("when")
def _when(value: datetime | None) -> str:
    return i18n.when(value, services().settings.zone)
