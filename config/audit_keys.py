"""Where the audit key comes from when none is configured.

With CREDITGATE_AUDIT_KEY or _FILE set, those keys sign and verify. Without one:

- PostgreSQL (a server, production): refuse to start. A key made up here would live in the
  same hands as the database, and each worker would make its own.
- a SQLite file (the embedded set-up, the demo): a key file beside it, `<database>.audit-key`,
  made once (mode 0600) and read by every later process. It guards against rows written with
  SQL, not against someone who can also read that file: set CREDITGATE_AUDIT_KEY_FILE to a
  file kept elsewhere to guard against that too.
- SQLite in memory: a key for this process only (nothing outlives it).

The key is never stored in the database.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url

from adapters.db.macs import Keyring
from config.settings import PREFIX, Settings, SettingsError

log = logging.getLogger(__name__)

KEY_FILE_SUFFIX = ".audit-key"


def audit_keyring(settings: Settings) -> Keyring:
    """:raises SettingsError: no key for a PostgreSQL database, or an unreadable key file."""
    if settings.audit_keys:
        return Keyring(settings.audit_keys)
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        raise SettingsError(
            f"{PREFIX}AUDIT_KEY (or {PREFIX}AUDIT_KEY_FILE) is not set: creditgate signs every "
            "audit row with it and will not start on a server database without one; make one "
            "with python -c 'import secrets; print(secrets.token_hex(32))' and keep it out of "
            "the database's reach"
        )
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return Keyring([secrets.token_hex(32)])
    return Keyring([key_file_beside(Path(database))])


def key_file_beside(database: Path) -> str:
    """The key in `<database>.audit-key`, made first if there is none (safe when several
    processes start at once: the first link wins, the others read it)."""
    path = database.with_name(database.name + KEY_FILE_SUFFIX)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
            log.warning(
                "made an audit key at %s (no %sAUDIT_KEY set): keep a copy elsewhere; without "
                "it the audit trail cannot be verified",
                path,
                PREFIX,
            )
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    try:
        lines = path.read_text().split()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SettingsError(f"cannot read the audit key file {path}: {exc}") from None
    if not lines:
        raise SettingsError(f"the audit key file {path} is empty: delete it or put a key in it")
    return lines[0]
