"""Verify the hash chain: every edit, deletion, insertion, reordering or forged hash is
reported at the line where it is, and a crash-torn tail is reported as such (not tampering).

Two phases, so a year of intact log verifies at the speed of parsing it. The hot loop does
one JSON parse and one SHA-256 per line (the hash covers the stored bytes, see log.py) and
only notes which lines break the chain. Then, for those lines alone, a diagnosis reads a few
lines around each and names what happened, looking ahead where the evidence is later (a
forged record is exposed by its successor, a swap by the pair).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charging_rules.audit.lock import exclusive
from charging_rules.audit.log import GENESIS, HASH_TAIL, open_segment, segments, stored_body
from charging_rules.errors import InputError


@dataclass(frozen=True)
class Checkpoint:
    """A sealed (seq, hash) of the log's head at `timestamp` (checkpoint.py seals them)."""

    seq: int
    hash: str
    timestamp: str
    line: int  # in the checkpoint file


@dataclass(frozen=True)
class Problem:
    line: int
    kind: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind, "detail": self.detail}


@dataclass
class VerifyReport:
    records: int
    problems: list[Problem] = field(default_factory=list)
    head_seq: int = 0
    head_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"records": self.records, "ok": self.ok,
                "problems": [p.to_json() for p in self.problems]}


@dataclass(frozen=True)
class _Line:
    """What the diagnosis knows about one stored line."""

    number: int
    where: str  # segment file:line
    record: bool  # parsed as a record (object with int seq, str prev_hash and hash)
    seq: int = -1
    prev: str = ""
    stored: str = ""
    computed: str = ""

    @property
    def good(self) -> bool:
        return self.record and self.stored == self.computed


_GENESIS_LINE = _Line(0, "(start)", True, 0, "", GENESIS, GENESIS)


def _describe(number: int, where: str, raw: bytes) -> _Line:
    computed = hashlib.sha256(stored_body(raw)).hexdigest() if raw.endswith(b"\n") else ""
    try:
        data = json.loads(raw)
        seq, prev, stored = data["seq"], data["prev_hash"], data["hash"]
    except (ValueError, KeyError, TypeError):
        return _Line(number, where, False)
    if not (type(seq) is int and isinstance(prev, str) and isinstance(stored, str)):
        return _Line(number, where, False)
    return _Line(number, where, True, seq, prev, stored, computed)


def _follows(before: _Line | None, after: _Line | None) -> bool:
    """`after` is chained to `before` (to its stored hash, or to the hash of its bytes)."""
    return (before is not None and after is not None and after.record and before.record
            and after.prev in (before.stored, before.computed))


def _scan(lines: Iterable[bytes], pins: dict[int, Checkpoint]
          ) -> tuple[int, list[int], dict[int, tuple[int, str]], int, str]:
    """The hot loop: one parse and one hash per line, noting the lines that break the chain.
    Returns (lines read, suspect line numbers, line and hash at each pinned seq, head seq,
    head hash)."""
    suspects: list[int] = []
    at_pin: dict[int, tuple[int, str]] = {}
    loads, sha256 = json.loads, hashlib.sha256
    prev, seq, number = GENESIS, 0, 0
    for line in lines:
        number += 1
        try:
            record = loads(line)
            digest = record["hash"]
            if (sha256(line[:-HASH_TAIL] + b"}").hexdigest() != digest
                    or record["prev_hash"] != prev or record["seq"] != seq + 1):
                suspects.append(number)
            prev, seq = digest, record["seq"]
            if seq in pins:
                at_pin[seq] = (number, digest)
        except (ValueError, KeyError, TypeError):
            suspects.append(number)
            prev, seq = "", -1
    head = seq if type(seq) is int and seq > 0 else 0
    return number, suspects, at_pin, head, prev


Located = Callable[[], Iterable[tuple[str, bytes]]]


def verify_lines(lines: Iterable[bytes], located: Located,
                 checkpoints: Iterable[Checkpoint] = ()) -> VerifyReport:
    """Verify stored lines from any store: `lines` once for the scan, `located` (where, line)
    read again only when a line is suspect, for the diagnosis."""
    pins = {c.seq: c for c in checkpoints}
    number, suspects, at_pin, head, prev = _scan(lines, pins)
    report = VerifyReport(number, _diagnose(located, suspects), head, prev)
    report.problems.extend(_check_pins(pins, at_pin, report))
    report.problems.sort(key=lambda p: p.line)
    return report


