"""The `creditgate` command line: init-db, serve, demo, apikey, import."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from config.settings import Settings, SettingsError
from config.sources import (
    SOURCE_KINDS,
    ZOHO_TRIGGERS,
    SourceKind,
    check_source,
    forged,
    kinds_taking,
    url_help,
    verify_source,
)
from config.wiring import Services, build_services
from connector.logs import configure_logging
from gating.commands import (
    CreateApiClient,
    CreateUser,
    DisableUser,
    EnableUser,
    ReevaluateHolds,
    ResetPassword,
    RevokeApiClient,
    SetClientLanguage,
    UnlockUser,
)
from gating.errors import CreditgateError, SourceNotFound
from gating.identifiers import is_external_id
from gating.languages import LANGUAGES
from gating.policy import InvalidThresholds
from gating.roles import PEOPLE_ROLES, ROLES

T = TypeVar("T")


def _services(database_url: str | None = None, *, demo: bool = False) -> Services:
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    if database_url:
        settings = Settings(**{**settings.__dict__, "database_url": database_url})
    if demo and not settings.audit_keys and not settings.database_url.startswith("sqlite"):
        # The demo resets its database: a key of its own, for this run (SQLite keeps a key file).
        click.echo("demo: no CREDITGATE_AUDIT_KEY set; audit rows are signed for this run only")
        settings = Settings(**{**settings.__dict__, "audit_keys": (secrets.token_hex(32),)})
    configure_logging(settings.log_level, settings.log_format or "text")
    # Alembic narrates every step at INFO; init-db and migrate print what changed themselves.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        services = build_services(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    # Close the pool's connections when the command ends (PostgreSQL sessions end cleanly).
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(services.engine.dispose)
    return services


def _init(services: Services) -> int:
    """Every command that touches the database starts here: refuse unless the schema is this
    creditgate's (only `init-db` and `migrate` change it), then ensure the default source and the
    config file's thresholds. Returns the thresholds version."""
    problem = services.schema_not_current()
    if problem is not None:
        raise click.ClickException(problem)
    try:
        return services.ensure_defaults()
    except InvalidThresholds as exc:
        raise click.ClickException(f"[thresholds] in CREDITGATE_CONFIG: {exc}") from None


@click.group()
def main() -> None:
    """creditgate: gate sales orders on customer credit, beside your ERP."""


@main.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema, then the defaults (safe to run again)."""
    services = _services()
    _migrate(services)
    version = _init(services)
    where = services.engine.url.render_as_string(hide_password=True)
    click.echo(f"database ready at {where} (thresholds version {version})")


@main.command()
def migrate() -> None:
    """Upgrade the database schema to the latest revision (safe to run again)."""
    _migrate(_services())


def _migrate(services: Services) -> None:
    migrated = services.migrate()
    if migrated.before == migrated.after:
        click.echo(f"schema is at head ({migrated.after}); nothing to migrate")
    else:
        click.echo(f"schema migrated from {migrated.before or '(empty)'} to {migrated.after}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the API (development server; use gunicorn 'wsgi:app' in production)."""
    services = _services()
    _init(services)
    _run(services, host, port)


def _run(services: Services, host: str, port: int) -> None:
    from werkzeug.serving import run_simple

    from connector import create_app
    from connector.headers import QuietRequestHandler
    from connector.openapi import document

    click.echo(f"creditgate listening on http://{host}:{port}  (Ctrl+C to stop)")
    app = create_app(services)
    document(app)  # the API document, built once at start
    run_simple(
        host, port, app, threaded=True, use_reloader=False, request_handler=QuietRequestHandler
    )


@main.group()
def apikey() -> None:
    """Manage API keys (the key is shown once; only its hash is stored)."""


@apikey.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", required=True, help="Who uses the key, e.g. 'erp-prod'.")
@click.option("--source", help="The client's own source (default: 'default').")
@click.option(
    "--sources",
    help="erp: every source the key may act for, comma-separated, its own first (e.g. a,b).",
)
@click.option("--signed", is_flag=True, help="Also issue an HMAC signing secret for the client.")
@click.option(
    "--language",
    type=click.Choice(LANGUAGES),
    help="The language of its answers' messages (default: English; Accept-Language wins).",
)
def apikey_create(
    role: str,
    name: str,
    source: str | None,
    sources: str | None,
    signed: bool,
    language: str | None,
) -> None:
    services = _services()
    _init(services)
    grant = tuple(sources.split(",")) if sources is not None else ()
    command = CreateApiClient(
        name, role, source=source, grant=grant, signed=signed, language=language
    )
    try:
        issued = services.writes.create_api_client(command)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"API key for {name} ({role}): {issued.key}")
    if role == "erp":
        acts_for = ", ".join(issued.client.sources or (issued.client.source,))
        click.echo(f"acts for source(s): {acts_for}")
    if issued.client.signing_secret:
        click.echo(f"signing secret: {issued.client.signing_secret}")
    click.echo("Store it now: it cannot be shown again.", err=True)


