"""The Partners for Peace guideline through the real engine, and its separation from charging:
each outcome, missing-is-not-false, and neither guideline ever touching the other's records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging_rules.engine.evaluate import Evaluator
from charging_rules.guidelines.loader import check_guidelines, load_guidelines
from charging_rules.model.kinds import parse_record
from charging_rules.model.victim import REFERRAL_OUTCOMES, Victim, reach_out_to
from tests.helpers import (
    EXAMPLES,
    RULES,
    SURVIVOR,
    UNKNOWN_BASE,
    charging_part,
    facts,
    referral,
)

SHIPPED = load_guidelines(RULES)
OUTREACH = Evaluator(SHIPPED, "victim")
# Outcomes only, for the property tests: the search for questions would evaluate each
# needs_information listing again per answer, hundreds of times.
OUTCOMES = Evaluator(SHIPPED, "victim", questions=False)
CHARGING = Evaluator(SHIPPED, "referral")

def victim(**changes: Any) -> Victim:
    """An adult surviving, reachable, never-referred victim no listing reports killed, then
    `changes` (None removes a fact)."""
    data = {**SURVIVOR, **changes}
    record, _ = parse_record({k: v for k, v in data.items() if v is not None}, "victim")
    assert isinstance(record, Victim)
    return record


def decide(**changes: Any) -> tuple[str, list[str], list[str]]:
    result = OUTREACH.evaluate(victim(**changes))
    return result.outcome, list(result.rules), list(result.missing)


def test_a_reachable_survivor_never_referred_is_referred_now() -> None:
    result = OUTREACH.evaluate(victim())
    assert (result.outcome, list(result.rules), list(result.missing)) == (
        "refer_now", ["outreach-refer-victim"], [])
    assert result.record_id == "SYN-2023-00001/SYN-V00001"
    assert "refers victims to social workers" in result.citations[0].text


def test_a_fatal_shooting_refers_the_family() -> None:
    assert decide(fatal=True, victim_contact_available=None, family_contact_available=True) \
        == ("refer_family", ["outreach-refer-family"], [])


@pytest.mark.parametrize(("changes", "days", "rule", "referred"), [
    ({"previously_referred": True}, "days_since_last_referral", "outreach-already-referred",
     "refer_now"),
    ({"fatal": True, "family_contact_available": True, "family_previously_referred": True},
     "days_since_family_referral", "outreach-family-already-referred", "refer_family"),
], ids=["survivor", "family"])
def test_a_referral_within_90_days_is_not_repeated(changes: dict[str, Any], days: str,
                                                   rule: str, referred: str) -> None:
    assert decide(**{days: 90}, **changes)[:2] == ("already_referred", [rule])
    assert decide(**{days: 91}, **changes)[0] == referred


def test_a_survivor_referral_never_holds_the_family_after_a_death() -> None:
    """Referred as a survivor 10 days ago, killed since: the family was never called."""
    for history in ({"previously_referred": True, "days_since_last_referral": 10},
                    {"previously_referred": None}):
        assert decide(fatal=True, family_contact_available=True, **history) == (
            "refer_family", ["outreach-refer-family"], [])


def test_known_absent_contact_information_gets_the_fallback_asking_police() -> None:
    for changes in ({"victim_contact_available": False, "family_contact_available": False},
                    {"fatal": True, "family_contact_available": False}):
        result = OUTREACH.evaluate(victim(**changes))
        assert (result.outcome, result.rules, result.missing) == ("needs_information", (), ())
        assert "Ask KCPD for contact information" in result.reasons[0]


@pytest.mark.parametrize(("unknown", "named"), [
    ({"fatal": None}, "fatal"),
    ({"victim_contact_available": None}, "victim_contact_available"),
    ({"fatal": True, "family_contact_available": None}, "family_contact_available"),
    ({"previously_referred": None}, "previously_referred"),
    ({"previously_referred": True}, "days_since_last_referral"),
])
def test_missing_is_not_false_an_unknown_that_matters_is_named(
        unknown: dict[str, Any], named: str) -> None:
    outcome, _rules, missing = decide(**unknown)
    assert outcome == "needs_information"
    assert named in missing


def test_an_unknown_that_cannot_change_the_outcome_is_not_asked_for() -> None:
    # A survivor referred 10 days ago: whether the family could be reached does not matter.
    assert decide(previously_referred=True, days_since_last_referral=10) == (
        "already_referred", ["outreach-already-referred"], [])
    # But if the shooting may have been fatal, the family may be the one to call.
    assert decide(fatal=None, previously_referred=True, days_since_last_referral=10)[::2] == (
        "needs_information", ["family_contact_available", "fatal"])


def maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), values)


listing_facts = st.fixed_dictionaries({
    "victim_age": maybe(st.integers(0, 40)), "fatal": maybe(st.booleans()),
    "victim_contact_available": maybe(st.booleans()),
    "family_contact_available": maybe(st.booleans()),
    "previously_referred": maybe(st.booleans()),
    "days_since_last_referral": maybe(st.integers(0, 200)),
    "family_previously_referred": maybe(st.booleans()),
    "days_since_family_referral": maybe(st.integers(0, 200)),
    "previously_listed_fatal": maybe(st.booleans()),
})


def consistent(facts: dict[str, Any]) -> dict[str, Any]:
    """What history derivation can produce: no days beside 'never referred'."""
    for referred, days in (("previously_referred", "days_since_last_referral"),
                           ("family_previously_referred", "days_since_family_referral")):
        if facts[referred] is False:
            facts[days] = None
    return facts


@settings(max_examples=400, deadline=None)
@given(listing_facts.map(consistent))
def test_every_referral_has_a_safe_person_to_call(facts: dict[str, Any]) -> None:
    """Whatever the facts: a referral names someone the list gives a way to reach, a child is
    never the one called, a death always goes to the family, and a victim listed alive after
    a fatal listing is never referred."""
    record = victim(**facts)
    outcome = OUTCOMES.evaluate(record).outcome
    route = reach_out_to(record)
    if outcome in REFERRAL_OUTCOMES:
        assert route is not None
        assert (outcome == "refer_family") is (record.fatal is True)
        if route == "victim":
            assert record.victim_age is not None and record.victim_age >= 18
            assert record.victim_contact_available is True and record.fatal is False
        else:
            assert record.family_contact_available is True
        assert record.fatal is True or record.previously_listed_fatal is False
    if record.victim_age is not None and record.victim_age < 18:
        assert route != "victim"


@settings(max_examples=200, deadline=None)
@given(listing_facts.map(consistent))
def test_a_death_with_a_reachable_family_not_yet_called_refers_the_family(
        facts: dict[str, Any]) -> None:
    """Whatever the survivor's history says (referred last week, or nothing known), the
    family of a victim killed is referred unless the family itself was called lately."""
    facts.update(fatal=True, family_contact_available=True, family_previously_referred=False,
                 days_since_family_referral=None)
    result = OUTCOMES.evaluate(victim(**facts))
    assert (result.outcome, result.rules) == ("refer_family", ("outreach-refer-family",))


@pytest.mark.parametrize(("age", "route"), [(17, "guardian"), (18, "victim"), (0, "guardian")])
def test_under_18_is_reached_through_a_guardian(age: int, route: str) -> None:
    record = victim(victim_age=age, family_contact_available=True)
    assert OUTREACH.evaluate(record).outcome == "refer_now"
    assert reach_out_to(record) == route


# --- the two programs never touch each other's records -----------------------------------

def test_each_evaluator_holds_only_its_own_kind_of_guideline() -> None:
    assert [g.id for g in OUTREACH.guidelines] == ["victim-outreach"]
    assert [g.id for g in CHARGING.guidelines] == [
        "mo-amendment-3-marijuana", "mo-juvenile", "kc-drug-policy"]
    assert [t.guideline for t in OUTREACH.evaluate(victim()).trace] == ["victim-outreach"]
    record, _ = parse_record(referral())
    assert [t.guideline for t in CHARGING.evaluate(record).trace] == [
        "mo-amendment-3-marijuana", "mo-juvenile", "kc-drug-policy"]


def test_a_guideline_cannot_name_facts_or_outcomes_of_the_other_kind(tmp_path: Path) -> None:
    text = (RULES / "victim-outreach.yaml").read_text()
    charging_fact = tmp_path / "a.yaml"
    charging_fact.write_text(text.replace("field: fatal\n          eq: true\n          label: "
                                          "the shooting was fatal",
                                          "field: firearm_recovered\n          eq: true"))
    assert "unknown field 'firearm_recovered'" in str(check_guidelines(charging_fact)[0])
    charging_outcome = tmp_path / "b.yaml"
    charging_outcome.write_text(text.replace("outcome: refer_family", "outcome: file"))
    problems = " ".join(str(p) for p in check_guidelines(charging_outcome))
    assert "'file' is not one of this guideline's outcomes" in problems


def _charging_view(result: Any) -> tuple[Any, ...]:
    return (result.outcome, result.rules, result.reasons, result.missing, result.citations,
            result.guidelines, result.trace)


@pytest.fixture(scope="module")
def charging_only(tmp_path_factory: pytest.TempPathFactory) -> Evaluator:
    rules = charging_part(tmp_path_factory.mktemp("kc-only") / "rules")
    alone = load_guidelines(rules)
    assert [g.id for g in alone.guidelines] == [
        "mo-amendment-3-marijuana", "mo-juvenile", "kc-drug-policy"]
    return Evaluator(alone, "referral")


@pytest.mark.parametrize("path", sorted((EXAMPLES / "referrals").glob("*.json")),
                         ids=lambda p: p.stem)
def test_kc_example_cases_decide_identically_with_and_without_outreach(
        path: Path, charging_only: Evaluator) -> None:
    record, _ = parse_record(json.loads(path.read_text()))
    assert _charging_view(CHARGING.evaluate(record)) == \
        _charging_view(charging_only.evaluate(record))


@settings(max_examples=150, deadline=None)
@given(facts)
def test_any_referral_decides_identically_with_and_without_outreach(
        charging_only: Evaluator, changes: dict[str, Any]) -> None:
    record, _ = parse_record(referral(**UNKNOWN_BASE, **changes))
    assert _charging_view(CHARGING.evaluate(record)) == \
        _charging_view(charging_only.evaluate(record))


def test_the_full_shipped_set_validates_passes_its_cases_and_lints_clean() -> None:
    from typer.testing import CliRunner

    from charging_rules.cli.app import app

    runner = CliRunner()
    tested = runner.invoke(app, ["rules", "test", str(RULES), "--fail-uncovered", "--json"])
    assert tested.exit_code == 0, tested.output
    report = json.loads(tested.stdout)
    assert report["failed"] == 0 and report["coverage"]["uncovered"] == []
    victim = [c for c in report["cases"] if c["file"].endswith("victim-outreach.yaml")]
    assert {c["actual"]["outcome"] for c in victim} == {
        "refer_now", "refer_family", "already_referred", "needs_information"}
    assert report["coverage"]["fallback"]["victim"]  # no contact information: ask KCPD
    linted = runner.invoke(app, ["rules", "lint", str(RULES), "--json"])
    assert linted.exit_code == 0, linted.output
    assert json.loads(linted.stdout)["findings"] == []