def _file_lines(files: list[Path], torn: list[tuple[int, Path, int]]) -> Iterator[bytes]:
    """Every line of the segments; an incomplete last line of the last one is not yielded
    but noted in `torn` as (line number, segment, offset)."""
    number, last = 0, len(files) - 1
    for index, path in enumerate(files):
        with open_segment(path) as handle:
            for line in handle:
                number += 1
                if line[-1:] != b"\n" and index == last:
                    torn.append((number, path, handle.tell() - len(line)))
                    return
                yield line


def _located(files: list[Path]) -> Located:
    def lines() -> Iterator[tuple[str, bytes]]:
        for path in files:
            with open_segment(path) as handle:
                for in_file, raw in enumerate(handle, 1):
                    yield f"{path.name}:{in_file}", raw
    return lines


def verify(audit_dir: Path, checkpoints: Iterable[Checkpoint] = ()) -> VerifyReport:
    """Check the whole log (and, given checkpoints, that it still contains them)."""
    pins = {c.seq: c for c in checkpoints}
    files = segments(audit_dir)
    torn: list[tuple[int, Path, int]] = []
    number, suspects, at_pin, head, prev = _scan(_file_lines(files, torn), pins)
    if torn and _completed(audit_dir, torn[0][1], torn[0][2]):
        return verify(audit_dir, pins.values())  # a writer was mid-append; it has finished
    report = VerifyReport(number, _diagnose(_located(files), suspects), head, prev)
    if torn:
        report.problems.append(Problem(torn[0][0], "torn_tail", (
            f"{torn[0][1].name}: the last line is incomplete (a write interrupted by a crash, "
            "not tampering); 'charging-rules audit repair' moves it to quarantine")))
    report.problems.extend(_check_pins(pins, at_pin, report))
    report.problems.sort(key=lambda p: p.line)
    return report


def _completed(audit_dir: Path, path: Path, offset: int) -> bool:
    """Under the writers' lock, is the line at `offset` now complete? (then it wasn't torn)
    A reader who may not take the lock (read-only access) gets the line reported."""
    try:
        with exclusive(audit_dir), open_segment(path) as handle:
            handle.seek(offset)
            return handle.readline().endswith(b"\n")
    except (PermissionError, InputError):  # read-only, or the lock is held too long
        return False


def _check_pins(pins: dict[int, Checkpoint], at_pin: dict[int, tuple[int, str]],
                report: VerifyReport) -> list[Problem]:
    problems: list[Problem] = []
    matched = 0
    for seq in sorted(pins):
        pin = pins[seq]
        if seq not in at_pin:
            if seq > report.head_seq:
                problems.append(Problem(report.records + 1, "truncated", (
                    f"the log ends at seq {report.head_seq} but checkpoint of {pin.timestamp} "
                    f"(line {pin.line}) sealed seq {seq}: records were removed from the end")))
            continue
        line, digest = at_pin[seq]
        if digest == pin.hash:
            matched = seq
        else:
            problems.append(Problem(line, "rewritten", (
                f"record seq {seq} no longer has the hash sealed by the checkpoint of "
                f"{pin.timestamp}: records after seq {matched} up to {seq} were rewritten and "
                "re-hashed")))
    return problems


def _neighbourhood(located: Located, wanted: set[int]) -> dict[int, _Line]:
    lines: dict[int, _Line] = {}
    for number, (where, raw) in enumerate(located(), 1):
        if number in wanted:
            lines[number] = _describe(number, where, raw)
    return lines


def _diagnose(located: Located, suspects: list[int]) -> list[Problem]:
    if not suspects:
        return []
    wanted = {n + d for n in suspects for d in range(-2, 3) if n + d > 0}
    lines = _neighbourhood(located, wanted)
    found: dict[int, _Problem] = {}
    handled: set[int] = set()
    for number in suspects:
        # Unparseable right after a problem: the rest of that line (a newline inserted into
        # it). A record whose hash fails is its own edit, even right after another.
        if number in handled or (number - 1 in found and not lines[number].record):
            continue
        problem, covers = _classify(lines, number)
        if problem is not None and problem.line not in found:
            found[problem.line] = problem
        handled.update(covers)
    _not_deleted(located, found, lines)
    return [p.public() for p in _merge_moves(list(found.values()))]


