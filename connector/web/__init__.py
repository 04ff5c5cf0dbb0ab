"""Web pages for people (server-rendered, no build step, no network): dashboard, customers,
the hold list, the thresholds editor with what-if, and the audit record. The API's own rules
apply: the same services, roles, validation and audit events."""

from __future__ import annotations

import difflib
import json
import math
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from connector import audit as audit_api
from connector.admin import exact_numbers
from connector.bodies import parse_json, problems
from connector.context import services as _services
from connector.schemas import URL_ID_PATTERN
from connector.web.charts import bars
from connector.web.session import (
    LOGIN_MESSAGES,
    check_csrf,
    csrf_token,
    current_user,
    log_in,
    log_out,
    page,
    pages,
    safe_next,
)
from gating.audit import DecisionQuery, EventQuery, Period
from gating.commands import (
    ChangeThresholds,
    DisableUser,
    EnableUser,
    EndAllSessions,
    ReevaluateHolds,
    ReevaluateOrder,
    RejectOrder,
    ReleaseOrder,
    SetCustomerHold,
    UnlockUser,
)
from gating.errors import Conflict, CreditgateError
from gating.holds import ReleaseInThePast
from gating.model import OVERRIDABLE
from gating.money import DECIMAL_TEXT_RULE, is_decimal_text
from gating.policy import InvalidThresholds
from gating.reports import BUCKETS, aging_in
from gating.roles import PEOPLE_ROLES, RELEASERS

bp = Blueprint("web", __name__, template_folder="../templates", static_folder="../static")

PEOPLE = PEOPLE_ROLES
AUDITORS = ("auditor", "admin")


@bp.before_request
def _csrf() -> None:
    check_csrf()


@bp.app_context_processor
def _context() -> dict[str, Any]:
    return {"user": current_user(), "csrf_token": csrf_token, "RELEASERS": RELEASERS}


@bp.app_template_filter("money")
def _money(value: Any, currency: str = "") -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):,.2f}" + (f" {currency}" if currency else "")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_URL_ID = re.compile(URL_ID_PATTERN)


def _ids(*values: str) -> None:
    """Identifiers from the address are held to the API's rules: a 404, never a database
    error, for one no record can have."""
    for value in values:
        if not value or len(value) > 100 or _CONTROL.search(value) or not _URL_ID.match(value):
            abort(404)


def _arg(name: str) -> str | None:
    """A filter from the query string; one no record can match is refused with a 400."""
    value = request.args.get(name, "").strip()
    if len(value) > 100 or _CONTROL.search(value):
        abort(400, description=f"{name}: at most 100 characters, no control characters")
    return value or None


def _why(form_value: str) -> str:
    """A reason typed in a form: recorded and sent to the ERP, so printable text only."""
    reason = form_value.strip()
    if len(reason) > 2000 or _CONTROL.search(reason):
        raise ValueError("the reason must be at most 2,000 characters of plain text")
    return reason


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(_services().settings.zone).strftime("%Y-%m-%d %H:%M")


bp.add_app_template_filter(_when, "when")


# --- logging in and out ----------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("web/login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()[:100]
    password = request.form.get("password", "")[:1000]
    address = _ip()
    # Throttled by the name typed and by the address, before any password is checked; the
    # answers are the same whether or not a user has the name.
    admission = pages().admit_login(username, address)
    if admission.locked:
        return _login_refused(LOGIN_MESSAGES["locked"], 403)
    if admission.retry_at is not None:
        return _too_soon(admission.retry_at)
    plain = not (_CONTROL.search(username) or "\x00" in password)
    user = pages().authenticate(username, password) if plain and username and password else None
    if user is None:
        locked = pages().login_failed(username, address)
        return _login_refused(LOGIN_MESSAGES["locked" if locked else "wrong"], 401)
    pages().login_succeeded(username, address)
    log_in(user)
    pages().record(user.username, "login", f"user:{user.username}", {"ip": address})
    return redirect(safe_next(request.form.get("next")))


def _login_refused(message: str, status: int, headers: dict[str, str] | None = None) -> Any:
    flash(message, "error")
    page = render_template("web/login.html", next=request.form.get("next", ""))
    return page, status, headers or {}


def _too_soon(retry_at: datetime) -> Any:
    """429 with Retry-After (whole seconds, rounded up) and the time to try again at."""
    seconds = max(1, math.ceil((retry_at - _services().clock()).total_seconds()))
    at = retry_at.astimezone(_services().settings.zone).strftime("%H:%M:%S")
    message = LOGIN_MESSAGES["wait"].format(seconds=seconds, at=at)
    return _login_refused(message, 429, {"Retry-After": str(seconds)})


