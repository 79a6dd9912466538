"""A manual asked scope first (engine/scoped.py): durable_rules is asked the rules of only
the guidelines whose scope is not false on the referral or on one of its counts, and the
recommendation is the one a traced evaluation gives (tests/test_evaluation_cache.py checks
that by property on the shipped set and the manual)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from charging_rules.engine.evaluate import SCOPE_FIRST_FROM, Evaluator
from charging_rules.engine.scoped import ScopedRuleset
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.guidelines.schema import GuidelineSet
from charging_rules.model.facts import engine_fact
from charging_rules.model.kinds import parse_record
from tests.helpers import manual_statute, referral, untraced, write_manual

NEGATED_SCOPE = """id: not-weapons
title: Everything but weapons
version: "1"
effective: 2020-01-01
applies_to: referral
source: {citation: test, text: test}
scope:
  not: {any_charge: {field: category, eq: weapon}}
hit_policy: first
rules:
  - id: young
    when: {field: defendant.age, lt: 21}
    outcome: divert
    reason: young
  - id: large
    when: {any_charge: {field: quantity_grams, ge: 10}}
    outcome: file
    reason: large
"""


@pytest.fixture(scope="module")
def manual(manual_set: GuidelineSet) -> Evaluator:
    evaluator = Evaluator(manual_set, trace=False)
    assert isinstance(evaluator._ruleset, ScopedRuleset)  # a manual's batch: scope first
    return evaluator


def _asked(evaluator: Evaluator, charges: list[dict[str, Any]]) -> list[str]:
    """The guidelines whose rules durable_rules was asked for a referral with `charges`."""
    ruleset = evaluator._ruleset
    assert isinstance(ruleset, ScopedRuleset)
    record = parse_record(referral(charges=charges))[0]
    answer = ruleset.answer_many([engine_fact(record)])[0]
    scope_of = {f"g{g}.scope": guideline.id for g, guideline in enumerate(evaluator.guidelines)}
    return [scope_of[str(ruleset._groups[group][0])] for group, _ in answer.asked]


def test_only_the_guidelines_in_scope_are_asked(manual: Evaluator) -> None:
    drugs = {"category": "drug_possession", "quantity_grams": 2.0}
    assert _asked(manual, [{**drugs, "statute": manual_statute(3)}]) == ["statute-003"]
    assert _asked(manual, [{**drugs, "statute": manual_statute(17)},
                           {**drugs, "statute": manual_statute(3)}]) == \
        ["statute-003", "statute-017"]
    assert _asked(manual, [{**drugs, "statute": "579.015"}]) == []  # no guideline's


def test_a_charge_without_a_statute_asks_every_guideline(manual: Evaluator) -> None:
    """Missing is not false: a scope the record leaves unknown may govern it."""
    asked = _asked(manual, [{"category": "drug_possession", "quantity_grams": 2.0}])
    assert asked == [g.id for g in manual.guidelines]
    record = parse_record(referral(charges=[{"category": "drug_possession"}]))[0]
    assert manual.evaluate(record).outcome == "needs_information"


def test_a_guideline_false_on_the_referral_but_governing_a_count_is_asked(
        tmp_path: Path) -> None:
    """"Not a weapons charge" is false of a referral holding one, yet governs its other
    counts: scope first still asks that guideline's rules for them."""
    (tmp_path / "g.yaml").write_text(NEGATED_SCOPE)
    (tmp_path / "set.yaml").write_text(
        "id: s\ntitle: s\ncombine: first-applicable\nguidelines: [g.yaml]\n"
        "otherwise:\n  referral: {outcome: review, reason: no guideline applies}\n")
    guidelines = load_guidelines(tmp_path)
    record = parse_record(referral(charges=[
        {"category": "weapon", "statute": "571.030"},
        {"category": "drug_possession", "statute": "579.015", "quantity_grams": 12.0}],
        **{"defendant.age": 19}))[0]
    screened = Evaluator(guidelines).evaluate(record)
    assert [c.outcome for c in screened.counts] == ["review", "divert"]
    for scope_first in (True, False):
        got = Evaluator(guidelines, trace=False, scope_first=scope_first).evaluate(record)
        assert untraced([got]) == untraced([screened])


FIREARMS = """id: firearms
title: Firearms, whatever the charge
version: "1"
effective: 2020-01-01
applies_to: referral
source: {citation: test, text: test}
hit_policy: first
rules:
  - id: armed
    when: {field: firearm_recovered, eq: true}
    outcome: file
    reason: armed
"""


@pytest.mark.parametrize("dated", [True, False])
def test_a_guideline_governing_every_record_is_always_asked(tmp_path: Path,
                                                            dated: bool) -> None:
    """A guideline whose scope is only its effective date, or that has no scope at all (an
    evaluator's guideline built in code, not loaded), governs every record: scope first
    asks its rules for every referral, beside those of the guidelines in scope."""
    (tmp_path / "f.yaml").write_text(FIREARMS)
    (tmp_path / "g.yaml").write_text(NEGATED_SCOPE)
    (tmp_path / "set.yaml").write_text(
        "id: s\ntitle: s\ncombine: first-applicable\nguidelines: [f.yaml, g.yaml]\n"
        "otherwise:\n  referral: {outcome: review, reason: no guideline applies}\n")
    guidelines = load_guidelines(tmp_path)
    if not dated:
        firearms, rest = guidelines.guidelines[0], guidelines.guidelines[1:]
        guidelines = dataclasses.replace(
            guidelines, guidelines=(dataclasses.replace(firearms, scope=None), *rest))
    weapon = {"category": "weapon", "statute": "571.030"}
    drugs = {"category": "drug_possession", "statute": "579.015", "quantity_grams": 12.0}
    records = [parse_record(referral(charges=charges, firearm_recovered=armed,
                                     **{"defendant.age": age}))[0]
               for charges in ([weapon], [drugs], [weapon, drugs])
               for armed in (True, False, None) for age in (19, 40, None)]
    screened = untraced(Evaluator(guidelines).evaluate_many(records))
    scope_first = Evaluator(guidelines, trace=False, scope_first=True)
    assert untraced(scope_first.evaluate_many(records)) == screened
    assert {r.outcome for r in scope_first.evaluate_many(records)} == \
        {"file", "divert", "review", "needs_information"}


def test_a_small_set_is_one_ruleset_unless_asked(tmp_path: Path) -> None:
    """Scope first pays from `SCOPE_FIRST_FROM` scoped guidelines (benchmarks/README.md);
    a trace shows every guideline's rules, so it never skips them."""
    small = load_guidelines(write_manual(tmp_path / "small", SCOPE_FIRST_FROM - 1))
    large = load_guidelines(write_manual(tmp_path / "large", SCOPE_FIRST_FROM))
    assert not isinstance(Evaluator(small, trace=False)._ruleset, ScopedRuleset)
    assert isinstance(Evaluator(small, trace=False, scope_first=True)._ruleset, ScopedRuleset)
    assert isinstance(Evaluator(large, trace=False)._ruleset, ScopedRuleset)
    assert not isinstance(Evaluator(large)._ruleset, ScopedRuleset)
