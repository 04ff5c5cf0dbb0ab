"""What gunicorn serves for the benchmark: the real app on the bench database, plus one trivial
route on the same app object, so the baseline shares the whole stack (gunicorn, WSGI, Flask,
JSON) and differs from the gate only by what the gate itself does.

    CREDITGATE_DATABASE_URL=sqlite:///bench/.data/work.db gunicorn bench.wsgi_app:app
"""

from __future__ import annotations

import os
from typing import Any

from flask import jsonify

from config.settings import Settings
from config.wiring import build_services
from connector import create_app

app = create_app(build_services(Settings.from_env(os.environ)))


@app.get("/bench/ping")
def bench_ping() -> Any:
    return jsonify({"ok": True})


@app.get("/bench/db")
def bench_db() -> Any:
    """One read-only round trip to the database (context for the PostgreSQL bench)."""
    app.extensions["creditgate"].reads.check_database()
    return jsonify({"ok": True})
