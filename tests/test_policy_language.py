"""The guideline language's second round, run as an author and an intake prosecutor run it:
dates and versions, exceptions, every_charge, sums across counts, places in explanations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from charging_rules.cli.app import app
from tests.helpers import RULES, guideline, referral, write_set

runner = CliRunner()


def screen(rules: Path, tmp_path: Path, body: dict[str, Any], *extra: str) -> Any:
    path = tmp_path / "referral.json"
    path.write_text(json.dumps(body))
    return runner.invoke(app, ["screen", str(path), "--no-log", "--guidelines", str(rules),
                               *extra])


def outcome(rules: Path, tmp_path: Path, body: dict[str, Any]) -> tuple[str, list[str]]:
    result = screen(rules, tmp_path, body, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    return out["outcome"], out["rules"]


def versioned(gid: str, version: str, effective: str, expires: str | None, outcome: str) -> str:
    text = guideline(gid, f"- {{id: {gid}-rule, when: {{field: firearm_recovered, eq: false}}, "
                          f"outcome: {outcome}, reason: version {version}}}")
    text = text.replace('version: "1"', f'version: "{version}"').replace(
        "effective: 2020-01-01", f"effective: {effective}"
        + (f"\nexpires: {expires}" if expires else ""))
    return text


def test_each_referral_is_decided_by_the_version_in_force_on_its_offense_date(
        tmp_path: Path) -> None:
    rules = write_set(tmp_path / "rules", versioned("g", "1", "2022-01-01", "2023-01-01",
                                                    "decline"),
                      versioned("g", "2", "2023-01-01", None, "file"))
    dated = {"received": "2023-06-01"}
    assert outcome(rules, tmp_path, referral(**dated, offense_date="2022-12-31")) == (
        "decline", ["g-rule"])
    assert outcome(rules, tmp_path, referral(**dated, offense_date="2023-01-01")) == (
        "file", ["g-rule"])
    assert outcome(rules, tmp_path, referral(**dated)) == ("file", ["g-rule"])
    assert outcome(rules, tmp_path, referral(received="2021-12-31")) == ("review", [])


def test_validate_refuses_overlapping_versions_and_lint_warns_about_gaps(tmp_path: Path) -> None:
    overlapping = write_set(tmp_path / "overlap", versioned("g", "1", "2022-01-01", "2023-06-01",
                                                            "decline"),
                            versioned("g", "2", "2023-01-01", None, "file"))
    result = runner.invoke(app, ["rules", "validate", str(overlapping)])
    assert result.exit_code != 0
    assert "overlaps its version" in result.output + result.stderr
    gap = write_set(tmp_path / "gap", versioned("g", "1", "2022-01-01", "2022-06-01", "decline"),
                    versioned("g", "2", "2023-01-01", None, "file"))
    assert runner.invoke(app, ["rules", "validate", str(gap)]).exit_code == 0
    linted = runner.invoke(app, ["rules", "lint", str(gap)])
    assert "no version is in force from 2022-06-01 until 2023-01-01" in linted.stdout


def test_diff_and_explain_show_the_windows(tmp_path: Path) -> None:
    old = write_set(tmp_path / "old", versioned("g", "1", "2022-01-01", None, "decline"))
    new = write_set(tmp_path / "new", versioned("g", "1", "2022-01-01", "2024-01-01", "decline"))
    diffed = runner.invoke(app, ["rules", "diff", str(old), str(new)])
    assert diffed.exit_code == 0, diffed.output
    assert "from 2022-01-01 until 2024-01-01 (exclusive)" in diffed.stdout
    explained = runner.invoke(app, ["rules", "explain", str(RULES)])
    assert "in force from 2022-12-08" in explained.stdout


def test_expires_must_follow_effective(tmp_path: Path) -> None:
    bad = write_set(tmp_path / "bad", versioned("g", "1", "2023-01-01", "2022-01-01", "decline"))
    result = runner.invoke(app, ["rules", "validate", str(bad)])
    assert result.exit_code != 0 and "is not after effective" in result.output + result.stderr


EXCEPTIONS = """
- id: base
  outcome: decline
  reason: the default
- id: armed
  overrides: base
  when: {field: firearm_recovered, eq: true}
  outcome: file
  reason: the exception
