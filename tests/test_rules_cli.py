"""`rules validate`, `rules diff`, `rules explain`, and the commands over sets with several
guidelines and several record kinds (a victim-outreach guideline beside the KC one)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from charging_rules.cli.app import app
from tests.helpers import REPO, charging_part, guideline, mutate_rule

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["rules", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


# --- validate --------------------------------------------------------------------------


def test_validate_shipped_set(shipped: Path) -> None:
    code, out, _ = invoke("validate", str(shipped))
    assert code == 0 and out.startswith("ok: jackson-county-charging (3 guidelines, 5 rules)")


def test_validate_lists_every_problem_with_file_and_line(tmp_path: Path) -> None:
    root = charging_part(tmp_path / "rules")
    path = root / "kc-drug-policy.yaml"
    text = path.read_text()
    text = text.replace("field: firearm_recovered\n          eq: true",
                        "field: firearm_recoverd\n          eq: true")
    text = text.replace("hit_policy: first", "hit_policy: firstest")
    text = text.replace("    outcome: decline", "    outcome: dismiss")
    path.write_text(text)
    (root / "stray.yaml").write_text("id: x\n")
    code, out, err = invoke("validate", str(root))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert any(line.startswith(f"{path}:") and "hit_policy" in line for line in lines)
    assert any(line.startswith(f"{root / 'stray.yaml'}: not listed in set.yaml")
               for line in lines)
    code, out, _ = invoke("validate", str(root), "--json")
    report = json.loads(out)
    assert code == 2 and report["ok"] is False
    assert all(p["file"] for p in report["problems"])
    # all problems, with their lines, not only the first
    assert len(report["problems"]) == len(lines) >= 2


@pytest.mark.slow
def test_validate_as_a_user_runs_it_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nrules: [\n")
    result = subprocess.run([sys.executable, "-m", "charging_rules", "rules", "validate",
                             str(bad)], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{bad}:") and "invalid YAML" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("line", "message"), [
    ("effective: 2023-02-30", "invalid value '2023-02-30': day is out of range for month"),
    ("effective: !!int soon", "invalid value 'soon'"),
    ("effective: !!python/name:os.system x", "could not determine a constructor"),
    ("? [effective, id]", "a key must be a plain value"),
])
def test_impossible_yaml_values_are_a_line_not_a_traceback(tmp_path: Path, line: str,
                                                            message: str, shipped: Path) -> None:
    """YAML that parses but cannot be built (a date that does not exist, a tag) in a
    guideline file and in a test case file: every rules command reports file:line."""
    root = charging_part(tmp_path / "rules")
    policy = root / "kc-drug-policy.yaml"
    policy.write_text(policy.read_text().replace("\nversion:", f"\n{line}\nversion:", 1))
    for command in ("validate", "lint", "test", "explain"):
        code, out, err = invoke(command, str(root))
        assert code == (1 if command == "lint" else 2)  # lint reports it as a finding
        assert f"{policy}:" in out + err and message in out + err, (command, out + err)
    cases = tmp_path / "cases.yaml"
    cases.write_text("kind: victim\ncases:\n  - id: a\n    victim: {incident_date: "
                     "2023-02-30}\n    expect: {outcome: refer_now, rules: []}\n")
    code, _, err = invoke("test", str(shipped), "--cases", str(cases))
    assert code == 2 and f"{cases}:4: invalid value '2023-02-30'" in err


@pytest.mark.slow
def test_ci_commands_pass_on_the_shipped_rules() -> None:
    for command in (["validate"], ["lint"], ["test", "--fail-uncovered"]):
        result = subprocess.run([sys.executable, "-m", "charging_rules", "rules", *command,
                                 "rules"], capture_output=True, text=True, cwd=REPO,
                                check=False)
        assert result.returncode == 0, (command, result.stdout, result.stderr)


# --- diff ------------------------------------------------------------------------------


def test_diff_shows_rule_changes_and_the_cases_they_move(tmp_path: Path, shipped: Path) -> None:
    new = charging_part(tmp_path / "new")
    mutate_rule(new, "kc-drug-community-concern", outcome="review",
                reason="Review: community concern alone no longer files.")
    code, out, _ = invoke("diff", str(shipped), str(new), "--json")
    assert code == 0
    report = json.loads(out)
    [change] = report["changes"]
    assert change["subject"] == "rule" and change["id"] == "kc-drug-community-concern"
    assert {d["attribute"] for d in change["details"]} == {"outcome", "reason"}
    moved = {c["case"]: (c["old"]["outcome"], c["new"]["outcome"])
             for c in report["cases_changed"]}
    assert moved == {
        "kc-drug-policy.yaml::file-community-concern": ("file", "review"),
        "kc-drug-policy.yaml::file-community-concern-violence-unknown": ("file",
                                                                         "needs_information"),
        "kc-drug-policy.yaml::resident-source-type-files": ("file", "review"),
        "kc-drug-policy.yaml::v1-source-without-type-keeps-its-meaning": ("file", "review"),
    }
    assert report["cases_run"] >= 20


def test_diff_reports_condition_logic_added_and_removed_rules(tmp_path: Path,
                                                              shipped: Path) -> None:
    new = charging_part(tmp_path / "new")
    mutate_rule(new, "kc-drug-violence-connection",
                when={"field": "firearm_recovered", "eq": True, "label": "a firearm"})
    path = new / "kc-drug-policy.yaml"
    path.write_text(path.read_text().replace("kc-drug-no-connection", "kc-drug-nothing"))
    code, out, _ = invoke("diff", str(shipped), str(new))
    assert code == 0
    assert "~ rule kc-drug-violence-connection changed" in out
    assert "condition: - firearm_recovered is true or" in out
    assert "+ firearm_recovered is true" in out
    assert "- rule kc-drug-no-connection removed" in out
    assert "+ rule kc-drug-nothing added" in out
    assert "Test cases whose result changes:" in out


def test_diff_of_identical_sets(tmp_path: Path, shipped: Path) -> None:
    code, out, _ = invoke("diff", str(shipped), str(charging_part(tmp_path / "same")))
    assert code == 0 and "no changes" in out and "changes: 0 of" in out


# --- explain ---------------------------------------------------------------------------


def test_explain_markdown_is_the_policy_text_to_sign(shipped: Path) -> None:
    code, out, _ = invoke("explain", str(shipped), "--markdown")
    assert code == 0
    assert out.startswith("# Jackson County Prosecutor's Office charging guidelines")
    for text in ("the incident is in Kansas City, Missouri",
                 "**Rule 1: FILE** (`kc-drug-violence-connection`) when:",
                 "  - a victim was injured", "**Rule 3: DECLINE**",
                 "the first rule that applies decides", "needs information",
                 "No charging guideline applies to this referral", "Approved", "SHA-256"):
        assert text in out, text


def test_explain_in_the_terminal(shipped: Path) -> None:
    code, out, _ = invoke("explain", str(shipped))
    assert code == 0 and "Rule 2: FILE" in out and "**" not in out


def test_explain_wraps_the_legal_text_to_a_narrow_terminal_never_cuts_it(shipped: Path
                                                                         ) -> None:
    from charging_rules.guidelines.loader import load_guidelines

    shown = runner.invoke(app, ["rules", "explain", str(shipped)], env={"COLUMNS": "50"})
    assert shown.exit_code == 0
    assert max(len(line) for line in shown.stdout.splitlines()) <= 50
    flat = " ".join(shown.stdout.replace("\u258c", " ").split())
    for g in load_guidelines(shipped).guidelines:
        assert " ".join(g.source_text.split()) in flat, g.id


HOSTILE = ("a firearm was recovered <!-- east of Troost --> <img src=x> "
           "[see memo](http://evil.example) **x**\n# Injected heading")


def test_explain_shows_guideline_text_as_written_never_as_markup(shipped: Path,
                                                                tmp_path: Path) -> None:
    """A label, title or reason holding Markdown (an HTML comment, an image, a link, bold, a
    heading after a newline) is policy text the supervisor must see as written: escaped in
    --markdown, so the memo renders it literally, and shown literally in the terminal."""
    from markdown_it import MarkdownIt

    root = shutil.copytree(shipped, tmp_path / "rules")
    policy = root / "kc-drug-policy.yaml"
    text = policy.read_text().replace("label: a firearm was recovered",
                                      f"label: {json.dumps(HOSTILE)}")
    policy.write_text(text.replace("title: ", "title: <script>alert(1)</script> [x](http://e) ",
                                   1))
    code, memo, _ = invoke("explain", str(root), "--markdown")
    assert code == 0
    html = MarkdownIt("commonmark").render(memo)
    for markup in ("<img", "<a ", "<script", "<!--", "<h1>Injected", "<strong>x</strong>"):
        assert markup not in html, markup
    for shown in ("&lt;img src=x&gt;", "**x**", "[see memo](http://evil.example)",
                  "&lt;script&gt;alert(1)&lt;/script&gt;", "\\x0a# Injected heading"):
        assert shown in html, shown
    shown_wide = runner.invoke(app, ["rules", "explain", str(root)], env={"COLUMNS": "300"})
    out = shown_wide.stdout
    flat = " ".join(out.split())
    assert shown_wide.exit_code == 0 and "\x1b" not in out
    for shown in ("<!-- east of Troost --> <img src=x> [see memo](http://evil.example) **x**",
                  "<script>alert(1)</script> [x](http://e)"):
        assert shown in flat, shown


# --- several guidelines, several record kinds ------------------------------------------


# The real victim record kind (model/victim.py), with a small guideline of its own.
VICTIM_GUIDELINE = guideline("victim-outreach", """
    - {id: victim-already, when: {field: previously_referred, eq: true},
       outcome: already_referred, reason: Referred before.}
    - {id: victim-fatal, when: {field: fatal, eq: true}, outcome: refer_family,
       reason: The family of a homicide victim is referred.}
