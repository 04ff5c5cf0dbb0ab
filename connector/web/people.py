"""The people page (admins): unlock, disable, enable, end sessions; the CLI does the same."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from connector.context import services
from connector.i18n import _, ngettext
from connector.web.forms import CONTROL
from connector.web.session import current_user, page
from connector.words import ACTIONS as ACTION_WORDS
from connector.words import word
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
        abort(400, description=_("action: one of %(actions)s", actions=", ".join(ACTIONS)))
    if not name or len(name) > MAX_USERNAME or CONTROL.search(name):
        abort(
            400,
            description=_(
                "username: 1 to %(most)s characters, no control characters", most=MAX_USERNAME
            ),
        )
    writes = services().writes
    try:
        if name == admin.username and action == "disable":
            raise ValueError(_("You cannot disable yourself; ask another admin."))
        if action == "unlock":
            unlocked = writes.unlock_user(UnlockUser(name, admin.username))
            done = _("unlocked") if unlocked else _("was not locked")
        elif action == "disable":
            ended = writes.disable_user(DisableUser(name, admin.username))
            done = ngettext(
                "disabled; %(num)s session ended", "disabled; %(num)s sessions ended", ended
            )
        elif action == "enable":
            actions = writes.enable_user(EnableUser(name, admin.username))
            done = _(", ").join(word(ACTION_WORDS, a) for a in actions) or _("was enabled")
        else:
            ended = writes.end_all_sessions(EndAllSessions(name, admin.username))
            done = ngettext("%(num)s session ended", "%(num)s sessions ended", ended)
        flash(_("%(user)s: %(done)s.", user=name, done=done), "info")
    except ValueError as exc:
        flash(str(exc), "error")
    return redirect(url_for("web.people.index"))