"""


NOW = {"received": "2024-03-01"}  # a date every crafted guideline is in force on


def test_an_exception_overrides_its_base_rule_and_an_unknown_one_is_asked(
        tmp_path: Path) -> None:
    rules = write_set(tmp_path / "rules", guideline("g", EXCEPTIONS))
    assert outcome(rules, tmp_path, referral(**NOW)) == ("decline", ["base"])
    assert outcome(rules, tmp_path, referral(**NOW, firearm_recovered=True)) == (
        "file", ["armed"])
    result = screen(rules, tmp_path, referral(**NOW, firearm_recovered=None), "--json")
    out = json.loads(result.stdout)
    assert (out["outcome"], out["missing"]) == ("needs_information", ["firearm_recovered"])
    assert out["questions"][0]["answers"] == {"true": "file", "false": "decline"}


def test_a_rule_without_when_needs_an_exception_and_overrides_must_name_a_rule(
        tmp_path: Path) -> None:
    lone = write_set(tmp_path / "lone", guideline("g", "- {id: base, outcome: decline, "
                                                       "reason: r}"))
    result = runner.invoke(app, ["rules", "validate", str(lone)])
    assert result.exit_code != 0 and "'when' is required" in result.output + result.stderr
    dangling = write_set(tmp_path / "dangling", guideline("g", EXCEPTIONS.replace(
        "overrides: base", "overrides: nothing")))
    result = runner.invoke(app, ["rules", "validate", str(dangling)])
    assert result.exit_code != 0 and "overrides 'nothing'" in result.output + result.stderr


def test_every_charge_and_a_sum_across_counts(tmp_path: Path) -> None:
    rules = write_set(tmp_path / "rules", guideline("g", """
- id: all-drug
  when: {every_charge: {field: category, in: [drug_possession, drug_sale]}}
  outcome: divert
  reason: every count is a drug count
- id: heavy
  when:
    sum_charges: {field: quantity_grams, where: {field: drug, eq: heroin}, gt: 10}
  outcome: file
  reason: more than 10 g of heroin in all
""", policy="first"))
    two = [{"category": "drug_possession", "drug": "heroin", "quantity_grams": 6},
           {"category": "property", "drug": "heroin", "quantity_grams": 6}]
    assert outcome(rules, tmp_path, referral(**NOW, charges=two)) == ("file", ["heavy"])
    two[1]["quantity_grams"] = 4
    assert outcome(rules, tmp_path, referral(**NOW, charges=two)) == ("review", [])
    del two[1]["quantity_grams"]
    result = json.loads(screen(rules, tmp_path, referral(**NOW, charges=two), "--json").stdout)
    assert (result["outcome"], result["missing"]) == ("needs_information",
                                                      ["charges[1].quantity_grams"])
    drugs = [{"category": "drug_possession"}, {"category": "drug_sale"}]
    assert outcome(rules, tmp_path, referral(**NOW, charges=drugs)) == ("divert", ["all-drug"])


def test_an_out_of_scope_explanation_shows_the_compared_value(tmp_path: Path) -> None:
    result = screen(RULES, tmp_path, referral(jurisdiction="Independence",
                                              agency="Independence Police Department"))
    text = " ".join(result.stdout.replace("│", " ").split())
    assert ("✘ the incident is in Kansas City, Missouri (place: 'Independence, MO', "
            "jurisdiction: 'Independence')") in text


def test_replay_of_a_logged_referral_reproduces_the_place(tmp_path: Path) -> None:
    audit = tmp_path / "audit"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(referral(jurisdiction="KANSAS CITY", agency=None, charges=[
        {"statute": "579.015", "category": "drug_possession", "drug": "heroin"}])))
    result = runner.invoke(app, ["screen", str(path), "--json", "--guidelines", str(RULES),
                                 "--audit-dir", str(audit)])
    out = json.loads(result.stdout)
    assert out["outcome"] == "decline"
    logged = [json.loads(line) for f in audit.rglob("*.jsonl") for line in f.read_text()
              .splitlines() if line]
    assert "place" not in logged[0]["referral"]  # derived again, never logged as input
    replay = runner.invoke(app, ["audit", "replay", out["decision_id"], "--audit-dir",
                                 str(audit)])
    assert replay.exit_code == 0, replay.output


def test_the_referral_contract_and_citations_stay_inside_the_repository() -> None:
    repo = RULES.parent
    mine = [*(p for p in RULES.rglob("*.yaml") if "victim-outreach" not in p.name),
            repo / "README.md", repo / "docs" / "guidelines.md",
            repo / "docs" / "referral-contract.md"]
    for path in mine:
        text = path.read_text()
        # Spelled in parts so this test is not itself a citation of a path outside.
        for outside in ("../" + "shared", "shared" + "/seed", "DESIGN" + ".md"):
            assert outside not in text, f"{path} cites {outside}"
    assert "docs/referral-contract.md" in (repo / "README.md").read_text()
    kc = (RULES / "kc-drug-policy.yaml").read_text()
    assert "Crime Strategies Unit web page" in kc
