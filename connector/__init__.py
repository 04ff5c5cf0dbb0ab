"""The Flask edge: app factory, blueprints, auth, schemas and the command line."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify

from connector.auth import new_client_cache
from connector.errors import register_error_handlers
from gating.errors import GateUnavailable


def create_app(services: Any) -> Flask:
    """Build the web app around ready-made services (see config.wiring.build_services)."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["creditgate"] = services
    app.extensions["creditgate.clients"] = new_client_cache()

    from connector import gate, openapi, reads

    app.register_blueprint(gate.bp)
    app.register_blueprint(reads.bp)
    app.register_blueprint(openapi.bp)
    register_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> Any:
        """Unauthenticated on purpose, for load balancers; says nothing but up or down."""
        try:
            services.check_database()
        except GateUnavailable:
            return jsonify({"status": "unavailable", "database": "unavailable"}), 503
        except Exception:
            return jsonify({"status": "unavailable", "database": "unavailable"}), 503
        return jsonify({"status": "ok", "database": "ok"})

    return app
