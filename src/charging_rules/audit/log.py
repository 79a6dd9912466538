"""Append-only JSONL audit log, hash-chained, crash-safe, safe for concurrent writers.

Layout (docs/audit-log.md): `audit_dir/decisions-<first seq, 12 digits>.jsonl` segments, read
in name order as one stream. A writer rotates to a new segment once the active one reaches
`segment_bytes`, so appending (which reads only the tail) and date-bounded reading (which
skips whole segments) stay fast however long the log grows.

Each line is the record's canonical JSON (`canonical`: sorted keys, no spaces) with the
`hash` member moved to the end:
`<canonical body without "}">,"hash":"<sha256 of the canonical body>"}`.
So the hash covers exactly the bytes stored, and verifying a line is one parse plus one hash.

Writers hold an exclusive lock (lock.py) from reading the tail to the fsync; a record is
returned only after its bytes are fsynced. A crash can leave at most a torn last line (bytes
after the last newline): the next writer, or `audit repair`, moves them to `quarantine/` and
appends a `repair` record. Nothing is ever deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from charging_rules.audit.lock import (
    FILE_MODE,
    LOCK_NAME,
    exclusive,
    fsync_dir,
    own_dir,
)
from charging_rules.errors import ChargingRulesError, InputError
from charging_rules.files import DuplicateKey, NotRegular, finite, kind_of_mode, open_regular
from charging_rules.files import loads as strict_loads

FORMAT_VERSION = 1
GENESIS = "0" * 64
SEGMENT_PREFIX = "decisions-"
SEGMENT_SUFFIX = ".jsonl"
QUARANTINE_DIR = "quarantine"
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
HASH_MEMBER = b',"hash":"'
HASH_TAIL = len(HASH_MEMBER) + 64 + len(b'"}\n')  # bytes after the body on a stored line


class AuditLogError(ChargingRulesError):
    """The log cannot be used as it is (corrupt tail, missing archive): a failed check."""

    exit_code = 1


def canonical(record: dict[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8. Written by orjson (a tenth of the time of `json` on
    the batch-with-log path); the same bytes as `json.dumps(sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)` but for floats below 1e-4, which orjson
    spells without an exponent (0.00001, not 1e-05). Verification hashes the stored bytes,
    so a log may hold both spellings. What orjson refuses (an integer past 64 bits) is
    written by `json`. NaN and infinity are refused, as `json` refuses them (orjson would
    write null)."""
    if not finite(record):
        raise ValueError("Out of range float values are not JSON compliant")
    try:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode()


