"""Logins for people: a signed session cookie carrying a server-side session's token, a CSRF
token per session, and a decorator that lets a page through only for some roles.

The session's row in the store decides, on every request: logging out ends that session, "log
out everywhere", disabling a user or resetting a password end all of the user's, on every worker
at once (adapters/db/logins.py)."""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from flask import abort, g, redirect, request, session, url_for

from connector.context import ViewPages, services
from connector.i18n import _, _l
from connector.words import ROLES, word
from gating.commands import EndAllSessions

F = TypeVar("F", bound=Callable[..., Any])

CSRF_FIELD = "csrf_token"


def pages() -> ViewPages:
    return services().pages


SESSION_FIELD = "sid"

# What the login page says. None of them tells whether a user has the name typed.
LOGIN_MESSAGES = {
    "wrong": _l("Wrong user name or password."),
    "wait": _l("Too many failed logins: try again in %(seconds)s s (at %(at)s)."),
    "locked": _l("Too many failed logins: this login is locked. An admin can unlock it."),
    "out": _l("Logged out."),
    "out_everywhere": _l("Logged out everywhere: every session of yours has ended."),
}


def current_user() -> Any:
    """The logged-in user (cached for the request), or None: one read of the session's row."""
    if "user" not in g:
        token = session.get(SESSION_FIELD)
        g.user = services().pages.session_user(token) if isinstance(token, str) else None
    return g.user


def log_in(user: Any) -> None:
    session.clear()  # a fresh session: no fixation of one handed out before the login
    session.permanent = True
    session[SESSION_FIELD] = pages().start_session(user.id)
    session[CSRF_FIELD] = secrets.token_urlsafe(32)
    g.user = user


def log_out(*, everywhere: bool = False) -> None:
    """End this session (and with `everywhere`, every session of the user's) in the store, so
    a copy of the cookie is worth nothing after it."""
    token = session.get(SESSION_FIELD)
    user = current_user()
    if everywhere and user is not None:
        services().writes.end_all_sessions(EndAllSessions(user.username, user.username))
    elif isinstance(token, str):
        services().pages.end_session(token)
    session.clear()
    g.user = None


def csrf_token() -> str:
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Every form a page posts carries the session's token: a form on another site cannot."""
    if request.method != "POST":
        return
    sent = request.form.get(CSRF_FIELD, "")
    token = session.get(CSRF_FIELD)
    # Bytes: compare_digest refuses str holding anything but ASCII (a TypeError, a 500 before).
    if not isinstance(token, str) or not hmac.compare_digest(
        sent.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass")
    ):
        abort(400, description=_("The form has expired or did not come from this site; reload it."))


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if not target:
        return url_for("web.dashboard.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.dashboard.index")
    return target


def page(*roles: str) -> Callable[[F], F]:
    """Only for logged-in users with one of `roles`: others go to the login page, or get 403."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                # The path as sent (request.path is decoded: an id's "%", "?" or "#" would
                # change what the address means when it comes back).
                here = quote(request.path, safe="/") + "?" + request.query_string.decode("latin-1")
                return redirect(url_for("web.auth.login", next=here.rstrip("?")))
            if roles and user.role not in roles:
                names = ", ".join(word(ROLES, role) for role in roles)
                abort(403, description=_("This page is for: %(roles)s.", roles=names))
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