""", kind="victim")

SECOND_REFERRAL_GUIDELINE = guideline("eastern-weapons", """
    - {id: eastern-weapon, when: {any_charge: {field: category, eq: weapon}}, outcome: review,
       reason: Weapons cases outside Kansas City get standard review.}
""", scope="{field: jurisdiction, ne: Kansas City}")

VICTIM_CASES = """
kind: victim
defaults: {incident_id: I-1, victim_id: V-1, incident_date: 2023-03-01, fatal: false}
cases:
  - id: fatal
    victim: {fatal: true, previously_referred: false}
    expect: {outcome: refer_family, rules: [victim-fatal]}
  - id: referred
    victim: {previously_referred: true}
    expect: {outcome: already_referred, rules: [victim-already]}
  - id: neither
    victim: {previously_referred: false}
    expect: {outcome: refer_now, rules: []}
  - id: referral-unknown
    victim: {}
    expect: {outcome: needs_information, rules: [victim-already],
             missing: [previously_referred]}
  - id: fatal-unknown
    victim: {fatal: null, previously_referred: false}
    expect: {outcome: needs_information, rules: [victim-fatal], missing: [fatal]}
"""


@pytest.fixture
def two_kinds(tmp_path: Path) -> Iterator[Path]:
    root = charging_part(tmp_path / "rules")
    (root / "victim-outreach.yaml").write_text(VICTIM_GUIDELINE)
    (root / "eastern-weapons.yaml").write_text(SECOND_REFERRAL_GUIDELINE)
    set_yaml = (root / "set.yaml").read_text().replace(
        "  - kc-drug-policy.yaml\n",
        "  - kc-drug-policy.yaml\n  - eastern-weapons.yaml\n  - victim-outreach.yaml\n")
    (root / "set.yaml").write_text(set_yaml + "  victim:\n    outcome: refer_now\n"
                                   "    reason: No outreach guideline applies.\n")
    (root / "tests" / "victim-outreach.yaml").write_text(VICTIM_CASES)
    (root / "tests" / "eastern-weapons.yaml").write_text("""