def record_hash(record: dict[str, Any]) -> str:
    """SHA-256 of the record's canonical JSON without its `hash` member."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def encode(body: dict[str, Any]) -> tuple[bytes, str]:
    """The stored line for `body` (which has no `hash`) and its hash."""
    raw = canonical(body)
    digest = hashlib.sha256(raw).hexdigest()
    return raw[:-1] + HASH_MEMBER + digest.encode() + b'"}\n', digest


def stored_body(line: bytes) -> bytes:
    """The canonical body a stored line's hash covers (inverse of `encode`'s layout)."""
    return line[:-HASH_TAIL] + b"}"


def owns(audit_dir: Path, path: Path) -> bool:
    """Whether `path` is one of the log's own files (a segment, whether it exists yet or
    not, the lock, anything in the quarantine or the guideline archive): what no export or
    report may write. Other files beside the log are not read by it."""
    from charging_rules.audit.archive import ARCHIVE_DIR  # archive imports this module

    home, target = audit_dir.resolve(), path.resolve()
    if any(folder == target or folder in target.parents
           for folder in (home / QUARANTINE_DIR, home / ARCHIVE_DIR)):
        return True
    name = target.name
    return target.parent == home and (name == LOCK_NAME or (
        name.startswith(SEGMENT_PREFIX) and name.endswith(SEGMENT_SUFFIX)))


def segment_name(first_seq: int) -> str:
    return f"{SEGMENT_PREFIX}{first_seq:012d}{SEGMENT_SUFFIX}"


def segments(audit_dir: Path) -> list[Path]:
    """The log's segment files, oldest first (none yet: no directory). Each must be a
    regular file: a FIFO would block every reader and writer, a directory or a symlink (to
    /dev/null, say) is not a log, so any of them is a failed check naming the path."""
    if not audit_dir.is_dir():
        if audit_dir.exists():  # a mistyped --audit-dir must not read as an intact, empty log
            raise InputError("not a directory", source=str(audit_dir))
        return []
    try:  # not glob: it reads a directory it may not list as an empty one
        names = os.listdir(audit_dir)
    except OSError as error:
        raise InputError(f"cannot read the audit log: {error.strerror or error}",
                         source=str(audit_dir)) from None
    found = sorted(audit_dir / name for name in names
                   if name.startswith(SEGMENT_PREFIX) and name.endswith(SEGMENT_SUFFIX))
    for path in found:
        mode = path.lstat().st_mode
        if not stat.S_ISREG(mode):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else kind_of_mode(mode)
            raise AuditLogError(_not_regular(path, kind))
    return found


def _not_regular(path: Path, kind: str) -> str:
    return (f"{path}: {kind}, not a regular file: a log segment must be a plain file (move "
            "it out of the audit directory, then run 'charging-rules audit verify')")


def open_segment(path: Path) -> BinaryIO:
    """A segment for reading: never blocks, never follows a link; unreadable is exit 2."""
    try:
        fd = open_regular(path, follow=False)
    except NotRegular as error:
        raise AuditLogError(_not_regular(path, error.message.split(",")[0])) from None
    except OSError as error:
        raise InputError(f"cannot read the audit log: {error.strerror or error}",
                         source=str(path)) from None
    return os.fdopen(fd, "rb")


def must_exist(audit_dir: Path) -> Path:
    """A log to read or check must be there: a mistyped --audit-dir or an unmounted volume
    must not read as an intact, empty log."""
    if not audit_dir.exists():
        raise InputError("no audit log here (check --audit-dir or "
                         "$CHARGING_RULES_AUDIT_DIR, and that its volume is mounted)",
                         source=str(audit_dir))
    segments(audit_dir)  # not a directory, or a segment that is not a file: said here
    return audit_dir


def line_start(handle: BinaryIO, pos: int) -> int:
    """Offset just after the last newline before `pos` (0 if none): reads backwards."""
    block, hi = 65536, pos
    while hi > 0:
        lo = max(0, hi - block)
        handle.seek(lo)
        found = handle.read(hi - lo).rfind(b"\n")
        if found >= 0:
            return lo + found + 1
        hi, block = lo, block * 2
    return 0


@dataclass(frozen=True)
class Torn:
    """Bytes after the last newline of the last segment: a write a crash interrupted."""

    segment: Path
    offset: int
    data: bytes


def torn_tail(audit_dir: Path) -> Torn | None:
    files = segments(audit_dir)
    if not files:
        return None
    with open_segment(files[-1]) as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return None
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return None
        offset = line_start(handle, size)
        handle.seek(offset)
        return Torn(files[-1], offset, handle.read())


@dataclass(frozen=True)
class Tail:
    seq: int
    hash: str
    active: Path | None  # the segment new records go to (None: no segment yet)
    active_size: int


def _tail(audit_dir: Path) -> Tail:
    """The last complete record's seq and hash (call with the lock held, after repair)."""
    files = segments(audit_dir)
    for path in reversed(files):
        with open_segment(path) as handle:
            end = handle.seek(0, os.SEEK_END)
            if end == 0:
                continue
            start = line_start(handle, end - 1)
            handle.seek(start)
            line = handle.read(end - start)
        try:
            record = json.loads(line)
            seq, digest = record["seq"], record["hash"]
        except (ValueError, KeyError, TypeError):
            raise AuditLogError(f"{path}: the last record is not readable; run "
                                "'charging-rules audit verify'") from None
        if not isinstance(seq, int) or not isinstance(digest, str):
            raise AuditLogError(f"{path}: the last record has no valid seq/hash")
        return Tail(seq, digest, files[-1], files[-1].stat().st_size)
    return Tail(0, GENESIS, files[-1] if files else None, 0)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def write_all(path: Path, data: bytes, append: bool = True, follow: bool = False) -> None:
    """Write and fsync every byte (os.write may write less than asked), all or nothing: a
    write that fails part-way (disk full, file size limit) is cut back to where it started,
    or a new file removed, so nothing half-written is left to be taken for a record. A
    symlink is refused unless `follow` (a checkpoint file may live behind one)."""
    created = not path.exists()
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_EXCL)
    fd = open_regular(path, flags, follow=follow, mode=FILE_MODE)
    try:
        start = os.fstat(fd).st_size if append else 0
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError:
            _undo(fd, path, start, append)
            raise
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)


def _undo(fd: int, path: Path, start: int, append: bool) -> None:
    """Take back a failed write. If even that fails, an appended line stays torn (no
    newline): `audit repair` quarantines it, and no reader takes it for a record."""
    try:
        if append:
            os.ftruncate(fd, start)
            os.fsync(fd)
        else:
            path.unlink()
    except OSError:
        pass


