"""Decision points read from a real audit log (real engine, real log), and impact on
hand-made referrals: the figures a supervisor could count by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from charging_rules.cli.app import app
from charging_rules.model.kinds import parse_record
from charging_rules.screening.screener import Screener
from tests.helpers import REPO


def referral(number: int, race: str | None, firearm: bool) -> dict[str, Any]:
    """A Kansas City possession referral: filed with a firearm, declined without one."""
    body: dict[str, Any] = {
        "referral_id": f"T-{number}", "received": "2023-03-14", "jurisdiction": "Kansas City",
        "agency": "Kansas City Missouri Police Department", "defendant": {"age": 30},
        "charges": [{"category": "drug_possession", "drug": "methamphetamine",
                     "quantity_grams": 0.5}],
        "firearm_recovered": firearm,
        "violence": {"linked_to_violent_incident": False, "victim_injured": False},
        "community_concern": {"documented": False},
        "demographics": {"sex": "Male"} | ({"race": race} if race else {}),
    }
    return body


# (race, firearm, final decision or None to accept)

PLAN = ([("Black", True, None)] * 4 + [("Black", False, None)] * 3
        + [("Black", False, "file")] + [("White", True, None)] + [("White", True, "decline")]
        + [("White", False, None)] * 6 + [(None, False, None)])


@pytest.fixture()
def audit_dir(tmp_path: Path) -> Path:
    screener = Screener.open(REPO / "rules", tmp_path)
    for number, (race, firearm, override) in enumerate(PLAN):
        record, demographics = parse_record(referral(number, race, firearm))
        screened = screener.screen(record, demographics, "tester")
        screener.decide(screened, "tester", override, "test override" if override else None)
    return tmp_path


def _stage(audit_dir: Path, stage: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["disparity", "--audit-dir", str(audit_dir), "--stage",
                                      stage, "--min-n", "1", "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_decision_points_each_on_the_preceding_stage(audit_dir: Path) -> None:
    rec = _stage(audit_dir, "recommendation")
    groups = {g["group"]: g for g in rec["groups"]}
    assert (groups["Black"]["n"], groups["Black"]["positive"]) == (8, 4)
    assert (groups["White"]["n"], groups["White"]["positive"]) == (8, 2)
    assert groups["Black"]["rri"] == pytest.approx(2.0)
    assert rec["excluded"]["unknown_group"] == 1
    assert rec["log"]["unknown_group_share"] == pytest.approx(1 / 17)
    filed = {g["group"]: g for g in _stage(audit_dir, "decision")["groups"]}
    assert (filed["Black"]["n"], filed["Black"]["positive"]) == (4, 4)
    assert (filed["White"]["n"], filed["White"]["positive"]) == (2, 1)
    overrides = {g["group"]: g for g in _stage(audit_dir, "override")["groups"]}
    assert (overrides["Black"]["n"], overrides["Black"]["positive"]) == (8, 1)
    assert (overrides["White"]["n"], overrides["White"]["positive"]) == (8, 1)


def test_pending_decisions_count_every_referral(audit_dir: Path) -> None:
    """A referral recommended to file and not yet decided is pending, with or without a
    usable race: the log summary counts the whole log."""
    screener = Screener.open(REPO / "rules", audit_dir)
    for number, race in ((100, "Black"), (101, None)):
        record, demographics = parse_record(referral(number, race, True))
        screener.screen(record, demographics, "tester")
    log = _stage(audit_dir, "decision")["log"]
    assert log["pending_decisions"] == 2
    assert (log["referred"], log["unknown_group"]) == (19, 2)


def test_representation_against_a_named_benchmark(audit_dir: Path) -> None:
    result = CliRunner().invoke(app, ["disparity", "--audit-dir", str(audit_dir),
                                      "--benchmark", "jackson-county-acs2017", "--json"])
    assert result.exit_code == 0, result.output
    small = json.loads(result.stdout)["representation"]["groups"]
    # 8 referrals per group, under the minimum n of 11: no share, interval or index.
    assert {g["representation_index"] for g in small} == {None}
    assert {g["share"] for g in small} == {None}
    result = CliRunner().invoke(app, ["disparity", "--audit-dir", str(audit_dir),
                                      "--benchmark", "jackson-county-acs2017", "--min-n", "1",
                                      "--json"])
    rep = json.loads(result.stdout)["representation"]
    black = next(g for g in rep["groups"] if g["group"] == "Black")
    assert black["population_share"] == pytest.approx(0.234)
    assert black["share"] == pytest.approx(0.5)
    assert black["representation_index"] == pytest.approx(0.5 / 0.234)


def test_impact_transitions_by_group(tmp_path: Path, audit_dir: Path) -> None:
    path = tmp_path / "referrals.jsonl"
    path.write_text("".join(json.dumps(referral(n, race, firearm)) + "\n"
                            for n, (race, firearm, _) in enumerate(PLAN)))
    for source in ([str(path)], ["--audit-dir", str(audit_dir)]):
        result = CliRunner().invoke(app, ["impact", *source, "--baseline",
                                          str(REPO / "examples/guidelines/before"),
                                          "--proposed", str(REPO / "rules"), "--json"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["total"] == 17 and out["changed"] == 11
        assert out["transitions"] == {"file->decline": 11}
        assert out["by_group"]["Black"] == {"total": 8, "changed": 4}
        assert out["by_group"]["(unknown)"] == {"total": 1, "changed": 1}
        white = out["rates"]["groups"]["White"]
        assert (white["baseline_rate"], white["proposed_rate"]) == (1.0, 0.25)


def test_impact_with_an_unknown_reference_is_an_input_error(audit_dir: Path) -> None:
    result = CliRunner().invoke(app, ["impact", "--audit-dir", str(audit_dir), "--baseline",
                                      str(REPO / "examples/guidelines/before"), "--proposed",
                                      str(REPO / "rules"), "--reference", "Whte"])
    assert result.exit_code == 2
    assert "--reference: 'Whte' is not a group in the data (groups: Black, White)" \
        in result.output


def test_outreach_decisions_in_the_same_log_are_not_referrals(audit_dir: Path) -> None:
    """The outreach program logs its victim decisions into the same audit log: they are not
    charging referrals and must not enter a charging rate."""
    result = CliRunner().invoke(app, [
        "outreach", "import", str(REPO / "examples/outreach/synthetic-2023-W01.csv"),
        "--guidelines", str(REPO / "rules"), "--audit-dir", str(audit_dir),
        "--out", str(audit_dir / "lists")])
    assert result.exit_code == 0, result.output
    rec = _stage(audit_dir, "recommendation")
    assert rec["log"]["referred"] == 17
    assert {g["group"]: g["n"] for g in rec["groups"]} == {"Black": 8, "White": 8}


@pytest.mark.parametrize(("positive", "message"), [
    (["flie"], "--positive: must be an outcome: file, decline"),
    (["file", "divert"], "--positive: on the audit log this is one outcome"),
])
def test_a_positive_the_log_cannot_hold_is_an_input_error(audit_dir: Path,
                                                          positive: list[str],
                                                          message: str) -> None:
    """Not a table of zero rates: a typo'd or second outcome would silently mean nothing."""
    args = [a for p in positive for a in ("--positive", p)]
    result = CliRunner().invoke(app, ["disparity", "--audit-dir", str(audit_dir), *args])
    assert result.exit_code == 2 and message in result.output


