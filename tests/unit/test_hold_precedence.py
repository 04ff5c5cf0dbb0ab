"""Which hold wins (gating/hold_precedence.py): the ERP's and an admin's hold of a customer, and
its group's for the warning ladder."""

from __future__ import annotations

import pytest

from gating.hold_precedence import customer_hold, with_group_hold


def test_a_customer_nobody_holds_is_not_on_hold():
    assert customer_hold(False, None, False, None) == (False, None)
    assert customer_hold(None, None, False, None) == (False, None)  # no ERP field: no hold


def test_the_erps_hold_and_its_reason():
    assert customer_hold(True, "credit review", False, None) == (True, "credit review")


def test_the_erps_reason_is_kept_when_it_holds_no_more():
    assert customer_hold(False, "was on review", False, None) == (False, "was on review")


@pytest.mark.parametrize("erp_hold", [False, True])
def test_an_admins_hold_wins_and_is_named_as_creditgates(erp_hold):
    found = customer_hold(erp_hold, "ERP reason", True, "disputed invoices")

    assert found == (True, "held by creditgate: disputed invoices")


def test_a_customers_own_hold_wins_over_its_groups_for_the_ladder():
    own = (True, "held by creditgate: disputed invoices")

    assert with_group_hold(own, True, "parent in arrears") == own


def test_a_group_on_hold_puts_a_customer_not_on_hold_on_hold_with_the_groups_reason():
    assert with_group_hold((False, None), True, "parent in arrears") == (
        True,
        "group: parent in arrears",
    )
    assert with_group_hold((False, "old"), True, None) == (True, "group: on hold")


@pytest.mark.parametrize("group_on_hold", [False, None])
def test_a_group_not_on_hold_changes_nothing(group_on_hold):
    assert with_group_hold((False, "old"), group_on_hold, "x") == (False, "old")
    assert with_group_hold((True, "own"), group_on_hold, "x") == (True, "own")
