"""How a view reaches the application's services: one accessor (a typed one replaces this)."""

from __future__ import annotations

from typing import Any

from flask import current_app


def services() -> Any:
    return current_app.extensions["creditgate"]
