"""The Flask edge: app factory, blueprints, auth, schemas and the command line."""

from __future__ import annotations

from typing import Any

from flask import Flask

from connector.auth import new_client_cache
from connector.errors import register_error_handlers


def create_app(services: Any) -> Flask:
    """Build the web app around ready-made services (see config.wiring.build_services)."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["creditgate"] = services
    app.extensions["creditgate.clients"] = new_client_cache()

    from connector import admin, audit, gate, holds, observability, openapi, reads

    app.register_blueprint(gate.bp)
    app.register_blueprint(reads.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(holds.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(openapi.bp)
    register_error_handlers(app)
    observability.init_app(app, services)

    return app
