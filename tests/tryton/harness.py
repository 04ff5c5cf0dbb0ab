"""A real Tryton 8.2 for tests: installed once, a template database built once, a server per test.

Layout of the cache (CREDITGATE_TRYTON_CACHE, default ~/.cache/creditgate/tryton-8.2/):

    venv-<hash of the pinned packages and Python version>/   trytond + modules + proteus
    template-<hash of the venv, setup script and dates>/     creditgate.sqlite + ids.json

Nothing here is installed into the project's own virtualenv. When trytond cannot be installed
(no network, no PyPI), `HarnessError` says so and the tests that need Tryton fail.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from tests.tryton.rpc import RpcClient
from tests.tryton.scenario import Books

SERIES = "8.2"
PIN = ">=8.2,<8.3"
PACKAGES = (
    "trytond",
    "trytond-party",
    "trytond-company",
    "trytond-currency",
    "trytond-country",
    "trytond-product",
    "trytond-account",
    "trytond-account-product",
    "trytond-account-invoice",
    "trytond-sale",
    "trytond-account-credit-limit",
    "proteus",
)
MODULES = (
    "party",
    "company",
    "currency",
    "country",
    "product",
    "account",
    "account_product",
    "account_invoice",
    "sale",
    "account_credit_limit",
)
DATABASE = "creditgate"
ADMIN = "admin"
ADMIN_PASSWORD = "creditgate-admin-8.2"
HERE = Path(__file__).resolve().parent
SETUP_SCRIPT = HERE / "setup_template.py"
# The template's fiscal year spans two years either side of its build day; it is rebuilt once
# today is less than a year from either end, so tests can back-date a year and post ahead.
FISCAL_SPAN = timedelta(days=730)
FISCAL_MARGIN = timedelta(days=366)


class HarnessError(RuntimeError):
    """The Tryton test server could not be installed, built or started; the message says why."""


def today() -> date:
    """The server's today: trytond runs in UTC and the test company has no time zone."""
    return datetime.now(UTC).date()


def cache_root() -> Path:
    default = Path.home() / ".cache" / "creditgate" / f"tryton-{SERIES}"
    return Path(os.environ.get("CREDITGATE_TRYTON_CACHE", default)).expanduser()


def requirements() -> list[str]:
    return [f"{name}{PIN}" for name in PACKAGES]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Hold the cache lock, so parallel test runs build each thing once."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for trytond processes, without TRYTOND_* settings that would override
    the harness's config file (e.g. TRYTOND_DATABASE__URI from a developer's shell)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYTOND")}
    return {**env, **extra}


def _run(args: list[str], log: Path, what: str, **kwargs: Any) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, check=False, **kwargs)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise HarnessError(f"{what} failed (exit {result.returncode}); log {log}:\n{tail}")


@dataclass(frozen=True)
class Installation:
    """The trytond virtualenv and the template database built with it."""

    venv: Path
    template: Path
    ids: dict[str, Any]

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


def ensure_venv(root: Path | None = None) -> Path:
    """Return the trytond virtualenv, creating it (pip from PyPI) on first use.

    :raises HarnessError: when pip cannot install trytond, e.g. without network access.
    """
    root = root or cache_root()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    venv = root / f"venv-{_digest(python, *requirements())}"
    with _locked(root):
        if (venv / ".complete").exists():
            return venv
        # A virtualenv cannot be moved once made (its scripts name their interpreter), so it
        # is built in place and counts only once `.complete` is written.
        shutil.rmtree(venv, ignore_errors=True)
        venv.mkdir(parents=True)
        log = root / f"{venv.name}.log"
        log.write_text("")
        _run([sys.executable, "-m", "venv", str(venv)], log, "creating the trytond virtualenv")
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        _run(
            [*pip, "install", "--quiet", *requirements()],
            log,
            f"pip install of trytond {SERIES} and its modules from PyPI (is the network up?)",
        )
        frozen = subprocess.run([*pip, "freeze"], capture_output=True, text=True, check=True)
        (venv / "requirements.lock").write_text(frozen.stdout)
        (venv / ".complete").write_text(datetime.now(UTC).isoformat())
    return venv


def _server_config(db_dir: Path, port: int, *, session_max_age: int | None = None) -> str:
    lines = [
        "[database]",
        "uri = sqlite://",
        f"path = {db_dir}",
        "[web]",
        f"listen = 127.0.0.1:{port}",
        "[session]",
        # Tests log in with wrong passwords on purpose; keep Tryton's rate limit out of the way.
        "max_attempt = 1000",
    ]
    if session_max_age is not None:
        lines.append(f"max_age = {session_max_age}")
    return "\n".join(lines) + "\n"


