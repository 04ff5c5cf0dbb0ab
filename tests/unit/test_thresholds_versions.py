"""When a new thresholds version may be stored (gating/thresholds_versions.py), without a store."""

from __future__ import annotations

import pytest

from gating.errors import Conflict
from gating.thresholds_versions import (
    CONFIG_AUTHOR,
    ActiveVersion,
    check_base_version,
    file_updates,
    saved_at_the_same_moment,
)

FILE = {"overdue_days": 30, "base_currency": "CNY"}


def test_the_file_seeds_the_first_version():
    assert file_updates(None, FILE)


def test_the_file_updates_a_version_that_came_from_the_file_when_it_says_something_else():
    from_file = ActiveVersion(1, CONFIG_AUTHOR, FILE)

    assert file_updates(from_file, {**FILE, "overdue_days": 45})
    assert not file_updates(from_file, dict(FILE))  # the same document: no new version


def test_the_file_never_overwrites_an_admins_version():
    by_admin = ActiveVersion(2, "alice", FILE)

    assert not file_updates(by_admin, {**FILE, "overdue_days": 45})
    assert not file_updates(by_admin, FILE)


def test_an_edit_from_the_active_version_or_from_no_version_is_stored():
    active = ActiveVersion(3, "alice", FILE)

    check_base_version(3, active)
    check_base_version(None, active)  # the editor did not say what it started from
    check_base_version(1, None)  # nothing stored yet: nothing to undo


def test_an_edit_from_an_older_version_is_refused_naming_both_versions_and_who_saved_the_newer():
    active = ActiveVersion(4, "bob", FILE)

    with pytest.raises(Conflict) as refused:
        check_base_version(3, active)

    assert str(refused.value) == (
        "the thresholds changed since version 3 (now version 4, by bob): look at them again "
        "and redo the change"
    )


def test_an_edit_from_a_newer_version_than_the_active_one_is_refused_too():
    # A forged newer version is skipped by the store: the active one is older than the base.
    with pytest.raises(Conflict):
        check_base_version(5, ActiveVersion(4, "bob", FILE))


def test_a_change_saved_at_the_same_moment_is_a_conflict_to_look_at_again():
    refused = saved_at_the_same_moment()

    assert isinstance(refused, Conflict)
    assert str(refused) == (
        "another change to the thresholds was saved at the same moment; look at them again"
    )
