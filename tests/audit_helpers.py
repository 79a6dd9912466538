"""Tampering as an insider with write access would do it: on the stored lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from charging_rules.audit import log
from charging_rules.audit.verify import VerifyReport


def stored_lines(audit_dir: Path) -> list[bytes]:
    return b"".join(p.read_bytes() for p in log.segments(audit_dir)).splitlines(keepends=True)


def rewrite(audit_dir: Path, lines: list[bytes]) -> None:
    """Replace the log by these lines (one segment), as an editor saving the file would."""
    for path in log.segments(audit_dir):
        path.unlink()
    (audit_dir / log.segment_name(1)).write_bytes(b"".join(lines))


def reseal(line: bytes, **changes: Any) -> bytes:
    """The line with `changes` applied and its hash recomputed: a forged, self-consistent
    record."""
    record = json.loads(line)
    record.update(changes)
    record.pop("hash")
    return log.encode(record)[0]


def rehash_from(lines: list[bytes], index: int, **changes: Any) -> list[bytes]:
    """Rewrite record `index` and re-hash the whole chain after it: no chain break left."""
    out = lines[:index]
    prev = json.loads(out[-1])["hash"] if out else log.GENESIS
    for position, line in enumerate(lines[index:]):
        forged = reseal(line, prev_hash=prev, **(changes if position == 0 else {}))
        prev = json.loads(forged)["hash"]
        out.append(forged)
    return out


def synthetic_log(audit_dir: Path, count: int) -> list[dict[str, Any]]:
    return log.append_many(audit_dir, [
        {"kind": "recommendation", "decision_id": f"d{i}", "actor": "ana",
         "result": {"outcome": "file"}, "n": i} for i in range(count)])


def found(report: VerifyReport) -> list[tuple[int, str]]:
    """(line, kind) of every problem verify reported."""
    return [(p.line, p.kind) for p in report.problems]
