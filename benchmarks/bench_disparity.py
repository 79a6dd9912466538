"""Benchmark (run by hand, not a test): `disparity` over a 1,000,000-record audit log.

    python benchmarks/bench_disparity.py [--records 1000000] [--dir /tmp/cr-bench]

Builds the log once through `audit.log.append_many` (real recommendation records from the
engine on synthetic referrals, replicated with fresh referral and decision ids, plus a
decision or override record per recommendation; group commits of 20,000), then times
`charging-rules disparity --audit-dir DIR --json` as a user runs it (a subprocess).
Target: under 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from charging_rules.analysis.synth import prosecutor_decision, synthetic_year
from charging_rules.audit.entries import decision_entry, recommendation_entry
from charging_rules.audit.log import append_many, segments
from charging_rules.engine.evaluate import Evaluator
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.model.kinds import parse_record

REPO = Path(__file__).resolve().parents[1]


def build(directory: Path, records: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    raw = synthetic_year(2000, seed=7)
    parsed = [parse_record(r) for r in raw]
    evaluator = Evaluator(load_guidelines(REPO / "rules"))
    templates = [recommendation_entry(rec, record, dem, "bench")
                 for (record, dem), rec in zip(parsed, evaluator.evaluate_many(
                     r for r, _ in parsed), strict=True)]
    rng = random.Random(7)
    written = 0
    while written < records:
        group: list[dict[str, Any]] = []  # commits of ~20k records: one write, one fsync
        while len(group) < 20_000 and written + len(group) < records:
            n = written + len(group)
            template = templates[n % len(templates)]
            # A fresh referral as well as a fresh decision: the analysis counts one case per
            # referral (its latest decision), so replicated ids would shrink 1M records to
            # the templates' 2,000 cases.
            entry = {**template, "decision_id": f"{n:032x}",
                     "record_id": f"{template['record_id']}-{n:07d}"}
            group.append(entry)
            decided = prosecutor_decision(rng, entry["result"]["outcome"])
            if decided is not None and written + len(group) < records:
                group.append(decision_entry(entry, "bench", *decided))
        append_many(directory, group)
        written += len(group)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/cr-bench-1m"))
    args = parser.parse_args()
    if not segments(args.dir):
        started = time.perf_counter()
        build(args.dir, args.records)
        size = sum(p.stat().st_size for p in segments(args.dir))
        print(f"built {args.records:,} records ({size / 1e9:.2f} GB, "
              f"{len(segments(args.dir))} segments) in {time.perf_counter() - started:.1f} s")
    command = [sys.executable, "-m", "charging_rules", "disparity", "--audit-dir",
               str(args.dir), "--json"]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    groups = json.loads(result.stdout)["groups"]
    print(f"{' '.join(command[2:])}: {elapsed:.1f} s for {args.records:,} records "
          f"wall, {cpu:.1f} s CPU ({sum(g['n'] for g in groups):,} cases at the decision "
          f"stage); target < 30 s. The machine is shared: see os.getloadavg() = "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
