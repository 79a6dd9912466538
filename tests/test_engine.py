"""The engine: the KC guideline's outcomes, missing-is-not-false, hit policies, blindness,
and agreement between durable_rules and the language's reference semantics."""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging_rules.engine.durable import CompiledRuleset
from charging_rules.engine.evaluate import Evaluator, _worlds, choose
from charging_rules.guidelines import conditions
from charging_rules.guidelines.conditions import AnyItem, Compare, Condition, Truth, kleene
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.guidelines.schema import Guideline, HitPolicy, Rule
from charging_rules.model.facts import engine_fact, vocabulary
from charging_rules.model.kinds import parse_record
from charging_rules.model.referral import Referral
from tests.helpers import REPO, RULES, UNKNOWN_BASE, facts, referral

KC = Evaluator(load_guidelines(RULES))


def recommend(data: dict[str, Any]) -> Any:
    record, _ = parse_record(data)
    return KC.evaluate(record)


VIOLENCE_FACTS = {
    "firearm_recovered": {"firearm_recovered": True},
    "violent charge": {"charges": [{"category": "drug_sale"}, {"category": "violent"}]},
    "weapon charge": {"charges": [{"category": "drug_possession", "drug": "heroin"},
                                  {"category": "weapon"}]},
    "linked to violence": {"violence.linked_to_violent_incident": True},
    "victim injured": {"violence.victim_injured": True},
}


@pytest.mark.parametrize("changes", VIOLENCE_FACTS.values(), ids=VIOLENCE_FACTS.keys())
def test_any_connection_to_violence_files(changes: dict[str, Any]) -> None:
    result = recommend(referral(**changes))
    assert (result.outcome, list(result.rules)) == ("file", ["kc-drug-violence-connection"])
    assert result.missing == ()
    assert result.citations[0].text.startswith("It was clear our drug enforcement")


def test_a_documented_community_concern_with_its_source_files() -> None:
    result = recommend(referral(community_concern={"documented": True, "source": "Block club"}))
    assert (result.outcome, list(result.rules)) == ("file", ["kc-drug-community-concern"])


def test_no_violence_and_no_concern_declines() -> None:
    result = recommend(referral())
    assert (result.outcome, list(result.rules), list(result.missing)) == (
        "decline", ["kc-drug-no-connection"], [])


@pytest.mark.parametrize("fact", [
    "firearm_recovered", "violence.linked_to_violent_incident", "violence.victim_injured",
    "community_concern.documented",
])
def test_each_unknown_fact_that_could_change_a_decline_needs_information(fact: str) -> None:
    result = recommend(referral(**{fact: None}))
    assert result.outcome == "needs_information"
    assert fact in result.missing
    # The concern rule also needs its source, which the base referral does not give.
    assert set(result.missing) - {fact} <= {"community_concern.source"}


def test_a_concern_without_its_source_needs_the_source() -> None:
    result = recommend(referral(community_concern={"documented": True}))
    assert (result.outcome, result.missing) == ("needs_information",
                                                ("community_concern.source",))


def test_an_unknown_fact_does_not_matter_once_violence_is_shown() -> None:
    result = recommend(referral(firearm_recovered=True, violence=None, community_concern=None))
    assert (result.outcome, list(result.missing)) == ("file", [])


def test_a_referral_that_says_nothing_names_every_missing_fact() -> None:
    result = recommend({"referral_id": "KC-9", "received": "2023-01-01",
                        "jurisdiction": "Kansas City", "charges": [{"category": "drug_sale"}]})
    assert result.outcome == "needs_information"
    # A bare "Kansas City" with nothing saying which state (so neither the place nor its
    # state, on which Missouri's juvenile law turns), and no age: asked too.
    assert list(result.missing) == sorted([
        "community_concern.documented", "community_concern.source", "defendant.age",
        "firearm_recovered", "place", "place_state", "violence.linked_to_violent_incident",
        "violence.victim_injured"])


