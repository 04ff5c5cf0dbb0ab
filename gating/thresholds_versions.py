"""Thresholds versions: when a new version may be stored.

Every change to the thresholds is a new version, and two rules guard them. An admin's edit made
from an older version than the active one is refused: stored, it would silently undo the change
saved in between. The configuration file (the defaults and CREDITGATE_CONFIG) seeds the first
version and updates versions that came from the file, and never overwrites a version an admin
made. The store (adapters/db/admin.py) reads the active version and stores the new one in one
transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gating.errors import Conflict

CONFIG_AUTHOR = "config"
"""`created_by` of the versions made from the configuration file."""

CONFIG_REASON = "thresholds from defaults and CREDITGATE_CONFIG"


@dataclass(frozen=True)
class ActiveVersion:
    """The version the gate decides under: its number, who made it and its document."""

    version: int
    created_by: str
    document: Mapping[str, Any]


def file_updates(active: ActiveVersion | None, document: Mapping[str, Any]) -> bool:
    """Whether the file's `document` is stored as a new version: when none is stored yet, or
    when the active version came from the file and says something else. A version an admin
    made stays active whatever the file says (the admin changes it on the thresholds page)."""
    if active is None:
        return True
    return active.created_by == CONFIG_AUTHOR and dict(active.document) != dict(document)


def check_base_version(base_version: int | None, active: ActiveVersion | None) -> None:
    """Refuse an edit started from `base_version` when another version was saved since (None:
    an edit that did not say what it started from, stored as it is).

    :raises Conflict: naming both versions and who saved the newer one.
    """
    if base_version is not None and active is not None and active.version != base_version:
        raise Conflict(
            f"the thresholds changed since version {base_version} (now version "
            f"{active.version}, by {active.created_by}): look at them again and redo the change"
        )


def saved_at_the_same_moment() -> Conflict:
    """The refusal when another change took the same version number at the same moment."""
    return Conflict(
        "another change to the thresholds was saved at the same moment; look at them again"
    )
