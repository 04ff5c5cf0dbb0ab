"""The API page for people: Swagger UI showing the OpenAPI document, behind the web login.

Swagger UI's files come from the flask-swagger-ui package as installed (its dist folder; not its
blueprint, whose page runs an inline script): nothing loads from the internet. The document is
embedded in the page as a JSON data block, so the page needs no API key and makes no request;
start.js, a file of this folder, hands it to Swagger UI. "Try it out" is off: the page reads, it
does not call the API."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    render_template_string,
    request,
    send_from_directory,
)

from connector.openapi import document
from connector.web.session import page

SWAGGER_UI = Path(str(files("flask_swagger_ui") / "dist"))
HERE = Path(__file__).parent
bp = Blueprint(
    "apipage",
    __name__,
    url_prefix="/api-docs",
    static_folder=SWAGGER_UI,
    static_url_path="/swagger-ui",
)
# The only files of the package's folder the page loads; its others (an OAuth redirect page, other
# bundles, the licence) are not served.
FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"})


@bp.before_request
def _only_the_pages_files() -> None:
    asked = (request.view_args or {}).get("filename")
    if request.endpoint == "apipage.static" and asked not in FILES:
        abort(404)


# Scripts only from this site, and no inline one; Swagger UI's stylesheet draws its icons as
# data: images.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>creditgate API</title>
<link rel="stylesheet" href="{{ url_for('apipage.static', filename='swagger-ui.css') }}">
<link rel="icon" href="{{ url_for('apipage.static', filename='favicon-32x32.png') }}">
</head>
<body>
<div id="swagger-ui"></div>
<script type="application/json" id="openapi">{{ document | tojson }}</script>
<script src="{{ url_for('apipage.static', filename='swagger-ui-bundle.js') }}"></script>
<script src="{{ url_for('apipage.start') }}"></script>
</body>
</html>
"""


@bp.get("")
@page()
def api() -> Any:
    """The API page, for any logged-in person."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY}
    return render_template_string(PAGE, document=document(app)), headers


@bp.get("/start.js")
def start() -> Any:
    return send_from_directory(HERE, "start.js", mimetype="text/javascript")