@pytest.mark.parametrize("changes", [
    {"jurisdiction": "Independence", "agency": "Independence Police Department"},
    {"jurisdiction": "Lee's Summit"},
    {"charges": [{"category": "property"}]},
    {"charges": [{"category": "violent"}], "firearm_recovered": None},
])
def test_out_of_scope_referrals_get_standard_review(changes: dict[str, Any]) -> None:
    result = recommend(referral(**changes))
    assert (result.outcome, list(result.rules), list(result.missing)) == ("review", [], [])
    assert "standard charging review" in result.reasons[0]
    assert next(t for t in result.trace if t.guideline == "kc-drug-policy").scope == "failed"


def test_the_recommendation_names_the_guideline_versions() -> None:
    result = recommend(referral())
    guidelines = load_guidelines(RULES)
    assert result.guideline_set_sha256 == guidelines.sha256
    assert result.to_log()["guidelines"] == guidelines.summary("referral")


# --- race-blind by construction ---------------------------------------------------------

demographics = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "race": st.sampled_from(["Black", "White", "Hispanic", "Asian", "Unknown", "x" * 30]),
    "ethnicity": st.sampled_from(["Hispanic", "Not Hispanic"]),
    "sex": st.sampled_from(["Male", "Female", "Nonbinary"]),
}))


@settings(max_examples=150, deadline=None)
@given(facts, demographics, demographics)
def test_demographics_never_change_the_recommendation(
        changes: dict[str, Any], first: dict[str, Any] | None,
        second: dict[str, Any] | None) -> None:
    base = referral(**UNKNOWN_BASE, **changes)
    with_first = {**base, **({"demographics": first} if first is not None else {})}
    with_second = {**base, **({"demographics": second} if second is not None else {})}
    assert recommend(with_first) == recommend(with_second)


def test_evaluation_is_deterministic_and_survives_many_sessions() -> None:
    # More evaluations than durable_rules' 1024 live sessions, with equal facts repeated.
    record, _ = parse_record(referral(firearm_recovered=None))
    results = list(KC.evaluate_many([record] * 3000))
    assert all(r == results[0] for r in results)
    assert results[0].outcome == "needs_information"


# --- durable_rules agrees with the reference three-valued semantics ---------------------

VOCAB = vocabulary(Referral)
EXTRA_CONDITIONS = [
    {"field": "defendant.age", "lt": 18},
    {"field": "defendant.age", "ge": 65},
    {"not": {"field": "jurisdiction", "in": ["Kansas City", "Raytown"]}},
    {"field": "jurisdiction", "not_in": ["Independence"]},
    {"field": "firearm_recovered", "exists": True},
    {"field": "community_concern.source", "exists": False},
    {"any_charge": {"all": [{"field": "category", "eq": "drug_sale"},
                            {"field": "quantity_grams", "le": 35}]}},
    {"any_charge": {"any": [{"field": "drug", "in": ["heroin", "fentanyl"]},
                            {"not": {"field": "quantity_grams", "gt": 10}}]}},
    {"not": {"any_charge": {"field": "quantity_grams", "exists": True}}},
    {"every_charge": {"field": "category", "in": ["drug_possession", "drug_sale"]}},
    {"not": {"every_charge": {"field": "quantity_grams", "lt": 10}}},
    {"sum_charges": {"field": "quantity_grams", "where": {"field": "drug", "eq": "marijuana"},
                     "gt": 20}},
    {"sum_charges": {"field": "quantity_grams", "where": {"field": "level", "ne": "felony"},
                     "lt": 5}},
    {"any": [{"all": [{"field": "firearm_recovered", "ne": True},
                      {"field": "violence.victim_injured", "eq": False}]},
             {"not": {"field": "community_concern.documented", "eq": True}}]},
]


def _all_conditions() -> list[Condition]:
    found: list[Condition] = []
    for shipped in load_guidelines(RULES).for_kind("referral"):
        found += [shipped.scope] if shipped.scope else []
        found += [rule.condition for rule in shipped.rules]
    for raw in EXTRA_CONDITIONS:
        parsed = conditions.parse(raw, VOCAB, (), lambda path, message: pytest.fail(message))
        assert parsed is not None
        found.append(parsed)
    return found


