"""Start-up benchmark: `charging-rules screen` on one referral against bare imports.

Issue #2 asks that screening one referral start and answer within 1.6x the time of
`python -c "import durable.lang, pydantic, yaml, rich, typer"`. We time each command
repeatedly in fresh processes and compare the fastest runs (the minimum is the figure least
disturbed by other load on the machine).

    python benchmarks/startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REFERRAL = REPO / "examples" / "referrals" / "kc-sale-no-violence.json"
BARE = [sys.executable, "-c", "import durable.lang, pydantic, yaml, rich, typer"]
SCREEN = [sys.executable, "-m", "charging_rules", "screen", str(REFERRAL), "--no-log",
          "--guidelines", str(REPO / "rules")]


def timings(command: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    bare = timings(BARE, runs)
    results = {"bare imports": bare,
               "screen --json": timings([*SCREEN, "--json"], runs),
               "screen (rich view)": timings(SCREEN, runs)}
    for name, values in results.items():
        print(f"{name:20} min {min(values) * 1000:6.1f} ms  median "
              f"{statistics.median(values) * 1000:6.1f} ms  ratio(min) "
              f"{min(values) / min(bare):.2f}x")


if __name__ == "__main__":
    main()