def _act(action: Callable[[Services], T]) -> T:
    """Run one audited change to people or keys; its refusal is the command's error."""
    services = _services()
    _init(services)
    try:
        return action(services)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@apikey.command("list")
def apikey_list() -> None:
    """Every API client: name, role, source, created, last decision, revoked. Never a key or a
    signing secret (only hashes of keys are stored)."""
    services = _services()
    _init(services)
    rows = services.reads.list_api_clients()
    click.echo(
        f"{'NAME':<24} {'ROLE':<18} {'SOURCE':<16} {'LANGUAGE':<9} {'CREATED':<17} "
        f"{'LAST DECISION':<17} REVOKED"
    )
    for row in rows:
        created, used = _at(services, row.created_at), _at(services, row.last_decision_at)
        revoked = _at(services, row.revoked_at) if row.revoked_at else "no"
        role = row.role + (" signed" if row.signed else "")
        language = row.language or "en"
        click.echo(
            f"{row.name:<24} {role:<18} {row.source:<16} {language:<9} {created:<17} "
            f"{used:<17} {revoked}"
        )
    if not rows:
        click.echo("no API clients; create one with `creditgate apikey create`")


@apikey.command("language")
@click.argument("name")
@click.argument("language", type=click.Choice([*LANGUAGES, "none"]))
def apikey_language(name: str, language: str) -> None:
    """Set the language of NAME's answers' messages (none: English unless the request sends
    Accept-Language); audited. Every worker uses it within the API-key cache's lifetime."""
    tag = None if language == "none" else language
    changed = _act(
        lambda services: services.writes.set_client_language(
            SetClientLanguage(name, tag, CLI_ACTOR)
        )
    )
    click.echo(f"{name} answers in {tag or 'English'}" + ("" if changed else " (unchanged)"))


@apikey.command("revoke")
@click.argument("name")
def apikey_revoke(name: str) -> None:
    """Revoke NAME's key at once (audited). Every worker refuses it within the API-key cache's
    lifetime (README: Operations)."""
    _act(lambda services: services.writes.revoke_api_client(RevokeApiClient(name, CLI_ACTOR)))
    click.echo(f"API key of {name} revoked")


def _at(services: Services, moment: Any) -> str:
    """A stored instant in the business time zone, to the minute; '-' for none."""
    if moment is None:
        return "-"
    return str(moment.astimezone(services.settings.zone).strftime("%Y-%m-%d %H:%M"))


@main.command("import")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--source", default="default", show_default=True)
def import_cmd(folder: Path, source: str) -> None:
    """Load customers.csv, groups.csv, invoices.csv and payments.csv from FOLDER."""
    services = _services()
    _init(services)
    try:
        result = services.import_folder(folder, source)
    except (FileNotFoundError, CreditgateError) as exc:
        raise click.ClickException(str(exc)) from None
    for name, count in result.read.items():
        click.echo(f"{name}: read {count}, written {result.written.get(name, 0)}")
    for error in result.errors:
        click.echo(f"skipped {error}", err=True)
    click.echo(f"{result.skipped} row(s) skipped" if result.skipped else "no rows skipped")
    if result.skipped:
        sys.exit(3)


