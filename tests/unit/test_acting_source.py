"""Which source an `erp` client acts for (gating.roles.acting_source): its own, or one its key
was granted; never any other."""

from __future__ import annotations

import pytest

from gating.errors import SourceNotGranted
from gating.roles import acting_source


@pytest.mark.parametrize(
    ("granted", "asked", "acts_for"),
    [
        ((), None, "erp1"),
        ((), "erp1", "erp1"),
        (("erp1", "erp2"), None, "erp1"),
        (("erp1", "erp2"), "erp2", "erp2"),
        (("erp1", "erp2"), "erp1", "erp1"),
    ],
)
def test_a_client_acts_for_its_own_source_or_a_granted_one(granted, asked, acts_for):
    assert acting_source("erp1", granted, asked) == acts_for


@pytest.mark.parametrize(
    ("granted", "asked"),
    [((), "erp2"), (("erp1", "erp2"), "erp3"), ((), "ERP1"), ((), "erp1 "), ((), "")],
)
def test_any_other_source_is_refused_naming_the_field(granted, asked):
    with pytest.raises(SourceNotGranted) as refused:
        acting_source("erp1", granted, asked)

    assert refused.value.field == "source"
    assert repr(asked) in str(refused.value)
