"""`batch --jobs N`: referrals screened in worker processes give the same results, the same
log and the same order as one process; a worker that dies stops the batch with one line and
leaves a log that verifies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from charging_rules.audit import log
from tests.helpers import REPO, RULES, referral

PLACES = [("Kansas City", "MO"), ("Independence", "MO"), ("Kansas City", "KS"),
          ("Lee's Summit", None)]
_VOLATILE = ("decision_id", "timestamp", "hash", "prev_hash")


def _varied(i: int) -> dict[str, Any]:
    """Referrals unlike each other: places, charges, ages, and facts left unknown."""
    jurisdiction, state = PLACES[i % len(PLACES)]
    charges = [{"category": ("drug_sale", "drug_possession", "violent", "weapon")[(i + k) % 4],
                "drug": ("marijuana", "cocaine")[(i // 3 + k) % 2],
                "quantity_grams": float((i * 7 + k) % 60)} for k in range(1 + i % 3)]
    changes: dict[str, Any] = {"referral_id": f"W-{i:05d}", "jurisdiction": jurisdiction,
                               "charges": charges, "defendant.age": 15 + i % 40,
                               "firearm_recovered": None if i % 5 == 0 else i % 7 == 0,
                               "violence.victim_injured": None if i % 3 == 0 else i % 11 == 0}
    if state:
        changes["state"] = state
    return referral(**changes)


BAD = (7, 1300, 2650)  # one row screened before the workers start, two after (in workers)


def _input(path: Path, n: int) -> Path:
    lines = [json.dumps(_varied(i)) for i in range(n)]
    # Bad rows among the good ones: each costs its own line, in its place.
    lines[BAD[0]] = '{"referral_id": "W-bad", "referral_id": "twice"}'
    lines[BAD[1]] = "{not json"
    lines[BAD[2]] = json.dumps(referral(referral_id="W-nojur", jurisdiction=None))
    path.write_text("\n".join(lines) + "\n")
    return path


def _batch(*args: str | Path | int, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "charging_rules", "batch", *map(str, args),
                           "--guidelines", str(RULES)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def _stable(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in _VOLATILE}


def test_workers_give_the_same_results_log_and_order_as_one_process(tmp_path: Path) -> None:
    # The first chunks are screened before the workers are forked (workers.WARM_CHUNKS);
    # most of these, and two of the bad rows, go through the workers.
    source = _input(tmp_path / "referrals.jsonl", 3000)
    runs = {}
    for jobs in (1, 2):
        audit, out = tmp_path / f"audit{jobs}", tmp_path / f"out{jobs}.jsonl"
        result = _batch(source, "--json", "--audit-dir", audit, "--out", out, "--jobs", jobs)
        assert result.returncode == 1, result.stderr  # the bad rows were skipped
        records = list(log.read_records(audit))
        shown = [json.loads(line) for line in out.read_text().splitlines()]
        # Each result line names the record logged for it, in the input's order.
        assert [s["decision_id"] for s in shown] == [r["decision_id"] for r in records]
        assert [s["referral_id"] for s in shown] == [
            f"W-{i:05d}" for i in range(3000) if i not in BAD]
        runs[jobs] = (json.loads(result.stdout), result.stderr.splitlines(),
                      [_stable(r) for r in records],
                      [{k: v for k, v in s.items() if k != "decision_id"} for s in shown])
        verified = subprocess.run([sys.executable, "-m", "charging_rules", "audit", "verify",
                                   "--json", "--audit-dir", str(audit)],
                                  capture_output=True, text=True, cwd=REPO)
        assert json.loads(verified.stdout)["ok"] is True
    assert runs[1] == runs[2]
    summary, skipped, _, _ = runs[2]
    assert summary["screened"] == 2997 and summary["skipped"] == 3
    assert [line.split(": ")[1] for line in skipped] == [f"skipped line {i + 1}" for i in BAD]


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def test_a_killed_worker_stops_the_batch_with_one_line_and_a_log_that_verifies(
        tmp_path: Path) -> None:
    source = _input(tmp_path / "referrals.jsonl", 30000)
    audit = tmp_path / "audit"
    proc = subprocess.Popen([sys.executable, "-m", "charging_rules", "batch", str(source),
                             "--guidelines", str(RULES), "--audit-dir", str(audit),
                             "--jobs", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO)
    deadline = time.monotonic() + 120
    while not (audit.exists() and log.segments(audit) and log.segments(audit)[0].stat().st_size
               and len(_children(proc.pid)) >= 2):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(_children(proc.pid)[0], signal.SIGKILL)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3, stderr
    lines = [line for line in stderr.splitlines() if "skipped line" not in line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "worker" in lines[0], stderr
    assert "Traceback" not in stderr
    records = list(log.read_records(audit))
    assert 0 < len(records) < 29997
    verified = subprocess.run([sys.executable, "-m", "charging_rules", "audit", "verify",
                               "--json", "--audit-dir", str(audit)],
                              capture_output=True, text=True, cwd=REPO)
    assert json.loads(verified.stdout)["ok"] is True
    # What was logged is a prefix of the input, in order: nothing after a gap.
    ids = [r["record_id"] for r in records]
    expected = [f"W-{i:05d}" for i in range(30000) if i not in BAD]
    assert ids == expected[:len(ids)]