@main.command()
@click.option("--database", default="sqlite:///creditgate-demo.db", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare the demo database and exit.")
@click.option(
    "--language",
    type=click.Choice(LANGUAGES),
    default="en",
    show_default=True,
    help="zh-CN: Chinese customer names; the demo users' pages and the demo ERP's messages in "
    "Chinese.",
)
def demo(database: str, host: str, port: int, no_serve: bool, language: str) -> None:
    """Create a demo database with telling customers, print keys and curl lines, and serve."""
    from connector.demo import DEMO_USERS, prepare_demo

    if not no_serve:
        # Before the database is reset and the curl lines for this address are printed.
        _check_can_listen(host, port)
    services = _services(database, demo=True)
    info: dict[str, Any] = prepare_demo(services, language)
    base = f"http://{host}:{port}"
    click.echo(info["summary"])
    click.echo(
        f"\nERP key:     {info['erp_key']}\nauditor key: {info['auditor_key']}"
        f"\nadmin key:   {info['admin_key']}\n"
    )
    click.echo("Try these (each prints the decision and its reasons):\n")
    for title, line in info["curls"](base):
        click.echo(f"# {title}\n{line}\n")
    click.echo(f"Web pages: {base}/ (log in as one of these; passwords for the demo only)")
    for name, (role, password) in DEMO_USERS.items():
        click.echo(f"  {name:<14} {password:<22} {role}")
    if not no_serve:
        _run(services, host, port)


def _check_can_listen(host: str, port: int) -> None:
    """:raises click.ClickException: naming the address, why, and the option that picks another
    (the server would otherwise fail only after the demo had printed lines for this port)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            # As the server binds: a port left in TIME_WAIT by a stopped demo is free to use.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise click.ClickException(
            f"cannot serve on {host}:{port} ({reason}); pick another port with --port, "
            f"e.g. creditgate demo --port {port + 1 if port < 65535 else 8001}"
        ) from None


@main.group()
def sources() -> None:
    """Manage sync sources (credentials are read from the env vars you name, never stored)."""


def _source_name(_ctx: Any, _param: Any, name: str) -> str:
    """A source's name is one part of a page's address (/customers/<source>/<customer_id>)."""
    if not is_external_id(name, url=True) or "/" in name:
        raise click.BadParameter(
            "1 to 100 characters, no control characters, no space at either end, no '/', "
            "not '.' or '..'"
        )
    return name


_SOURCE_OPTIONS = (
    click.option("--url", help=url_help()),
    click.option("--database", help=f"{kinds_taking('database')}: the database name"),
    click.option(
        "--username-env", help=f"{kinds_taking('username_env')}: env var holding the user name"
    ),
    click.option(
        "--password-env", help=f"{kinds_taking('password_env')}: env var holding the password"
    ),
    click.option(
        "--overlap-seconds",
        type=click.IntRange(min=0),
        help=f"{kinds_taking('overlap_seconds')}: re-read this much before the watermark on "
        "incremental runs, to catch transactions that committed late (default 600)",
    ),
    click.option("--path", help=f"{kinds_taking('path')}: the folder the ERP exports into"),
    click.option(
        "--local-currency",
        help=f"{kinds_taking('local_currency')}: the company's local currency (LCY), e.g. CNY",
    ),
    click.option(
        "--wsdl-dir",
        help=f"{kinds_taking('wsdl_dir')}: the folder holding the pages' WSDLs saved from the "
        "server (Customer.wsdl, CustomerLedgerEntries.wsdl, DetailedCustLedgEntries.wsdl; a page "
        "not there takes the bundled, standard one)",
    ),
    click.option(
        "--warning-field",
        help=f"{kinds_taking('warning_field')}: the Customer page's field for the warning level "
        "(none on a standard page: without it only Blocked is written, at red)",
    ),
    click.option(
        "--auth",
        type=click.Choice(["basic", "ntlm"]),
        help=f"{kinds_taking('auth')}: NAV's credential type, basic (NavUserPassword, the "
        "default) or ntlm (Windows: --username-env names DOMAIN\\user; needs creditgate[ntlm])",
    ),
    click.option(
        "--note-field",
        help=f"{kinds_taking('note_field')}: the Customer page's field for the collection "
        "step's note",
    ),
    click.option(
        "--client-id-env",
        help=f"{kinds_taking('client_id_env')}: env var holding the OAuth client id",
    ),
    click.option(
        "--client-secret-env",
        help=f"{kinds_taking('client_secret_env')}: env var holding the OAuth client secret",
    ),
    click.option(
        "--refresh-token-env",
        help=f"{kinds_taking('refresh_token_env')}: env var holding the refresh token",
    ),
    click.option(
        "--tenant", help=f"{kinds_taking('tenant')}: the Microsoft Entra tenant id or domain"
    ),
    click.option("--company", help=f"{kinds_taking('company')}: the company's id (a GUID)"),
    click.option(
        "--token-url",
        help=f"{kinds_taking('token_url')}: the OAuth token endpoint, when not "
        "https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token",
    ),
    click.option(
        "--dc", help=f"{kinds_taking('dc')}: data centre (us, eu, in, au, jp, cn, ...; default us)"
    ),
    click.option(
        "--currency",
        help=f"{kinds_taking('currency')}: the org's currency, for Accounts without one",
    ),
    click.option(
        "--number-field",
        help=f"{kinds_taking('number_field')}: the Account field holding the ERP customer "
        "number (default Account_Number)",
    ),
    click.option(
        "--credit-limit-field",
        help=f"{kinds_taking('credit_limit_field')}: the Account field holding the credit limit "
        "(default Credit_Limit)",
    ),
    click.option(
        "--currency-field",
        help=f"{kinds_taking('currency_field')}: the Account field holding its currency "
        "(default Currency where the org has multi-currency, else --currency)",
    ),
    click.option(
        "--level-field",
        help=f"{kinds_taking('level_field')}: the Account field for the warning level "
        "(default Credit_Warning_Level)",
    ),
    click.option(
        "--hold-field",
        help=f"{kinds_taking('hold_field')}: the Account field for the hold (default Credit_Hold)",
    ),
    click.option(
        "--task-key-field",
        help=f"{kinds_taking('task_key_field')}: the unique Task field carrying the change id "
        "(default Creditgate_Change_Id)",
    ),
    click.option(
        "--trigger",
        "triggers",
        multiple=True,
        type=click.Choice([*ZOHO_TRIGGERS, "none"]),
        help=f"{kinds_taking('triggers')}: what Zoho runs on creditgate's updates and Tasks "
        "(repeatable; 'none' runs nothing; default: the org's own rules, as on any edit)",
    ),
    click.option(
        "--skip-check",
        is_flag=True,
        help="do not test the credentials now (zoho-crm: a read per OAuth scope it needs)",
    ),
    click.option(
        "--warnings-for",
        multiple=True,
        help="a CRM: push the warnings of this ERP source's customers here (repeatable; "
        "`sources set` replaces the list)",
    ),
    click.option(
        "--push/--no-push",
        default=None,
        help="push warnings to this source (the default), or not: read it only",
    ),
    click.option(
        "--language",
        type=click.Choice(LANGUAGES),
        help="the language of the warning texts pushed here (reasons, steps; default English)",
    ),
)

# The options above that are plain text settings, stored as given.
_TEXT_SETTINGS = (
    "database",
    "username_env",
    "password_env",
    "warning_field",
    "note_field",
    "auth",
    "client_id_env",
    "client_secret_env",
    "refresh_token_env",
    "tenant",
    "company",
    "token_url",
    "dc",
    "currency",
    "number_field",
    "credit_limit_field",
    "currency_field",
    "level_field",
    "hold_field",
    "task_key_field",
    "language",
)
# Settings a source may have that are no kind's own: set by --warnings-for, --no-push and
# --language.
_EVERY_KIND = ("warnings_for", "push", "language")


def _source_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options `sources add` and `sources set` share, declared once."""
    for option in reversed(_SOURCE_OPTIONS):
        command = option(command)
    return command


def _settings(options: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the shared options give, only those given: folders as absolute paths,
    the local currency upper-cased, --trigger none as no trigger, --push/--no-push as `push`.

    :raises click.BadParameter: 'none' given with a trigger; an empty value (a setting is
        removed with `sources set --unset`)."""
    for key in (*_TEXT_SETTINGS, "url", "path", "wsdl_dir", "local_currency"):
        if options[key] is not None and not options[key].strip():
            raise click.BadParameter(
                "is empty; `sources set NAME --unset SETTING` removes a setting",
                param_hint="--" + key.replace("_", "-"),
            )
    settings: dict[str, Any] = {key: options[key] for key in _TEXT_SETTINGS if options[key]}
    for key in ("path", "wsdl_dir"):
        if options[key]:
            settings[key] = str(Path(options[key]).resolve())
    if options["local_currency"]:
        settings["local_currency"] = options["local_currency"].upper()
    if options["overlap_seconds"] is not None:
        settings["overlap_seconds"] = options["overlap_seconds"]
    if options["warnings_for"]:
        settings["warnings_for"] = list(options["warnings_for"])
    if options["push"] is not None:
        settings["push"] = options["push"]
    triggers = options["triggers"]
    if triggers:
        if "none" in triggers and len(triggers) > 1:
            raise click.BadParameter("'none' runs nothing; give it alone", param_hint="--trigger")
        settings["triggers"] = [t for t in triggers if t != "none"]
    return settings


def _stored_as(settings: dict[str, Any]) -> dict[str, Any]:
    """Pushing is the default: a source that pushes stores no `push`."""
    if settings.get("push") is True:
        del settings["push"]
    return settings


@sources.command("add")
@click.argument("name", callback=_source_name)
@click.option("--kind", required=True, type=click.Choice(list(SOURCE_KINDS)))
@_source_options
def sources_add(name: str, kind: str, skip_check: bool, **options: Any) -> None:
    """Add a source NAME of a kind (audited); its settings are checked, and unless
    --skip-check its credentials are tried (zoho-crm)."""
    services = _services()
    _init(services)
    url = options["url"]
    settings = _stored_as(_settings(options))
    try:
        if not skip_check:
            check_source(kind, url, settings)
            verify_source(name, kind, url, settings, os.environ)
        services.add_source(name, kind, url=url, settings=settings, actor=CLI_ACTOR)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"source {name} ({kind}) added; run `creditgate sync --source {name}`")
    _note_unknown_warnings_for(services, settings)


def _note_unknown_warnings_for(services: Services, settings: Mapping[str, Any]) -> None:
    """Say so when --warnings-for names a source that does not exist (yet)."""
    known = {row["name"] for row in services.sync_store().sources()}
    for missing in sorted(set(settings.get("warnings_for") or ()) - known):
        click.echo(
            f"note: there is no source {missing!r} (yet): its customers' warnings come here "
            "once it is added",
            err=True,
        )


def _unsettable(kind: SourceKind) -> dict[str, str]:
    """The settings of a kind `--unset` may remove, by key: its optional ones, the list of
    sources it takes warnings for, and --url where the kind may go without one."""
    keys = [s.key for s in kind.optional] + ["warnings_for", "language"]
    if kind.url and all(s.key != "url" for s in kind.required):
        keys.append("url")
    return {key: "--" + key.replace("_", "-") for key in keys}


def _unset_key(given: str) -> str:
    """`warning_field`, `warning-field` and `--warning-field` name one setting (and `trigger`
    the `triggers` its flag gives)."""
    key = given.lstrip("-").replace("-", "_")
    return "triggers" if key == "trigger" else key


def _shown(value: Any) -> str:
    return "(none)" if value is None else str(value)


@sources.command("set")
@click.argument("name")
@_source_options
@click.option(
    "--unset",
    multiple=True,
    metavar="SETTING",
    help="remove an optional setting, back to its default (repeatable), e.g. --unset "
    "warning-field; --unset warnings-for clears that list, --unset trigger runs the org's rules",
)
@click.option(
    "--adopt",
    is_flag=True,
    help="sign again a source whose row was changed outside creditgate, after checking every "
    "setting `sources list` shows",
)
def sources_set(
    name: str, skip_check: bool, unset: tuple[str, ...], adopt: bool, **options: Any
) -> None:
    """Change source NAME's settings (audited): the options given replace the stored ones and
    --unset removes one; the result is checked as `sources add` checks it, and nothing changes
    when it is refused."""
    services = _services()
    _init(services)
    try:
        stored = services.sync_store().source(name)
    except SourceNotFound:
        raise click.ClickException(
            f"no source named {name!r}; `creditgate sources list` shows them"
        ) from None
    kind = SOURCE_KINDS.get(stored["kind"])
    if kind is None:
        raise click.ClickException(f"source {name!r} ({stored['kind']}) has no settings to set")
    if not stored["genuine"] and not adopt:
        raise click.ClickException(forged(name))
    given = _settings(options)
    reads = {s.key for s in kind.settings} | set(_EVERY_KIND)
    stray = [key for key in given if key not in reads]
    if options["url"] and not kind.url:
        stray.insert(0, "url")
    if stray:
        flags = ", ".join("--" + key.replace("_", "-") for key in stray)
        raise click.UsageError(f"a {stored['kind']} source does not read {flags}")
    removable = _unsettable(kind)
    removed = [_unset_key(key) for key in unset]
    for key, asked in zip(removed, unset, strict=True):
        if key not in removable:
            raise click.BadParameter(
                f"{asked!r} is not an optional setting of a {stored['kind']} source; it has "
                f"{', '.join(removable.values())}",
                param_hint="--unset",
            )
        if key in given or (key == "url" and options["url"]):
            raise click.BadParameter(
                f"{removable[key]} is both given and unset", param_hint="--unset"
            )
    url = options["url"] or stored["url"]
    settings = {**(stored["settings"] or {}), **given}
    for key in removed:
        if key == "url":
            url = None
        settings.pop(key, None)
    settings = _stored_as(settings)
    try:
        if not skip_check:
            check_source(stored["kind"], url, settings)
            verify_source(name, stored["kind"], url, settings, os.environ, done="changed")
        changes = services.set_source(
            stored, url=url, settings=settings, actor=CLI_ACTOR, adopt=adopt
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not changes:
        signed = adopt and not stored["genuine"]
        click.echo(f"source {name}: nothing to change" + (" (signed again)" if signed else ""))
        return
    click.echo(f"source {name} ({stored['kind']}) changed:")
    for key, change in changes.items():
        click.echo(f"  {key}: {_shown(change['old'])} -> {_shown(change['new'])}")
    _note_unknown_warnings_for(services, settings)


@sources.command("list")
def sources_list() -> None:
    """Every source; one changed outside creditgate is flagged, with what it holds now."""
    services = _services()
    _init(services)
    for row in services.sync_store().sources():
        last = row["last_success_at"].isoformat() if row["last_success_at"] else "never"
        if not row["genuine"]:
            # As Python spells them: text someone wrote with SQL prints no control character.
            click.echo(
                f"{row['name']!r} CHANGED OUTSIDE CREDITGATE, not used: kind "
                f"{row['kind']!r}, url {row['url']!r}, settings {row['settings']!r}"
            )
            click.echo(f"  {forged(row['name'])}")
            continue
        where = row["url"] or row["settings"].get("path") or "-"
        click.echo(f"{row['name']:<20} {row['kind']:<11} {where:<40} last synced: {last}")


def _bar(entity: str, done: int, total: int | None, width: int = 30) -> str:
    """`invoices   [#########.....]  62%   6,200 / 10,000`, or a plain count without a total."""
    if not total:
        return f"{entity:<10} read {done:>11,}"
    share = min(1.0, done / total)
    filled = int(share * width)
    return (
        f"{entity:<10} [{'#' * filled}{'.' * (width - filled)}] {share:4.0%} "
        f"{done:>11,} / {total:,}"
    )


@main.command()
@click.option("--source", help="Only this source (default: every source with something to pull).")
@click.option("--full", is_flag=True, help="Read everything again, ignoring watermarks.")
def sync(source: str | None, full: bool) -> None:
    """Pull changed customers, invoices and payments from the sources."""
    services = _services()
    _init(services)

    def progress(entity: str, read: int, written: int, total: int | None) -> None:
        click.echo(f"\r  {_bar(entity, read, total)}  written {written:>11,}", nl=False)
        if total is not None and read >= total:
            click.echo("")

    try:
        reports = services.sync(source, full=full, progress=progress)
    except (CreditgateError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("")
    failed = False
    for report in reports:
        click.echo(f"{report.source}: {'ok' if report.ok else 'FAILED'}")
        if report.error:
            click.echo(f"  not synced: {report.error}", err=True)
        for part in report.entities:
            click.echo(
                f"  {part.entity:<10} read {part.read:,}, written {part.written:,}, "
                f"skipped {part.skipped:,}" + (f"  — {part.failure}" if part.failure else "")
            )
            for error in part.errors[:20]:
                click.echo(f"    skipped {error}", err=True)
        failed = failed or not report.ok
    if not reports:
        click.echo("no source to pull from; add one with `creditgate sources add`")
    if failed:
        sys.exit(1)


@main.command()
@click.option("--source", help="Only this source's customers (default: every source).")
def warnings(source: str | None) -> None:
    """Work out every customer's warning level; queue a push for each change."""
    services = _services()
    _init(services)
    try:
        reports = services.compute_warnings(source)
    except CreditgateError as exc:
        raise click.ClickException(str(exc)) from None
    for report in reports:
        if report.error:
            click.echo(f"{report.source}: not worked out: {report.error}", err=True)
            continue
        moved = ", ".join(f"{n} to {level}" for level, n in sorted(report.changed.items()))
        click.echo(f"{report.source}: {report.checked:,} customers, changes: {moved or 'none'}")
        for skipped in report.skipped:
            click.echo(f"  skipped {skipped}", err=True)


@main.group()
def user() -> None:
    """People who log in to the web pages."""


@user.command("create")
@click.option("--name", required=True, help="The user name they log in with.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(PEOPLE_ROLES),
)
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the password from this file instead of asking (for scripts; keep it private).",
)
def user_create(name: str, role: str, password_file: Path | None) -> None:
    """Create a user; the password is asked for (twice) unless --password-file gives it. Only
    a salted hash is stored."""
    if password_file is not None:
        password = password_file.read_text().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    services = _services()
    _init(services)
    try:
        created = services.writes.create_user(CreateUser(name, role, password))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {created.username} ({created.role}) created; log in at /login")


CLI_ACTOR = "cli"
"""Who the audit trail names for changes made with this command line (as `user create` does)."""


def _password(password_file: Path | None) -> str:
    """From the file (for scripts), else asked for twice (a pipe's first two lines will do)."""
    if password_file is not None:
        return password_file.read_text().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@user.command("list")
def user_list() -> None:
    """Every user: name, role, created, disabled, failed logins, locked, live sessions."""
    services = _services()
    _init(services)
    rows = services.reads.list_users()
    click.echo(
        f"{'NAME':<20} {'ROLE':<18} {'CREATED':<17} {'DISABLED':<17} {'FAILED':>6} "
        f"{'LOCKED':<17} SESSIONS"
    )
    for row in rows:
        created, disabled = _at(services, row.created_at), _at(services, row.disabled_at)
        locked = _at(services, row.locked_at)
        click.echo(
            f"{row.username:<20} {row.role:<18} {created:<17} {disabled:<17} {row.failures:>6} "
            f"{locked:<17} {row.sessions}"
        )
    if not rows:
        click.echo("no users; create one with `creditgate user create`")


@user.command("disable")
@click.argument("name")
def user_disable(name: str) -> None:
    """Disable NAME: no more logins, and every session of theirs ends at once (audited)."""
    ended = _act(lambda services: services.writes.disable_user(DisableUser(name, CLI_ACTOR)))
    click.echo(f"user {name} disabled; {ended} session(s) ended")


@user.command("enable")
@click.argument("name")
def user_enable(name: str) -> None:
    """Enable NAME again, and lift a lock after failed logins (audited)."""
    done = _act(lambda services: services.writes.enable_user(EnableUser(name, CLI_ACTOR)))
    said = {"user_enabled": "enabled", "login_unlocked": "unlocked"}
    click.echo(f"user {name}: {' and '.join(said[d] for d in done) or 'was enabled already'}")


@user.command("unlock")
@click.argument("name")
def user_unlock(name: str) -> None:
    """Lift the lock on NAME after failed logins, and forget the failures (audited)."""
    unlocked = _act(lambda services: services.writes.unlock_user(UnlockUser(name, CLI_ACTOR)))
    click.echo(f"user {name}: {'unlocked' if unlocked else 'was not locked'}")


@user.command("reset-password")
@click.argument("name")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the new password from this file instead of asking (keep it private).",
)
def user_reset_password(name: str, password_file: Path | None) -> None:
    """Set NAME's password (asked for twice unless --password-file gives it); every session of
    theirs ends, and a lock after failed logins is lifted (audited)."""
    password = _password(password_file)
    change = ResetPassword(name, password, CLI_ACTOR)
    ended = _act(lambda services: services.writes.reset_password(change))
    click.echo(f"password of {name} reset; {ended} session(s) ended")


