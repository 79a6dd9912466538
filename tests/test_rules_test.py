"""`rules test`: cases beside the guidelines, run through the real engine, with coverage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from charging_rules.cli.app import app
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.model.referral import CHARGING_OUTCOMES
from tests.helpers import KC_POLICY, charging_part, guideline, mutate_rule, write_set

runner = CliRunner()
SHIPPED_RULES = [(r.id, r.outcome) for g in load_guidelines(KC_POLICY).guidelines
                 for r in g.rules]


def rules_test(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["rules", "test", *args])
    return result.exit_code, result.stdout, result.stderr


def test_shipped_cases_pass_with_full_coverage(shipped: Path) -> None:
    code, out, _ = rules_test(str(shipped), "--json", "--fail-uncovered")
    assert code == 0, out
    report = json.loads(out)
    assert report["failed"] == 0 and report["passed"] >= 20
    coverage = report["coverage"]
    assert coverage["uncovered"] == []
    assert all(coverage["rules"].values())
    kc = coverage["guidelines"]["kc-drug-policy"]
    assert set(kc["outcomes"]) == {"file", "decline", "needs_information"}
    assert set(kc["missing"]) == {"firearm_recovered", "violence.linked_to_violent_incident",
                                  "violence.victim_injured", "community_concern.documented",
                                  "community_concern.source", "community_concern.by_community",
                                  "place"}
    assert coverage["fallback"]["referral"]


def test_runner_output_names_each_case_and_the_coverage(shipped: Path) -> None:
    code, out, _ = rules_test(str(shipped))
    assert code == 0
    assert "PASS file-firearm-recovered" in out
    assert "PASS out-of-scope-independence" in out
    assert "rules: 5/5 decide at least one case" in out
    assert "passed, 0 failed" in out


@pytest.mark.parametrize(("rule_id", "outcome"), [
    (rule_id, other) for rule_id, current in SHIPPED_RULES
    for other in CHARGING_OUTCOMES if other != current
])
def test_changing_any_rule_outcome_fails_the_shipped_cases(tmp_path: Path, rule_id: str,
                                                           outcome: str) -> None:
    mutated = charging_part(tmp_path / "rules")
    mutate_rule(mutated, rule_id, outcome=outcome)
    code, out, _ = rules_test(str(mutated))
    assert code == 1, out
    assert "FAIL" in out and f"+ actual   \"{outcome}\"" in out


def test_failure_shows_expected_against_actual(tmp_path: Path) -> None:
    mutated = charging_part(tmp_path / "rules")
    mutate_rule(mutated, "kc-drug-no-connection", outcome="divert")
    code, out, _ = rules_test(str(mutated), "--json")
    assert code == 1
    report = json.loads(out)
    failed = {c["case"]: c for c in report["cases"] if not c["passed"]}
    case = failed["kc-drug-policy.yaml::decline-no-violence-no-concern"]
    assert case["expected"]["outcome"] == "decline" and case["actual"]["outcome"] == "divert"
    assert case["line"] > 1


def test_uncovered_rules_and_outcomes_are_reported(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", """
        - {id: armed, when: {field: firearm_recovered, eq: true}, outcome: file, reason: r}
        - {id: unarmed, when: {field: firearm_recovered, eq: false}, outcome: decline,
           reason: r}
    """))
    (root / "tests").mkdir()
    (root / "tests" / "cases.yaml").write_text(
        "cases:\n  - id: armed\n    referral: {firearm_recovered: true}\n"
        "    expect: {outcome: file, rules: [armed]}\n")
    code, out, _ = rules_test(str(root), "--json")
    assert code == 0  # coverage is reported, not enforced, unless --fail-uncovered
    uncovered = json.loads(out)["coverage"]["uncovered"]
    assert "rule unarmed: no case is decided by it" in uncovered
    assert "guideline g: no case gives outcome decline" in uncovered
    assert "guideline g: no needs_information case names missing fact firearm_recovered" \
        in uncovered
    assert rules_test(str(root), "--fail-uncovered")[0] == 1


def test_partial_referrals_get_neutral_defaults_and_null_makes_a_fact_unknown(
        tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", """
        - {id: armed, when: {field: firearm_recovered, eq: true}, outcome: file, reason: r}
    """, scope="{field: jurisdiction, eq: Kansas City}"))
    (root / "tests").mkdir()
    (root / "tests" / "cases.yaml").write_text("""
