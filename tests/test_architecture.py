"""The layering in docs/architecture.md, enforced: a module imports only its own layer or the
layers below it, so the flow referral -> guidelines -> engine -> audit -> screening -> analysis
reads from the tree and no change can quietly tie a lower layer to a higher one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "src" / "charging_rules"

# Bottom to top; one entry per layer (docs/architecture.md). Packages sharing a layer may not
# import each other.
LAYERS: list[set[str]] = [
    {"text"},
    {"", "errors"},
    {"files"},
    {"config"},
    {"model"},
    {"guidelines"},
    {"ingest"},
    {"engine"},
    {"audit"},
    {"screening"},
    {"analysis", "outreach", "rulecheck"},
    {"cli"},
]


def layer_of(unit: str) -> int:
    for index, units in enumerate(LAYERS):
        if unit in units:
            return index
    raise AssertionError(f"{unit!r} is in no layer: add it to docs/architecture.md and LAYERS")


def unit_of_module(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    if relative.name == "__main__.py":  # `python -m charging_rules`: the CLI's entry point
        return "cli"
    return "" if relative.name == "__init__.py" and len(relative.parts) == 1 else \
        relative.parts[0].removesuffix(".py")


def imported_units(path: Path) -> list[tuple[int, str]]:
    """(line, unit) for every import of charging_rules.<unit>, at any depth in the module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif node.module:
            names = [node.module] if node.module != "charging_rules" else \
                [f"charging_rules.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "charging_rules":
                unit = parts[1] if len(parts) > 1 else ""
                found.append((node.lineno, "" if unit == "__version__" else unit))
    return found


def violations() -> list[str]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = unit_of_module(path)
        own = layer_of(unit)
        for line, target in imported_units(path):
            if target == unit or target == "data":
                continue
            theirs = layer_of(target)
            if theirs > own or (theirs == own and target != unit):
                out.append(f"{path.relative_to(PACKAGE)}:{line}: {unit or 'charging_rules'} "
                           f"(layer {own}) imports {target} (layer {theirs})")
    return out


def test_no_module_imports_a_layer_above_its_own() -> None:
    assert violations() == []


def test_every_package_is_in_a_layer_and_in_the_architecture_doc() -> None:
    doc = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text()
    for path in PACKAGE.iterdir():
        if path.name.startswith(("_", ".")) or path.name in ("data", "py.typed"):
            continue
        unit = path.name.removesuffix(".py")
        layer_of(unit)
        assert f"`{unit}" in doc, f"docs/architecture.md does not describe {unit}"


@pytest.mark.parametrize(("importer", "imported"), [("model", "engine"), ("audit", "cli"),
                                                     ("analysis", "outreach")])
def test_the_check_catches_an_upward_import(tmp_path: Path, importer: str,
                                            imported: str) -> None:
    """Break the rule on purpose in a copy: the check must name the offending line."""
    source = tmp_path / "mod.py"
    source.write_text(f"import os\n\ndef f():\n    from charging_rules.{imported} import x\n")
    (line, unit), = imported_units(source)
    assert (line, unit) == (4, imported)
    assert layer_of(unit) > layer_of(importer) or (
        layer_of(unit) == layer_of(importer) and unit != importer)