@main.group()
def holds() -> None:
    """Held orders."""


@holds.command("reevaluate")
def holds_reevaluate() -> None:
    """Decide every held order again; release those whose reasons are gone (the nightly job
    does this after its sync). Releases are queued for the ERP's callback URL."""
    services = _services()
    _init(services)
    report = services.writes.reevaluate_holds(ReevaluateHolds())
    click.echo(f"{report.checked:,} held order(s) checked, {len(report.released)} released")
    for order in report.released:
        click.echo(f"  released {order}")
    for error in report.errors:
        click.echo(f"  could not decide {error}", err=True)


@main.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@click.option("--no-seal", is_flag=True, help="Check the chain as it is; chain nothing new.")
@click.option(
    "--expect-head",
    metavar="HASH",
    help="A head printed by an earlier verify and kept elsewhere: it must still be in the chain.",
)
def audit_verify(no_seal: bool, expect_head: str | None) -> None:
    """Chain the rows recorded since the last seal, then check every link: each decision,
    audit event, thresholds version and release still exists with the content it was chained
    with; every such row, API client and user carries a valid MAC (else it was written with
    SQL); related records agree. Exits 1 naming every problem found. Keep the printed head hash
    somewhere else: a later head that does not descend from it means the chain was rewritten."""
    services = _services()
    _init(services)
    if not no_seal:
        sealed = services.writes.seal_audit_trail()
        click.echo(f"sealed {sealed:,} new row(s)")
    result = services.reads.verify_audit_trail(expect_head)
    if not result.ok:
        found = len(result.problems) + result.more
        click.echo(f"BROKEN: {found:,} problem(s) in {result.links:,} link(s):", err=True)
        for problem in result.problems:
            click.echo(f"  {problem}", err=True)
        if result.more:
            click.echo(f"  ... and {result.more:,} more", err=True)
        click.echo(f"head {result.head}", err=True)
        sys.exit(1)
    click.echo(f"the audit trail holds: {result.links:,} link(s), head {result.head}")
    if result.legacy:
        click.echo(f"{result.legacy:,} row(s) sealed before MACs: protected by the chain only")
    if result.unsealed:
        click.echo(f"{result.unsealed:,} row(s) recorded since; the next seal chains them")


