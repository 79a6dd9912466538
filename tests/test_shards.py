"""A whole manual on durable_rules: a set far past one ruleset's limits is packed into
several rulesets, and the truths merged from them are the ones one ruleset (or the reference
Kleene evaluator) gives; a condition no packing can hold is refused before screening."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from charging_rules.cli.app import app
from charging_rules.engine import durable
from charging_rules.engine.durable import CompiledRuleset
from charging_rules.engine.evaluate import Evaluator, choose
from charging_rules.guidelines.conditions import AnyItem, Truth, kleene, layout
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.guidelines.schema import GuidelineSet
from charging_rules.model.facts import engine_fact, to_fact
from charging_rules.model.kinds import parse_record
from tests.helpers import EXAMPLES, RULES, manual_referrals, referral

runner = CliRunner()


def _roots(guidelines: GuidelineSet) -> dict[str, Any]:
    roots: dict[str, Any] = {}
    for g_index, guideline in enumerate(guidelines.for_kind("referral")):
        if guideline.scope:
            roots[f"g{g_index}.scope"] = guideline.scope
        for r_index, rule in enumerate(guideline.rules):
            roots[f"g{g_index}.r{r_index}"] = rule.condition
    return roots


def first_applicable(guidelines: GuidelineSet, fact: dict[str, Any]) -> str:
    """The reference: Kleene truths, each guideline's hit policy, the first that decides."""
    for guideline in guidelines.for_kind("referral"):
        if guideline.scope is not None and kleene(guideline.scope, fact) is not Truth.TRUE:
            continue
        chosen = choose(guideline, [r for r in guideline.rules
                                    if kleene(r.condition, fact) is Truth.TRUE])
        if chosen:
            return chosen[0].outcome
    return guidelines.otherwise["referral"].outcome


def test_the_30_guideline_manual_is_packed_into_rulesets_within_the_measured_limits(
        manual_set: GuidelineSet) -> None:
    ruleset = CompiledRuleset(_roots(manual_set))
    assert len(manual_set.guidelines) == 30
    assert sum(len(g.rules) for g in manual_set.guidelines) == 120
    assert len(ruleset.definitions) > 1
    for definition in ruleset.definitions:
        assert len(definition) <= durable.MAX_ENGINE_RULES
    assert sum(len(d) - 1 for d in ruleset.definitions) == 2 * len(ruleset.nodes)


@settings(max_examples=200, deadline=None)
@given(manual_referrals(complete=True))
def test_the_manual_screens_with_the_outcome_first_applicable_gives(
        manual_set: GuidelineSet, data: dict[str, Any]) -> None:
    record, _ = parse_record(data)
    outcome = Evaluator(manual_set).evaluate(record).outcome
    assert outcome == first_applicable(manual_set, engine_fact(record))


@settings(max_examples=80, deadline=None)
@given(manual_referrals(complete=False))
def test_truths_merged_from_the_manuals_rulesets_are_the_kleene_truths(
        manual_set: GuidelineSet, data: dict[str, Any]) -> None:
    fact = to_fact(parse_record(data)[0])
    truths = CompiledRuleset(_roots(manual_set), reuse=False).evaluate(fact)
    for root_id, cond in _roots(manual_set).items():
        for node in layout(root_id, cond):
            expected = kleene(node.condition if node.collection is None else
                              AnyItem(node.collection, "charge", node.condition), fact)
            assert truths[node.id] is expected, node.id


SHIPPED_ROOTS = _roots(load_guidelines(RULES))
WHOLE = CompiledRuleset(SHIPPED_ROOTS, reuse=False)
with pytest.MonkeyPatch.context() as patch:  # the shipped set cut into many small rulesets
    patch.setattr(durable, "MAX_MATCHES_PER_FACT", 6)
    patch.setattr(durable, "MAX_ENGINE_RULES", 7)
    SPLIT = CompiledRuleset(SHIPPED_ROOTS, reuse=False)
maybe_bool = st.one_of(st.none(), st.booleans())


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({
    "jurisdiction": st.sampled_from(["Kansas City", "Independence"]),
    "firearm_recovered": maybe_bool, "violence.victim_injured": maybe_bool,
    "violence.linked_to_violent_incident": maybe_bool, "community_concern.documented": maybe_bool,
    "charges": st.lists(st.fixed_dictionaries({"category": st.sampled_from(
        ["drug_sale", "drug_possession", "violent", "weapon", "property"])}),
        min_size=1, max_size=3)}))
def test_a_set_split_into_many_rulesets_answers_as_one_ruleset_does(
        changes: dict[str, Any]) -> None:
    assert len(SPLIT.definitions) > 4 > len(WHOLE.definitions)
    fact = to_fact(parse_record(referral(**changes))[0])
    assert SPLIT.evaluate(fact) == WHOLE.evaluate(fact)


ONE_BIG_CONDITION = """\
id: big
title: one condition too large for a ruleset
version: "1"
effective: 2023-01-01
source: {{citation: c, text: t}}
hit_policy: first
rules:
  - id: {rule}
    when: {condition}
    outcome: divert
    reason: r
"""


@pytest.mark.parametrize(("condition", "reason"), [
    ("{any: [" + ", ".join(f"{{field: defendant.age, lt: {i}}}" for i in range(65)) + "]}",
     "one condition has 65 alternatives that may hold at once"),
    ("{field: jurisdiction, not_in: [" + ", ".join(f"J{i}" for i in range(65)) + "]}",
     "one condition compares 'jurisdiction' 130 different ways"),
])
def test_a_condition_no_ruleset_can_hold_is_reported_by_validate_before_screening(
        tmp_path: Path, condition: str, reason: str) -> None:
    (tmp_path / "big.yaml").write_text(ONE_BIG_CONDITION.format(rule="too-many",
                                                                condition=condition))
    result = runner.invoke(app, ["rules", "validate", str(tmp_path / "big.yaml")])
    assert result.exit_code == 2
    assert f"big.yaml: guideline big rule too-many: {reason}" in " ".join(result.output.split())
    screened = runner.invoke(app, ["screen", str(EXAMPLES / "referrals" /
                                                 "kc-sale-no-violence.json"),
                                   "--guidelines", str(tmp_path / "big.yaml"),
                                   "--audit-dir", str(tmp_path / "audit")])
    assert screened.exit_code == 2 and reason in " ".join(screened.output.split())
    assert not (tmp_path / "audit").exists()


def test_many_thresholds_on_one_fact_in_separate_rules_screen(tmp_path: Path) -> None:
    # 130 comparisons of defendant.age crash one durable_rules ruleset; split, they screen.
    rules = "".join(f"  - {{id: r{i}, when: {{field: defendant.age, lt: {i}}}, "
                    f"outcome: divert, reason: r}}\n" for i in range(65))
    big = tmp_path / "big.yaml"
    big.write_text('id: big\ntitle: big\nversion: "1"\neffective: 2023-01-01\n'
                   "source: {citation: c, text: t}\nhit_policy: first\nrules:\n" + rules)
    assert runner.invoke(app, ["rules", "validate", str(big)]).exit_code == 0
    evaluator = Evaluator(load_guidelines(big), reuse=False)
    for age in (0, 30, 64, 65):
        result = evaluator.evaluate(parse_record(referral(defendant={"age": age}))[0])
        assert result.rules == (() if age >= 64 else (f"r{age + 1}",))