ROOTS = {f"c{i}": cond for i, cond in enumerate(_all_conditions())}
NODES = [node for root_id, cond in ROOTS.items() for node in conditions.layout(root_id, cond)]
COMPILED = CompiledRuleset(ROOTS)


def reference(node: conditions.Node) -> Condition:
    """What the engine reports for a node: inside 'any charge', whether some charge holds."""
    if node.collection is None:
        return node.condition
    return AnyItem(node.collection, "charge", node.condition)


@settings(max_examples=300, deadline=None)
@given(facts, st.one_of(st.none(), st.integers(0, 100)))
def test_durable_rules_matches_kleene_semantics_on_every_condition(
        changes: dict[str, Any], age: int | None) -> None:
    data = referral(**UNKNOWN_BASE, **changes)
    if age is not None:
        data["defendant"] = {"age": age}
    fact = engine_fact(parse_record(data)[0])
    truths = COMPILED.evaluate(fact)
    assert set(truths) == {node.id for node in NODES}
    for node in NODES:
        assert truths[node.id] == kleene(reference(node), fact), conditions.describe(node.condition)


def test_missing_facts_are_unknown_not_false() -> None:
    truths = COMPILED.evaluate(engine_fact(parse_record(referral(firearm_recovered=None))[0]))
    node = next(n for n in NODES if conditions.describe(n.condition) == "a firearm was recovered")
    assert truths[node.id] is Truth.UNKNOWN


# --- hit policies ---------------------------------------------------------------------

POLICY = """\
id: policy-test
title: hit policy test
version: "1"
effective: 2023-01-01
source: {{citation: test, text: test}}
hit_policy: {policy}
rules:
  - id: a-firearm
    when: {{field: firearm_recovered, eq: true}}
    outcome: file
    reason: a{pa}
  - id: b-injured
    when: {{field: violence.victim_injured, eq: true}}
    outcome: {b_outcome}
    reason: b{pb}
"""


def policy(tmp_path: Path, name: str, b_outcome: str = "divert",
           priorities: tuple[int, int] | None = None) -> Evaluator:
    pa, pb = ("", "") if priorities is None else (
        f"\n    priority: {priorities[0]}", f"\n    priority: {priorities[1]}")
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"{name}.yaml"
    path.write_text(POLICY.format(policy=name, b_outcome=b_outcome, pa=pa, pb=pb))
    return Evaluator(load_guidelines(path))


def outcome(evaluator: Evaluator, **changes: Any) -> tuple[str, list[str]]:
    result = evaluator.evaluate(parse_record(referral(**changes))[0])
    return result.outcome, list(result.rules)


def test_first_hit_policy_takes_the_first_rule_that_holds(tmp_path: Path) -> None:
    first = policy(tmp_path, "first")
    both = {"firearm_recovered": True, "violence.victim_injured": True}
    assert outcome(first, **both) == ("file", ["a-firearm"])
    assert outcome(first, **{"violence.victim_injured": True}) == ("divert", ["b-injured"])
    assert outcome(first) == ("review", [])


def test_first_hit_policy_needs_information_only_when_an_unknown_changes_it(
        tmp_path: Path) -> None:
    first = policy(tmp_path, "first")
    # An unknown earlier rule with another outcome splits the result ...
    assert outcome(first, firearm_recovered=None, **{"violence.victim_injured": True}) == (
        "needs_information", ["a-firearm"])
    # ... an unknown later rule cannot, once an earlier one holds.
    assert outcome(first, firearm_recovered=True, **{"violence.victim_injured": None}) == (
        "file", ["a-firearm"])
    # An unknown earlier rule with the same outcome as the one that holds changes nothing.
    same = policy(tmp_path / "same", "first", b_outcome="file")
    assert outcome(same, firearm_recovered=None, **{"violence.victim_injured": True}) == (
        "file", ["b-injured"])


def test_priority_hit_policy_takes_the_highest_priority(tmp_path: Path) -> None:
    prio = policy(tmp_path, "priority", priorities=(1, 5))
    both = {"firearm_recovered": True, "violence.victim_injured": True}
    assert outcome(prio, **both) == ("divert", ["b-injured"])
    assert outcome(prio, firearm_recovered=True) == ("file", ["a-firearm"])


