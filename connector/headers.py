"""Security headers on every answer (pages, API, errors), and a development server that does not
say which version of what it runs.

The pages have no script at all and no inline style (connector/templates, connector/static), so
the policy needs neither a nonce nor 'unsafe-inline': styles come from this site's own
stylesheet, charts are inline SVG (presentation attributes, which style-src does not govern), and
nothing may frame a page. The API page (connector/apipage) sets its own policy: scripts from this
site only. Behind gunicorn (20.1 and later) the `Server` header reads `gunicorn`,
without a version, and gunicorn offers no setting to drop it; a proxy in front can.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
    "Referrer-Policy": "no-referrer",
}
STATIC_ENDPOINTS = frozenset({"web.static", "static", "apipage.static"})


def init_app(app: Flask) -> None:
    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        # Every answer but the stylesheet is about someone's credit or made for a key or a
        # login: no browser or proxy keeps a copy. (Unauthenticated answers are few and cheap.)
        if request.endpoint not in STATIC_ENDPOINTS:
            response.headers["Cache-Control"] = "no-store"
        return response


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's development server, answering `Server: creditgate` instead of
    `Werkzeug/<version> Python/<version>`."""

    def version_string(self) -> str:
        return "creditgate"
