"""Throughput of `charging-rules batch` against raw durable_rules on the same referrals.

Not a test: run by hand (it takes minutes). Each measurement runs in its own process so peak
memory (ru_maxrss) is that run's alone:

    python benchmarks/batch_throughput.py --n 50000            # raw, batch --no-log, batch
    python benchmarks/batch_throughput.py --n 1000000 --modes batch-nolog

raw          parse each JSON line, drop the demographics (the fact durable_rules sees), assert
             it into the same compiled ruleset (engine/durable.py CompiledRuleset) in chunks
batch-nolog  `charging-rules batch FILE --no-log --json`
batch-log    `charging-rules batch FILE --json` with a fresh audit log
Targets (issue #5): batch-nolog >= 0.5x raw, batch-log >= 0.33x raw; memory flat in n.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODES = ("raw", "batch-nolog", "batch-log")


def _referral(i: int, rnd: random.Random) -> dict[str, Any]:
    """Varied referrals: KC and elsewhere, drug and other charges, facts often missing."""
    charges = [{"statute": "579.015", "description": "Possession of a controlled substance",
                "category": rnd.choice(["drug_possession", "drug_sale", "drug_paraphernalia",
                                        "violent", "weapon", "property"]),
                "drug": rnd.choice(["marijuana", "methamphetamine", "cocaine"]),
                "quantity_grams": round(rnd.random() * 10, 2), "level": "felony"}
               for _ in range(rnd.randint(1, 3))]
    out: dict[str, Any] = {
        "referral_id": f"KC-2023-{i:07d}",
        "received": f"2023-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
        "agency": "Kansas City Missouri Police Department",
        "jurisdiction": rnd.choice(["Kansas City", "Kansas City", "Independence"]),
        "charges": charges,
    }
    if rnd.random() < 0.7:
        out["firearm_recovered"] = rnd.random() < 0.2
    violence = {k: rnd.random() < 0.2 for k in ("linked_to_violent_incident", "victim_injured")
                if rnd.random() < 0.7}
    if violence:
        out["violence"] = violence
    if rnd.random() < 0.7:
        documented = rnd.random() < 0.3
        out["community_concern"] = {"documented": documented,
                                    **({"source": "Neighborhood association"} if documented
                                       else {})}
    out["defendant"] = {"age": rnd.randint(18, 70)}
    out["demographics"] = {"race": rnd.choice(["Black", "White", "Hispanic"]),
                           "sex": rnd.choice(["Male", "Female"])}
    return out


def generate(path: Path, n: int) -> None:
    rnd = random.Random(20230314)
    with path.open("w") as out:
        for i in range(n):
            out.write(json.dumps(_referral(i, rnd)) + "\n")


def _raw(path: Path) -> int:
    from charging_rules.engine.evaluate import Evaluator
    from charging_rules.guidelines.loader import load_guidelines

    ruleset = Evaluator(load_guidelines(ROOT / "rules"))._ruleset
    count = 0
    with path.open() as lines:
        while chunk := list(itertools.islice(lines, 256)):
            facts = [json.loads(line) for line in chunk]
            for fact in facts:
                fact.pop("demographics", None)
            count += len(ruleset.evaluate_many(facts))
    return count


def _batch(path: Path, log: bool) -> int:
    from charging_rules.cli.app import app

    with tempfile.TemporaryDirectory(prefix="bench-audit-") as audit:  # 1M referrals: ~3 GB
        args = ["batch", str(path), "--json", "--guidelines", str(ROOT / "rules")]
        args += ["--audit-dir", audit] if log else ["--no-log"]
        try:
            app(args, standalone_mode=False)
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                raise
    return 0


def child(mode: str, path: Path) -> None:
    start = time.perf_counter()
    _raw(path) if mode == "raw" else _batch(path, log=mode == "batch-log")
    elapsed = time.perf_counter() - start
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"mode": mode, "seconds": elapsed, "maxrss_kib": maxrss}), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--input", type=Path, help="referrals .jsonl (generated if absent)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = args.input or Path(tempfile.gettempdir()) / f"cr-bench-{args.n}.jsonl"
    if args.child:
        child(args.child, path)
        return
    if not path.exists():
        generate(path, args.n)
    rates: dict[str, float] = {}
    for mode in args.modes.split(","):
        proc = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--input",
                               str(path), "--child", mode], capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{mode} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        result = json.loads(proc.stderr.strip().splitlines()[-1])
        rates[mode] = args.n / result["seconds"]
        summary = proc.stdout.strip()
        ratio = f"{rates[mode] / rates['raw']:.2f}x raw" if "raw" in rates else ""
        print(f"{mode:12} {args.n:>9} referrals {result['seconds']:8.1f} s "
              f"{rates[mode]:8.0f}/s {ratio:>10}  peak RSS {result['maxrss_kib'] / 1024:6.0f} MiB"
              f"  {summary}", flush=True)


if __name__ == "__main__":
    main()
