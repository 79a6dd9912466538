"""`charging-rules intake` driven through a real pseudo-terminal, as a prosecutor uses it."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pexpect
import pytest

from charging_rules.audit import log
from tests.helpers import REPO

pytestmark = pytest.mark.slow  # a real terminal (pty) and a real process per test

EXAMPLES = REPO / "examples" / "referrals"


def _spawn(inbox: Path, audit: Path) -> pexpect.spawn:
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "120", "LINES": "50"}
    return pexpect.spawn(sys.executable, ["-m", "charging_rules", "intake", str(inbox),
                                          "--user", "alice", "--guidelines", str(REPO / "rules"),
                                          "--audit-dir", str(audit)],
                         env=env, encoding="utf-8", timeout=30, dimensions=(50, 120))


def _inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, example in [("01-accept.json", "kc-possession-community-concern.json"),
                          ("02-override.json", "kc-sale-firearm.json"),
                          ("03-skip.json", "kc-burglary.json"),
                          ("05-unknown-firearm.json", "kc-possession-unknown-firearm.json")]:
        shutil.copy(EXAMPLES / example, inbox / name)
    bad = json.loads((EXAMPLES / "kc-burglary.json").read_text())
    bad["firearm_recoverd"] = False  # a typo'd key: the contract forbids unknown keys
    (inbox / "04-invalid.json").write_text(json.dumps(bad))
    return inbox


def test_accept_override_skip_quit_then_log_and_folders_match(tmp_path: Path) -> None:
    inbox, audit = _inbox(tmp_path), tmp_path / "audit"
    child = _spawn(inbox, audit)
    child.expect("01-accept.json")
    child.expect(r"jurisdiction\s+Kansas City")  # the referral's facts, then the recommendation
    child.expect("Recommendation")
    child.expect("FILE")
    child.expect("Guideline text")
    child.expect(r"Action \[a/o/s/q\]")
    child.sendline("a")
    child.expect("Accepted")
    child.expect("02-override.json")
    child.expect(r"Action \[a/o/s/q\]")
    child.sendline("x")  # not an action: asked again
    child.expect(r"Action \[a/o/s/q\]")
    child.sendline("o")
    child.expect("Outcome")
    child.sendline("decline")
    child.expect("Reason")
    child.sendline("   ")  # an empty reason is not accepted
    child.expect("Reason")
    child.sendline("Victim refuses to cooperate")
    child.expect("Overridden")
    child.expect("03-skip.json")
    child.expect(r"Action \[a/o/s/q\]")
    child.sendline("s")
    child.expect("Rejected")
    child.expect("firearm_recoverd")
    child.expect("05-unknown-firearm.json")
    child.expect("firearm_recovered")
    child.expect("Write a request")
    child.sendline("y")
    child.expect("Request written")
    child.expect(r"Action \[a/o/s/q\]")
    child.sendline("q")
    child.expect("2 decided, 1 skipped, 1 rejected")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    assert sorted(p.name for p in inbox.glob("*.json")) == ["03-skip.json",
                                                           "05-unknown-firearm.json"]
    assert sorted(p.name for p in (inbox / "screened").iterdir()) == ["01-accept.json",
                                                                     "02-override.json"]
    assert sorted(p.name for p in (inbox / "rejected").iterdir()) == [
        "04-invalid.json", "04-invalid.json.error.txt"]
    assert "firearm_recoverd" in (inbox / "rejected" / "04-invalid.json.error.txt").read_text()
    request = (inbox / "requests" / "05-unknown-firearm.request.txt").read_text()
    assert "KC-2023-000203" in request and "firearm_recovered" in request

    records = list(log.read_records(audit))
    shown = [(r["kind"], r["record_id"]) for r in records]
    assert shown == [("recommendation", "KC-2023-000123"), ("decision", "KC-2023-000123"),
                     ("recommendation", "KC-2023-000202"), ("override", "KC-2023-000202"),
                     ("recommendation", "KC-2023-000205"), ("recommendation", "KC-2023-000203")]
    accept, override = records[1], records[3]
    assert accept["actor"] == override["actor"] == "alice"
    assert accept["decision_id"] == records[0]["decision_id"]
    assert (override["recommended"], override["outcome"]) == ("file", "decline")
    assert override["reason"] == "Victim refuses to cooperate"
    assert not any(r["record_id"] == "KC-2023-000205" and r["kind"] != "recommendation"
                   for r in records)


def test_a_decision_logged_before_a_crash_is_not_asked_again(tmp_path: Path) -> None:
    inbox, audit = _inbox(tmp_path), tmp_path / "audit"
    child = _spawn(inbox, audit)
    child.expect(r"Action \[a/o/s/q\]")
    child.sendline("a")
    child.expect("Accepted")
    child.expect(r"Action \[a/o/s/q\]")
    child.sendintr()  # Ctrl-C at the prompt: what was decided stays decided
    child.expect("Stopped: 1 decided")
    child.expect(pexpect.EOF)
    child.close()
    # The crash window: decision logged, file not yet moved (simulated by putting it back).
    shutil.copy(inbox / "screened" / "01-accept.json", inbox / "01-accept.json")
    before = len(list(log.read_records(audit)))

    child = _spawn(inbox, audit)
    child.expect("Already decided")
    child.expect("01-accept.json")
    child.expect("02-override.json")
    child.expect(r"Action \[a/o/s/q\]")
    child.sendeof()  # the terminal goes away
    child.expect("Stopped: 0 decided")
    child.expect(pexpect.EOF)
    child.close()

    records = list(log.read_records(audit))
    assert [r["kind"] for r in records[before:]] == ["recommendation"]  # 02 shown, undecided
    assert sum(r["kind"] == "decision" for r in records) == 1
    assert {p.name for p in (inbox / "screened").iterdir()} == {
        "01-accept.json", f"01-accept.{records[1]['decision_id'][:12]}.json"}
    assert (inbox / "02-override.json").exists()
