"""`rules lint`: every finding on small crafted sets, and the sets that must not be flagged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field
from typer.testing import CliRunner

from charging_rules.cli.app import app
from charging_rules.engine.evaluate import Evaluator
from charging_rules.guidelines.conditions import AnyItem, Condition, children, kleene
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.model.facts import engine_fact
from charging_rules.model.kinds import KINDS, RecordKind, parse_record
from charging_rules.model.referral import Fact
from charging_rules.rulecheck import lint as lint_module
from charging_rules.rulecheck.factspace import build
from charging_rules.rulecheck.lint import Finding, lint
from tests.helpers import KC_POLICY, guideline, write_set

runner = CliRunner()

ARMED = "{id: armed, when: {field: firearm_recovered, eq: true}, outcome: file, reason: r}"
UNARMED = "{id: unarmed, when: {field: firearm_recovered, eq: false}, outcome: decline, " \
          "reason: r}"


def findings(root: Path, check: str) -> list[Finding]:
    return [f for f in lint(root).findings if f.check == check]


def lint_cli(root: Path) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["rules", "lint", str(root), "--json"])
    return result.exit_code, json.loads(result.stdout)


def engine_outcome(root: Path, example: dict[str, object]) -> tuple[str, list[str]]:
    record, _ = parse_record(example)
    rec = Evaluator(load_guidelines(root)).evaluate(record)
    return rec.outcome, list(rec.rules)


# --- the shipped guidelines ------------------------------------------------------------


def test_shipped_guidelines_are_clean(shipped: Path) -> None:
    code, report = lint_cli(shipped)
    assert code == 0
    assert report == {"errors": 0, "warnings": 0, "findings": []}


# --- protected attributes and proxies --------------------------------------------------


@pytest.mark.parametrize("field", ["race", "demographics.race", "demographics.sex",
                                   "defendant.ethnicity", "national_origin", "religion"])
def test_protected_attribute_is_an_error_explained_with_its_line(tmp_path: Path,
                                                                 field: str) -> None:
    root = write_set(tmp_path / "set", guideline("g", f"""
        - id: bad
          when: {{field: {field}, eq: x}}
          outcome: file
          reason: r
    """))
    code, report = lint_cli(root)
    assert code == 1
    protected = [f for f in report["findings"]  # type: ignore[attr-defined]
                 if f["check"] == "protected-attribute"]
    assert len(protected) == 1
    assert protected[0]["line"] == 10 and protected[0]["file"].endswith("g0.yaml")
    assert "protected attribute" in protected[0]["message"]
    # the loader's own refusal of the same line is not repeated
    assert not [f for f in report["findings"] if f["line"] == 10  # type: ignore[attr-defined]
                and f["check"] == "invalid"]


@pytest.mark.parametrize(("field", "what"), [
    ("defendant.zip_code", "fine-grained location"),
    ("incident_address", "fine-grained location"),
    ("patrol_beat", "a police patrol area"),
    ("census_tract", "a neighbourhood or census area"),
    ("defendant.surname", "a person's name"),
    ("primary_language", "language"),
    ("gang_database", "gang-database status"),
    ("prior_arrests", "police-contact history"),
])
def test_proxy_field_is_a_warning_with_its_reason(tmp_path: Path, field: str,
                                                  what: str) -> None:
    root = write_set(tmp_path / "set", guideline("g", f"""
        - {{id: r, when: {{field: {field}, eq: x}}, outcome: file, reason: r}}
    """))
    [proxy] = findings(root, "proxy")
    assert proxy.severity == "warning" and proxy.line == 9
    assert f"is {what}, a known proxy for race" in proxy.message


@pytest.mark.parametrize(("value", "what"), [
    ("64130", "a ZIP code"),
    ("3200 Prospect Ave", "a street address"),
    ("Ivanhoe", "a Kansas City neighbourhood"),
    ("Census Tract 56", "a sub-city area"),
    ("East of Troost", "a sub-city area"),
])
def test_location_literal_on_agency_or_jurisdiction_is_a_warning(tmp_path: Path, value: str,
                                                                 what: str) -> None:
    root = write_set(tmp_path / "set", guideline("g", f"""
        - id: r
          when:
            any:
              - {{field: jurisdiction, eq: Kansas City}}
              - {{field: agency, in: [Kansas City Missouri Police Department, "{value}"]}}
          outcome: file
          reason: r
    """))
    [proxy] = findings(root, "proxy")
    assert proxy.line == 13 and f"looks like {what}" in proxy.message
    assert lint(root).errors == []


def test_coarse_jurisdictions_and_ordinary_facts_are_not_flagged(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", """
        - id: r
          when:
            all:
              - {field: jurisdiction, in: [Kansas City, Independence, Lee's Summit]}
              - {field: agency, eq: Jackson County Sheriff's Office}
              - {field: firearm_recovered, eq: true}
              - any_charge: {field: description, eq: Possession of a controlled substance}
              - {field: defendant.age, ge: 18}
          outcome: file
          reason: r
    """))
    assert [f for f in lint(root).findings if f.check in ("proxy", "protected-attribute")] == []


class Located(Fact):
    """A record kind with location fields, as the referral model might one day grow."""

    case_id: str
    received: Annotated[date, Field(strict=False)]
    zip_code: str | None = None
    patrol_beat: str | None = None
    firearm_recovered: bool | None = None


def test_proxy_fields_in_a_loadable_set_warn_but_do_not_fail(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, "located", RecordKind(
        "located", Located, "case_id", ("file", "decline", "review", "needs_information")))
    root = write_set(tmp_path / "set", guideline("g", """
        - id: by-zip
          when:
            all:
              - {field: zip_code, in: ["64128", "64130"]}
              - {field: firearm_recovered, eq: true}
          outcome: file
          reason: r
        - {id: other, when: {field: firearm_recovered, exists: true}, outcome: review,
           reason: r}
    """, kind="located"), otherwise={"located": "review"})
    code, report = lint_cli(root)
    assert code == 0
    checks = sorted((f["check"], f["line"]) for f in report["findings"])  # type: ignore[attr-defined]
    # one warning for the field name, one per ZIP literal; nothing refused; and the set is
    # analysed like any other (an unknown ZIP with a known firearm fact is a gap)
    assert checks == [("gap", 8), ("proxy", 12), ("proxy", 12), ("proxy", 12)]


# --- overlapping rules -----------------------------------------------------------------

OVERLAPPING = """
    - {id: armed, when: {field: firearm_recovered, eq: true}, outcome: file, reason: r,
       priority: 1}
    - {id: injured, when: {field: violence.victim_injured, eq: true}, outcome: divert,
       reason: r, priority: 1}
"""


def test_unique_overlap_with_different_outcomes_is_an_error_with_an_example(
        tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline(
        "g", OVERLAPPING.replace(",\n       priority: 1", "").replace(", priority: 1", ""),
        policy="unique"))
    [overlap] = findings(root, "overlap")
    assert overlap.severity == "error" and overlap.rules == ("armed", "injured")
    assert overlap.example is not None
    assert overlap.example["firearm_recovered"] is True
    assert overlap.example["violence"] == {"victim_injured": True}
    # the engine indeed cannot decide it: the conflict goes to the fallback
    assert engine_outcome(root, overlap.example) == ("review", ["armed", "injured"])


def test_unique_overlap_with_the_same_outcome_is_not_flagged(tmp_path: Path) -> None:
    same = OVERLAPPING.replace("outcome: divert", "outcome: file")
    root = write_set(tmp_path / "set", guideline(
        "g", same.replace(",\n       priority: 1", "").replace(", priority: 1", ""),
        policy="unique"))
    assert findings(root, "overlap") == []


def test_first_policy_resolves_overlaps_by_order(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline(
        "g", OVERLAPPING.replace(",\n       priority: 1", "").replace(", priority: 1", "")))
    assert findings(root, "overlap") == []


def test_priority_tie_with_different_outcomes_is_an_error(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", OVERLAPPING, policy="priority"))
    [overlap] = findings(root, "overlap")
    assert "both have priority 1" in overlap.message


def test_priority_tie_is_not_flagged_when_priorities_differ_or_a_higher_rule_covers_it(
        tmp_path: Path) -> None:
    ranked = write_set(tmp_path / "ranked", guideline(
        "g", OVERLAPPING.replace("priority: 1}", "priority: 2}", 1), policy="priority"))
    assert findings(ranked, "overlap") == []
    covered = write_set(tmp_path / "covered", guideline("g", OVERLAPPING + """
    - id: both
      when:
        any: [{field: firearm_recovered, eq: true}, {field: violence.victim_injured, eq: true}]
      outcome: review
      reason: r
      priority: 5
    """, policy="priority"))
    assert findings(covered, "overlap") == []


# --- rules that can never fire ---------------------------------------------------------


def test_contradictory_rule_never_fires(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", f"""
        - {ARMED}
        - id: impossible
          when:
            all: [{{field: defendant.age, lt: 18}}, {{field: defendant.age, gt: 65}}]
          outcome: decline
          reason: r
    """))
    [dead] = findings(root, "never-fires")
    assert dead.rules == ("impossible",) and "contradict each other" in dead.message
    assert dead.line == 10


def test_rule_outside_the_scope_never_fires(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", """
        - id: elsewhere
          when: {field: jurisdiction, eq: Independence}
          outcome: decline
          reason: r
    """, scope="{field: jurisdiction, eq: Kansas City}"))
    [dead] = findings(root, "never-fires")
    assert "outside the scope" in dead.message


def test_rule_shadowed_by_an_earlier_rule_never_fires(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", f"""
        - {ARMED}
        - id: armed-and-injured
          when:
            all:
              - {{field: firearm_recovered, eq: true}}
              - {{field: violence.victim_injured, eq: true}}
          outcome: divert
          reason: r
    """))
    [dead] = findings(root, "never-fires")
    assert dead.rules == ("armed-and-injured", "armed")
    assert "an earlier rule decides first (armed)" in dead.message


def test_rule_shadowed_by_higher_priority_never_fires(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", """
        - {id: low, when: {field: firearm_recovered, eq: true}, outcome: divert, reason: r,
           priority: 1}
        - {id: high, when: {field: firearm_recovered, exists: true}, outcome: file,
           reason: r, priority: 9}
    """, policy="priority"))
    [dead] = findings(root, "never-fires")
    assert dead.rules == ("low", "high") and "higher priority" in dead.message


def test_rules_that_can_fire_are_not_flagged(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", f"""
        - {ARMED}
        - id: injured-unarmed
          when:
            any:
              - {{field: violence.victim_injured, eq: true}}
              - {{field: firearm_recovered, eq: true}}
          outcome: divert
          reason: r
        - {UNARMED}
    """))
    assert findings(root, "never-fires") == []


# --- gaps ------------------------------------------------------------------------------


def test_gap_is_a_warning_with_an_example_referral(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", f"""
        - {ARMED}
        - id: unarmed-uninjured
          when:
            all:
              - {{field: firearm_recovered, eq: false}}
              - {{field: violence.victim_injured, eq: false}}
          outcome: decline
          reason: r
    """, scope="{field: jurisdiction, eq: Kansas City}"))
    code, _ = lint_cli(root)
    assert code == 0  # a warning alone
    [gap] = findings(root, "gap")
    assert gap.severity == "warning" and gap.example is not None
    assert gap.example["jurisdiction"] == "Kansas City"
    assert gap.example["firearm_recovered"] is False
    assert gap.example["violence"] == {"victim_injured": True}
    # the example is a valid referral and the engine sends it to the fallback
    assert engine_outcome(root, gap.example) == ("review", [])


def test_complete_guideline_has_no_gap(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", f"- {ARMED}\n- {UNARMED}"))
    assert findings(root, "gap") == []


def test_gap_over_charge_lists(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", """
        - id: violent
          when: {any_charge: {field: category, in: [violent, weapon]}}
          outcome: file
          reason: r
        - id: only-drugs
          when:
            not: {any_charge: {field: category, not_in: [drug_possession, drug_sale]}}
          outcome: decline
          reason: r
    """))
    [gap] = findings(root, "gap")
    assert gap.example is not None
    categories = {c["category"] for c in gap.example["charges"]}
    assert not categories & {"violent", "weapon"}
    assert categories - {"drug_possession", "drug_sale"}


# --- sets that do not load, and sets too large to enumerate ----------------------------


def test_invalid_set_is_explained_not_crashed(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", """
        - {id: r, when: {field: firearm_recoverd, eq: true}, outcome: fil, reason: r}
    """))
    result = runner.invoke(app, ["rules", "lint", str(root)])
    assert result.exit_code == 1
    assert "[invalid] unknown field 'firearm_recoverd'" in result.stdout
    assert "outcome 'fil' is not one of" in result.stdout


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["rules", "lint", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such guideline" in result.stderr


def test_too_large_space_is_reported_not_silently_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shipped: Path) -> None:
    monkeypatch.setattr(lint_module, "MAX_COMBINATIONS", 10)
    found = findings(shipped, "too-large")
    assert found and all(f.severity == "warning" and "were not run" in f.message
                         for f in found)


# --- the fact space is exhaustive ------------------------------------------------------

KC = load_guidelines(KC_POLICY).guidelines[0]
KC_CONDS = [KC.scope, *(r.condition for r in KC.rules)] if KC.scope else []
KC_SPACE = build("referral", KC_CONDS)


def record_level_nodes(cond: Condition) -> Iterator[Condition]:
    """Every node evaluated on the record itself (an any_charge node, not its item test)."""
    yield cond
    if not isinstance(cond, AnyItem):
        for child in children(cond):
            yield from record_level_nodes(child)


KC_NODES = [node for cond in KC_CONDS for node in record_level_nodes(cond)]
KC_PROFILES = {tuple(kleene(c, KC_SPACE.fact(at)) for c in KC_NODES)
               for at in KC_SPACE.assignments(tuple(range(len(KC_SPACE.axes))))}
maybe_bool = st.sampled_from([True, False, None])
charge = st.fixed_dictionaries({"category": st.sampled_from(
    ["drug_possession", "drug_sale", "drug_paraphernalia", "violent", "weapon", "property",
     "traffic", "public_order", "other"])})


@settings(max_examples=300, deadline=None)
@given(jurisdiction=st.sampled_from(["Kansas City", "Independence", "Kansas City, MO"]),
       charges=st.lists(charge, min_size=1, max_size=6), firearm=maybe_bool,
       linked=maybe_bool, injured=maybe_bool, documented=maybe_bool,
       source=st.sampled_from([None, "neighbors", "311 call"]))
def test_every_referral_truth_profile_is_in_the_enumerated_space(
        jurisdiction: str, charges: list[dict[str, str]], firearm: bool | None,
        linked: bool | None, injured: bool | None, documented: bool | None,
        source: str | None) -> None:
    data = {"referral_id": "r", "received": "2024-01-02", "jurisdiction": jurisdiction,
            "charges": charges, "firearm_recovered": firearm,
            "violence": {"linked_to_violent_incident": linked, "victim_injured": injured},
            "community_concern": {"documented": documented, "source": source}}
    record, _ = parse_record(data)
    fact = engine_fact(record)
    assert tuple(kleene(c, fact) for c in KC_NODES) in KC_PROFILES


def test_a_model_can_forbid_values_lint_would_otherwise_report() -> None:
    # source is free text of at least one character: "" never reaches a rule, so the
    # shipped `source ne ""` is not a gap where documented is true and source is ""
    axis = next(a for a in KC_SPACE.axes if a.name == "community_concern.source")
    assert "" not in axis.values


def test_engine_agrees_with_the_kleene_evaluator_on_the_whole_fact_space(shipped: Path) -> None:
    """Lint reasons with kleene(), `rules test` and `screen` with durable_rules: on every
    point of the space lint enumerates they must give every scope and rule the same truth."""
    evaluator = Evaluator(load_guidelines(shipped))
    skeleton = {"referral_id": "x", "received": "2024-01-02", "jurisdiction": "x",
                "charges": [{"category": "other"}]}
    # The space holds derived facts (place, as_of) too: evaluated as engine facts.
    facts = [{**skeleton, **KC_SPACE.fact(at)}
             for at in KC_SPACE.assignments(tuple(range(len(KC_SPACE.axes))))]
    assert len(facts) > 1000
    for fact, rec in zip(facts, evaluator.evaluate_facts(["x"] * len(facts), facts),
                         strict=True):
        trace = next(t for t in rec.trace if t.guideline == "kc-drug-policy")
        assert trace.scope == kleene(KC.scope, fact).value  # type: ignore[arg-type]
        assert [r.truth for r in trace.rules] == [kleene(r.condition, fact).value
                                                   for r in KC.rules]


def test_thresholds_on_numbers_and_dates(tmp_path: Path) -> None:
    gap = write_set(tmp_path / "gap", guideline("g", """
        - {id: minor, when: {field: defendant.age, lt: 18}, outcome: divert, reason: r}
        - {id: adult, when: {field: defendant.age, gt: 18}, outcome: file, reason: r}
    """))
    [found] = findings(gap, "gap")
    assert found.example is not None and found.example["defendant"] == {"age": 18}
    complete = write_set(tmp_path / "complete", guideline("g", """
        - {id: before, when: {field: received, lt: 2022-01-01}, outcome: review, reason: r}
        - {id: minor, when: {field: defendant.age, lt: 18}, outcome: divert, reason: r}
        - {id: adult, when: {field: defendant.age, ge: 18}, outcome: file, reason: r}
    """))
    assert lint(complete).findings == []
    dead = write_set(tmp_path / "dead", guideline("g", """
        - {id: recent, when: {field: received, ge: 2022-01-01}, outcome: review, reason: r}
        - id: recent-minor
          when: {all: [{field: received, gt: 2023-06-30}, {field: defendant.age, lt: 18}]}
          outcome: divert
          reason: r
    """))
    [never] = findings(dead, "never-fires")
    assert never.rules == ("recent-minor", "recent")