def test_a_referral_screened_three_times_and_accepted_once_counts_once(tmp_path: Path) -> None:
    """Intake re-shows a skipped referral and logs a new recommendation each time: counted
    per screening it was n=4 (#12.3). Each referral once, and the repeats said."""
    screener = Screener.open(REPO / "rules", tmp_path)
    record, demographics = parse_record(referral(1, "Black", True))
    screenings = [screener.screen(record, demographics, "tester") for _ in range(3)]
    screener.decide(screenings[1], "tester", None, None)
    for stage, n in (("recommendation", 1), ("decision", 1), ("override", 1)):
        out = _stage(tmp_path, stage)
        assert [(g["group"], g["n"]) for g in out["groups"]] == [("Black", n)]
        assert out["log"]["repeats_folded"] == 2 and out["log"]["referrals"] == 1
    assert _stage(tmp_path, "decision")["log"]["pending_decisions"] == 0
    result = CliRunner().invoke(app, ["disparity", "--audit-dir", str(tmp_path), "--min-n", "1"])
    assert "3 screenings of 1 referrals: 2 repeated screenings folded" in result.output


def _tamper(audit_dir: Path) -> None:
    """Change one decision's outcome in place, as an insider editing the file would."""
    segment = sorted(audit_dir.glob("decisions-*.jsonl"))[0]
    lines = segment.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"outcome":"decline"', b'"outcome":"file"', 1) \
        if b'"outcome":"decline"' in lines[2] else lines[2].replace(b'"file"', b'"decline"', 1)
    segment.write_bytes(b"".join(lines))


