"""Append-only JSONL audit log, hash-chained: each record carries the previous record's hash.

Hardened in the audit-log work (locking, fsync, torn tails, checkpoints); this is the
minimal writer: records are canonical JSON, one per line, in `audit_logs/decisions.jsonl`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG_NAME = "decisions.jsonl"
GENESIS = "0" * 64


def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def _tail(path: Path) -> tuple[int, str]:
    if not path.exists() or path.stat().st_size == 0:
        return 0, GENESIS
    last = path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    record = json.loads(last)
    return int(record["seq"]), str(record["hash"])


def append(audit_dir: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Append one entry; returns the record as written (with seq, timestamp, hashes)."""
    return append_many(audit_dir, [entry])[0]


def append_many(audit_dir: Path, entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Append entries as one group: one write, one fsync (group commit for batch writers)."""
    audit_dir.mkdir(parents=True, exist_ok=True)
    path = audit_dir / LOG_NAME
    seq, prev = _tail(path)
    written: list[dict[str, Any]] = []
    for entry in entries:
        seq += 1
        record = {**entry, "seq": seq, "prev_hash": prev,
                  "timestamp": datetime.now(UTC).isoformat(timespec="microseconds")}
        record["hash"] = prev = record_hash(record)
        written.append(record)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"".join(canonical(r) + b"\n" for r in written))
        os.fsync(fd)
    finally:
        os.close(fd)
    return written


def read_records(audit_dir: Path) -> Iterator[dict[str, Any]]:
    """Every record, oldest first (streaming: a year of log never sits in memory at once)."""
    path = audit_dir / LOG_NAME
    if not path.exists():
        return
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)