cases:
  - id: independence-weapon
    referral: {jurisdiction: Independence, charges: [{category: weapon}]}
    expect: {outcome: review, rules: [eastern-weapon]}
""")
    yield root
    shutil.rmtree(root)


def test_test_runs_every_kind_and_covers_every_guideline(two_kinds: Path) -> None:
    code, out, _ = invoke("test", str(two_kinds), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["passed"] == 75 and report["failed"] == 0
    coverage = report["coverage"]
    assert set(coverage["guidelines"]) == {"kc-drug-policy", "eastern-weapons",
                                           "victim-outreach", "mo-amendment-3-marijuana",
                                           "mo-juvenile"}
    assert set(coverage["fallback"]) == {"referral", "victim"}
    assert coverage["fallback"]["victim"] == ["victim-outreach.yaml::neither"]
    victim = coverage["guidelines"]["victim-outreach"]
    assert victim["outcomes"]["refer_family"] == ["victim-outreach.yaml::fatal"]
    assert set(victim["missing"]) == {"previously_referred", "fatal"}
    assert all(victim["missing"].values())


def test_lint_and_diff_over_several_kinds(two_kinds: Path, tmp_path: Path) -> None:
    code, out, _ = invoke("lint", str(two_kinds), "--json")
    report = json.loads(out)
    assert code == 0
    # each guideline leaves some known facts to the set's fallback on purpose
    assert [(f["guideline"], f["check"]) for f in report["findings"]] == [
        ("eastern-weapons", "gap"), ("victim-outreach", "gap")]
    new = tmp_path / "new"
    shutil.copytree(two_kinds, new)
    path = new / "victim-outreach.yaml"
    path.write_text(path.read_text().replace("outcome: refer_family", "outcome: refer_now"))
    code, out, _ = invoke("diff", str(two_kinds), str(new), "--json")
    moved = [c["case"] for c in json.loads(out)["cases_changed"]]
    assert code == 0 and moved == ["victim-outreach.yaml::fatal",
                                   "victim-outreach.yaml::fatal-unknown"]
    code, out, _ = invoke("explain", str(two_kinds), "--markdown")
    assert "A victim record no guideline decides: **refer now**" in out


def test_a_kind_with_only_a_fallback_is_decided_by_it(tmp_path: Path) -> None:
    root = charging_part(tmp_path / "rules")
    with (root / "set.yaml").open("a") as handle:
        handle.write("  victim:\n    outcome: refer_now\n    reason: none yet\n")
    (root / "tests" / "victim.yaml").write_text(
        "kind: victim\ncases:\n  - id: any\n    victim: {incident_id: I-1, victim_id: V-1, "
        "incident_date: 2023-03-01, fatal: true}\n"
        "    expect: {outcome: refer_now, rules: []}\n")
    code, out, _ = invoke("test", str(root))
    assert code == 0, out
