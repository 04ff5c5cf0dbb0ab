"""The thresholds editor (admins): the active document, its versions and their diffs, one
customer's or group's own setting, and what a change would have decided (what-if)."""

from __future__ import annotations

import difflib
import json
from datetime import timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from connector.admin import exact_numbers
from connector.bodies import parse_json, problems
from connector.context import services
from connector.i18n import _
from connector.schemas import SimulateSchema, ThresholdsChangeSchema
from connector.web.forms import blank, load_form, plain_reason, said
from connector.web.session import current_user, page
from gating.audit import Period
from gating.commands import ChangeThresholds
from gating.errors import Conflict
from gating.identifiers import is_external_id
from gating.model import OVERRIDABLE
from gating.policy import InvalidThresholds

bp = Blueprint("thresholds", __name__)

# The document is the form's `document` field (or the active one with an override), checked as
# an API body is; these load the rest of the form as the API loads its bodies.
_change = ThresholdsChangeSchema(only=("reason", "base_version"))
_period = SimulateSchema(only=("first", "last"))


@bp.get("/thresholds")
@page("admin")
def index() -> Any:
    return _thresholds_page()


def _thresholds_page(
    document: str | None = None, result: Any = None, status: int = 200, **form: Any
) -> Any:
    app = services()
    versions = app.reads.thresholds_versions(50)
    active = app.reads.active_thresholds_version()
    diff = None
    wanted = request.args.get("diff", type=int)
    if wanted is not None:
        diff = _diff(versions, wanted)
    today = app.clock().date()
    return (
        render_template(
            "web/thresholds.html",
            active=active,
            versions=versions,
            document=document or json.dumps(active["document"], indent=2, ensure_ascii=False),
            diff=diff,
            result=result,
            settings=OVERRIDABLE,
            # After a refused save the form keeps the version it was made from, so saving it
            # again cannot undo a change someone else made meanwhile.
            base_version=request.form.get("base_version", type=int)
            if request.method == "POST"
            else None,
            default_from=(today.replace(day=1) - timedelta(days=1)).replace(day=1).isoformat(),
            default_to=(today.replace(day=1) - timedelta(days=1)).isoformat(),
            form=form,
        ),
        status,
    )


def _diff(versions: list[dict[str, Any]], wanted: int) -> dict[str, Any] | None:
    by_version = {v["version"]: v for v in versions}
    if wanted not in by_version or wanted - 1 not in by_version:
        return None
    old, new = by_version[wanted - 1], by_version[wanted]
    lines = difflib.unified_diff(
        json.dumps(old["document"], indent=2, sort_keys=True, ensure_ascii=False).splitlines(),
        json.dumps(new["document"], indent=2, sort_keys=True, ensure_ascii=False).splitlines(),
        fromfile=f"version {wanted - 1}",
        tofile=f"version {wanted}",
        lineterm="",
    )
    return {"version": wanted, "reason": new["reason"], "lines": list(lines)}


@bp.post("/thresholds")
@page("admin")
def change() -> Any:
    raw = request.form.get("document", "")
    try:
        document = _json_field(raw)
        if not isinstance(document, dict):
            raise ValueError(_("The document must be a JSON object."))
    except ValueError as exc:
        flash(str(exc), "error")
        return _thresholds_page(raw, status=422)
    return _save_or_simulate(exact_numbers(document), raw)


def _json_field(raw: str) -> Any:
    """A form field holding JSON, parsed and checked as an API body is (connector/bodies.py).

    :raises ValueError: saying what is wrong, and where.
    """
    try:
        value = parse_json(raw)
    except (ValueError, RecursionError) as exc:
        raise ValueError(_("Not JSON: %(problem)s", problem=exc)) from None
    found = problems(value, "value")
    if found:
        raise ValueError("; ".join(f"{where}: {', '.join(why)}" for where, why in found.items()))
    return value


@bp.post("/thresholds/override")
@page("admin")
def override() -> Any:
    """One customer's or group's own setting, on top of the active document."""
    kind = request.form.get("kind", "customers")
    ref = request.form.get("ref", "").strip()
    setting = request.form.get("setting", "")
    if not is_external_id(ref):
        ref = ""
    raw_value = request.form.get("value", "").strip()
    if kind not in ("customers", "groups") or not ref or setting not in OVERRIDABLE:
        flash(_("Choose a customer or group, an id and a setting."), "error")
        return _thresholds_page(status=422)
    try:
        value: Any = parse_json(raw_value) if raw_value else None
    except (ValueError, RecursionError):
        value = raw_value  # a bare word, e.g. blocked
    found = problems(value, "value")
    if found:
        flash("; ".join(f"{where}: {', '.join(why)}" for where, why in found.items()), "error")
        return _thresholds_page(status=422)
    document = dict(services().reads.active_thresholds_version()["document"])
    overrides = json.loads(json.dumps(document.get("overrides") or {}))
    overrides.setdefault(kind, {}).setdefault(ref, {})[setting] = exact_numbers(value)
    document["overrides"] = overrides
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return _save_or_simulate(document, text)


def _save_or_simulate(document: dict[str, Any], text: str) -> Any:
    if request.form.get("action") == "simulate":
        return _simulate(document, text)
    try:
        form = load_form(_change)
    except ValidationError as exc:
        if blank(exc, "reason"):
            flash(_("Say why the thresholds change: it is recorded with the version."), "error")
        else:
            flash(plain_reason() if "reason" in exc.messages else said(exc), "error")
        return _thresholds_page(text, status=422)
    try:
        version = services().writes.change_thresholds(
            ChangeThresholds(
                document, current_user().username, form["reason"], form.get("base_version")
            )
        )
    except InvalidThresholds as exc:
        return _refused(exc, text)
    except Conflict as exc:
        flash(str(exc), "error")
        return _thresholds_page(text, status=409)
    flash(_("Version %(version)s is now active.", version=version), "info")
    return redirect(url_for("web.thresholds.index", diff=version))


def _simulate(document: dict[str, Any], text: str) -> Any:
    try:
        form = load_form(_period)
    except ValidationError as exc:
        flash(_("Period: %(problem)s", problem=said(exc)), "error")
        return _thresholds_page(text, status=422)
    first, last = form["first"], form["last"]
    try:
        result = services().reads.simulate(document, Period(first, last))
    except InvalidThresholds as exc:
        return _refused(exc, text)
    return _thresholds_page(text, result={"r": result, "from": first, "to": last})


def _refused(exc: InvalidThresholds, text: str) -> Any:
    for key, message in exc.errors.items():
        flash(f"{key}: {message}", "error")
    return _thresholds_page(text, status=422)
