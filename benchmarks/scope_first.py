"""Scope first against one ruleset: a batch's evaluation alone, in one process.

A batch without a trace asks a large set scope first (engine/scoped.py) and a small one as
one ruleset; `Evaluator.SCOPE_FIRST_FROM` is where the first starts to pay. This times both
on the same parsed referrals (garbage collector frozen, as a batch runs), alternating, and
checks that they recommend exactly alike.

    python benchmarks/scope_first.py --guidelines 30 --n 50000
    python benchmarks/scope_first.py --set rules --referrals r.jsonl   # any set and input
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

from charging_rules.engine.evaluate import Evaluator
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.ingest.readers import RowSource
from charging_rules.ingest.records import Skipped, referral_rows
from charging_rules.model.facts import engine_fact
from charging_rules.model.referral import Referral

sys.path.insert(0, str(Path(__file__).resolve().parent))
import manual


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guidelines", type=int, default=30, help="a generated manual's size")
    parser.add_argument("--set", type=Path, help="a guideline set instead of a manual")
    parser.add_argument("--referrals", type=Path, help="JSON Lines (default: generated)")
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        guidelines = load_guidelines(args.set or manual.write_manual(
            Path(work) / "manual", args.guidelines))
        source = args.referrals or manual.write_referrals(Path(work) / "r.jsonl", args.n)
        with RowSource(source) as rows:
            records = [row[0] for _, row in referral_rows(rows, None)
                       if not isinstance(row, Skipped) and isinstance(row[0], Referral)]
    facts = [engine_fact(record) for record in records]
    ids = [record.referral_id for record in records]
    gc.freeze()
    gc.set_threshold(100_000, 50, 10)
    best: dict[bool, float] = {}
    results = {}
    for _ in range(args.rounds):
        for scope_first in (False, True):
            evaluator = Evaluator(guidelines, questions=False, trace=False,
                                  scope_first=scope_first)
            start = time.perf_counter()
            results[scope_first] = evaluator.evaluate_facts(ids, facts)
            seconds = time.perf_counter() - start
            best[scope_first] = min(best.get(scope_first, seconds), seconds)
    same = results[False] == results[True]
    print(f"{guidelines.id}: {len(facts):,} referrals, best of {args.rounds}")
    for scope_first, label in ((False, "one ruleset"), (True, "scope first")):
        print(f"  {label:12} {best[scope_first] / len(facts) * 1e6:7.1f} us a referral")
    print(f"  recommendations {'identical' if same else 'DIFFER'}")
    raise SystemExit(0 if same else 1)


if __name__ == "__main__":
    main()
