"""The intake queue's files: nothing overwritten, nothing decided twice by two sessions."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from charging_rules.audit import log
from charging_rules.screening.intake import IntakeQueue
from charging_rules.screening.screener import Screened, Screener
from tests.helpers import REPO, RULES, Accepting

EXAMPLE = REPO / "examples" / "referrals" / "kc-sale-firearm.json"


def _queue(inbox: Path, audit: Path) -> IntakeQueue:
    return IntakeQueue(inbox, Screener.open(RULES, audit), "alice")


def test_rejected_files_of_one_name_each_keep_their_file_and_reason(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for attempt in range(3):
        (inbox / "same.json").write_text(f'{{"referral_id": "R-{attempt}"')  # broken JSON
        _queue(inbox, tmp_path / "audit").run(Accepting())
    (inbox / "deep.json").write_text("[" * 100_000 + "]" * 100_000)  # past recursion limit
    _queue(inbox, tmp_path / "audit").run(Accepting())
    rejected = sorted((inbox / "rejected").iterdir())
    referrals = [p for p in rejected if p.name.startswith("same.") and p.suffix == ".json"]
    assert sorted(p.read_text()[-4:-1] for p in referrals) == ["R-0", "R-1", "R-2"]
    for path in referrals:  # each reason sits beside the file it explains
        assert "same.json" in path.with_name(f"{path.name}.error.txt").read_text()
    assert "nested too deeply" in (inbox / "rejected" / "deep.json.error.txt").read_text()
    assert len(rejected) == 8
    assert not list(log.read_records(tmp_path / "audit"))


@pytest.mark.slow
def test_a_file_another_session_holds_is_passed_over(tmp_path: Path) -> None:
    inbox, audit = tmp_path / "inbox", tmp_path / "audit"
    inbox.mkdir()
    shutil.copy(EXAMPLE, inbox / "01-held.json")
    shutil.copy(EXAMPLE, inbox / "02-free.json")
    data = json.loads(EXAMPLE.read_text())
    data["referral_id"] = "KC-OTHER"
    (inbox / "02-free.json").write_text(json.dumps(data))
    holder = subprocess.Popen(  # another prosecutor's session, with 01 on screen
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
         str(inbox / "01-held.json")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        ui = Accepting()
        summary = _queue(inbox, audit).run(ui)
    finally:
        holder.communicate("")
    assert ui.shown == ["02-free.json"]
    assert (inbox / "01-held.json").exists() and summary.remaining == 1
    assert {r["record_id"] for r in log.read_records(audit)} == {"KC-OTHER"}


def test_a_file_filed_away_by_another_session_is_not_decided_again(tmp_path: Path) -> None:
    inbox, audit = tmp_path / "inbox", tmp_path / "audit"
    inbox.mkdir()
    shutil.copy(EXAMPLE, inbox / "01.json")
    shutil.copy(EXAMPLE, inbox / "02.json")

    class Racing(Accepting):
        """While 01 is on screen here, another session decides 02 and files it away."""

        def show(self, path: Path, referral: dict[str, Any], screened: Screened,
                 position: int, total: int) -> None:
            super().show(path, referral, screened, position, total)
            if path.name == "01.json":
                _queue(inbox, audit).run(Accepting())

    ui = Racing()
    summary = _queue(inbox, audit).run(ui)  # no traceback for the vanished 02
    assert ui.shown == ["01.json"] and summary.remaining == 0
    decisions = [r for r in log.read_records(audit) if r["kind"] == "decision"]
    assert len(decisions) == 2  # 01 by this session, 02 by the other: once each
    assert sorted(p.name for p in (inbox / "screened").iterdir())[0] == "01.json"
