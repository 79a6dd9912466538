"""Batch throughput into the PostgreSQL audit store against the file log, same referrals.

Not a test: run by hand. Starts its own PostgreSQL server (as tests/pg_server.py does: an
unprivileged OS user when run as root, a unix socket in a temporary folder, fsync on), then
runs `charging-rules batch FILE --json` once into a fresh file log and once into a fresh,
initialised database, each in its own process:

    python benchmarks/audit_store_throughput.py --n 50000

Both stores commit one group per chunk of 256 referrals (file: one write + fsync; database:
one transaction, its COMMIT flushed to the WAL).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from tests.pg_server import _start_server  # noqa: E402

from referrals import generate  # noqa: E402  (the same varied referrals)


def _run(args: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "charging_rules", "batch", *args, "--json",
                           "--guidelines", str(ROOT / "rules")], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"batch {args} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-store-") as temp:
        referrals = Path(temp) / "referrals.jsonl"
        generate(referrals, args.n)
        seconds = {"file log": _run([str(referrals), "--audit-dir", str(Path(temp) / "log")])}
        server = _start_server()
        try:
            database = server.create_database()
            url = server.url(database)
            subprocess.run([sys.executable, "-m", "charging_rules", "audit", "init-db",
                            "--audit-db", url], check=True, capture_output=True)
            seconds["postgresql"] = _run([str(referrals), "--audit-db", url])
            stored = server.execute("SELECT count(*) FROM charging_rules.records", database)
            assert stored[0][0] == args.n, stored
        finally:
            server.stop()
    for store, elapsed in seconds.items():
        print(f"{store:10} {args.n:>7} referrals {elapsed:7.1f} s {args.n / elapsed:7.0f}/s "
              f"{seconds['file log'] / elapsed:5.2f}x the file log")


if __name__ == "__main__":
    main()
