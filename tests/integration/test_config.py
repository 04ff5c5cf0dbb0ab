"""Settings from CREDITGATE_* and the TOML file, and how the file seeds thresholds versions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select

from adapters.db.tables import audit_events, thresholds_versions
from config.settings import Settings, SettingsError
from config.wiring import build_services
from connector.cli import main
from gating.commands import ChangeThresholds
from tests.conftest import AUDIT_KEY

GOOD_TOML = """
[thresholds]
base_currency = "CNY"
overdue_days = 45
review_band = "0.05"
approval_tiers = [{ amount = "1000000.00", role = "credit_manager" }]

[rates]
reference = "CNY"
USD = "7.10"
"""


def _toml(tmp_path, text):
    path = tmp_path / "creditgate.toml"
    path.write_text(text)
    return str(path)


def test_defaults_need_no_environment_at_all():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///creditgate.db"
    assert settings.timezone == "UTC"
    assert settings.gate_timeout == 2.0
    assert settings.fail_safe_outcome == "review"


def test_the_config_file_gives_thresholds_and_exact_rates(tmp_path):
    settings = Settings.from_env({"CREDITGATE_CONFIG": _toml(tmp_path, GOOD_TOML)})
    assert settings.thresholds["overdue_days"] == 45
    assert settings.rates_reference == "CNY"
    assert settings.rates == {"USD": Decimal("7.10")}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CREDITGATE_TIMEZONE": "Mars/Olympus"}, "CREDITGATE_TIMEZONE"),
        ({"CREDITGATE_GATE_TIMEOUT": "soon"}, "CREDITGATE_GATE_TIMEOUT"),
        ({"CREDITGATE_GATE_TIMEOUT": "0"}, "CREDITGATE_GATE_TIMEOUT"),
        ({"CREDITGATE_FAIL_SAFE_OUTCOME": "maybe"}, "CREDITGATE_FAIL_SAFE_OUTCOME"),
        ({"CREDITGATE_CONFIG": "/nonexistent/creditgate.toml"}, "CREDITGATE_CONFIG"),
        (
            {"CREDITGATE_CALLBACK_URL": "ftp://erp/hook", "CREDITGATE_CALLBACK_SECRET": "s"},
            "CREDITGATE_CALLBACK_URL",
        ),
        ({"CREDITGATE_CALLBACK_URL": "https://erp/hook"}, "CREDITGATE_CALLBACK_SECRET"),
        (
            {
                "CREDITGATE_CALLBACK_URL": "https://erp/hook",
                "CREDITGATE_CALLBACK_SECRET": "s",
                "CREDITGATE_CALLBACK_SECRET_FILE": "/run/secrets/cb",
            },
            "CREDITGATE_CALLBACK_SECRET_FILE",
        ),
        (
            {
                "CREDITGATE_CALLBACK_URL": "https://erp/hook",
                "CREDITGATE_CALLBACK_SECRET_FILE": "/nonexistent/secret",
            },
            "CREDITGATE_CALLBACK_SECRET_FILE",
        ),
    ],
)
def test_a_bad_setting_fails_at_startup_naming_the_variable(env, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[rates]\nUSD = 7.1\n", "USD"),  # a float rate would not be exact
        ('[rates]\nUSD = "-1"\n', "USD"),
        ("[limits]\nx = 1\n", "limits"),
        ("[thresholds\n", "not valid TOML"),
    ],
)
def test_a_bad_config_file_fails_at_startup_saying_what_is_wrong(tmp_path, text, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env({"CREDITGATE_CONFIG": _toml(tmp_path, text)})


def _versions(url):
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(thresholds_versions).order_by("version")).all()
    engine.dispose()
    return [(r.version, r.created_by, r.document.get("overdue_days")) for r in rows]


def test_the_file_seeds_a_version_and_a_changed_file_adds_one_but_never_over_an_admins(
    tmp_path, database_url
):
    url = database_url
    toml = _toml(tmp_path, GOOD_TOML)

    made = []

    def init():
        services = build_services(
            Settings.from_env(
                {
                    "CREDITGATE_DATABASE_URL": url,
                    "CREDITGATE_CONFIG": toml,
                    "CREDITGATE_AUDIT_KEY": AUDIT_KEY,
                }
            )
        )
        made.append(services)
        version = services.init_db()
        return services, version

    services, first = init()
    _, again = init()
    assert (first, again) == (1, 1)  # the same file makes no new version
    _toml(tmp_path, GOOD_TOML.replace("overdue_days = 45", "overdue_days = 60"))
    services, changed = init()
    assert changed == 2
    document = {**services.settings.thresholds, "overdue_days": 90}
    from config.thresholds import thresholds_document

    services.writes.change_thresholds(
        ChangeThresholds(thresholds_document(document), "alice", "tighter after audit")
    )
    _toml(tmp_path, GOOD_TOML.replace("overdue_days = 45", "overdue_days = 10"))
    _, kept = init()
    assert kept == 3  # an admin's version is not overwritten by the file
    assert _versions(url) == [(1, "config", 45), (2, "config", 60), (3, "alice", 90)]
    for services in made:
        services.engine.dispose()


def test_a_config_file_with_bad_thresholds_stops_init_db_naming_the_field(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", f"sqlite:///{tmp_path}/cg.db")
    monkeypatch.setenv(
        "CREDITGATE_CONFIG", _toml(tmp_path, "[thresholds]\noverdue_days = -3\nbogus = 1\n")
    )
    result = CliRunner().invoke(main, ["init-db"])
    assert result.exit_code == 1
    assert "overdue_days" in result.output
    assert "bogus" in result.output


def test_apikey_create_prints_the_key_once_and_stores_only_its_hash(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/cg.db"
    monkeypatch.setenv("CREDITGATE_DATABASE_URL", url)
    monkeypatch.delenv("CREDITGATE_CONFIG", raising=False)
    assert CliRunner().invoke(main, ["init-db"]).exit_code == 0
    result = CliRunner().invoke(main, ["apikey", "create", "--role", "erp", "--name", "erp-prod"])
    assert result.exit_code == 0, result.output
    key = result.output.split(": ", 1)[1].split()[0]
    assert key.startswith("cg_")
    raw = (tmp_path / "cg.db").read_bytes()
    assert key.encode() not in raw
    services = build_services(Settings(database_url=url, audit_keys=(AUDIT_KEY,)))
    client = services.clients.find_client(key)
    assert client is not None and client.role == "erp"
    assert services.clients.find_client(key + "x") is None
    engine = create_engine(url)
    with engine.connect() as conn:
        actions = conn.execute(select(audit_events.c.action)).scalars().all()
    engine.dispose()
    services.engine.dispose()
    assert "api_key_created" in actions
    twice = CliRunner().invoke(main, ["apikey", "create", "--role", "erp", "--name", "erp-prod"])
    assert twice.exit_code == 1
    assert "already exists" in twice.output


def test_the_callback_secret_comes_from_a_file_and_is_never_shown(tmp_path):
    secret = tmp_path / "callback-secret"
    secret.write_text("whsec-from-a-file\n")

    settings = Settings.from_env(
        {
            "CREDITGATE_CALLBACK_URL": "https://erp.example/creditgate",
            "CREDITGATE_CALLBACK_SECRET_FILE": str(secret),
        }
    )

    assert settings.callback_url == "https://erp.example/creditgate"
    assert settings.callback_secret == "whsec-from-a-file"
    assert "whsec" not in repr(settings)


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("csv-folder", "a csv-folder source needs --path, the export folder"),
        ("tryton", "a tryton source needs --url, --database, --username-env and --password-env"),
        (
            "nav-soap",
            "a nav-soap source needs --url (the page web services, ending in /Page/), "
            "--username-env, --password-env and --local-currency",
        ),
        (
            "zoho-crm",
            "a zoho-crm source needs --client-id-env, --client-secret-env and "
            "--refresh-token-env (the variables holding its OAuth client and refresh token)",
        ),
    ],
)
def test_each_kind_of_source_names_every_setting_it_needs(kind, said):
    from config.sources import SourceConfigError, check_source

    with pytest.raises(SourceConfigError) as refused:
        check_source(kind, None, {})

    assert str(refused.value) == said


def test_the_source_kinds_table_drives_the_command_lines_choices_and_secrets():
    from config.sources import SOURCE_KINDS, SourceConfigError, check_source

    add = main.commands["sources"].commands["add"]  # type: ignore[attr-defined]
    kind = next(option for option in add.params if option.name == "kind")

    assert (
        list(kind.type.choices)
        == list(SOURCE_KINDS)
        == [
            "tryton",
            "nav-soap",
            "csv-folder",
            "zoho-crm",
            "bc-api",
        ]
    )
    assert {name: k.secrets for name, k in SOURCE_KINDS.items()} == {
        "tryton": ("username_env", "password_env"),
        "nav-soap": ("username_env", "password_env"),
        "csv-folder": (),
        "zoho-crm": ("client_id_env", "client_secret_env", "refresh_token_env"),
        "bc-api": ("client_id_env", "client_secret_env"),
    }
    assert [name for name, k in SOURCE_KINDS.items() if k.pushes] == [
        "tryton",
        "nav-soap",
        "zoho-crm",
        "bc-api",
    ]
    with pytest.raises(SourceConfigError, match="unknown source kind 'sap'"):
        check_source("sap", None, {})
    tryton = {"database": "d", "username_env": "U", "password_env": "P"}
    for bad in (-1, True, "60", 1.5):
        with pytest.raises(SourceConfigError, match="--overlap-seconds must be a whole number"):
            check_source("tryton", "http://erp", {**tryton, "overlap_seconds": bad})
    check_source("tryton", "http://erp", {**tryton, "overlap_seconds": 0})
