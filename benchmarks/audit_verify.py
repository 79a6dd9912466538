"""Benchmark (not a test): `audit verify` against a minimal Python pass over the same log.

The budget (issue #3): verifying must stay within 2x of a loop that only json-parses and
SHA-256-hashes every line. Records are real recommendation records (the example referral
screened by the real engine), varied per record, so line sizes are what a year of log holds.

    python benchmarks/audit_verify.py [--records 100000] [--keep DIR]

Prints both timings (in-process and as commands), the ratios, and single-append latency on
the full log; exits 1 if a ratio exceeds 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from charging_rules.audit import log
from charging_rules.audit.entries import recommendation_entry
from charging_rules.audit.verify import verify
from charging_rules.model.kinds import load_record_file
from charging_rules.screening.screener import Screener

ROOT = Path(__file__).resolve().parent.parent
BASELINE = """
import hashlib, json, sys
from pathlib import Path
n = 0
for path in sorted(Path(sys.argv[1]).glob("decisions-*.jsonl")):
    with path.open("rb") as lines:
        for line in lines:
            json.loads(line)
            hashlib.sha256(line).hexdigest()
            n += 1
print(n)
"""


def baseline(audit_dir: Path) -> int:
    """The minimal pass: parse and hash every line, nothing else."""
    count = 0
    for path in log.segments(audit_dir):
        with path.open("rb") as lines:
            for line in lines:
                json.loads(line)
                hashlib.sha256(line).hexdigest()
                count += 1
    return count


def build(audit_dir: Path, records: int) -> None:
    record, demographics = load_record_file(
        ROOT / "examples/referrals/kc-possession-community-concern.json")
    screened = Screener.open(ROOT / "rules", None).screen(record, demographics, "bench")
    template = recommendation_entry(screened.recommendation, record, demographics, "bench")
    for start in range(0, records, 1000):
        log.append_many(audit_dir, [
            {**template, "decision_id": f"{i:032x}", "record_id": f"KC-2023-{i:06d}",
             "referral": {**template["referral"], "referral_id": f"KC-2023-{i:06d}"}}
            for i in range(start, min(records, start + 1000))])


def best_of(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="build the log here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        audit_dir = args.keep or Path(scratch) / "audit_logs"
        if not log.segments(audit_dir):
            started = time.perf_counter()
            build(audit_dir, args.records)
            print(f"built {args.records} records in {time.perf_counter() - started:.1f} s")
        size = sum(p.stat().st_size for p in log.segments(audit_dir))
        print(f"log: {size / 1e6:.1f} MB in {len(log.segments(audit_dir))} segment(s)")
        report = verify(audit_dir)
        assert report.ok and report.records == baseline(audit_dir), report.problems[:3]
        ours = best_of(3, lambda: verify(audit_dir))
        base = best_of(3, lambda: baseline(audit_dir))
        print(f"in-process: verify {ours:.3f} s, minimal parse+hash {base:.3f} s, "
              f"ratio {ours / base:.2f}")
        command = [sys.executable, "-m", "charging_rules", "audit", "verify", "--audit-dir",
                   str(audit_dir)]
        cli = best_of(3, lambda: subprocess.run(command, check=True, capture_output=True))
        plain = best_of(3, lambda: subprocess.run(
            [sys.executable, "-c", BASELINE, str(audit_dir)], check=True, capture_output=True))
        print(f"as commands: `{' '.join(command[1:])}` {cli:.3f} s, "
              f"minimal script {plain:.3f} s, ratio {cli / plain:.2f}")
        entry = {"kind": "decision", "decision_id": "0" * 32, "actor": "bench",
                 "outcome": "file"}
        latency = best_of(20, lambda: log.append(audit_dir, entry))
        print(f"single append (lock, tail, write, fsync) on the full log: "
              f"{latency * 1000:.2f} ms")
        return 0 if ours / base <= 2 and cli / plain <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
