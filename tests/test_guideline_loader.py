"""Loading guidelines: every problem refused up front, as `file:line: message`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from charging_rules.errors import InputError
from charging_rules.guidelines.conditions import AnyItem, Compare
from charging_rules.guidelines.loader import (
    GuidelineErrors,
    check_guidelines,
    load_guidelines,
)
from tests.helpers import BAD, GOOD, RULES


def write(tmp_path: Path, text: str, name: str = "g.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_shipped_rules_load() -> None:
    guidelines = load_guidelines(RULES)
    assert [g.id for g in guidelines.for_kind("referral")] == [
        "mo-amendment-3-marijuana", "mo-juvenile", "kc-drug-policy"]
    assert len(guidelines.sha256) == 64


def test_a_single_file_is_a_set_of_one(tmp_path: Path) -> None:
    guidelines = load_guidelines(write(tmp_path, GOOD))
    assert guidelines.guidelines[0].rules[0].condition == Compare("firearm_recovered", "eq", True)
    assert guidelines.otherwise["referral"].outcome == "review"


def test_the_set_hash_changes_with_any_edit_but_not_with_line_endings(tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy, ignore=shutil.ignore_patterns("tests"))
    before = load_guidelines(copy).sha256
    policy = copy / "kc-drug-policy.yaml"
    policy.write_bytes(policy.read_bytes().replace(b"\n", b"\r\n"))
    assert load_guidelines(copy).sha256 == before
    policy.write_text(policy.read_text().replace('version: "1.0"', 'version: "1.1"'))
    assert load_guidelines(copy).sha256 != before


def test_any_charge_compiles_to_an_item_condition(tmp_path: Path) -> None:
    text = GOOD.replace("      field: firearm_recovered\n      eq: true\n",
                        "      any_charge:\n        field: category\n        eq: weapon\n")
    rule = load_guidelines(write(tmp_path, text)).guidelines[0].rules[0]
    assert rule.condition == AnyItem("charges", "charge", Compare("category", "eq", "weapon"))




@pytest.mark.parametrize(("text", "line", "expected"), [(t, ln, e) for _, t, ln, e in BAD],
                         ids=[name for name, *_ in BAD])
def test_malformed_guidelines_are_refused_at_their_line(
        tmp_path: Path, text: str, line: int | None, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(GuidelineErrors) as caught:
        load_guidelines(path)
    first = caught.value.problems[0]
    assert expected in first.message
    assert first.source == str(path)
    assert first.line == line
    assert "\n" not in str(caught.value)


def test_every_problem_is_listed_not_just_the_first(tmp_path: Path) -> None:
    text = GOOD.replace("field: firearm_recovered", "field: race").replace(
        "outcome: file", "outcome: prosecute")
    problems = check_guidelines(write(tmp_path, text))
    assert len(problems) == 2
    assert all(isinstance(p, InputError) for p in problems)


def test_a_directory_needs_set_yaml_and_every_file_listed(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    assert "needs set.yaml" in str(check_guidelines(tmp_path)[0])
    write(tmp_path, "id: s\ntitle: s\ncombine: first-applicable\nguidelines: [g.yaml, h.yaml]\n"
          "otherwise:\n  referral: {outcome: review, reason: fallback}\n", "set.yaml")
    write(tmp_path, GOOD.replace("test-guideline", "other"), "stray.yaml")
    messages = [str(p) for p in check_guidelines(tmp_path)]
    assert any("stray.yaml: not listed in set.yaml" in m for m in messages)
    assert any("set.yaml:4: guidelines[1]: 'h.yaml' is not a file" in m for m in messages)


def test_a_set_needs_a_fallback_for_each_record_kind(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    write(tmp_path, "id: s\ntitle: s\ncombine: first-applicable\nguidelines: [g.yaml]\n",
          "set.yaml")
    assert "no fallback outcome for 'referral'" in str(check_guidelines(tmp_path)[0])


def test_a_single_guideline_file_falls_back_within_its_own_record_kind() -> None:
    victim = load_guidelines(RULES / "victim-outreach.yaml")
    assert set(victim.otherwise) == {"victim"}
    assert victim.otherwise["victim"].outcome == "needs_information"
    assert set(load_guidelines(RULES / "kc-drug-policy.yaml").otherwise) == {"referral"}