defaults: {jurisdiction: Kansas City, firearm_recovered: true}
cases:
  - id: only-what-matters
    referral: {}
    expect: {outcome: file, rules: [armed]}
  - id: null-removes-a-default
    referral: {firearm_recovered: null}
    expect: {outcome: needs_information, rules: [armed], missing: [firearm_recovered]}
  - id: required-fields-default-out-of-scope
    referral: {jurisdiction: null}
    expect: {outcome: review, rules: []}
""")
    code, out, err = rules_test(str(root))
    # jurisdiction is required: removing it is a bad case, reported with its line (exit 2)
    assert code == 2
    assert "cases.yaml:11: case 'required-fields-default-out-of-scope': jurisdiction" in err
    text = (root / "tests" / "cases.yaml").read_text().replace(
        "referral: {jurisdiction: null}", "referral: {jurisdiction: Independence}")
    (root / "tests" / "cases.yaml").write_text(text)
    code, out, _ = rules_test(str(root))
    assert code == 0, out
    assert out.count("PASS") == 3


def test_every_problem_in_a_case_file_is_listed(tmp_path: Path) -> None:
    root = charging_part(tmp_path / "rules")
    (root / "tests" / "broken.yaml").write_text("""
cases:
  - id: a
    referral: {firearm_recoverd: true}
    expect: {outcome: file, rules: []}
  - id: a
    referal: {}
    expect: {outcome: file, rules: []}
  - id: b
    expect: {outcom: file, rules: []}
""")
    code, out, err = rules_test(str(root))
    assert code == 2 and out == ""
    assert "broken.yaml:4: case 'a': firearm_recoverd: unknown field" in err
    assert "broken.yaml:6: cases[1]: duplicate case id 'a'" in err
    assert "broken.yaml:7: cases[1].referal: unknown key" in err
    assert "broken.yaml:10: cases[2].expect.outcom: unknown key" in err
    assert "Traceback" not in err


def test_an_expectation_no_run_could_meet_is_a_bad_case_file(tmp_path: Path) -> None:
    """An outcome the kind does not have, a fact the contract does not name or a rule the
    set does not hold would only ever FAIL (exit 1): it is a bad case file (exit 2), named."""
    root = charging_part(tmp_path / "rules")
    cases = root / "tests" / "impossible.yaml"
    case = "  - id: {id}\n    referral: {{firearm_recovered: true}}\n    expect: {expect}\n"
    cases.write_text("cases:\n" + case.format(id="a", expect="{outcome: dismiss, rules: []}")
                     + case.format(id="b", expect="{outcome: file, rules: [], "
                                                  "missing: [firearm_recoverd]}"))
    code, out, err = rules_test(str(root))
    assert code == 2 and out == ""
    assert "impossible.yaml:4: case 'a': expect.outcome 'dismiss' is not an outcome" in err
    assert "impossible.yaml:7: case 'b': expect.missing 'firearm_recoverd' is not a fact" in err
    cases.write_text("cases:\n" + case.format(id="c", expect="{outcome: file, "
                                                              "rules: [kc-no-such-rule]}"))
    code, out, err = rules_test(str(root))
    assert code == 2 and out == ""
    assert "impossible.yaml:2: case 'c': expect.rules names 'kc-no-such-rule'" in err


def test_no_cases_is_a_usage_error(tmp_path: Path) -> None:
    root = write_set(tmp_path / "set", guideline("g", """
        - {id: armed, when: {field: firearm_recovered, eq: true}, outcome: file, reason: r}
    """))
    code, _, err = rules_test(str(root))
    assert code == 2 and "no test cases" in err
