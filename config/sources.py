"""The kinds of source creditgate pulls from, as one table.

`SOURCE_KINDS` drives everything that depends on a source's kind: the checks of `sources add`
(and their messages), the CLI's `--kind` choices and which kinds each flag's help names, building
the adapter from a stored source row and the secrets its `*_env` settings name, and which
sources take warnings back (push targets). Adding a system is one adapter package and one entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from adapters.csv_folder import CsvFolderSource
from adapters.db.sync_store import forged
from adapters.http import RemoteRejected, TransientError
from adapters.zoho.api import ACCOUNTS_SERVERS as ZOHO_DATA_CENTRES
from adapters.zoho.push import TRIGGERS as ZOHO_TRIGGERS
from gating.languages import LANGUAGES
from gating.push import PushTarget
from gating.sources import SourceAdapter
from sync.jobs import SourceConfigError

__all__ = [
    "SOURCE_KINDS",
    "ZOHO_TRIGGERS",
    "Connections",
    "Setting",
    "SourceConfigError",
    "SourceKind",
    "build_adapter",
    "check_source",
    "forged",
    "kinds_taking",
    "push_targets_for",
    "verify_source",
]

Secret = Callable[[str], str]
"""The value of the variable a `*_env` setting names. :raises SourceConfigError: unset."""


@dataclass(frozen=True)
class Setting:
    """One setting a kind reads from its source row. `url` is the row's own column; every other
    key is in the row's settings. A required setting's flag is `--` + its key with dashes."""

    key: str
    said: str = ""
    """Said after the flag when it is missing, e.g. ' (the page web services, ...)'."""
    valid: Callable[[Any], bool] | None = None
    """Whether a given value is usable (absent values are not checked)."""
    refusal: str = ""
    """The message when `valid` says no."""

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def secret(self) -> bool:
        """An `*_env` setting names the variable holding a secret; the secret is never stored."""
        return self.key.endswith("_env")


@dataclass(frozen=True)
class SourceKind:
    """What a kind of source needs and how it is built."""

    required: tuple[Setting, ...]
    build: Callable[[Mapping[str, Any], Mapping[str, Any], Secret], SourceAdapter]
    """Make the adapter from the row, its settings, and the secrets its `*_env` settings name."""
    optional: tuple[Setting, ...] = ()
    """Settings the command line may give (checked when given)."""
    passed: tuple[str, ...] = ()
    """Settings without a flag, handed to the adapter as they are when a source row has them."""
    needs: str = ""
    """Said after the required flags when one is missing."""
    url: str = ""
    """What --url means for this kind (the flag's help); empty: the kind takes no --url."""
    pushes: bool = False
    """Its adapter is also a push target: the source shows warnings to people."""
    check: Callable[[str | None, Mapping[str, Any]], None] | None = None
    """A further check of the url and settings (e.g. the files they name), once every required
    setting is there. :raises SourceConfigError:"""
    verify: Callable[[SourceAdapter, Mapping[str, Any]], None] | None = None
    """A test call at `sources add` with the adapter and the settings (e.g. Zoho's scopes);
    raises what the adapter raises when the source is not usable."""

    @property
    def settings(self) -> tuple[Setting, ...]:
        return self.required + self.optional

    @property
    def secrets(self) -> tuple[str, ...]:
        """The settings naming the variables that hold its credentials."""
        return tuple(s.key for s in self.settings if s.secret)


def _whole_seconds(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 0


def _overlap(settings: Mapping[str, Any]) -> dict[str, Any]:
    # Without a setting, the adapter's own default overlap applies.
    if "overlap_seconds" not in settings:
        return {}
    return {"overlap": timedelta(seconds=settings["overlap_seconds"])}


# The Customer page's fields a NAV source writes warnings to (no standard page has them), and
# its credential type (basic or ntlm).
_NAV_FIELDS = ("warning_field", "note_field", "auth")
# The Zoho org's own API names for the fields creditgate reads and writes, passed on as they are.
_ZOHO_FIELDS = (
    "number_field",
    "credit_limit_field",
    "currency_field",
    "level_field",
    "hold_field",
    "task_key_field",
)


def _api_name(value: Any) -> bool:
    """A Zoho field API name: letters, digits and underscores, starting with a letter."""
    return isinstance(value, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,99}", value) is not None


def _triggers(value: Any) -> bool:
    return isinstance(value, list) and all(t in ZOHO_TRIGGERS for t in value)


def _zoho_field(key: str) -> Setting:
    flag = "--" + key.replace("_", "-")
    return Setting(key, valid=_api_name, refusal=f"{flag} must be a Zoho field API name")


def _csv_folder(row: Mapping[str, Any], settings: Mapping[str, Any], _: Secret) -> SourceAdapter:
    return CsvFolderSource(Path(settings["path"]))


def _tryton(row: Mapping[str, Any], settings: Mapping[str, Any], secret: Secret) -> SourceAdapter:
    username, password = secret("username_env"), secret("password_env")
    from adapters.tryton import TrytonAdapter

    return TrytonAdapter(row["url"], settings["database"], username, password, **_overlap(settings))


def _nav_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    from adapters.nav import NavWsdls

    options: dict[str, Any] = {k: settings[k] for k in _NAV_FIELDS if k in settings}
    if settings.get("wsdl_dir"):
        options["wsdls"] = NavWsdls.in_folder(Path(settings["wsdl_dir"]))
    return options


def _nav_soap(row: Mapping[str, Any], settings: Mapping[str, Any], secret: Secret) -> SourceAdapter:
    from adapters.nav import NavSoapAdapter

    return NavSoapAdapter(
        row["url"],
        secret("username_env"),
        secret("password_env"),
        local_currency=settings["local_currency"],
        **_nav_options(settings),
    )


def _check_nav(url: str | None, settings: Mapping[str, Any]) -> None:
    """The pages' WSDLs (the saved ones, else the bundled ones) load and show the fields
    named, and the Customer page takes Update when the source takes pushes. Nothing is
    fetched: the adapter is made without credentials and not called."""
    from adapters.nav import NavSoapAdapter

    try:
        adapter = NavSoapAdapter(
            url or "http://127.0.0.1/Page/",
            None,
            None,
            local_currency=settings["local_currency"],
            **_nav_options(settings),
        )
    except (ValueError, OSError) as exc:
        raise SourceConfigError(f"nav-soap: {exc}") from None
    try:
        refused = adapter.cannot_push() if settings.get("push", True) else None
    finally:
        adapter.close()
    if refused is not None:
        raise SourceConfigError(refused)


def _zoho_crm(row: Mapping[str, Any], settings: Mapping[str, Any], secret: Secret) -> SourceAdapter:
    from adapters.zoho import ZohoCrmAdapter

    options: dict[str, Any] = {k: settings[k] for k in _ZOHO_FIELDS if k in settings}
    if "triggers" in settings:  # absent: Zoho runs the org's workflows on our writes
        options["triggers"] = settings["triggers"]
    # A stored overlap_seconds applies to its Accounts too (the adapter's own default otherwise).
    return ZohoCrmAdapter(
        secret("client_id_env"),
        secret("client_secret_env"),
        secret("refresh_token_env"),
        dc=settings.get("dc", "us"),
        accounts_url=row["url"],
        currency=settings.get("currency"),
        **options,
        **_overlap(settings),
    )


def _bc_api(row: Mapping[str, Any], settings: Mapping[str, Any], secret: Secret) -> SourceAdapter:
    from adapters.bc import BcApiAdapter

    return BcApiAdapter(
        row["url"],
        settings["company"],
        settings["tenant"],
        secret("client_id_env"),
        secret("client_secret_env"),
        local_currency=settings["local_currency"],
        token_url=settings.get("token_url"),
        **_overlap(settings),
    )


def _zoho_scopes(adapter: SourceAdapter, settings: Mapping[str, Any]) -> None:
    from adapters.zoho import ZohoCrmAdapter
    from adapters.zoho.scopes import check_scopes

    pushes = bool(settings.get("push", True)) or bool(settings.get("warnings_for"))
    check_scopes(cast(ZohoCrmAdapter, adapter), pushes=pushes)


_USERNAME, _PASSWORD = Setting("username_env"), Setting("password_env")

# In the order the command line offers them.
SOURCE_KINDS: dict[str, SourceKind] = {
    "tryton": SourceKind(
        required=(Setting("url"), Setting("database"), _USERNAME, _PASSWORD),
        optional=(
            Setting(
                "overlap_seconds",
                valid=_whole_seconds,
                refusal="--overlap-seconds must be a whole number of seconds, >= 0",
            ),
        ),
        build=_tryton,
        url="the server, e.g. http://erp.example:8000",
        pushes=True,
    ),
    "nav-soap": SourceKind(
        required=(
            Setting("url", said=" (the page web services, ending in /Page/)"),
            _USERNAME,
            _PASSWORD,
            Setting("local_currency"),
        ),
        optional=(
            Setting("wsdl_dir"),
            Setting("warning_field"),
            Setting("note_field"),
            Setting(
                "auth",
                valid=lambda value: value in ("basic", "ntlm"),
                refusal="--auth must be basic (NavUserPassword) or ntlm (Windows)",
            ),
        ),
        build=_nav_soap,
        check=_check_nav,
        url="the page web services, e.g. http://nav:7047/DynamicsNAV/WS/CRONUS/Page/",
        pushes=True,
    ),
    "csv-folder": SourceKind(
        required=(Setting("path", said=", the export folder"),),
        build=_csv_folder,
    ),
    "zoho-crm": SourceKind(
        required=(
            Setting("client_id_env"),
            Setting("client_secret_env"),
            Setting("refresh_token_env"),
        ),
        optional=(
            Setting(
                "dc",
                valid=lambda dc: dc in ZOHO_DATA_CENTRES,
                refusal=f"--dc takes one of {', '.join(ZOHO_DATA_CENTRES)} (Zoho's data "
                "centres); give another accounts server with --url",
            ),
            Setting("currency"),
            *map(_zoho_field, _ZOHO_FIELDS),
            Setting(
                "triggers",
                valid=_triggers,
                refusal=f"--trigger takes {', '.join(ZOHO_TRIGGERS)} or none",
            ),
        ),
        needs=" (the variables holding its OAuth client and refresh token)",
        build=_zoho_crm,
        url="an accounts server other than --dc's",
        pushes=True,
        verify=_zoho_scopes,
    ),
    "bc-api": SourceKind(
        required=(
            Setting("url", said=" (the API root, ending in /api/v2.0)"),
            Setting("tenant"),
            Setting("company"),
            Setting("client_id_env"),
            Setting("client_secret_env"),
            Setting("local_currency"),
        ),
        optional=(
            Setting("token_url"),
            Setting(
                "overlap_seconds",
                valid=_whole_seconds,
                refusal="--overlap-seconds must be a whole number of seconds, >= 0",
            ),
        ),
        needs=" (the Entra application's client id and secret by variable, OAuth client "
        "credentials)",
        build=_bc_api,
        url="the API root, e.g. "
        "https://api.businesscentral.dynamics.com/v2.0/<tenant>/Production/api/v2.0",
        pushes=True,
    ),
}


def kinds_taking(key: str) -> str:
    """The kinds that read setting `key`, for a flag's help: 'tryton, nav-soap'."""
    return ", ".join(
        name for name, kind in SOURCE_KINDS.items() if any(s.key == key for s in kind.settings)
    )


def url_help() -> str:
    """What --url means for each kind that takes one."""
    return "; ".join(f"{name}: {kind.url}" for name, kind in SOURCE_KINDS.items() if kind.url)


def _said(flags: list[str]) -> str:
    return flags[0] if len(flags) == 1 else ", ".join(flags[:-1]) + " and " + flags[-1]


def check_source(kind: str, url: str | None, settings: Mapping[str, Any]) -> None:
    """:raises SourceConfigError: an unknown kind, a missing setting (naming every flag the kind
    needs) or an unusable value."""
    found = SOURCE_KINDS.get(kind)
    if found is None:
        raise SourceConfigError(f"unknown source kind {kind!r}; use one of {tuple(SOURCE_KINDS)}")
    given = {**settings, "url": url}
    if any(not given.get(s.key) for s in found.required):
        flags = _said([s.flag + s.said for s in found.required])
        raise SourceConfigError(f"a {kind} source needs {flags}{found.needs}")
    if "language" in settings and settings["language"] not in LANGUAGES:
        raise SourceConfigError(f"--language takes one of {', '.join(LANGUAGES)}")
    for setting in found.settings:
        given_value = settings.get(setting.key)
        if setting.valid and setting.key in settings and not setting.valid(given_value):
            raise SourceConfigError(setting.refusal)
    if not found.pushes and ("warnings_for" in settings or "push" in settings):
        raise SourceConfigError(
            f"a {kind} source takes no pushes: --warnings-for and --no-push do nothing there"
        )
    if found.check is not None:
        found.check(url, settings)


def build_adapter(row: Mapping[str, Any], environ: Mapping[str, str]) -> SourceAdapter:
    """Make the adapter for a source row; credentials come from the env vars it names.

    :raises SourceConfigError: naming the missing variable.
    """
    settings = row["settings"] or {}
    kind = SOURCE_KINDS.get(row["kind"])
    if kind is None:
        raise SourceConfigError(f"source {row['name']!r} has unknown kind {row['kind']!r}")

    def secret(key: str) -> str:
        name = settings[key]
        value = environ.get(name)
        if not value:
            raise SourceConfigError(
                f"source {row['name']!r} reads its {key.removesuffix('_env')} from "
                f"${name}, which is not set"
            )
        return value

    return kind.build(row, settings, secret)


def verify_source(
    name: str,
    kind: str,
    url: str | None,
    settings: Mapping[str, Any],
    environ: Mapping[str, str],
    *,
    done: str = "added",
) -> None:
    """Make the test call a kind has (e.g. Zoho's scopes) with the secrets in `environ`;
    a refusal says the source was not `done` (added, changed).

    :raises SourceConfigError: a secret's variable is unset, or the system refused (saying
        what to fix, e.g. the missing scope) or could not be reached.
    """
    found = SOURCE_KINDS.get(kind)
    if found is None or found.verify is None:
        return
    row = {"name": name, "kind": kind, "url": url, "settings": dict(settings)}
    adapter = build_adapter(row, environ)
    try:
        found.verify(adapter, settings)
    except (RemoteRejected, TransientError) as exc:
        raise SourceConfigError(f"source {name!r} was not {done}: {exc}") from None
    finally:
        close = getattr(adapter, "close", None)
        if callable(close):
            close()


def _pushes(row: Mapping[str, Any]) -> bool:
    kind = SOURCE_KINDS.get(row["kind"])
    return kind is not None and kind.pushes


def _takes_pushes(row: Mapping[str, Any]) -> bool:
    """Whether the source's own customers see warnings there: its kind pushes and its `push`
    setting (default on) was not turned off."""
    return _pushes(row) and bool((row["settings"] or {}).get("push", True))


def push_targets_for(row: Mapping[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """Where a change for a customer of source `row` goes: the source itself when it takes
    pushes, and every source (a CRM) whose `warnings_for` setting names it."""
    targets = []
    if _takes_pushes(row):
        targets.append(row["name"])
    for other in rows:
        settings = other["settings"] or {}
        named = settings.get("warnings_for") or []
        named = [named] if isinstance(named, str) else named
        if _pushes(other) and row["name"] in named and other["name"] != row["name"]:
            targets.append(other["name"])
    return targets


def _genuine(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """The stored row, when its MAC held as the store read it (`genuine`, adapters/db/
    sync_store.py). Its url receives the credentials its settings name and its settings say
    where warnings go: a row changed with SQL makes nothing.

    :raises SourceConfigError: naming the source and saying how to sign it again."""
    if row.get("genuine") is not True:
        raise SourceConfigError(forged(str(row["name"])))
    return row


DEFAULT_KIND = "csv"
"""The kind of the default source, fed by `creditgate import` (config/wiring.py); not in
SOURCE_KINDS: nothing is pulled from it or pushed to it."""


def _trusted(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """The stored row, when it is genuine and of a kind creditgate knows: checked before
    anything else is read from it (its kind, `push` and `warnings_for` decide where
    credentials and warnings go, so a row changed with SQL to another kind is refused too).

    :raises SourceConfigError: naming the source."""
    _genuine(row)
    if row["kind"] != DEFAULT_KIND and row["kind"] not in SOURCE_KINDS:
        raise SourceConfigError(f"source {row['name']!r} has unknown kind {row['kind']!r}")
    return row


def _built(row: Mapping[str, Any], environ: Mapping[str, str]) -> SourceAdapter:
    """`build_adapter`, with whatever keeps the source from being set up (a saved WSDL folder
    moved, an extra not installed, a value the adapter refuses) as a SourceConfigError naming
    the source, so that the jobs report it and go on with the others."""
    try:
        return build_adapter(row, environ)
    except SourceConfigError:
        raise
    except (ValueError, OSError, ImportError) as exc:
        raise SourceConfigError(f"source {row['name']!r} cannot be set up: {exc}") from exc


@dataclass(frozen=True)
class Connections:
    """What the jobs (sync/jobs.py) make of a source row, by its kind; secrets from `environ`.
    Every row is checked (`_trusted`) before anything is read from it.

    :raises SourceConfigError: (each method) a row changed outside creditgate, of an unknown
        kind, or one that cannot be set up."""

    environ: Mapping[str, str]

    def pulls(self, row: Mapping[str, Any]) -> bool:
        return _trusted(row)["kind"] in SOURCE_KINDS

    def adapter(self, row: Mapping[str, Any]) -> SourceAdapter:
        return _built(_trusted(row), self.environ)

    def push_target(self, row: Mapping[str, Any]) -> PushTarget | None:
        if not _takes_pushes(_trusted(row)):
            return None
        return cast(PushTarget, _built(row, self.environ))

    def targets_for(self, row: Mapping[str, Any], rows: list[dict[str, Any]]) -> list[str]:
        # Where warnings are queued comes from every source's kind and settings (`push`,
        # `warnings_for`): none of them may have been changed with SQL.
        for each in (row, *rows):
            _trusted(each)
        return push_targets_for(row, rows)
