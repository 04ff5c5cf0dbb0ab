"""Logging in and out of the pages (connector/web/session.py keeps the session)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from connector.context import services
from connector.web.forms import CONTROL
from connector.web.session import LOGIN_MESSAGES, current_user, log_in, log_out, safe_next
from gating.people import MAX_USERNAME

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("web/login.html", next=request.args.get("next", ""))
    pages = services().pages
    username = request.form.get("username", "").strip()[:MAX_USERNAME]
    password = request.form.get("password", "")[:1000]
    address = client_address()
    # Throttled by the name typed and by the address, before any password is checked; the
    # answers are the same whether or not a user has the name.
    admission = pages.admit_login(username, address)
    if admission.locked:
        return _login_refused(LOGIN_MESSAGES["locked"], 403)
    if admission.retry_at is not None:
        return _too_soon(admission.retry_at)
    plain = not (CONTROL.search(username) or "\x00" in password)
    user = pages.authenticate(username, password) if plain and username and password else None
    if user is None:
        locked = pages.login_failed(username, address)
        return _login_refused(LOGIN_MESSAGES["locked" if locked else "wrong"], 401)
    pages.login_succeeded(username, address)
    log_in(user)
    pages.record(user.username, "login", f"user:{user.username}", {"ip": address})
    return redirect(safe_next(request.form.get("next")))


def _login_refused(message: object, status: int, headers: dict[str, str] | None = None) -> Any:
    flash(str(message), "error")
    page = render_template("web/login.html", next=request.form.get("next", ""))
    return page, status, headers or {}


def _too_soon(retry_at: datetime) -> Any:
    """429 with Retry-After (whole seconds, rounded up) and the time to try again at."""
    seconds = max(1, math.ceil((retry_at - services().clock()).total_seconds()))
    at = retry_at.astimezone(services().settings.zone).strftime("%H:%M:%S")
    message = str(LOGIN_MESSAGES["wait"]) % {"seconds": seconds, "at": at}
    return _login_refused(message, 429, {"Retry-After": str(seconds)})


@bp.post("/logout")
def logout() -> Any:
    user = current_user()
    everywhere = request.form.get("everywhere") == "true"
    if user is not None and not everywhere:
        services().pages.record(
            user.username, "logout", f"user:{user.username}", {"ip": client_address()}
        )
    # In the user's language, while they are still logged in.
    said = str(LOGIN_MESSAGES["out_everywhere" if everywhere else "out"])
    log_out(everywhere=everywhere)  # "everywhere" is audited by the store, with the count
    flash(said, "info")
    return redirect(url_for("web.auth.login"))


def client_address() -> str:
    return request.remote_addr or "?"
