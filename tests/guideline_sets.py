"""Small guideline sets written into temporary directories for the `rules` tests."""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


CHARGING_FILES = ("mo-amendment-3-marijuana.yaml", "mo-juvenile.yaml", "kc-drug-policy.yaml")


def charging_part(dest: Path) -> Path:
    """The shipped set without its victim-outreach guideline (and that guideline's cases and
    fallback): the charging guidelines, for tests about them."""
    dest.mkdir(parents=True)
    (dest / "tests").mkdir()
    for name in CHARGING_FILES:
        shutil.copy(ROOT / "rules" / name, dest)
        shutil.copy(ROOT / "rules" / "tests" / name, dest / "tests")
    lines = (ROOT / "rules" / "set.yaml").read_text().splitlines(keepends=True)
    victim_at = next(i for i, line in enumerate(lines) if line.startswith("  victim:"))
    assert all(line.startswith("    ") for line in lines[victim_at + 1:]), "victim: not last"
    kept = [line for line in lines[:victim_at] if not line.startswith("  - ")
            or line.strip("- \n") in CHARGING_FILES]
    (dest / "set.yaml").write_text("".join(kept))
    return dest


# The `rules` tests count the rules, cases and findings of the charging guidelines; outreach
# has its own (tests/test_outreach_guideline.py, and the full set in test_outreach_cli.py).
SHIPPED = charging_part(Path(tempfile.mkdtemp(prefix="charging-rules-shipped-")) / "rules")

SET_YAML = """\
id: crafted
title: Crafted guideline set
combine: first-applicable
guidelines: [{files}]
otherwise:
{otherwise}
"""

GUIDELINE_YAML = """\
id: {id}
title: Crafted guideline {id}
version: "1"
effective: 2024-01-01
applies_to: {kind}
source: {{citation: test, text: crafted for a test}}
hit_policy: {policy}
"""


def guideline(gid: str, rules: str, policy: str = "first", scope: str | None = None,
              kind: str = "referral") -> str:
    text = GUIDELINE_YAML.format(id=gid, kind=kind, policy=policy)
    if scope is not None:
        text += "scope:\n" + textwrap.indent(textwrap.dedent(scope).strip(), "  ") + "\n"
    return text + "rules:\n" + textwrap.indent(textwrap.dedent(rules).strip(), "  ") + "\n"


def write_set(root: Path, *guidelines: str,
              otherwise: dict[str, str] | None = None) -> Path:
    """A set directory: each guideline text as g<n>.yaml, listed in order."""
    root.mkdir(parents=True, exist_ok=True)
    names = []
    for index, text in enumerate(guidelines):
        name = f"g{index}.yaml"
        (root / name).write_text(text)
        names.append(name)
    fallback = otherwise or {"referral": "review"}
    lines = "\n".join(f"  {kind}: {{outcome: {o}, reason: fallback for {kind}}}"
                      for kind, o in fallback.items())
    (root / "set.yaml").write_text(SET_YAML.format(files=", ".join(names), otherwise=lines))
    return root


def copy_shipped(dest: Path) -> Path:
    shutil.copytree(SHIPPED, dest)
    return dest


def mutate_rule(set_dir: Path, rule_id: str, **changes: object) -> None:
    """Change one rule of a copied guideline (comments are lost; the policy is not)."""
    path = next(p for p in set_dir.glob("*.yaml")
                if f"id: {rule_id}\n" in p.read_text())
    data = yaml.safe_load(path.read_text())
    rule = next(r for r in data["rules"] if r["id"] == rule_id)
    rule.update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
