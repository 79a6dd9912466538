"""The `audit` commands as a supervisor and an analyst use them, on a log written by
`screen` with real guidelines and the real engine."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from charging_rules.audit import log
from charging_rules.cli.app import app
from tests.helpers import REPO, rewrite, stored_lines

EXAMPLE = json.loads((REPO / "examples/referrals/kc-possession-community-concern.json")
                     .read_text())
runner = CliRunner()


class Office:
    """A guideline copy, an audit log, and three screened referrals: one accepted, one
    overridden, one pending."""

    def __init__(self, root: Path):
        self.rules = root / "rules"
        shutil.copytree(REPO / "rules", self.rules)
        self.audit = root / "audit_logs"
        self.root = root
        self.ids = [
            self.screen("kc-1", "alice", ["--accept"]),
            self.screen("kc-2", "bob", ["--override", "decline", "--reason", "first arrest"],
                        race="White"),
            self.screen("ind-3", "alice", [], jurisdiction="Independence"),
        ]

    def screen(self, referral_id: str, user: str, decision: list[str],
               **changes: Any) -> str:
        data = {**EXAMPLE, "referral_id": referral_id}
        if "race" in changes:
            data["demographics"] = {**data["demographics"], "race": changes.pop("race")}
        data.update(changes)
        path = self.root / f"{referral_id}.json"
        path.write_text(json.dumps(data))
        result = self.cli("screen", str(path), "--guidelines", str(self.rules), "--user", user,
                          "--json", *decision)
        return str(json.loads(result.stdout)["decision_id"])

    def cli(self, *args: str, code: int = 0) -> Any:
        result = runner.invoke(app, [*args, *(("--audit-dir", str(self.audit))
                                              if args[0] in ("screen",) else ())],
                               env={"CHARGING_RULES_AUDIT_DIR": str(self.audit), "COLUMNS": "200"})
        assert result.exit_code == code, (result.stdout, result.exception)
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self.cli(*args, "--json", code=code).stdout)

    def process(self, *args: str) -> subprocess.CompletedProcess[str]:
        """As a user runs it: `python -m charging_rules` (exit statuses, stderr)."""
        env = {**os.environ, "CHARGING_RULES_AUDIT_DIR": str(self.audit)}
        return subprocess.run([sys.executable, "-m", "charging_rules", *args], env=env,
                              capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Office:
    return Office(tmp_path_factory.mktemp("office"))


def listed(office: Office, *filters: str) -> list[str]:
    return [row["record_id"] for row in office.json("audit", "list", *filters)["decisions"]]


def test_list_filters_decisions(office: Office) -> None:
    today = date.today()
    assert listed(office) == ["kc-1", "kc-2", "ind-3"]
    assert listed(office, "--overrides") == ["kc-2"]
    assert listed(office, "--actor", "bob") == ["kc-2"]
    assert listed(office, "--outcome", "decline") == ["kc-2"]
    assert listed(office, "--outcome", "review") == ["ind-3"]
    assert listed(office, "--since", today.isoformat()) == ["kc-1", "kc-2", "ind-3"]
    assert listed(office, "--until", (today - timedelta(days=1)).isoformat()) == []
    assert listed(office, "--guideline-version", "kc-drug-policy@1.0") == ["kc-1", "kc-2",
                                                                            "ind-3"]
    sha = office.json("audit", "list")["decisions"][0]["guideline_sha256"]
    assert listed(office, "--guideline-version", sha[:8]) == ["kc-1", "kc-2", "ind-3"]
    assert listed(office, "--guideline-version", "9.9") == []
    rows = office.json("audit", "list")["decisions"]
    assert [r["status"] for r in rows] == ["accepted", "overridden", "pending"]
    assert rows[1]["reason"] == "first arrest" and rows[1]["recommended"] == "file"
    assert "kc-2" in office.cli("audit", "list", "--overrides").stdout


def test_list_finds_a_referral_the_latest_and_relative_days(office: Office) -> None:
    assert listed(office, "--referral", "kc-2") == ["kc-2"]
    assert listed(office, "--referral", "kc-9") == []
    assert listed(office, "--limit", "2") == ["kc-2", "ind-3"]  # the most recent, in order
    assert listed(office, "--limit", "1", "--actor", "alice") == ["ind-3"]
    for day in ("today", "30d", "2w", "yesterday"):
        assert listed(office, "--since", day) == ["kc-1", "kc-2", "ind-3"], day
    assert listed(office, "--until", "yesterday") == []
    assert listed(office, "--until", "1d") == []
    exported = office.cli("audit", "export", "--since", "7d", "--limit", "1").stdout
    assert [r["record_id"] for r in csv.DictReader(io.StringIO(exported))] == ["ind-3"]


def test_list_shows_each_decision_with_its_reason(office: Office) -> None:
    text = office.cli("audit", "list").stdout
    assert "reason" in text
    row = next(line for line in text.splitlines() if "kc-2" in line)
    assert "first arrest" in row and "bob" in row


def test_show_takes_a_referral_id_screened_once(office: Office, tmp_path: Path) -> None:
    shown = office.json("audit", "show", "kc-2")
    assert shown["recommendation"]["decision_id"] == office.ids[1]
    again = Office(tmp_path)
    again.screen("kc-2", "carol", [])  # the same referral screened a second time
    result = runner.invoke(app, ["audit", "show", "kc-2", "--audit-dir", str(again.audit)])
    assert result.exit_code == 2 and "screened 2 times" in result.stderr


def test_show_explains_one_decision(office: Office) -> None:
    shown = office.json("audit", "show", office.ids[1])
    recommendation = shown["recommendation"]
    assert recommendation["kind"] == "recommendation"
    assert recommendation["demographics"]["race"] == "White"
    assert "demographics" not in recommendation["referral"]  # never given to a rule
    assert recommendation["versions"]["engine"] and recommendation["guideline_set"]["sha256"]
    assert [(d["kind"], d["outcome"], d["reason"]) for d in shown["decisions"]] == [
        ("override", "decline", "first arrest")]
    text = office.cli("audit", "show", office.ids[1][:8]).stdout
    for expected in ("kc-2", "first arrest", "override", "White", "Guideline text"):
        assert expected in text


def test_records_are_lean_and_show_re_derives_the_trace(office: Office,
                                                       tmp_path: Path) -> None:
    """A recommendation record keeps what was decided and why in words, not what the archived
    guideline set and the logged referral determine (the trace, the guidelines' text):
    `audit show` re-derives those by replay and says so."""
    cited = office.json("audit", "show", office.ids[0])["recommendation"]["result"]
    assert cited["citations"] and all("text" not in c for c in cited["citations"])
    logged = office.json("audit", "show", office.ids[2])["recommendation"]
    assert "trace" not in logged["result"] and "trace" not in cited
    assert logged["result"]["compared"]["jurisdiction"] == "Independence"
    line = next(raw for raw in stored_lines(office.audit) if office.ids[2].encode() in raw)
    assert len(line) < 3000, len(line)
    text = " ".join(office.cli("audit", "show", office.ids[2]).stdout.replace("│", " ").split())
    assert "How each rule was evaluated" in text
    assert "jurisdiction: 'Independence'" in text  # the compared value, from the log
    assert "re-derived from the archived guideline set; the replay reproduces" in text
    assert "Guideline text" in office.cli("audit", "show", office.ids[0]).stdout
    shutil.move(office.audit / "guidelines", tmp_path / "archive-away")
    try:
        text = " ".join(office.cli("audit", "show", office.ids[2]).stdout.split())
    finally:
        shutil.move(tmp_path / "archive-away", office.audit / "guidelines")
    assert "No trace: this record does not keep it and it could not be re-derived" in text


def test_show_keeps_the_trace_a_record_holds(tmp_path: Path) -> None:
    """Records written before they were lean hold their own trace: shown as logged."""
    office = Office(tmp_path)
    logged = office.json("audit", "show", office.ids[0])["recommendation"]
    older = {k: v for k, v in logged.items() if k not in ("seq", "hash", "prev_hash",
                                                          "timestamp")}
    older["decision_id"] = "00112233445566778899aabbccddeeff"
    older["result"] = {**logged["result"], "trace": [{
        "guideline": "kc-drug-policy", "version": "0", "scope": "held", "scope_conditions": [
            [0, "an older engine's own words", "held"]], "hit_policy": "first", "rules": [],
        "possible": ["file"]}]}
    log.append(office.audit, older)
    text = office.cli("audit", "show", older["decision_id"]).stdout
    assert "an older engine's own words" in text and "re-derived" not in text


def test_replay_reproduces_after_the_live_rules_are_gone(office: Office,
                                                         tmp_path: Path) -> None:
    archived = list((office.audit / "guidelines").iterdir())
    assert len(archived) == 1  # stored once for the three screenings
    assert stat.S_IMODE(archived[0].stat().st_mode) == 0o700
    moved = tmp_path / "rules-away"
    shutil.move(office.rules, moved)
    try:
        for decision_id in office.ids:
            result = office.json("audit", "replay", decision_id)
            assert result["reproduced"] is True and result["differences"] == []
    finally:
        shutil.move(moved, office.rules)


@pytest.mark.slow
def test_replay_fails_when_the_outcome_is_not_reproduced(tmp_path: Path) -> None:
    office = Office(tmp_path)
    logged = office.json("audit", "show", office.ids[0])["recommendation"]
    altered = {k: v for k, v in logged.items() if k not in ("seq", "hash", "prev_hash")}
    altered["decision_id"] = "0123456789abcdef"
    altered["result"] = {**logged["result"], "outcome": "decline"}
    log.append(office.audit, altered)  # as an engine that once decided otherwise would
    result = office.json("audit", "replay", "0123456789abcdef", code=1)
    assert result["reproduced"] is False and result["logged"] == "decline"
    assert "NOT reproduced" in office.cli("audit", "replay", "0123456789", code=1).stdout
    archived = next((office.audit / "guidelines").iterdir())
    (archived / "set.yaml").write_text("id: altered\n")
    refused = office.process("audit", "replay", office.ids[0])
    assert refused.returncode == 1 and "archive was altered" in refused.stderr


def test_export_for_analysts_with_masking(office: Office, tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(office.cli("audit", "export").stdout)))
    assert [r["record_id"] for r in rows] == ["kc-1", "kc-2", "ind-3"]
    assert rows[1]["race"] == "White" and rows[1]["outcome"] == "decline"
    assert rows[0]["charge_categories"] == "drug_possession"
    out = tmp_path / "export.jsonl"
    out.write_text("an older, public file\n")
    out.chmod(0o644)  # exporting over it must not leave demographics world-readable
    office.cli("audit", "export", "--format", "jsonl", "--mask-demographics",
               "--out", str(out), "--overrides")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    (only,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert only["outcome"] == "decline" and only["referral"]["charges"]
    assert {only[k] for k in ("race", "ethnicity", "sex")} == {"[masked]"}
    # Nothing left to join the row back to a record holding the demographics.
    assert {only[k] for k in ("record_id", "decision_id", "seq")} == {"[masked]"}
    assert only["referral"]["referral_id"] == "[masked]"
    assert len(only["timestamp"]) == 10 and len(only["received"]) == 7
    text = out.read_text()
    assert "White" not in text and "kc-2" not in text and office.ids[1] not in text


def test_verify_repair_and_checkpoint_commands(tmp_path: Path) -> None:
    office = Office(tmp_path)
    key = tmp_path / "key"
    key.write_text("a-key-only-the-supervisor-holds\n")
    pins = tmp_path / "secure" / "checkpoints.jsonl"
    assert office.json("audit", "verify") == {"records": 5, "ok": True, "problems": []}
    sealed = office.json("audit", "checkpoint", "--out", str(pins), "--key-file", str(key))
    assert sealed["checkpoint"]["seq"] == 5 and sealed["ok"]
    with log.segments(office.audit)[-1].open("ab") as handle:
        handle.write(b'{"kind":"recommen')  # a crash mid-write
    torn = office.json("audit", "verify", code=1)
    assert [(p["line"], p["kind"]) for p in torn["problems"]] == [(6, "torn_tail")]
    repaired = office.json("audit", "repair", "--user", "sup")
    assert repaired["repaired"] and repaired["record"]["kind"] == "repair"
    assert (office.audit / repaired["record"]["quarantine"]).read_bytes() == b'{"kind":"recommen'
    assert office.json("audit", "repair")["repaired"] is False
    lines = stored_lines(office.audit)
    rewrite(office.audit, lines[:3])  # someone cuts the tail
    assert office.json("audit", "verify")["ok"] is True
    cut = office.json("audit", "verify", "--checkpoint", str(pins), "--key-file", str(key),
                      code=1)
    assert [p["kind"] for p in cut["problems"]] == ["truncated"]
    refused = office.json("audit", "checkpoint", "--out", str(pins), "--key-file", str(key),
                          code=1)
    assert refused["checkpoint"] is None
    rewrite(office.audit, [lines[0], *lines[2:]])
    problems = office.json("audit", "verify", code=1)["problems"]
    assert [(p["line"], p["kind"]) for p in problems] == [(2, "deleted")]
    text = office.cli("audit", "verify", code=1).stdout
    assert re.search(r"│ +2 +│ +deleted +│", text), text  # the row names line 2


@pytest.mark.slow
def test_bad_input_is_one_line_exit_2_and_writes_nothing(office: Office) -> None:
    before = stored_lines(office.audit)
    for args, message in [
        (["audit", "show", "nope"], "at least 6"),
        (["audit", "show", "ffffffffffff"], "no decision"),
        (["audit", "list", "--since", "last week"], "--since: 'last week' is not a day"),
        (["audit", "list", "--limit", "0"], "--limit"),
        (["audit", "checkpoint", "--out", "x.jsonl"], "key"),
        (["audit", "export", "--out", str(office.audit / "no" / "such" / "x.csv")],
         "cannot write: No such file or directory"),
        # a mistyped --audit-dir naming a file: not an intact, empty log
        (["audit", "verify", "--audit-dir", str(office.root / "kc-1.json")], "not a directory"),
    ]:
        result = office.process(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr
    assert stored_lines(office.audit) == before


def _forge(office: Office, index: int, changes: dict[str, Any]) -> None:
    """Rewrite one record with `changes` (None: member removed) and a hash to match."""
    lines = stored_lines(office.audit)
    record = {**json.loads(lines[index]), **changes}
    lines[index] = log.encode({k: v for k, v in record.items()
                               if v is not None and k != "hash"})[0]
    rewrite(office.audit, lines)


def _failed_check(office: Office, *args: str) -> Any:
    """Exit 1 with one line on stderr; an uncaught exception would be `result.exception`."""
    result = runner.invoke(app, [*args, "--audit-dir", str(office.audit)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (
        args, result.exception)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result


MALFORMED: dict[str, tuple[int, dict[str, Any], str]] = {
    # line index, members replaced, what the message names
    "result removed": (0, {"result": None}, "result"),
    "guideline set not an object": (0, {"guideline_set": "x"}, "guideline_set"),
    "charges not a list": (0, {"referral": {"charges": "x"}}, "referral.charges"),
    "decision without its outcome": (1, {"outcome": None}, "outcome"),
    "reasons not text": (0, {"result": {"outcome": "file", "reasons": 5}}, "result is malformed"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_record_is_a_failed_check_not_a_crash(tmp_path: Path, name: str) -> None:
    """An edited (even re-hashed) record makes list/show/export fail with one line naming it
    (exit 1: the log's integrity, not the user's input), never a traceback."""
    office = Office(tmp_path)
    index, changes, named = MALFORMED[name]
    _forge(office, index, changes)
    commands = [["audit", "show", office.ids[0]]] if "reasons" in name else [
        ["audit", "list"], ["audit", "export"], ["audit", "show", office.ids[0]]]
    for args in commands:
        result = _failed_check(office, *args)
        assert named in result.stderr and "audit verify" in result.stderr


@pytest.mark.parametrize(("changes", "named"), [
    ({"record_kind": "zzz"}, "unknown record kind 'zzz'"),
    ({"referral": None}, "cannot be replayed"),
    ({"guideline_set": {"id": "x", "sha256": "../../x"}}, "not a guideline set sha256"),
])
def test_a_record_that_cannot_be_replayed_fails_the_check(tmp_path: Path,
                                                          changes: dict[str, Any],
                                                          named: str) -> None:
    office = Office(tmp_path)
    _forge(office, 0, changes)
    assert named in _failed_check(office, "audit", "replay", office.ids[0]).stderr
