"""Installed from its wheel, as a container image would install it, the product still has its
pages, stylesheet, WSDLs and migrations: the wheel is built from a copy of the checkout,
installed into a fresh virtualenv outside it, and run from there.

The virtualenv borrows the dependencies of the environment running the suite through a `.pth`
path line (no download, a few seconds); such a line adds that one folder to `sys.path` and runs
none of the `.pth` files in it, so the checkout's editable install stays out of reach. Each run
checks that every product module it imports comes from the new virtualenv.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import shutil
import site
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest
import requests

from connector.demo import DEMO_AUDITOR_KEY, DEMO_ERP_KEY, DEMO_USERS
from tests.serving import served

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("adapters", "config", "connector", "gating", "sync")
# What a clean checkout would not hold, and what the wheel does not need.
NOT_BUILT_FROM = shutil.ignore_patterns(
    ".git", ".venv", ".ci-venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
    ".*_cache", "tests", "bench", "test-artifacts", "*.db", "*.db-*",
    "*.mo",  # compiled by the build (setup.py), from the .po: none comes from the checkout
)  # fmt: skip

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Installed:
    wheel: Path
    build_log: str
    venv: Path
    run: Path  # an empty folder outside the checkout, the commands' working directory

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment, minus what would reach the checkout or a database."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
            and k not in ("CREDITGATE_DATABASE_URL", "CREDITGATE_CONFIG")
        }
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONNOUSERSITE"] = "1"
        return {**env, **extra}

    def creditgate(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "creditgate"), *args],
            cwd=self.run,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "python"), "-c", code],
            cwd=self.run,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    assert int(version("setuptools").split(".")[0]) >= 77, (
        "the build needs setuptools>=77 in this environment: pip install -e '.[test]'"
    )
    base = tmp_path_factory.mktemp("wheel")
    source, dist, venv, run = base / "source", base / "dist", base / "venv", base / "run"
    # A copy, so the build leaves nothing in the checkout and nothing stale (build/lib) gets in.
    shutil.copytree(ROOT, source, ignore=NOT_BUILT_FROM)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
         "-w", str(dist), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = dist.glob("creditgate-*.whl")

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (purelib,) = venv.glob("lib/python3*/site-packages")
    (purelib / "suite_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    run.mkdir()
    return Installed(wheel, built.stdout + built.stderr, venv, run)


def test_the_wheel_carries_every_file_of_the_product_s_packages(installed):
    """Templates, static files, WSDLs, migrations (with their template), catalogues: whatever
    the checkout's packages hold, the wheel holds too."""
    in_checkout = {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    in_wheel = set(zipfile.ZipFile(installed.wheel).namelist())

    assert sorted(in_checkout - in_wheel) == []
    assert {"connector/templates/web/login.html", "connector/static/style.css"} <= in_wheel
    assert "adapters/db/migrations/script.py.mako" in in_wheel
    assert "adapters/nav/wsdl/nav_customer.wsdl" in in_wheel
    # The build compiled the Chinese catalogue (the copy it built from had no .mo).
    assert "connector/translations/zh_CN/LC_MESSAGES/messages.mo" in in_wheel


def test_the_build_prints_no_setuptools_warning(installed):
    # Such as the license table's deprecation (builds stop after 2027-02-18), framed in "!!".
    assert not re.search(r"Setuptools\w*Warning", installed.build_log), installed.build_log
    assert "\n  !!" not in installed.build_log


def test_the_product_imports_from_the_virtualenv_and_loads_its_bundled_wsdls(installed):
    answer = installed.python(
        "import sys, adapters, config, connector, gating, sync, wsgi\n"
        "from adapters.nav import NavSoapAdapter\n"
        "for module in (adapters, config, connector, gating, sync, wsgi):\n"
        "    print(module.__file__)\n"
        "print(sys.path)\n"
        "nav = NavSoapAdapter('http://127.0.0.1:9/Page/', None, None, local_currency='CNY')\n"
        "print('nav pages', nav._customers.name, nav._ledger.name, nav._detailed.name)\n"
    )

    assert answer.returncode == 0, answer.stderr
    *files, path, nav = answer.stdout.splitlines()
    assert len(files) == 6 and all(Path(f).is_relative_to(installed.venv) for f in files), files
    assert str(ROOT) not in ast.literal_eval(path)  # the checkout itself is not on the path
    assert nav.startswith("nav pages ")


def test_init_db_creates_the_schema_from_the_installed_migrations(installed):
    url = f"sqlite:///{installed.run}/fresh.db"

    first = installed.creditgate("init-db", CREDITGATE_DATABASE_URL=url)
    again = installed.creditgate("init-db", CREDITGATE_DATABASE_URL=url)

    assert first.returncode == 0, first.stderr
    assert re.search(r"schema migrated from \(empty\) to \w+", first.stdout), first.stdout
    assert "database ready at sqlite:///" in first.stdout
    assert again.returncode == 0 and "nothing to migrate" in again.stdout, again.stdout


def test_the_demo_serves_its_pages_api_document_and_gate_from_the_installed_package(installed):
    database = f"sqlite:///{installed.run}/demo.db"
    prepared = installed.creditgate("demo", "--no-serve", "--database", database)
    assert prepared.returncode == 0, prepared.stderr
    assert "Demo database ready" in prepared.stdout
    assert "listening" not in prepared.stdout  # --no-serve: prepared, not served

    with _serving(installed, database) as base, requests.Session() as browser:
        login = browser.get(f"{base}/login", timeout=10)
        chinese = requests.get(f"{base}/login", headers={"Accept-Language": "zh-CN"}, timeout=10)
        stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', login.text)
        css = browser.get(base + stylesheet.group(1), timeout=10) if stylesheet else None
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        name = "demo-admin"
        signed_in = browser.post(
            f"{base}/login",
            data={
                "username": name,
                "password": DEMO_USERS[name][1],
                "csrf_token": token.group(1) if token else "",
            },
            timeout=10,
        )
        holds = browser.get(f"{base}/holds", timeout=10)
        api_page = browser.get(f"{base}/api-docs", timeout=10)
        start = browser.get(f"{base}/api-docs/start.js", timeout=10)
        bundle = browser.get(f"{base}/api-docs/swagger-ui/swagger-ui-bundle.js", timeout=10)
        document = requests.get(
            f"{base}/api/v1/openapi.json",
            headers={"Authorization": f"Bearer {DEMO_AUDITOR_KEY}"},
            timeout=10,
        )
        decision = requests.post(
            f"{base}/api/v1/gate/orders",
            json={"order_id": "SO-1", "customer_id": "C-100", "amount": "12500.00",
                  "currency": "CNY"},
            headers={"Authorization": f"Bearer {DEMO_ERP_KEY}"},
            timeout=10,
        )  # fmt: skip

    assert login.status_code == 200 and token, login.text[:2000]
    assert '<html lang="zh-CN">' in chinese.text and "用户名" in chinese.text, chinese.text[:2000]
    assert css is not None and css.status_code == 200 and "text/css" in css.headers["Content-Type"]
    assert signed_in.status_code == 200 and signed_in.url.rstrip("/") == base, signed_in.url
    assert holds.status_code == 200 and 'data-order="SO-3"' in holds.text
    assert document.status_code == 200
    assert api_page.status_code == 200 and "swagger-ui-bundle.js" in api_page.text
    assert start.status_code == 200 and "SwaggerUIBundle" in start.text
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    assert "/api/v1/gate/orders" in document.json()["paths"]
    assert decision.status_code == 200, decision.text
    assert decision.json()["outcome"] == "approved"


def _serving(installed: Installed, database: str) -> contextlib.AbstractContextManager[str]:
    """`creditgate serve` from the virtualenv on a free loopback port; always stopped."""
    return served(
        lambda port: [str(installed.bin / "creditgate"), "serve", "--port", str(port)],
        installed.run / "serve.log",
        installed.run,
        installed.env(CREDITGATE_DATABASE_URL=database),
    )