def _not_deleted(located: Located, found: dict[int, _Problem], lines: dict[int, _Line]
                 ) -> None:
    """A record after a gap in the seqs may still be chained to an earlier line: then
    nothing was deleted, the lines between were put in (a run of copied records)."""
    gaps = {p.line: lines[p.line].prev for p in found.values() if p.kind == "deleted"}
    if not gaps:
        return
    wanted = set(gaps.values())
    digests = [prev.encode() for prev in wanted]
    last = max(gaps)
    at: dict[str, int] = {}
    for number, (_, raw) in enumerate(located(), 1):
        if number >= last:
            break
        # hashed only where a wanted hash appears at all: one substring test a line
        if any(digest in raw for digest in digests):
            line = _describe(number, "", raw)
            if line.good and line.stored in wanted:
                at.setdefault(line.stored, number)
    for number, prev in gaps.items():
        chained = at.get(prev)
        # chained to a record itself out of place: a move, which _merge_moves names
        if chained is None or chained >= number - 1 or chained in found:
            continue
        del found[number]
        if not any(chained < line < number for line in found):
            found[chained + 1] = _Problem(
                chained + 1, "inserted", f"line {chained + 1}: lines {chained + 1} to "
                f"{number - 1} are not part of the chain (line {number} is chained to line "
                f"{chained})")


@dataclass
class _Problem:
    line: int
    kind: str
    detail: str
    seq: int = -1  # the record concerned (inserted) or missing (deleted), for move merging
    missing: tuple[int, int] | None = None

    def public(self) -> Problem:
        return Problem(self.line, self.kind, self.detail)


def _classify(lines: dict[int, _Line], number: int) -> tuple[_Problem | None, set[int]]:
    """What happened at suspect line `number`, and which later suspects that explains."""
    x = lines[number]
    p = lines.get(number - 1, _GENESIS_LINE)
    pp = lines.get(number - 2, _GENESIS_LINE if number == 2 else None)
    nx, nn = lines.get(number + 1), lines.get(number + 2)
    if not x.good:
        if _follows(p, nx):
            return (_Problem(number, "inserted", f"{x.where}: a line that is not part of the "
                             "chain (the next record is chained to the one before it)"),
                    {number + 1})
        detail = ("not a JSON record with seq, prev_hash and hash" if not x.record
                  else "its contents do not match its hash (the record was edited)")
        covers = {number + 1} if nx is not None and nx.good and (
            _follows(x, nx) or nx.seq == p.seq + 2) else set()
        return _Problem(number, "edited", f"{x.where}: {detail}"), covers
    if not p.good and number > 1:
        return None, set()  # explained by the problem at the line before
    if _follows(p, nx) and nx is not None and nx.good:
        if x.prev == nx.stored and (nn is None or _follows(x, nn)):
            return _Problem(number, "reordered", f"{x.where}: records seq {x.seq} and "
                            f"{nx.seq} are in each other's place"), {number + 1, number + 2}
        return _Problem(number, "inserted", f"{x.where}: record seq {x.seq} is not part of "
                        "the chain here (the next record is chained to the one before it)",
                        x.seq), {number + 1}
    if number > 1 and pp is not None and p.good and _follows(pp, x):
        return _Problem(number - 1, "inserted", f"{p.where}: record seq {p.seq} is not part "
                        "of the chain (the record after it is chained to the one before it)",
                        p.seq), set()
    if x.seq == p.seq + 1:
        if number == 1:
            return _Problem(1, "rehashed", f"{x.where}: the first record is not chained to "
                            "the start of the log"), set()
        return _Problem(number - 1, "rehashed", f"{p.where}: record seq {p.seq} was "
                        f"rewritten and its hash forged (record seq {x.seq} is chained to a "
                        "different hash)"), set()
    if x.seq > p.seq + 1:
        missing = (p.seq + 1, x.seq - 1)
        span = f"record seq {missing[0]} is" if missing[0] == missing[1] else \
            f"records seq {missing[0]} to {missing[1]} are"
        return _Problem(number, "deleted", f"{x.where}: {span} missing before this line",
                        missing=missing), set()
    return _Problem(number, "inserted", f"{x.where}: record seq {x.seq} comes again after "
                    f"seq {p.seq} (a copy of an earlier record)", x.seq), set()


def _merge_moves(problems: list[_Problem]) -> list[_Problem]:
    """A record deleted in one place and the same seq inserted in another was moved."""
    by_missing = {p.missing: p for p in problems if p.kind == "deleted"}
    merged: list[_Problem] = []
    dropped: set[int] = set()
    for problem in problems:
        gap = by_missing.get((problem.seq, problem.seq))
        if problem.kind == "inserted" and problem.seq > 0 and gap is not None:
            merged.append(_Problem(min(problem.line, gap.line), "reordered", (
                f"record seq {problem.seq} was moved: missing before line {gap.line}, "
                f"found at line {problem.line}")))
            dropped.update((problem.line, gap.line))
    return merged + [p for p in problems if p.line not in dropped]
