"""Imports point inward: the layering in DESIGN.md, checked by parsing every module's imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_gating_imports_nothing_but_the_standard_library_and_itself():
    for module, names in _imports("gating").items():
        foreign = names - STDLIB - {"gating"}
        assert not foreign, f"{module} imports {sorted(foreign)}"


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("connector", {"adapters", "sqlalchemy", "requests", "zeep"}),
        ("adapters", {"connector", "sync", "config", "flask", "marshmallow"}),
        (
            "sync",
            {"connector", "adapters", "config", "flask", "sqlalchemy", "requests", "zeep"},
        ),
        ("config", {"connector", "flask", "marshmallow"}),
    ],
)
def test_layers_do_not_import_outward(package, forbidden):
    offenders = {
        module: sorted(names & forbidden)
        for module, names in _imports(package).items()
        if names & forbidden
    }
    assert not offenders