@bp.post("/logout")
def logout() -> Any:
    user = current_user()
    everywhere = request.form.get("everywhere") == "true"
    if user is not None and not everywhere:
        pages().record(user.username, "logout", f"user:{user.username}", {"ip": _ip()})
    log_out(everywhere=everywhere)  # "everywhere" is audited by the store, with the count
    flash(LOGIN_MESSAGES["out_everywhere" if everywhere else "out"], "info")
    return redirect(url_for("web.login"))


def _ip() -> str:
    return request.remote_addr or "?"


# --- people (admins): unlock, disable, enable, end sessions; the CLI does the same ------------

PEOPLE_ACTIONS = ("unlock", "disable", "enable", "end_sessions")


@bp.get("/people")
@page("admin")
def people() -> Any:
    return render_template("web/people.html", rows=_services().reads.list_users())


@bp.post("/people")
@page("admin")
def people_action() -> Any:
    admin, name = current_user(), request.form.get("username", "")
    action = request.form.get("action", "")
    if action not in PEOPLE_ACTIONS:
        abort(400, description=f"action: one of {', '.join(PEOPLE_ACTIONS)}")
    if not name or len(name) > 100 or _CONTROL.search(name):
        abort(400, description="username: 1 to 100 characters, no control characters")
    writes = _services().writes
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
    return redirect(url_for("web.people"))


# --- dashboard and customers -----------------------------------------------------------------


@bp.get("/")
@page(*PEOPLE)
def dashboard() -> Any:
    figures = _services().reads.dashboard()
    chart = bars(
        figures["aging"],
        figures["currency"],
        title=f"Open invoices by days past due, in {figures['currency']}",
    )
    return render_template("web/dashboard.html", f=figures, chart=chart, buckets=BUCKETS)


@bp.get("/customers")
@page(*PEOPLE)
def customers() -> Any:
    search = _arg("q")
    try:
        number = min(max(1, int(request.args.get("page", "1"))), 1_000_000)
    except ValueError:
        number = 1
    listed = _services().reads.customers(search, number)
    return render_template("web/customers.html", listed=listed, q=search or "")


@bp.get("/customers/<source>/<path:customer_id>")
@page(*PEOPLE)
def customer(source: str, customer_id: str) -> Any:
    _ids(source, customer_id)
    services = _services()
    try:
        position = services.reads.credit_position(source, customer_id)
    except CreditgateError as exc:
        abort(404, description=str(exc))
    extras = services.reads.customer_extras(source, customer_id)
    currency = position["currency"]
    buckets, missing = aging_in(extras.get("aging", {}), services.rates, currency)
    chart = bars(buckets, currency, title=f"{customer_id}: open invoices by days past due")
    decisions, _ = services.reads.audit_decisions(
        DecisionQuery(source=source, customer_id=customer_id), 20
    )
    return render_template(
        "web/customer.html",
        p=position,
        source=source,
        chart=chart,
        missing=missing,
        invoices=extras.get("invoices", []),
        warnings=extras.get("warnings", []),
        decisions=decisions,
    )


@bp.post("/customers/<source>/<path:customer_id>/hold")
@page(*RELEASERS)
def customer_hold(source: str, customer_id: str) -> Any:
    _ids(source, customer_id)
    user = current_user()
    on = request.form.get("on_hold") == "true"
    try:
        reason = _why(request.form.get("reason", ""))
    except ValueError as exc:
        flash(str(exc), "error")
        reason = None
    if reason == "":
        flash("Say why.", "error")
    elif reason is not None:
        try:
            _services().writes.set_customer_hold(
                SetCustomerHold(source, customer_id, reason if on else None, user.username)
            )
            flash(f"{customer_id} is {'on hold' if on else 'no longer on hold'}.", "info")
        except CreditgateError as exc:
            flash(str(exc), "error")
    return redirect(url_for("web.customer", source=source, customer_id=customer_id))


# --- the hold list ---------------------------------------------------------------------------


@bp.get("/holds")
@page(*RELEASERS)
def holds() -> Any:
    rows, _ = _services().reads.held_orders(limit=200)
    return render_template("web/holds.html", rows=rows, today=_services().clock().date())


_ACTIONS = "<any(release, reject, reevaluate):action>"


