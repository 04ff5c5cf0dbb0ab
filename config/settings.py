"""Settings from CREDITGATE_* environment variables and an optional TOML file, parsed strictly."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PREFIX = "CREDITGATE_"
LOG_FORMATS = ("json", "text")
MIN_AUDIT_KEY = 32  # characters; adapters/db/macs.py says the same


class SettingsError(ValueError):
    """A setting is wrong; the message names it and says what would be right."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///creditgate.db"
    timezone: str = "UTC"
    config_file: str | None = None
    gate_timeout: float = 2.0
    fail_safe_outcome: str = "review"
    log_level: str = "INFO"
    # "json" or "text"; None lets the entry point choose (wsgi.py: json, the CLI: text).
    log_format: str | None = None
    sync_schedule: str = "0 2 * * *"
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    rates_reference: str = "USD"
    rates: Mapping[str, Decimal] = field(default_factory=dict)
    # Where held orders' releases and rejections are told to the ERP (signed like the webhook).
    callback_url: str | None = None
    callback_secret: str | None = field(default=None, repr=False)
    # Signs the web pages' session cookies; without it each process makes its own at start, so
    # logins last until a restart and do not carry across workers.
    secret_key: str | None = field(default=None, repr=False)
    secure_cookies: bool = False
    # The keys that sign audit rows (adapters/db/macs.py): the current one first, then older
    # ones kept to verify rows they signed. Empty: config/audit_keys.py decides (a key file
    # beside a SQLite database; PostgreSQL refuses to start).
    audit_keys: tuple[str, ...] = field(default=(), repr=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read settings once at startup.

        :raises SettingsError: naming the variable at fault.
        """

        def get(name: str, default: str | None = None) -> str | None:
            value = environ.get(PREFIX + name)
            return default if value in (None, "") else value

        timezone = get("TIMEZONE", "UTC")
        assert timezone is not None
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"{PREFIX}TIMEZONE={timezone!r} is not an IANA time zone (e.g. Asia/Shanghai)"
            ) from None
        raw_timeout = get("GATE_TIMEOUT", "2")
        try:
            timeout = float(raw_timeout or "2")
            if not 0 < timeout <= 60:
                raise ValueError
        except ValueError:
            raise SettingsError(
                f"{PREFIX}GATE_TIMEOUT={raw_timeout!r} must be seconds between 0 and 60"
            ) from None
        fail_safe = get("FAIL_SAFE_OUTCOME", "review")
        if fail_safe not in ("review", "blocked", "approved"):
            raise SettingsError(f"{PREFIX}FAIL_SAFE_OUTCOME must be review, blocked or approved")
        raw_format = get("LOG_FORMAT")
        log_format = raw_format.lower() if raw_format else None
        if log_format not in (None, *LOG_FORMATS):
            raise SettingsError(f"{PREFIX}LOG_FORMAT={raw_format!r} must be json or text")
        callback_url = get("CALLBACK_URL")
        callback_secret = _secret(environ, "CALLBACK_SECRET")
        if callback_url is not None:
            if not callback_url.startswith(("http://", "https://")):
                raise SettingsError(f"{PREFIX}CALLBACK_URL must be an http:// or https:// URL")
            if not callback_secret:
                raise SettingsError(
                    f"{PREFIX}CALLBACK_URL needs a signing secret: set {PREFIX}CALLBACK_SECRET, "
                    f"or {PREFIX}CALLBACK_SECRET_FILE naming a file that holds it"
                )
        secure = (get("SECURE_COOKIES", "false") or "false").lower()
        if secure not in ("true", "false", "1", "0", "yes", "no"):
            raise SettingsError(f"{PREFIX}SECURE_COOKIES must be true or false")
        config_file = get("CONFIG")
        file_values = load_config_file(config_file) if config_file else {}
        return cls(
            database_url=get("DATABASE_URL", cls.database_url) or cls.database_url,
            timezone=timezone,
            config_file=config_file,
            gate_timeout=timeout,
            fail_safe_outcome=fail_safe or "review",
            log_level=(get("LOG_LEVEL", "INFO") or "INFO").upper(),
            log_format=log_format,
            sync_schedule=get("SYNC_SCHEDULE", cls.sync_schedule) or cls.sync_schedule,
            callback_url=callback_url,
            callback_secret=callback_secret if callback_url else None,
            secret_key=_secret(environ, "SECRET_KEY"),
            secure_cookies=secure in ("true", "1", "yes"),
            audit_keys=_audit_keys(environ),
            **file_values,
        )


def _secret(environ: Mapping[str, str], name: str) -> str | None:
    """A secret from CREDITGATE_<name>, or from the file CREDITGATE_<name>_FILE names (Docker
    and Kubernetes secrets); never from the config file, never logged."""
    value = environ.get(PREFIX + name)
    path = environ.get(PREFIX + name + "_FILE")
    if value and path:
        raise SettingsError(f"set {PREFIX}{name} or {PREFIX}{name}_FILE, not both")
    if path:
        try:
            return Path(path).read_text().strip() or None
        except OSError as exc:
            raise SettingsError(f"{PREFIX}{name}_FILE: cannot read {path!r}: {exc}") from None
    return value or None


def _audit_keys(environ: Mapping[str, str]) -> tuple[str, ...]:
    """CREDITGATE_AUDIT_KEY, or the lines of the file CREDITGATE_AUDIT_KEY_FILE names (the
    current key first, then older ones; blank lines and # comments ignored), then the
    comma-separated CREDITGATE_AUDIT_KEYS_OLD."""
    value = environ.get(PREFIX + "AUDIT_KEY")
    path = environ.get(PREFIX + "AUDIT_KEY_FILE")
    if value and path:
        raise SettingsError(f"set {PREFIX}AUDIT_KEY or {PREFIX}AUDIT_KEY_FILE, not both")
    keys: list[tuple[str, str]] = []
    if path:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise SettingsError(f"{PREFIX}AUDIT_KEY_FILE: cannot read {path!r}: {exc}") from None
        keys += [(f"{PREFIX}AUDIT_KEY_FILE", line.strip()) for line in lines]
    elif value:
        keys.append((f"{PREFIX}AUDIT_KEY", value.strip()))
    old = environ.get(PREFIX + "AUDIT_KEYS_OLD", "")
    keys += [(f"{PREFIX}AUDIT_KEYS_OLD", key.strip()) for key in old.split(",")]
    found = tuple((name, key) for name, key in keys if key and not key.startswith("#"))
    if found and not (value or path):
        raise SettingsError(
            f"{PREFIX}AUDIT_KEYS_OLD only verifies: set the current key in {PREFIX}AUDIT_KEY "
            f"or {PREFIX}AUDIT_KEY_FILE too"
        )
    for name, key in found:
        if len(key) < MIN_AUDIT_KEY:
            raise SettingsError(
                f"{name}: an audit key needs at least {MIN_AUDIT_KEY} characters; make one with "
                "python -c 'import secrets; print(secrets.token_hex(32))'"
            )
    return tuple(key for _, key in found)


def load_config_file(path: str) -> dict[str, Any]:
    """Read [thresholds] and [rates] from a TOML file.

    :raises SettingsError: if the file is missing, not TOML, or has unknown sections.
    """
    try:
        with Path(path).open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"{PREFIX}CONFIG names {path!r}, which does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(doc) - {"thresholds", "rates"}
    if unknown:
        raise SettingsError(
            f"{path}: unknown sections {sorted(unknown)}; use [thresholds], [rates]"
        )
    rates = dict(doc.get("rates", {}))
    reference = rates.pop("reference", "USD")
    parsed: dict[str, Decimal] = {}
    for code, value in rates.items():
        try:
            if isinstance(value, float):
                raise InvalidOperation
            parsed[code] = Decimal(str(value))
            if parsed[code] <= 0:
                raise InvalidOperation
        except InvalidOperation:
            raise SettingsError(
                f"{path}: [rates] {code} = {value!r}: write rates as positive decimal strings "
                f'("7.10"), never floats'
            ) from None
    return {
        "thresholds": dict(doc.get("thresholds", {})),
        "rates_reference": reference,
        "rates": parsed,
    }