def test_unique_hit_policy_conflict_falls_back_to_review(tmp_path: Path) -> None:
    unique = policy(tmp_path, "unique")
    assert outcome(unique, firearm_recovered=True) == ("file", ["a-firearm"])
    both = {"firearm_recovered": True, "violence.victim_injured": True}
    assert outcome(unique, **both)[0] == "review"


def _many_unknown_rules(tmp_path: Path, policy_name: str, unknown: int) -> Evaluator:
    """`unknown` rules on the defendant's age (unknown when it is missing), alternating
    decline/divert, then a rule that holds for every Kansas City referral: file."""
    def priority(p: int) -> str:
        return f", priority: {p}" if policy_name == "priority" else ""

    lines = [POLICY.split("rules:")[0].format(policy=policy_name) + "rules:"]
    lines += [f"  - {{id: u{i}, when: {{field: defendant.age, lt: {i + 1}}}, "
              f"outcome: {('decline', 'divert')[i % 2]}, reason: r{priority(50 + i)}}}"
              for i in range(unknown)]
    lines.append(f"  - {{id: k, when: {{field: jurisdiction, eq: Kansas City}}, outcome: file, "
                 f"reason: r{priority(1)}}}")
    path = tmp_path / f"many-{policy_name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return Evaluator(load_guidelines(path))


@pytest.mark.parametrize("policy_name", ["first", "priority", "unique"])
@pytest.mark.parametrize("unknown", [3, 15])
def test_many_unknown_rules_before_one_that_holds_need_information(
        tmp_path: Path, policy_name: str, unknown: int) -> None:
    # Any of the unknown rules could take precedence over (or conflict with) the one that
    # holds, however many there are: the outcome is not settled until the age is known.
    evaluator = _many_unknown_rules(tmp_path, policy_name, unknown)
    result = evaluator.evaluate(parse_record(referral(defendant=None))[0])
    assert (result.outcome, list(result.missing)) == ("needs_information", ["defendant.age"])
    aged = evaluator.evaluate(parse_record(referral(defendant={"age": 40}))[0])
    assert (aged.outcome, aged.rules) == ("file", ("k",))


def test_an_unknown_rule_behind_one_that_holds_is_not_asked_about(tmp_path: Path) -> None:
    path = tmp_path / "behind.yaml"
    path.write_text(POLICY.split("rules:")[0].format(policy="first") + "rules:\n"
                    "  - {id: young, when: {field: defendant.age, lt: 18}, outcome: divert, "
                    "reason: young}\n"
                    "  - {id: kc, when: {field: jurisdiction, eq: Kansas City}, outcome: file, "
                    "reason: kc}\n"
                    "  - {id: gun, when: {field: firearm_recovered, eq: true}, outcome: decline, "
                    "reason: gun}\n")
    result = Evaluator(load_guidelines(path)).evaluate(
        parse_record(referral(firearm_recovered=None, defendant=None))[0])
    # The firearm cannot matter: 'kc' holds before 'gun' is reached, whatever it says.
    assert (result.outcome, list(result.rules), list(result.missing)) == (
        "needs_information", ["young"], ["defendant.age"])
    assert not any("gun" in reason for reason in result.reasons)


def _decided(guideline: Guideline, holding: list[Rule]) -> str:
    """What the hit policy makes of the rules that hold (any UNIQUE conflict is one result:
    the fallback)."""
    outcomes = {r.outcome for r in choose(guideline, holding)}
    return "(none)" if not outcomes else outcomes.pop() if len(outcomes) == 1 else "(conflict)"


