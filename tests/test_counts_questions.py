"""Counts (a guideline governs the charges its scope names) and questions (what to ask when
the outcome needs information), as an intake prosecutor sees them and as invariants."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from charging_rules.cli.app import app
from charging_rules.engine.evaluate import NEEDS_INFORMATION, Evaluator, _answered
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.model.facts import engine_fact
from charging_rules.model.kinds import parse_record
from charging_rules.model.referral import OUTCOME_PRECEDENCE
from tests.helpers import RULES, referral

runner = CliRunner()
ENGINE = Evaluator(load_guidelines(RULES))

DRUG = {"statute": "579.015", "category": "drug_possession", "drug": "methamphetamine",
        "quantity_grams": 0.8}
STEALING = {"statute": "570.030", "category": "property", "description": "Stealing",
            "level": "felony"}
ENDANGERING = {"statute": "568.045", "category": "other",
               "description": "Endangering the welfare of a child 1st degree"}
WEAPON = {"statute": "571.030", "category": "weapon", "description": "Unlawful use of weapon"}


def screen_json(tmp_path: Path, data: dict[str, Any], *extra: str) -> dict[str, Any]:
    path = tmp_path / f"{data['referral_id']}.json"
    path.write_text(json.dumps(data))
    result = runner.invoke(app, ["screen", str(path), "--json", "--no-log", "--guidelines",
                                 str(RULES), *extra])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_a_declined_drug_count_beside_stealing_is_review_with_both_counts_shown(
        tmp_path: Path) -> None:
    out = screen_json(tmp_path, referral(charges=[DRUG, STEALING]))
    assert out["outcome"] == "review"
    assert [(c["charge"], c["statute"], c["category"], c["outcome"], c["guideline"], c["rules"])
            for c in out["counts"]] == [
        (0, "579.015", "drug_possession", "decline", "kc-drug-policy", ["kc-drug-no-connection"]),
        (1, "570.030", "property", "review", None, [])]
    assert any("Count 1 (579.015 drug_possession): decline" in r for r in out["reasons"])


def test_child_endangerment_beside_a_drug_count_is_not_declined_with_it(tmp_path: Path) -> None:
    out = screen_json(tmp_path, referral(charges=[ENDANGERING, DRUG]))
    assert out["outcome"] == "review"
    assert [c["outcome"] for c in out["counts"]] == ["review", "decline"]


def test_a_weapon_count_is_a_violence_connection_for_the_drug_count(tmp_path: Path) -> None:
    out = screen_json(tmp_path, referral(charges=[DRUG, WEAPON]))
    assert out["outcome"] == "file"
    assert [(c["outcome"], c["rules"]) for c in out["counts"]] == [
        ("file", ["kc-drug-violence-connection"]), ("review", [])]
    assert out["rules"] == ["kc-drug-violence-connection"]


def test_the_terminal_view_shows_every_count(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(referral(charges=[DRUG, STEALING])))
    result = runner.invoke(app, ["screen", str(path), "--no-log", "--guidelines", str(RULES),
                                 "--no-trace"])
    assert result.exit_code == 0, result.output
    for expected in ("Counts", "579.015", "570.030", "DECLINE", "REVIEW", "kc-drug-no-connection"):
        assert expected in result.stdout


def test_questions_name_whom_to_ask_and_where_each_answer_leads(tmp_path: Path) -> None:
    out = screen_json(tmp_path, referral(firearm_recovered=None))
    assert out["outcome"] == NEEDS_INFORMATION
    assert out["questions"] == [{
        "fact": "firearm_recovered", "question": "Was a firearm recovered?",
        "ask": "the case detective", "answers": {"true": "file", "false": "decline"}}]


def test_an_answer_leading_to_the_fallback_says_so(tmp_path: Path) -> None:
    out = screen_json(tmp_path, referral(firearm_recovered=None, charges=[DRUG, STEALING]))
    (question,) = out["questions"]
    assert question["answers"] == {"true": "file", "false": "review"}


def test_an_answer_that_does_not_settle_it_alone_says_needs_information(tmp_path: Path) -> None:
    out = screen_json(tmp_path, referral(firearm_recovered=None, community_concern=None))
    by_fact = {q["fact"]: q["answers"] for q in out["questions"]}
    assert by_fact["firearm_recovered"] == {"true": "file", "false": NEEDS_INFORMATION}
    assert by_fact["community_concern.documented"]["false"] == NEEDS_INFORMATION


def test_the_terminal_view_asks_the_questions(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(referral(firearm_recovered=None)))
    result = runner.invoke(app, ["screen", str(path), "--no-log", "--guidelines", str(RULES),
                                 "--no-trace"])
    text = " ".join(result.stdout.replace("│", " ").split())
    for expected in ("Was a firearm recovered?", "ask the case detective", "true -> file",
                     "false -> decline"):
        assert expected in text


# --- invariants -------------------------------------------------------------------------

CATEGORIES = ["drug_possession", "drug_sale", "drug_paraphernalia", "property", "violent",
              "weapon", "traffic", "other"]
charge = st.fixed_dictionaries({"category": st.sampled_from(CATEGORIES)}, optional={
    "drug": st.sampled_from(["marijuana", "methamphetamine", "cocaine"]),
    "quantity_grams": st.sampled_from([0.5, 14.0, 84.0, 85.0, 86.0, 200.0]),
    "statute": st.sampled_from(["579.015", "570.030", "K.S.A. 21-5706"]),
})
maybe_bool = st.sampled_from([True, False, None])
referrals = st.builds(
    lambda charges, firearm, linked, injured, documented, source, age, jurisdiction: referral(**{
        "charges": charges, "firearm_recovered": firearm,
        "violence.linked_to_violent_incident": linked, "violence.victim_injured": injured,
        "community_concern.documented": documented, "community_concern.source": source,
        "defendant.age": age, "jurisdiction": jurisdiction}),
    st.lists(charge, min_size=1, max_size=4), maybe_bool, maybe_bool, maybe_bool, maybe_bool,
    st.sampled_from([None, "Block club petition", "Officer observed sales"]),
    st.sampled_from([None, 16, 19, 35]),
    st.sampled_from(["Kansas City", "Kansas City, MO", "Independence", "Kansas Cty"]))


def _outcome_of(data: dict[str, Any]) -> Any:
    return ENGINE.evaluate(parse_record(data)[0])


def _read_by_rules(item: dict[str, Any]) -> bool:
    """The charges the shipped rules read across the referral: weapons and violence (a
    connection to violence), marijuana or a drug not named (the amount summed across counts),
    and any statute (which state the place is in)."""
    return item["category"] in ("violent", "weapon") or "statute" in item \
        or item.get("drug", "marijuana") == "marijuana"  # a drug not named may be marijuana


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(referrals)
def test_per_count_outcomes_agree_with_screening_each_count_alone(data: dict[str, Any]) -> None:
    """Each count, screened with only the charges the rules read beside it, gets the outcome
    it gets in the whole referral; the referral's outcome is the counts' by precedence."""
    whole = _outcome_of(data)
    counts = [c.outcome for c in whole.counts]
    assert len(counts) == len(data["charges"])
    undecided = NEEDS_INFORMATION in counts
    assert whole.outcome == (NEEDS_INFORMATION if undecided else
                             min(counts, key=OUTCOME_PRECEDENCE.index))
    for index in range(len(data["charges"])):
        keep = [index] + [j for j, other in enumerate(data["charges"])
                          if j != index and _read_by_rules(other)]
        alone = _outcome_of({**data, "charges": [data["charges"][j] for j in keep]})
        expected = [counts[j] for j in keep]
        assert alone.outcome == (NEEDS_INFORMATION if NEEDS_INFORMATION in expected else
                                 min(expected, key=OUTCOME_PRECEDENCE.index))
        assert alone.counts[0].outcome == counts[index]


def _settled(fact: dict[str, Any], answers: dict[str, list[Any]]) -> bool:
    """Whether every combination of these answers gives a decided outcome."""
    paths = list(answers)
    worlds = [_answered(fact, dict(zip(paths, combo, strict=True)))
              for combo in itertools.product(*answers.values())]
    results = ENGINE.evaluate_facts(["q"] * len(worlds), worlds)
    return all(r.outcome != NEEDS_INFORMATION for r in results)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.filter_too_much])
@given(referrals)
def test_the_questions_are_sufficient_and_minimal(data: dict[str, Any]) -> None:
    rec = _outcome_of(data)
    if rec.outcome != NEEDS_INFORMATION or not rec.missing:
        assert rec.questions == ()
        return
    fact = engine_fact(parse_record(data)[0])
    domains = {q.fact: ENGINE._answers(q.fact) for q in rec.questions}
    assume(math.prod(len(v) for v in domains.values()) <= 256)  # the check is brute force
    assert set(domains) <= set(rec.missing)
    assert _settled(fact, domains), "answering every question must settle the outcome"
    for size in range(len(domains)):
        for subset in itertools.combinations(domains, size):
            assert not _settled(fact, {p: domains[p] for p in subset}), \
                f"{subset} already settles it: the questions are not minimal"


def test_only_the_facts_that_settle_it_are_asked(tmp_path: Path) -> None:
    """A documented concern whose source is missing, and no word on a firearm: recording the
    source files it whatever the firearm, so the firearm is not asked."""
    out = screen_json(tmp_path, referral(firearm_recovered=None,
                                         community_concern={"documented": True}))
    assert out["missing"] == ["community_concern.source", "firearm_recovered"]
    assert [(q["fact"], q["answers"]) for q in out["questions"]] == [
        ("community_concern.source", {"other": "file"})]


def test_the_intake_request_letter_asks_the_questions(tmp_path: Path) -> None:
    from charging_rules.screening.intake import IntakeQueue
    from charging_rules.screening.screener import Screener

    screener = Screener.open(RULES, tmp_path / "audit")
    record, demographics = parse_record(referral(firearm_recovered=None))
    screened = screener.screen(record, demographics, "ada")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    letter = IntakeQueue(inbox, screener, "ada").write_request(inbox / "r.json", screened)
    text = letter.read_text()
    assert "Was a firearm recovered? (ask the case detective; fact firearm_recovered)" in text
    assert "if true: file" in text and "if false: decline" in text
