"""Logins under attack (issue 13, items 13 and 14): wrong passwords slow a name and an address
down and then lock the name until an admin lifts the lock, without telling which names exist;
sessions live in the store, so logging out, "log out everywhere", disabling a user and resetting a
password end them on every worker at once. Each app here is a worker: two apps on one database,
each with its own engine and pool, behave as two gunicorn workers do."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.db.tables import audit_events
from config.wiring import build_services
from connector import create_app
from gating.commands import DisableUser, EnableUser, ResetPassword, UnlockUser
from gating.logins import ACCOUNT, ADDRESS
from tests.web.test_pages import PASSWORD, Browser, people  # noqa: F401  (a fixture)

COOKIE = "creditgate_session"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # One signing key for every worker, as in production (CREDITGATE_SECRET_KEY).
    return {"secret_key": "test-secret-key-shared-by-the-workers"}


@pytest.fixture
def worker(loaded, people) -> Any:  # noqa: F811
    return create_app(loaded)


@pytest.fixture
def other_worker(settings, clock, loaded) -> Iterator[Any]:
    """A second worker: its own services, engine and pool over the same database."""
    services = build_services(settings, clock=clock)
    yield create_app(services)
    services.engine.dispose()


def browser_at(app: Any, address: str = "10.0.0.1") -> Browser:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return Browser(client)


def _actions(services: Any, *actions: str) -> list[tuple[str, str, str]]:
    with services.engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                select(audit_events.c.actor, audit_events.c.action, audit_events.c.subject)
                .where(audit_events.c.action.in_(actions))
                .order_by(audit_events.c.id)
            )
        ]


def _wait(response: Any) -> int:
    assert response.status_code == 429, response.status_code
    return int(response.headers["Retry-After"])


# --- back-off and lock -------------------------------------------------------------------------


def test_after_five_wrong_passwords_each_attempt_waits_twice_as_long(worker, clock):
    browser = browser_at(worker)
    for _ in range(5):
        assert browser.login("ada", "wrong password").status_code == 401

    too_soon = browser.login("ada")  # even the right password waits
    waits = [_wait(too_soon)]
    for _ in range(3):
        clock.advance(seconds=waits[-1] - 1)
        _wait(browser.login("ada"))  # a second early: still waiting
        clock.advance(seconds=1)
        assert browser.login("ada", "wrong password").status_code == 401
        waits.append(_wait(browser.login("ada", "wrong password")))

    assert waits == [2, 4, 8, 16]
    assert "try again in 2 s (at 01:30:02)" in too_soon.get_data(as_text=True)
    clock.advance(seconds=16)
    assert browser.login("ada").status_code == 302  # the right one, in time: in
    assert browser.text("/").count("ada · admin") == 1


def test_a_success_starts_the_names_count_afresh(worker, clock):
    browser = browser_at(worker)
    for _ in range(4):
        browser.login("ada", "wrong password")
    assert browser.login("ada").status_code == 302
    browser.post("/logout", {})

    for _ in range(5):
        assert browser.login("ada", "wrong password").status_code == 401
    _wait(browser.login("ada", "wrong password"))


def _strip(page: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", page)


def test_an_unknown_name_is_answered_exactly_as_a_users_name(worker, clock):
    def attempts(name: str, address: str) -> list[tuple[int, str | None, str]]:
        browser = browser_at(worker, address)
        seen = []
        for _ in range(12):
            response = browser.login(name, "wrong password")
            page = _strip(response.get_data(as_text=True))
            seen.append((response.status_code, response.headers.get("Retry-After"), page))
            if response.status_code == 429:
                clock.advance(seconds=int(response.headers["Retry-After"]))
        return seen

    known = attempts("ada", "10.0.0.1")
    unknown = attempts("no-such-user", "10.0.0.2")

    assert [status for status, _, _ in known] == [status for status, _, _ in unknown]
    assert [wait for _, wait, _ in known] == [wait for _, wait, _ in unknown]
    assert {status for status, _, _ in known} == {401, 429}
    for (_, _, one), (_, _, other) in zip(known, unknown, strict=True):
        assert re.sub(r"\(at [\d:]+\)", "", one) == re.sub(r"\(at [\d:]+\)", "", other)


def test_ten_failures_in_a_row_lock_the_name_until_an_admin_unlocks_it(worker, loaded, clock):
    browser = browser_at(worker)
    statuses = []
    while len(statuses) < ACCOUNT.lock_after:
        response = browser.login("ada", "wrong password")
        if response.status_code == 429:
            clock.advance(seconds=_wait(response))
            continue
        statuses.append(response.status_code)
    clock.advance(hours=5)

    locked = browser.login("ada")  # the right password, hours later

    assert statuses == [401] * 10
    assert locked.status_code == 403
    assert "this login is locked. An admin can unlock it." in locked.get_data(as_text=True)
    assert loaded.writes.unlock_user(UnlockUser("ada", "cli")) is True
    assert browser.login("ada").status_code == 302
    assert _actions(loaded, "login_locked", "login_unlocked") == [
        ("web", "login_locked", "user:ada"),
        ("cli", "login_unlocked", "user:ada"),
    ]
    assert len(_actions(loaded, "login_failed")) == 10


def test_an_address_trying_many_names_is_slowed_down_and_forgotten_after_an_hour(worker, clock):
    browser = browser_at(worker, "192.0.2.7")
    for number in range(ADDRESS.free):
        assert browser.login(f"name-{number}", "wrong password").status_code == 401

    slowed = browser.login("ada")  # a name never tried, from the same address
    elsewhere = browser_at(worker, "192.0.2.8").login("sam")
    clock.advance(seconds=_wait(slowed))
    again = browser.login("name-x", "wrong password")
    after_that = browser.login("ada")
    clock.advance(hours=1)
    forgotten = browser.login("ada")

    assert _wait(slowed) == 2
    assert elsewhere.status_code == 302
    assert again.status_code == 401
    assert _wait(after_that) == 4
    assert forgotten.status_code == 302


def test_failures_count_on_every_worker(worker, other_worker):
    browsers = [browser_at(worker), browser_at(other_worker)]
    for attempt in range(5):
        assert browsers[attempt % 2].login("ada", "wrong password").status_code == 401

    assert _wait(browsers[1].login("ada")) == 2
    assert _wait(browsers[0].login("ada")) == 2


def test_racing_attempts_cannot_all_slip_in_before_they_are_counted(worker, other_worker):
    """Sixteen wrong passwords at once on two workers, the clock standing still: each attempt
    is counted before its password is checked, so only the five free ones get to check a
    password; the others wait."""
    statuses: list[int] = []
    start = threading.Barrier(16)

    def attempt(number: int) -> None:
        browser = browser_at(worker if number % 2 else other_worker, f"10.1.0.{number}")
        token = browser.token()
        start.wait()
        response = browser.client.post(
            "/login",
            data={"username": "ada", "password": "wrong password", "csrf_token": token},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [401] * 5 + [429] * 11


# --- sessions ---------------------------------------------------------------------------------


def _cookie(browser: Browser) -> str:
    cookie = browser.client.get_cookie(COOKIE)
    assert cookie is not None
    return str(cookie.value)


def _with_cookie(app: Any, value: str) -> Browser:
    browser = browser_at(app)
    browser.client.set_cookie(COOKIE, value)
    return browser


def _logged_in(browser: Browser) -> bool:
    return bool(browser.client.get("/").status_code == 200)


def test_a_copy_of_the_cookie_is_worth_nothing_after_logout(worker):
    browser = browser_at(worker)
    browser.login("ada")
    copied = _cookie(browser)
    assert _logged_in(_with_cookie(worker, copied))

    browser.post("/logout", {})

    assert not _logged_in(browser)
    assert not _logged_in(_with_cookie(worker, copied))


def test_logout_ends_that_session_and_log_out_everywhere_ends_them_all(worker, loaded):
    laptop, phone = browser_at(worker), browser_at(worker)
    laptop.login("ada")
    phone.login("ada")

    laptop.post("/logout", {})
    phone_still_in = _logged_in(phone)
    laptop.login("ada")
    everywhere = phone.post("/logout", {"everywhere": "true"})

    assert phone_still_in
    assert everywhere.status_code == 302
    assert not _logged_in(phone) and not _logged_in(laptop)
    with loaded.engine.connect() as conn:
        details = conn.execute(
            select(audit_events.c.details).where(audit_events.c.action == "logout")
        ).scalars()
        assert {"everywhere": True, "sessions_ended": 2} in list(details)


def test_logging_out_on_one_worker_ends_the_session_on_the_other(worker, other_worker):
    browser = browser_at(worker)
    browser.login("ada")
    there = _with_cookie(other_worker, _cookie(browser))
    assert _logged_in(there)

    there.post("/logout", {})

    assert not _logged_in(browser)


def test_disabling_a_user_ends_their_sessions_on_every_worker(worker, other_worker, loaded):
    here = browser_at(worker)
    here.login("sam")
    there = browser_at(other_worker)
    there.login("sam")
    assert _logged_in(here) and _logged_in(there)

    ended = loaded.writes.disable_user(DisableUser("sam", "cli"))

    assert ended == 2
    assert not _logged_in(here) and not _logged_in(there)
    assert browser_at(other_worker, "10.9.9.9").login("sam").status_code == 401
    loaded.writes.enable_user(EnableUser("sam", "cli"))
    assert not _logged_in(here)  # enabling again does not bring old sessions back
    assert here.login("sam").status_code == 302


def test_resetting_a_password_ends_every_session_and_the_old_password(worker, loaded):
    browser = browser_at(worker)
    browser.login("mona")

    loaded.writes.reset_password(ResetPassword("mona", "a new password, long enough", "cli"))

    assert not _logged_in(browser)
    assert browser.login("mona").status_code == 401
    assert browser.login("mona", "a new password, long enough").status_code == 302


def test_a_session_ends_after_its_lifetime_whatever_the_cookie_says(worker, clock):
    browser = browser_at(worker)
    browser.login("otto")
    clock.advance(hours=7, seconds=3599)
    still_in = _logged_in(browser)
    clock.advance(seconds=1)

    assert still_in and not _logged_in(browser)


# --- the people page ---------------------------------------------------------------------------


def _lock(app: Any, clock: Any, name: str) -> None:
    browser, failures = browser_at(app, "10.7.7.7"), 0
    while failures < ACCOUNT.lock_after:
        response = browser.login(name, "wrong password")
        if response.status_code == 429:
            clock.advance(seconds=_wait(response))
        else:
            failures += 1


def test_an_admin_unlocks_disables_and_enables_people_on_the_people_page(worker, loaded, clock):
    _lock(worker, clock, "mona")
    sam = browser_at(worker, "10.0.0.5")
    sam.login("sam")
    admin = browser_at(worker)
    admin.login("ada")

    def act(name: str, action: str) -> str:
        response = admin.post("/people", {"username": name, "action": action}, page="/people")
        assert response.status_code == 302
        return admin.text("/people")

    page = admin.text("/people")
    unlocked = act("mona", "unlock")
    disabled = act("sam", "disable")
    myself = act("ada", "disable")

    mona_row = re.search(r'data-user="mona">(.*?)</tr>', page, re.S).group(1)
    assert "Unlock" in mona_row and ">10<" in mona_row
    assert "mona: unlocked." in unlocked
    assert "sam: disabled; 1 session ended." in disabled
    assert "You cannot disable yourself" in myself
    assert browser_at(worker, "10.0.0.6").login("mona").status_code == 302
    assert not _logged_in(sam)
    assert _actions(loaded, "login_unlocked", "user_disabled") == [
        ("ada", "login_unlocked", "user:mona"),
        ("ada", "user_disabled", "user:sam"),
    ]
    otto = browser_at(worker, "10.0.0.8")
    otto.login("otto")
    assert otto.client.get("/people").status_code == 403
    refused = otto.client.post(
        "/people", data={"username": "sam", "action": "enable", "csrf_token": otto.token("/")}
    )
    assert refused.status_code == 403