def _brute_force_outcomes(guideline: Guideline, truths: dict[str, Truth]) -> set[str]:
    unknown = [r for r in guideline.rules if truths[r.id] is Truth.UNKNOWN]
    found = set()
    for held in itertools.product((False, True), repeat=len(unknown)):
        chosen_ids = {r.id for r, h in zip(unknown, held, strict=True) if h}
        holding = [r for r in guideline.rules
                   if truths[r.id] is Truth.TRUE or r.id in chosen_ids]
        found.add(_decided(guideline, holding))
    return found


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["first", "priority", "unique"]),
       st.lists(st.tuples(st.sampled_from(list(Truth)), st.sampled_from(["file", "decline",
                                                                           "divert"]),
                          st.integers(0, 3)), min_size=1, max_size=7))
def test_the_worlds_considered_reach_every_outcome_of_every_assignment(
        policy_name: HitPolicy, spec: list[tuple[Truth, str, int]]) -> None:
    rules = tuple(Rule(f"r{i}", Compare("firearm_recovered", "eq", True), outcome, "reason",
                       None, priority) for i, (_, outcome, priority) in enumerate(spec))
    guideline = dataclasses.replace(KC.guidelines[0], hit_policy=policy_name, rules=rules)
    truths = {f"r{i}": truth for i, (truth, _, _) in enumerate(spec)}
    considered = {_decided(guideline, world) for world in _worlds(rules, truths)}
    assert considered == _brute_force_outcomes(guideline, truths)


def test_a_guideline_number_in_exponent_notation_reaches_durable_rules(tmp_path: Path) -> None:
    # durable_rules' JSON parser refuses 1e-20; Python writes 1.0e-20 that way.
    path = tmp_path / "tiny.yaml"
    path.write_text(POLICY.split("rules:")[0].format(policy="first") + "rules:\n"
                    "  - {id: tiny, when: {any_charge: {field: quantity_grams, gt: 1.0e-20}},"
                    " outcome: file, reason: r}\n")
    assert outcome(Evaluator(load_guidelines(path))) == ("file", ["tiny"])


@pytest.mark.slow
def test_a_record_that_leaves_every_condition_unknown_needs_information(tmp_path: Path) -> None:
    # durable_rules crashed the process (free(): invalid pointer) when the first fact of a
    # ruleset matched no rule, so this runs the CLI in a process of its own.
    guideline = tmp_path / "age.yaml"
    guideline.write_text(POLICY.split("rules:")[0].format(policy="first") + "rules:\n"
                         "  - {id: young, when: {field: defendant.age, lt: 18}, "
                         "outcome: divert, reason: r}\n")
    referral_file = tmp_path / "r.json"
    referral_file.write_text(json.dumps(referral(defendant=None)))
    done = subprocess.run([sys.executable, "-m", "charging_rules", "screen", str(referral_file),
                           "--guidelines", str(guideline), "--no-log", "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["outcome"], out["missing"]) == ("needs_information", ["defendant.age"])


# --- the engine really is durable_rules -------------------------------------------------

@pytest.mark.slow
def test_screening_fails_when_durable_rules_cannot_be_imported() -> None:
    script = (
        "import sys; sys.modules['durable'] = None; sys.modules['durable.engine'] = None\n"
        "from charging_rules.cli.app import main\n"
        f"sys.argv = ['charging-rules', 'screen', '--no-log', '--guidelines', {str(RULES)!r},"
        f" {str(REPO / 'examples/referrals/kc-sale-no-violence.json')!r}]\n"
        "main()\n"
    )
    blocked = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert blocked.returncode != 0
    assert "durable" in blocked.stderr
    normal = subprocess.run([sys.executable, "-c", "import sys\n" + script.split("\n", 1)[1]],
                            capture_output=True, text=True)
    assert normal.returncode == 0, normal.stderr


def test_a_record_no_guideline_decides_and_no_fallback_covers_says_so() -> None:
    # Victim records against the KC drug policy alone: no guideline, no fallback, and
    # nothing missing; the reason must not claim facts are missing.
    victim, _ = parse_record({"incident_id": "SYN-1", "victim_id": "V1",
                              "incident_date": "2023-03-01"}, "victim")
    result = Evaluator(load_guidelines(RULES / "kc-drug-policy.yaml"), "victim").evaluate(victim)
    assert (result.outcome, result.rules, result.missing) == ("needs_information", (), ())
    assert "no fallback" in result.reasons[0]