@main.command()
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Queue the changes a target refused again first (after fixing the cause).",
)
def push(retry_failed: bool) -> None:
    """Deliver queued warning changes to the ERPs and CRMs, and hold notices to the ERP's
    callback URL (GET /api/v1/outbox shows them)."""
    services = _services()
    _init(services)
    if retry_failed:
        count = services.warning_store().requeue_failed(services.clock())
        click.echo(f"{count} refused change(s) queued again")
    try:
        reports = services.push()
    except (CreditgateError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    for report in reports:
        line = f"{report.target}: delivered {report.delivered}, failed {len(report.failed)}"
        if report.error:
            line += f", {report.waiting} waiting ({report.error})"
        click.echo(line)
        for failure in report.failed:
            click.echo(f"  refused {failure}", err=True)
    if not reports:
        click.echo("no push targets; sources of kind tryton take pushes")


@main.command()
@click.option("--once", is_flag=True, help="Run the job now (under the lock) and exit.")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve the scheduler's Prometheus metrics (creditgate_audit_seals_total) on this port.",
)
def scheduler(once: bool, metrics_port: int | None) -> None:
    """Run the nightly job on CREDITGATE_SYNC_SCHEDULE (cron, business time zone): pull every
    source, decide held orders again, work out the warning levels, push the changes to the ERPs
    and CRMs. Every five minutes, seal the audit trail (chain the rows recorded since)."""
    import socket

    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger
    from prometheus_client import CollectorRegistry, start_http_server

    from connector.metrics import SchedulerMetrics, multiprocess_mode
    from sync.scheduler import run_exclusively, run_seal

    services = _services()
    _init(services)
    settings = services.settings
    try:
        trigger = CronTrigger.from_crontab(settings.sync_schedule, timezone=settings.zone)
    except ValueError as exc:
        raise click.ClickException(f"CREDITGATE_SYNC_SCHEDULE: {exc}") from None
    holder = f"{socket.gethostname()}:{os.getpid()}"

    def job() -> None:
        ran = run_exclusively(
            services.nightly,
            lease=services.sync_store(),
            holder=holder,
            clock=services.clock,
        )
        what = "ran" if ran else "skipped"
        click.echo(f"{services.clock().isoformat()} nightly sync, warnings and push {what}")

    registry = None if multiprocess_mode() else CollectorRegistry()
    metrics = SchedulerMetrics(registry)
    if metrics_port is not None and registry is not None:
        start_http_server(metrics_port, registry=registry)

    def seal() -> None:
        run_seal(services.writes.seal_audit_trail, metrics.count_seal)

    if once:
        job()
        seal()
        return
    runner = BlockingScheduler(timezone=settings.zone)
    runner.add_job(job, trigger, id="nightly-sync", max_instances=1, coalesce=True)
    # The chain is made after the rows commit: sealing often keeps the window short.
    runner.add_job(seal, "interval", minutes=5, id="audit-seal", max_instances=1, coalesce=True)
    click.echo(f"scheduler: sync on '{settings.sync_schedule}' ({settings.timezone}); Ctrl+C stops")
    try:
        runner.start()
    except (KeyboardInterrupt, SystemExit):
        runner.shutdown(wait=False)
