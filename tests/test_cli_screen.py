"""`charging-rules screen` as an intake prosecutor runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from charging_rules.cli.app import app
from charging_rules.guidelines.loader import load_guidelines
from tests.helpers import BAD, EXAMPLES, MALFORMED, RULES, referral

runner = CliRunner()
SALE = EXAMPLES / "referrals" / "kc-sale-no-violence.json"


def screen(*args: str | Path, audit: Path | None = None) -> Any:
    extra = ["--audit-dir", str(audit)] if audit else []
    return runner.invoke(app, ["screen", *map(str, args), "--guidelines", str(RULES), *extra])


def log_lines(audit: Path) -> list[dict[str, Any]]:
    files = sorted(audit.rglob("*.jsonl")) if audit.exists() else []
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line]


def test_json_output_follows_the_contract_and_the_decision_is_logged(tmp_path: Path) -> None:
    result = screen(SALE, "--json", audit=tmp_path / "audit")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"referral_id", "outcome", "rules", "reasons", "missing", "guidelines",
                        "decision_id", "counts", "questions"}
    assert (out["referral_id"], out["outcome"]) == ("KC-2023-000201", "decline")
    assert out["rules"] == ["kc-drug-no-connection"]
    assert [g["id"] for g in out["guidelines"]] == [
        "mo-amendment-3-marijuana", "mo-juvenile", "kc-drug-policy"]
    logged = log_lines(tmp_path / "audit")
    assert [r["decision_id"] for r in logged] == [out["decision_id"]]
    assert logged[0]["demographics"]["race"] == "Black"
    assert "demographics" not in logged[0]["referral"]


def test_no_log_writes_nothing(tmp_path: Path) -> None:
    result = screen(SALE, "--json", "--no-log", audit=tmp_path / "audit")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["decision_id"] is None
    assert not (tmp_path / "audit").exists()


def test_human_view_shows_outcome_reasons_guideline_text_and_missing_facts() -> None:
    result = screen(EXAMPLES / "referrals" / "kc-possession-unknown-firearm.json", "--no-log")
    assert result.exit_code == 0
    text = " ".join(result.stdout.replace("│", " ").split())  # undo the panel's wrapping
    for expected in ("NEEDS INFORMATION", "firearm_recovered", "Guideline text",
                     "We now file drug-related cases only", "kc-drug-policy v1.0"):
        assert expected in text
    # The view's own line breaks are line breaks: only text from outside is escaped.
    assert "\\x" not in result.stdout
    assert "(ask the case detective; fact firearm_recovered) true -> file" in text


def test_accept_and_override_append_records_that_point_to_the_recommendation(
        tmp_path: Path) -> None:
    audit = tmp_path / "audit"
    assert screen(SALE, "--accept", "--user", "ada", audit=audit).exit_code == 0
    result = screen(SALE, "--override", "file", "--reason", "Neighbours' petition on file",
                    "--user", "ada", "--json", audit=audit)
    assert result.exit_code == 0
    records = log_lines(audit)
    assert [r["kind"] for r in records] == ["recommendation", "decision", "recommendation",
                                            "override"]
    assert records[1]["decision_id"] == records[0]["decision_id"]
    assert records[3]["decision_id"] == json.loads(result.stdout)["decision_id"]
    assert (records[3]["recommended"], records[3]["outcome"], records[3]["actor"]) == (
        "decline", "file", "ada")


BAD_USAGE = [
    (["--override", "file"], "a reason is required"),
    (["--override", "file", "--reason", "   "], "a reason is required"),
    (["--override", "prosecute", "--reason", "x"], "'prosecute' is not an outcome"),
    (["--override", "file", "--reason", "x", "--accept"], "exclude each other"),
    (["--accept", "--no-log"], "need the audit log"),
    (["--override", "decline", "--reason", "x"], "'decline' is the recommendation"),
    (["--accept", "--reason", "agreed"], "--reason explains an --override"),
]


@pytest.mark.parametrize(("args", "message"), BAD_USAGE)
def test_bad_decisions_are_refused_and_nothing_is_logged(
        tmp_path: Path, args: list[str], message: str) -> None:
    result = screen(SALE, *args, audit=tmp_path / "audit")
    assert result.exit_code == 2
    assert message in result.stderr
    assert log_lines(tmp_path / "audit") == []


ODD_JSON = {
    "json syntax": '{"referral_id": "KC-1",',
    "nested 100000 deep": "[" * 100_000 + "]" * 100_000,
    "5000-digit number": json.dumps(referral())[:-1] + ', "x": ' + "9" * 5000 + "}",
    "line break in a key": json.dumps(referral(**{"fire\narm": True})),
    "a string": '"KC-1"',
}


@pytest.mark.parametrize("content", [
    *ODD_JSON.values(),
    *(json.dumps(data) for _, data, _ in MALFORMED),
], ids=[*ODD_JSON, *(name for name, _, _ in MALFORMED)])
def test_a_bad_referral_exits_2_with_one_line_and_logs_nothing(
        tmp_path: Path, content: str) -> None:
    file = tmp_path / "bad.json"
    file.write_text(content)
    result = screen(file, audit=tmp_path / "audit")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and str(file) in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "audit").exists()


def test_every_problem_of_a_referral_is_on_its_one_line(tmp_path: Path) -> None:
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(referral(**{"firearm_recovered": "yes",
                                           "defendant.age": -3, "community_concern.x": 1})))
    result = screen(file, audit=tmp_path / "audit")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    for field in ("firearm_recovered", "defendant.age", "community_concern.x"):
        assert field in result.stderr, field


@pytest.mark.parametrize(("text", "line", "message"), [(t, ln, m) for _, t, ln, m in BAD],
                         ids=[name for name, *_ in BAD])
def test_broken_guidelines_exit_2_naming_file_and_line(
        tmp_path: Path, text: str, line: int, message: str) -> None:
    bad = tmp_path / "g.yaml"
    bad.write_text(text)
    result = runner.invoke(app, ["screen", str(SALE), "--guidelines", str(bad),
                                 "--audit-dir", str(tmp_path / "audit")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {bad}:{line}: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert not (tmp_path / "audit").exists()


@pytest.mark.slow
def test_the_console_script_and_module_entry_points_work(tmp_path: Path) -> None:
    env_dir = tmp_path / "audit"
    for command in ([sys.executable, "-m", "charging_rules"],
                    [str(Path(sys.executable).parent / "charging-rules")]):
        done = subprocess.run([*command, "screen", str(SALE), "--json", "--guidelines",
                               str(RULES), "--audit-dir", str(env_dir)],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["outcome"] == "decline"


def test_the_audit_dir_comes_from_the_environment(tmp_path: Path) -> None:
    result = runner.invoke(app, ["screen", str(SALE), "--guidelines", str(RULES)],
                           env={"CHARGING_RULES_AUDIT_DIR": str(tmp_path / "env-audit")})
    assert result.exit_code == 0
    assert len(log_lines(tmp_path / "env-audit")) == 1


def test_guideline_text_that_looks_like_rich_markup_is_shown_as_written(tmp_path: Path) -> None:
    guideline = tmp_path / "g.yaml"
    guideline.write_text(
        'id: g\ntitle: t\nversion: "[/x]"\neffective: 2023-01-01\n'
        'source: {citation: "[/c]", text: "[bold]t"}\nhit_policy: first\nrules:\n'
        '  - {id: kc, when: {field: jurisdiction, eq: Kansas City}, outcome: file,\n'
        '     reason: "[/r]", cite: "[/z]"}\n')
    result = runner.invoke(app, ["screen", str(SALE), "--guidelines", str(guideline),
                                 "--no-log"])
    assert result.exit_code == 0, result.output
    for literal in ("v[/x]", "[bold]t", "[/r]", "[/z]"):
        assert literal in result.stdout
    # The set's hash prefix is printed in brackets, which rich used to take for a style tag.
    assert f"[{load_guidelines(guideline).sha256[:12]}]" in result.stdout