@bp.post(f"/holds/<source>/<path:order_id>/{_ACTIONS}")
@page(*RELEASERS)
def hold_action(source: str, order_id: str, action: str) -> Any:
    _ids(source, order_id)
    user, services = current_user(), _services()
    seen = request.form.get("decision_id") or None
    try:
        if seen is not None:
            _ids(seen)
        reason = _why(request.form.get("reason", ""))
        if action == "reevaluate":
            answer = services.writes.reevaluate_order(
                ReevaluateOrder(source, order_id, user.username)
            )
        elif not reason:
            raise ValueError("say why (the reason is recorded and told to the ERP)")
        elif action == "release":
            answer = services.writes.release_order(
                ReleaseOrder(
                    source,
                    order_id,
                    reason,
                    user.username,
                    user.role,
                    cap=_decimal(request.form.get("cap", "")),
                    expires_on=_last_day(request.form.get("expires_on", "")),
                    seen_decision=seen,
                )
            )
        elif action == "reject":
            answer = services.writes.reject_order(
                RejectOrder(source, order_id, reason, user.username, user.role, seen)
            )
        else:
            abort(404)
        outcome = answer.record.outcome.value
        flash(f"{order_id}: {answer.action.replace('_', ' ')}, now {outcome}.", "info")
    except ReleaseInThePast:
        flash(f"{order_id}: the last day of a release cannot be in the past", "error")
    except (CreditgateError, ValueError) as exc:
        flash(f"{order_id}: {exc}", "error")
    return redirect(url_for("web.holds"))


def _decimal(raw: str) -> Decimal | None:
    """An amount typed by a person: thousands separators and surrounding blanks are dropped,
    the rest is a decimal string as the API takes it."""
    raw = raw.strip().replace(",", "")
    if not raw:
        return None
    if not is_decimal_text(raw):
        raise ValueError(f"{raw!r} is not an amount: {DECIMAL_TEXT_RULE}")
    value = Decimal(raw)
    if value <= 0:
        raise ValueError("the cap must be a positive amount")
    return value


def _last_day(raw: str) -> date | None:
    """A release's last day typed by a person (the release ends at the end of it)."""
    if not raw.strip():
        return None
    try:
        last = date.fromisoformat(raw.strip())
        if last.year > 9998:
            raise ValueError
    except ValueError:
        raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD) this side of the year 9999") from None
    return last


@bp.post("/holds/reevaluate")
@page(*RELEASERS)
def reevaluate_all() -> Any:
    report = _services().writes.reevaluate_holds(ReevaluateHolds())
    flash(f"{report.checked} held order(s) decided again; {len(report.released)} released.", "info")
    return redirect(url_for("web.holds"))


# --- thresholds ------------------------------------------------------------------------------


@bp.get("/thresholds")
@page("admin")
def thresholds() -> Any:
    return _thresholds_page()


def _thresholds_page(
    document: str | None = None, result: Any = None, status: int = 200, **form: Any
) -> Any:
    services = _services()
    versions = services.reads.thresholds_versions(50)
    active = services.reads.active_thresholds_version()
    diff = None
    wanted = request.args.get("diff", type=int)
    if wanted is not None:
        diff = _diff(versions, wanted)
    today = services.clock().date()
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
        json.dumps(old["document"], indent=2, sort_keys=True).splitlines(),
        json.dumps(new["document"], indent=2, sort_keys=True).splitlines(),
        fromfile=f"version {wanted - 1}",
        tofile=f"version {wanted}",
        lineterm="",
    )
    return {"version": wanted, "reason": new["reason"], "lines": list(lines)}


@bp.post("/thresholds")
@page("admin")
def change_thresholds() -> Any:
    raw = request.form.get("document", "")
    try:
        document = _json_field(raw)
        if not isinstance(document, dict):
            raise ValueError("the document must be a JSON object")
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
        raise ValueError(f"Not JSON: {exc}") from None
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
    if len(ref) > 100 or _CONTROL.search(ref):
        ref = ""
    raw_value = request.form.get("value", "").strip()
    if kind not in ("customers", "groups") or not ref or setting not in OVERRIDABLE:
        flash("Choose a customer or group, an id and a setting.", "error")
        return _thresholds_page(status=422)
    try:
        value: Any = parse_json(raw_value) if raw_value else None
    except (ValueError, RecursionError):
        value = raw_value  # a bare word, e.g. blocked
    found = problems(value, "value")
    if found:
        flash("; ".join(f"{where}: {', '.join(why)}" for where, why in found.items()), "error")
        return _thresholds_page(status=422)
    document = dict(_services().reads.active_thresholds_version()["document"])
    overrides = json.loads(json.dumps(document.get("overrides") or {}))
    overrides.setdefault(kind, {}).setdefault(ref, {})[setting] = exact_numbers(value)
    document["overrides"] = overrides
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return _save_or_simulate(document, text)


