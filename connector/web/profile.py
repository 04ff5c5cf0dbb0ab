"""The profile page (every role): who you are, and the language the pages are shown in."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import refresh
from marshmallow import ValidationError

from connector.context import services
from connector.i18n import _
from connector.schemas import ProfileSchema
from connector.web.forms import load_form, said
from connector.web.session import current_user, page
from connector.words import LANGUAGES
from gating.commands import SetLanguage
from gating.roles import PEOPLE_ROLES

bp = Blueprint("profile", __name__)

_profile = ProfileSchema()


@bp.get("/profile")
@page(*PEOPLE_ROLES)
def index() -> Any:
    return render_template("web/profile.html", languages=LANGUAGES)


@bp.post("/profile")
@page(*PEOPLE_ROLES)
def change() -> Any:
    user = current_user()
    try:
        form = load_form(_profile)
    except ValidationError as exc:
        flash(said(exc), "error")
        return render_template("web/profile.html", languages=LANGUAGES), 422
    language = form["language"]
    services().writes.set_language(SetLanguage(user.username, language, user.username))
    # Said in the language just chosen (the next request reads it from the store).
    g.user = dataclasses.replace(user, language=language)
    g.pop("language", None)
    refresh()
    flash(_("Your settings are saved."), "info")
    return redirect(url_for("web.profile.index"))
