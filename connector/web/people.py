"""The people page (admins): unlock, disable, enable, end sessions; the CLI does the same."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from connector.context import services
from connector.web.forms import CONTROL
from connector.web.session import current_user, page
from gating.commands import DisableUser, EnableUser, EndAllSessions, UnlockUser
from gating.people import MAX_USERNAME

bp = Blueprint("people", __name__)

ACTIONS = ("unlock", "disable", "enable", "end_sessions")


@bp.get("/people")
@page("admin")
def index() -> Any:
    return render_template("web/people.html", rows=services().reads.list_users())


@bp.post("/people")
@page("admin")
def change() -> Any:
    admin, name = current_user(), request.form.get("username", "")
    action = request.form.get("action", "")
    if action not in ACTIONS:
        abort(400, description=f"action: one of {', '.join(ACTIONS)}")
    if not name or len(name) > MAX_USERNAME or CONTROL.search(name):
        abort(400, description=f"username: 1 to {MAX_USERNAME} characters, no control characters")
    writes = services().writes
    try:
        if name == admin.username and action == "disable":
            raise ValueError("you cannot disable yourself; ask another admin")
        if action == "unlock":
            unlocked = writes.unlock_user(UnlockUser(name, admin.username))
            done = "unlocked" if unlocked else "was not locked"
        elif action == "disable":
            ended = writes.disable_user(DisableUser(name, admin.username))
            done = f"disabled; {ended} session(s) ended"
        elif action == "enable":
            done = " and ".join(writes.enable_user(EnableUser(name, admin.username)))
            done = done or "was enabled"
        else:
            ended = writes.end_all_sessions(EndAllSessions(name, admin.username))
            done = f"{ended} session(s) ended"
        flash(f"{name}: {done.replace('_', ' ')}.", "info")
    except ValueError as exc:
        flash(str(exc), "error")
    return redirect(url_for("web.people.index"))
