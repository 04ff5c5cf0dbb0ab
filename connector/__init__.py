"""The Flask edge: app factory, blueprints, auth, schemas and the command line."""

from __future__ import annotations

import logging
import secrets

from flask import Flask

from config.settings import Settings
from connector.auth import new_client_cache
from connector.context import ViewServices, install
from connector.errors import register_error_handlers
from connector.i18n import init_app as init_i18n
from gating.logins import SESSION_LIFETIME

log = logging.getLogger(__name__)


def create_app(services: ViewServices) -> Flask:
    """Build the web app around the ready-made application (config.wiring.build_services);
    views reach it through connector.context.services()."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    install(app, services)
    app.extensions["creditgate.clients"] = new_client_cache()
    _sessions(app, services.settings)
    init_i18n(app)

    from connector import (
        admin,
        apipage,
        audit,
        gate,
        headers,
        holds,
        observability,
        openapi,
        reads,
        web,
    )

    app.register_blueprint(gate.bp)
    app.register_blueprint(reads.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(holds.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(apipage.bp)
    register_error_handlers(app)
    observability.init_app(app, services)
    headers.init_app(app)

    return app


def _sessions(app: Flask, settings: Settings) -> None:
    """The web pages' session cookie: signed with CREDITGATE_SECRET_KEY, HttpOnly, SameSite=Lax,
    Secure when CREDITGATE_SECURE_COOKIES is set (behind TLS), eight hours long."""
    key = settings.secret_key
    if not key:
        key = secrets.token_hex(32)
        log.warning(
            "CREDITGATE_SECRET_KEY is not set: this process signs logins with a key of its own, "
            "so they end at a restart and do not carry across workers"
        )
    app.secret_key = key
    app.config.update(
        SESSION_COOKIE_NAME="creditgate_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.secure_cookies),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
