"""The user and password policy of gating/people.py, without a store: each refusal, and the
boundary on each side."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gating.people import (
    MIN_PASSWORD,
    Account,
    check_change,
    check_disable,
    check_new_user,
    check_password,
    no_such_user,
)
from gating.roles import PEOPLE_ROLES, ROLES

PASSWORD = "x" * MIN_PASSWORD
SINCE = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)


def test_a_password_needs_twelve_characters_eleven_are_refused():
    assert MIN_PASSWORD == 12
    check_password("x" * 12)
    check_password("密码" * 6)  # characters, not bytes

    with pytest.raises(ValueError, match=r"^the password must have at least 12 characters$"):
        check_password("x" * 11)


@pytest.mark.parametrize("role", PEOPLE_ROLES)
def test_every_role_for_people_may_be_given_to_a_user(role):
    check_new_user("ada", role, PASSWORD)


@pytest.mark.parametrize("role", [*sorted(set(ROLES) - set(PEOPLE_ROLES)), "root", ""])
def test_roles_for_machines_and_unknown_roles_are_refused_naming_the_roles_people_may_have(role):
    with pytest.raises(ValueError) as refused:
        check_new_user("ada", role, PASSWORD)

    assert str(refused.value) == (
        f"role must be one of admin, auditor, credit_specialist, credit_manager, not {role!r}"
    )


def test_a_new_user_needs_a_long_enough_password():
    with pytest.raises(ValueError, match="at least 12 characters"):
        check_new_user("ada", "admin", "x" * 11)


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_user_name_must_be_1_to_100_characters_not_blank(name):
    with pytest.raises(ValueError, match=r"^the user name must be 1 to 100 characters$"):
        check_new_user(name, "admin", PASSWORD)


def test_a_name_of_one_or_a_hundred_characters_is_taken():
    check_new_user("a", "admin", PASSWORD)
    check_new_user("名" * 100, "admin", PASSWORD)


def test_the_role_is_checked_before_the_password_and_the_password_before_the_name():
    with pytest.raises(ValueError, match="role must be one of"):
        check_new_user("", "erp", "short")
    with pytest.raises(ValueError, match="password"):
        check_new_user("", "admin", "short")


def test_a_forged_user_may_only_be_disabled():
    forged = Account("otto", None, genuine=False)

    with pytest.raises(ValueError) as refused:
        check_change(forged)
    check_disable(forged)

    assert str(refused.value) == (
        "user 'otto' was written or changed outside creditgate (no valid MAC): it cannot log "
        "in, and only `user disable` acts on it; see `creditgate audit verify`"
    )


def test_a_genuine_user_may_be_changed_whether_disabled_or_not():
    check_change(Account("ada", None, genuine=True))
    check_change(Account("ada", SINCE, genuine=True))  # enabling a disabled user


@pytest.mark.parametrize("genuine", [True, False])
def test_disabling_a_user_disabled_already_is_refused_saying_since_when(genuine):
    with pytest.raises(ValueError) as refused:
        check_disable(Account("sam", SINCE, genuine=genuine))

    assert str(refused.value) == "sam is disabled already (since 2026-11-22)"


def test_a_change_to_a_name_no_user_has_is_refused_naming_it():
    assert str(no_such_user("nobody")) == "no user named 'nobody'"