def quarantine(source: Path, offset: int, data: bytes, target: Path,
               follow: bool = False) -> None:
    """Move `data` (the bytes of `source` from `offset`) to the new file `target`: written
    and fsynced first, only then is `source` cut back. A failure writing the copy removes
    it and leaves `source` as it was; nothing is ever lost."""
    write_all(target, data, append=False)
    fd = open_regular(source, os.O_WRONLY, follow=follow)
    try:
        os.ftruncate(fd, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def _quarantine(audit_dir: Path, torn: Torn, actor: str) -> dict[str, Any]:
    """Move torn bytes aside into quarantine/."""
    directory = audit_dir / QUARANTINE_DIR
    own_dir(directory)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = directory / f"{torn.segment.stem}-{torn.offset}-{stamp}-{os.getpid()}.torn"
    quarantine(torn.segment, torn.offset, torn.data, target)
    return {
        "format": FORMAT_VERSION, "kind": "repair", "decision_id": None, "actor": actor,
        "segment": torn.segment.name, "offset": torn.offset, "bytes": len(torn.data),
        "sha256": hashlib.sha256(torn.data).hexdigest(),
        "quarantine": f"{QUARANTINE_DIR}/{target.name}",
    }


@contextmanager
def writable(audit_dir: Path) -> Iterator[None]:
    """A log the user may not write to, or a full disk, is a usage problem (exit 2), not a
    crash; the failed write was already taken back (write_all)."""
    try:
        yield
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        raise InputError(f"cannot write the audit log: {error.strerror or error}{where}",
                         source=str(audit_dir)) from None


def repair(audit_dir: Path, actor: str) -> dict[str, Any] | None:
    """Quarantine a torn tail and log a `repair` record; None when there was nothing to do."""
    if not segments(audit_dir):
        return None
    with writable(audit_dir), exclusive(audit_dir):
        torn = torn_tail(audit_dir)
        if torn is None:
            return None
        return _append_locked(audit_dir, [_quarantine(audit_dir, torn, actor)],
                              DEFAULT_SEGMENT_BYTES)[0]


def append(audit_dir: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Append one entry; returns the record as written (with seq, timestamp, hashes)."""
    return append_many(audit_dir, [entry])[0]


def append_many(audit_dir: Path, entries: Iterable[dict[str, Any]], *,
                segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> list[dict[str, Any]]:
    """Append entries as one group commit: one lock, one write, one fsync for the group.

    Every returned record is durable. A crash before the fsync returns means none of the
    group was acknowledged; complete lines of it may survive, a torn last one is repaired.
    """
    batch = list(entries)
    if not batch:
        return []
    with writable(audit_dir), exclusive(audit_dir):
        torn = torn_tail(audit_dir)
        if torn is not None:
            repair_actor = str(batch[0].get("actor") or "charging-rules")
            batch.insert(0, {**_quarantine(audit_dir, torn, repair_actor), "automatic": True})
        written = _append_locked(audit_dir, batch, segment_bytes)
    return written[1:] if torn is not None else written


def _append_locked(audit_dir: Path, entries: list[dict[str, Any]],
                   segment_bytes: int) -> list[dict[str, Any]]:
    tail = _tail(audit_dir)
    seq, prev = tail.seq, tail.hash
    lines: list[bytes] = []
    written: list[dict[str, Any]] = []
    for entry in entries:
        seq += 1
        body = {k: v for k, v in entry.items() if k != "hash"}
        body.update(seq=seq, prev_hash=prev, timestamp=_now())
        line, prev = encode(body)
        body["hash"] = prev
        lines.append(line)
        written.append(body)
    target = tail.active
    if target is None or tail.active_size >= segment_bytes:
        target = audit_dir / segment_name(tail.seq + 1)
    write_all(target, b"".join(lines))
    return written


def read_lines(audit_dir: Path, since: str | None = None) -> Iterator[tuple[str, bytes]]:
    """(segment:line, raw line) for every committed line, oldest first, streamed.

    A last line still being written (or torn) is skipped: only committed records are read.
    `since` (an ISO timestamp prefix) skips whole segments that end before it; lines before
    it in the first segment read are still yielded (callers filter exactly). Callers may
    test the raw bytes before parsing: records are canonical, so `"kind":"override"` appears
    literally in every override record.
    """
    for path in _segments_since(audit_dir, since):
        with open_segment(path) as lines:
            for number, line in enumerate(lines, 1):
                if not line.endswith(b"\n"):
                    break
                yield f"{path}:{number}", line


def parse_line(where: str, line: bytes, strict: bool = False) -> dict[str, Any]:
    """One stored record. `strict` (what people are shown: show, list, export, replay) also
    refuses a key named twice: this tool never writes one, and readers disagree on which of
    the two counts, so such a line was written by something else."""
    try:
        record = strict_loads(line.decode()) if strict else json.loads(line)
    except DuplicateKey as error:
        raise AuditLogError(f"{where}: {error} (not written by this tool); run "
                            "'charging-rules audit verify'") from None
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise AuditLogError(f"{where}: not a JSON record; run 'charging-rules audit verify'")
    return record


def read_records(audit_dir: Path, since: str | None = None) -> Iterator[dict[str, Any]]:
    """Every record, oldest first, streamed segment by segment (see `read_lines`)."""
    for where, line in read_lines(audit_dir, since):
        yield parse_line(where, line)


def _first_timestamp(path: Path) -> str | None:
    with open_segment(path) as handle:
        line = handle.readline()
    try:
        return str(json.loads(line)["timestamp"])
    except (ValueError, KeyError, TypeError):
        return None


def _segments_since(audit_dir: Path, since: str | None) -> list[Path]:
    files = segments(audit_dir)
    if since is None:
        return files
    start = 0
    for index in range(1, len(files)):
        first = _first_timestamp(files[index])
        if first is not None and first <= since:
            start = index  # files[index - 1] ends before `since`
    return files[start:]
