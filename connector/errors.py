"""Error responses: every client mistake is a 4xx with a JSON body naming the fields at fault."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from connector.i18n import _
from gating.errors import (
    Conflict,
    CreditgateError,
    CurrencyRateMissing,
    CustomerNotFound,
    DecisionNotFound,
    GateUnavailable,
    OrderNotFound,
    SourceNotFound,
    SourceNotGranted,
)
from gating.holds import NotHeld, ReleaseNotAllowed

log = logging.getLogger(__name__)


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if fields:
        body["fields"] = fields
    return body


def _validation(err: ValidationError) -> Any:
    messages = err.messages if isinstance(err.messages, dict) else {"_body": err.messages}
    names = ", ".join(sorted(messages))
    return jsonify(error_body("validation_failed", f"invalid fields: {names}", messages)), 422


def _domain(err: CreditgateError) -> Any:
    if isinstance(err, OrderNotFound | CustomerNotFound | DecisionNotFound):
        return jsonify(error_body("not_found", str(err))), 404
    code = "currency_rate_missing" if isinstance(err, CurrencyRateMissing) else "invalid"
    if isinstance(err, SourceNotFound):
        code = "unknown_source"
    fields = {err.field: [str(err)]} if err.field else None
    return jsonify(error_body(code, str(err), fields)), 422


def _http(err: HTTPException) -> Any:
    if _is_page():
        page, status, headers = _error_page(err.code or 500, err)
        headers |= {k: v for k, v in err.get_headers() if k.lower() != "content-type"}
        return page, status, headers
    code = (err.name or "error").lower().replace(" ", "_")
    response = jsonify(error_body(code, err.description or err.name))
    response.status_code = err.code or 500
    # Keep the headers the exception carries, such as a 405's Allow (RFC 9110), but not its HTML
    # content type: the body is JSON.
    for name, value in err.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _is_page() -> bool:
    """A web page (not the API, /metrics or /healthz) answers its errors in HTML; so does an
    address that is no page at all, when a browser asks for it (it prefers HTML to JSON)."""
    if "web" in request.blueprints:  # connector/web: one blueprint per page, within "web"
        return True
    if request.blueprints or request.path.startswith(("/api/", "/metrics", "/healthz")):
        return False
    return request.accept_mimetypes.best_match(("application/json", "text/html")) == "text/html"


def _titles() -> dict[int, tuple[str, str]]:
    """Each status a page may answer: its title, and what to do (in the reader's language)."""
    return {
        400: (_("Bad request"), _("The page could not use what was sent. Go back and try again.")),
        401: (_("Not logged in"), _("Log in to see this page.")),
        403: (_("Not allowed"), _("Your role does not open this page.")),
        404: (_("Not found"), _("There is no such page or record. Check the address.")),
        405: (_("Not allowed here"), _("This address does not answer that kind of request.")),
        413: (_("Too large"), _("What was sent is too large.")),
        429: (_("Too many requests"), _("Wait a moment and try again.")),
        500: (_("Something went wrong"), _("The error is in the server log. Try again later.")),
    }


def _error_page(status: int, err: HTTPException | None = None) -> tuple[str, int, dict[str, str]]:
    """A styled page in the reader's language that leads back (to the dashboard, or to the
    login page when nobody is logged in). A description the code gave is shown; Werkzeug's own
    English default is replaced by ours."""
    title, hint = _titles().get(status, (_("Error"), ""))
    said = None
    if err is not None and err.description and err.description != type(err).description:
        said = err.description
    page = render_template("web/error.html", status=status, title=title, hint=hint, said=said)
    return page, status, {"Content-Type": "text/html; charset=utf-8"}


def _conflict(err: Conflict) -> Any:
    return jsonify(error_body("conflict", str(err))), 409


def _unavailable(err: GateUnavailable) -> Any:
    log.warning("store unavailable: %s", err)
    response = jsonify(error_body("unavailable", str(err)))
    response.headers["Retry-After"] = "5"
    return response, 503


def _not_held(err: NotHeld) -> Any:
    return jsonify(error_body("not_held", str(err))), 409


def _not_allowed(err: ReleaseNotAllowed) -> Any:
    return jsonify(error_body("forbidden", str(err))), 403


def _not_granted(err: SourceNotGranted) -> Any:
    return jsonify(error_body("forbidden", str(err), {"source": [str(err)]})), 403


def _unexpected(err: Exception) -> Any:
    log.exception("unhandled error")
    if _is_page():
        try:
            return _error_page(500)
        except Exception:  # the page itself failed: the plain answer below
            log.exception("the error page failed too")
    return jsonify(error_body("internal_error", "internal error; see the server log")), 500


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ValidationError, _validation)
    app.register_error_handler(CreditgateError, _domain)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Conflict, _conflict)
    app.register_error_handler(NotHeld, _not_held)
    app.register_error_handler(ReleaseNotAllowed, _not_allowed)
    app.register_error_handler(SourceNotGranted, _not_granted)
    app.register_error_handler(GateUnavailable, _unavailable)
    app.register_error_handler(Exception, _unexpected)
