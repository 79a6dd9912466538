"""A generated charging manual: one guideline per statute, four rules each, with thresholds on
the same facts in every guideline (quantity, age), the size of a real office's manual."""

from __future__ import annotations

from pathlib import Path


def statute(i: int) -> str:
    return f"195.{200 + i}"


def limits(i: int) -> tuple[float, int]:
    """Quantity (grams) and age thresholds of guideline i, distinct per guideline."""
    return round(1 + 0.25 * i, 2), 17 + i % 40


def _guideline(i: int) -> str:
    grams, age = limits(i)
    return f"""\
id: statute-{i:03d}
title: Statute {statute(i)}
version: "1"
effective: 2022-01-01
applies_to: referral
source: {{citation: "RSMo {statute(i)}", text: "Generated guideline {i} for tests."}}
scope:
  any_charge: {{field: statute, eq: "{statute(i)}"}}
hit_policy: first
rules:
  - id: g{i}-weight
    when:
      any_charge:
        all: [{{field: statute, eq: "{statute(i)}"}}, {{field: quantity_grams, ge: {grams}}}]
    outcome: file
    reason: at least {grams} g
  - id: g{i}-firearm
    when: {{field: firearm_recovered, eq: true}}
    outcome: file
    reason: a firearm
  - id: g{i}-young
    when: {{field: defendant.age, lt: {age}}}
    outcome: divert
    reason: younger than {age}
  - id: g{i}-small
    when:
      all:
        - {{field: firearm_recovered, eq: false}}
        - any_charge:
            all: [{{field: statute, eq: "{statute(i)}"}}, {{field: quantity_grams, lt: {grams}}}]
    outcome: decline
    reason: under {grams} g
"""


def write_manual(dest: Path, count: int = 30) -> Path:
    """`count` guidelines and their set.yaml in `dest`; returns `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        names.append(f"statute-{i:03d}.yaml")
        (dest / names[-1]).write_text(_guideline(i))
    (dest / "set.yaml").write_text(
        f"id: manual-{count}\ntitle: Generated manual\ncombine: first-applicable\n"
        f"guidelines: [{', '.join(names)}]\n"
        "otherwise:\n  referral: {outcome: review, reason: no guideline applies}\n")
    return dest