def _fiscal_range(day: date) -> tuple[date, date]:
    first = (day - FISCAL_SPAN).replace(day=1)
    end = day + FISCAL_SPAN
    last = (end.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first, last


def _covers(ids: dict[str, Any], day: date) -> bool:
    first = date.fromisoformat(ids["fiscalyear_start"])
    last = date.fromisoformat(ids["fiscalyear_end"])
    return first <= day - FISCAL_MARGIN and day + FISCAL_MARGIN <= last


def ensure_template(venv: Path, root: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Return a template database (and the ids of what it holds), building it on first use.

    Built with trytond-admin (activate the modules, admin password) and setup_template.py
    (company, chart of accounts, fiscal year, payment term, product, payment method).

    :raises HarnessError: when a step fails; the message ends with the step's log.
    """
    root = root or cache_root()
    base = "template-" + _digest(
        venv.name, SETUP_SCRIPT.read_text(), " ".join(MODULES), ADMIN_PASSWORD
    )
    day = today()
    with _locked(root):
        for folder in sorted(root.glob(f"{base}-*"), reverse=True):
            if (folder / ".complete").exists():
                ids = json.loads((folder / "ids.json").read_text())
                if _covers(ids, day):
                    return folder / f"{DATABASE}.sqlite", ids
        for folder in root.glob(f"{base}-*"):
            shutil.rmtree(folder, ignore_errors=True)
        folder = root / f"{base}-{day.isoformat()}"
        folder.mkdir(parents=True)
        log = folder / "build.log"
        config = folder / "trytond.conf"
        config.write_text(_server_config(folder, free_port()))
        password = folder / "admin.password"
        password.write_text(ADMIN_PASSWORD + "\n")
        (folder / f"{DATABASE}.sqlite").touch()
        env = clean_env(TRYTONPASSFILE=str(password))
        admin = [str(venv / "bin" / "trytond-admin"), "-c", str(config), "-d", DATABASE]
        _run(
            [*admin, "-u", *MODULES, "--activate-dependencies", "--email", "admin@example.com"],
            log,
            "trytond-admin (activating the modules)",
            env=env,
        )
        first, last = _fiscal_range(day)
        python = str(venv / "bin" / "python")
        ids_file = folder / "ids.json"
        args = [str(config), DATABASE, first.isoformat(), last.isoformat(), str(ids_file)]
        _run([python, str(SETUP_SCRIPT), *args], log, "setup_template.py", env=env)
        (folder / ".complete").write_text(datetime.now(UTC).isoformat())
        return folder / f"{DATABASE}.sqlite", json.loads(ids_file.read_text())


def install(root: Path | None = None) -> Installation:
    """Return the trytond virtualenv and the template database, making whichever is missing."""
    venv = ensure_venv(root)
    template, ids = ensure_template(venv, root)
    return Installation(venv, template, ids)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TrytonServer:
    """One trytond process serving a private copy of the template database on loopback.

    `stop()` and `start()` may be called any number of times: the database and the port stay,
    so a client pointed at `url` finds the same data after a restart.
    """

    def __init__(self, install: Installation, workdir: Path) -> None:
        self.install = install
        self.workdir = workdir
        self.db_dir = workdir / "db"
        self.db_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(install.template, self.db_dir / f"{DATABASE}.sqlite")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = DATABASE
        self.username = ADMIN
        self.password = ADMIN_PASSWORD
        self.log_path = workdir / "trytond.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._books: Books | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, *, session_max_age: int | None = None, timeout: float = 60.0) -> None:
        """Start trytond and return once it answers JSON-RPC.

        :raises HarnessError: when it exits or does not answer within `timeout` seconds.
        """
        if self.running:
            raise HarnessError("the Tryton server is already running")
        config = self.workdir / "trytond.conf"
        config.write_text(_server_config(self.db_dir, self.port, session_max_age=session_max_age))
        trytond = str(self.install.bin / "trytond")
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [trytond, "-c", str(config), "-d", DATABASE],  # -d: load the pool (note's pitfall 1)
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=clean_env(),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._reap()
                tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
                raise HarnessError(f"trytond exited at start; {self.log_path}:\n{tail}")
            if _answers(self.url):
                return
            time.sleep(0.05)
        self.stop()
        raise HarnessError(f"trytond did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        """Stop trytond (SIGTERM, then SIGKILL after 10 s); harmless when it is not running."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._reap()

    def restart(self, **kwargs: Any) -> None:
        self.stop()
        self.start(**kwargs)

    def _reap(self) -> None:
        if self._process is not None:
            self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> TrytonServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self) -> RpcClient:
        """A fresh admin JSON-RPC client (the harness's own, not the adapter under test)."""
        return RpcClient(self.url, DATABASE, ADMIN, ADMIN_PASSWORD)

    @property
    def books(self) -> Books:
        """The scenario API on this server (one admin session, reopened after a restart)."""
        if self._books is None:
            self._books = Books(self.client(), self.install.ids)
        return self._books


def _answers(url: str) -> bool:
    try:
        response = requests.post(
            f"{url}/rpc/",
            json={"id": 0, "method": "common.server.version", "params": []},
            timeout=(0.5, 2.0),
        )
    except requests.RequestException:
        return False
    return response.status_code == 200 and response.json().get("result") == SERIES