def _save_or_simulate(document: dict[str, Any], text: str) -> Any:
    user, services = current_user(), _services()
    if request.form.get("action") == "simulate":
        try:
            first = date.fromisoformat(request.form.get("from", ""))
            last = date.fromisoformat(request.form.get("to", ""))
            if first > last:
                raise ValueError("'to' is before 'from'")
            if first.year < 2 or last.year > 9998 or (last - first).days > 366:
                raise ValueError("at most a year, this side of the year 9999")
            result = services.reads.simulate(document, Period(first, last))
        except InvalidThresholds as exc:
            return _refused(exc, text)
        except ValueError as exc:
            flash(f"Period: {exc}", "error")
            return _thresholds_page(text, status=422)
        return _thresholds_page(text, result={"r": result, "from": first, "to": last})
    try:
        reason = _why(request.form.get("reason", ""))
    except ValueError as exc:
        flash(str(exc), "error")
        return _thresholds_page(text, status=422)
    if not reason:
        flash("Say why the thresholds change: it is recorded with the version.", "error")
        return _thresholds_page(text, status=422)
    base = request.form.get("base_version", type=int)
    try:
        version = services.writes.change_thresholds(
            ChangeThresholds(document, user.username, reason, base)
        )
    except InvalidThresholds as exc:
        return _refused(exc, text)
    except Conflict as exc:
        flash(str(exc), "error")
        return _thresholds_page(text, status=409)
    flash(f"Version {version} is now active.", "info")
    return redirect(url_for("web.thresholds", diff=version))


def _refused(exc: InvalidThresholds, text: str) -> Any:
    for key, message in exc.errors.items():
        flash(f"{key}: {message}", "error")
    return _thresholds_page(text, status=422)


# --- audit -----------------------------------------------------------------------------------


def _period() -> Period:
    def day(name: str) -> date | None:
        try:
            found = date.fromisoformat(request.args.get(name, ""))
        except ValueError:
            return None
        return found if date(1, 1, 2) <= found <= date(9999, 12, 30) else None

    return Period(day("from"), day("to"))


def _decision_query() -> DecisionQuery:
    return DecisionQuery(
        customer_id=_arg("customer_id"),
        order_id=_arg("order_id"),
        outcome=_arg("outcome"),
        reason=_arg("reason"),
        period=_period(),
    )


def _event_query() -> EventQuery:
    return EventQuery(action=_arg("action"), actor=_arg("actor"), period=_period())


@bp.get("/audit")
@page(*AUDITORS)
def audit() -> Any:
    services = _services()
    decisions, _ = services.reads.audit_decisions(_decision_query(), 100)
    events, _ = services.reads.audit_events(_event_query(), 100)
    return render_template(
        "web/audit.html",
        decisions=[audit_api.decision_row(r) for r in decisions],
        events=[audit_api.event_row(r) for r in events],
        args=request.args,
        query=request.query_string.decode("latin-1"),
    )


@bp.get("/audit/decisions.csv")
@page(*AUDITORS)
def audit_decisions_csv() -> Any:
    rows = _services().reads.export_decisions(_decision_query())
    return audit_api.csv_response(
        "decisions.csv", audit_api.DECISION_FIELDS, rows, audit_api.decision_row
    )


@bp.get("/audit/events.csv")
@page(*AUDITORS)
def audit_events_csv() -> Any:
    rows = _services().reads.export_events(_event_query())
    return audit_api.csv_response("events.csv", audit_api.EVENT_FIELDS, rows, audit_api.event_row)


@bp.post("/audit/verify")
@page(*AUDITORS)
def audit_verify() -> Any:
    services = _services()
    sealed = services.writes.seal_audit_trail()
    result = services.reads.verify_audit_trail()
    user = current_user()
    pages().record(
        user.username,
        "audit_verified",
        "audit_chain",
        {"ok": result.ok, "links": result.links, "head": result.head, "broken": result.broken},
    )
    if result.ok:
        flash(
            f"The audit trail holds: {result.links:,} links ({sealed} just sealed); "
            f"head {result.head}.",
            "info",
        )
    else:
        more = len(result.problems) + result.more - 1
        flash(f"BROKEN: {result.broken}" + (f" (and {more:,} more)" if more else ""), "error")
    return redirect(url_for("web.audit"))