@pytest.mark.parametrize("command", [
    ["disparity"], ["impact", "--baseline", str(REPO / "examples/guidelines/before"),
                    "--proposed", str(REPO / "rules")], ["report"]])
def test_a_broken_chain_is_refused_unless_told_to_go_on(audit_dir: Path, tmp_path: Path,
                                                         command: list[str]) -> None:
    _tamper(audit_dir)
    out = ["--output", str(tmp_path / "out")] if command == ["report"] else []
    result = CliRunner().invoke(app, [*command, "--audit-dir", str(audit_dir), *out])
    assert result.exit_code == 1, result.output
    assert "hash chain is broken at line 3" in result.output
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(app, [*command, "--audit-dir", str(audit_dir), *out,
                                      "--ignore-integrity", "--json"])
    assert result.exit_code == 0, result.output
    if command == ["disparity"]:
        assert json.loads(result.stdout)["integrity"]["verified"] is False
    if command == ["report"]:
        html = (tmp_path / "out" / "report.html").read_text()
        assert "failed its integrity check" in html.split("<section id='summary'>")[0]


def test_a_report_with_nothing_publishable_exits_1(audit_dir: Path, tmp_path: Path) -> None:
    """17 referrals, every count under 11 or needed to protect one: not a report of blanks."""
    result = CliRunner().invoke(app, ["report", "--audit-dir", str(audit_dir), "--output",
                                      str(tmp_path / "out"), "--threshold", "20"])
    assert result.exit_code == 1, result.output
    assert "nothing publishable" in result.output
    assert not (tmp_path / "out" / "report.html").exists()


def test_report_names_the_office_and_shows_outreach_against_its_goal(
        audit_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The office's name, contact and update schedule come from the config file; the
    outreach program's referrals against the yearly goal appear when the log holds them."""
    result = CliRunner().invoke(app, [
        "outreach", "import", str(REPO / "examples/outreach/synthetic-2023-W01.csv"),
        "--guidelines", str(REPO / "rules"), "--audit-dir", str(audit_dir),
        "--out", str(audit_dir / "lists")])
    assert result.exit_code == 0, result.output
    settings = tmp_path / "config.toml"
    settings.write_text('[office]\nname = "Jackson County Prosecutor\'s Office"\n'
                        'contact = "csu@example.org"\nupdate_schedule = "every quarter"\n')
    monkeypatch.setenv("CHARGING_RULES_CONFIG", str(settings))
    result = CliRunner().invoke(app, ["report", "--audit-dir", str(audit_dir), "--output",
                                      str(tmp_path / "out"), "--threshold", "3"])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Jackson County Prosecutor&#x27;s Office" in html
    assert "csu@example.org" in html and "every quarter" in html
    outreach = html.split("<section id='outreach'>")[1].split("</section>")[0]
    assert "against the yearly goal of 500" in outreach and "a week" in outreach
