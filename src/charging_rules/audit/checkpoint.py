"""HMAC-sealed checkpoints of the log's head: (seq, hash) at a moment, kept elsewhere.

A hash chain alone cannot tell a log whose tail was cut off, or one rewritten and re-hashed
from some record onwards, from an honest one: whoever can write the log can recompute every
hash. A checkpoint held outside `audit_logs/` (by a supervisor, on other storage) and sealed
with a key the writers don't hold pins the chain: the record with that seq must still exist
and still have that hash. Run `audit checkpoint` periodically (cron) to keep them fresh.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from charging_rules.audit.lock import ensure_dir
from charging_rules.audit.log import FORMAT_VERSION, canonical, quarantine, write_all
from charging_rules.audit.store import StoreLike, as_store
from charging_rules.audit.verify import Checkpoint, Problem, VerifyReport
from charging_rules.config import AUDIT_KEY_ENV
from charging_rules.errors import InputError
from charging_rules.files import decode, read_bytes

KEY_ENV = AUDIT_KEY_ENV


def load_key(key_file: Path | None) -> bytes:
    """The sealing key: the key file's content, else $CHARGING_RULES_AUDIT_KEY."""
    if key_file is not None:
        key = read_bytes(key_file, "key").strip()
        source = str(key_file)
    else:
        key = os.environ.get(KEY_ENV, "").strip().encode()
        source = f"${KEY_ENV}"
    if len(key) < 16:
        raise InputError(f"missing or shorter than 16 bytes ({source}); give a key file or "
                         f"set {KEY_ENV}", concept="key-file")
    return key


def _mac(fields: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical(fields), hashlib.sha256).hexdigest()


def write(path: Path, seq: int, head_hash: str, key: bytes) -> dict[str, Any]:
    """Append a sealed checkpoint of (seq, head_hash) to `path` (created owner-only)."""
    fields: dict[str, Any] = {"format": FORMAT_VERSION, "seq": seq, "hash": head_hash,
                              "timestamp": datetime.now(UTC).isoformat(timespec="seconds")}
    sealed = {**fields, "mac": _mac(fields, key)}
    ensure_dir(path.parent)
    write_all(path, canonical(sealed) + b"\n", follow=True)
    return sealed


def _raw(path: Path, required: bool) -> bytes:
    """The checkpoint file's bytes. Missing or empty is an error when checking against it
    (a typo or an unmounted volume must not turn truncation detection off silently); only
    sealing the first checkpoint may start from nothing."""
    if not required and not os.path.lexists(path):
        return b""
    if not os.path.lexists(path):
        raise InputError("no such checkpoint file: without it truncation and rewrites go "
                         "undetected (check the path, or that its volume is mounted)",
                         source=str(path))
    raw = read_bytes(path, "checkpoints")
    if required and not raw.strip():
        raise InputError("the checkpoint file is empty: nothing to check the log against "
                         "(seal one with 'charging-rules audit checkpoint')", source=str(path))
    return raw


def torn_tail(path: Path) -> tuple[int, bytes] | None:
    """(offset, bytes) after the checkpoint file's last newline: a write a crash cut short."""
    raw = read_bytes(path, "checkpoints")
    if not raw or raw.endswith(b"\n"):
        return None
    offset = raw.rfind(b"\n") + 1
    return offset, raw[offset:]


def repair(path: Path) -> dict[str, Any] | None:
    """Move a torn last checkpoint line to a `.torn` file beside it (written and fsynced
    before the checkpoint file is cut back, so nothing is lost); None if nothing was torn."""
    torn = torn_tail(path)
    if torn is None:
        return None
    offset, data = torn
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.{offset}-{stamp}.torn")
    quarantine(path, offset, data, target, follow=True)
    return {"checkpoint_file": str(path), "offset": offset, "bytes": len(data),
            "quarantine": str(target)}


def read(path: Path, key: bytes, required: bool = True) -> tuple[list[Checkpoint], list[str]]:
    """Checkpoints whose seal holds, and one message per line whose seal does not."""
    text = decode(_raw(path, required), str(path))  # a bad byte: named by its line
    good: list[Checkpoint] = []
    bad: list[str] = []
    lines = text.split("\n")
    if lines[-1].strip():
        bad.append(f"{path}:{len(lines)}: the last line is incomplete (a write cut short); "
                   f"run 'charging-rules audit repair --checkpoint {path}' to move it aside")
    for number, line in enumerate(lines[:-1], 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            fields = {k: v for k, v in data.items() if k != "mac"}
            sealed = hmac.compare_digest(str(data["mac"]), _mac(fields, key))
            checkpoint = Checkpoint(int(data["seq"]), str(data["hash"]),
                                    str(data["timestamp"]), number)
        except (ValueError, KeyError, TypeError, AttributeError):
            bad.append(f"{path}:{number}: not a checkpoint")
            continue
        if sealed:
            good.append(checkpoint)
        else:
            bad.append(f"{path}:{number}: seal does not match (forged, altered, or another key)")
    return good, bad


def verify_against(audit: StoreLike, checkpoint_file: Path | None,
                   key: bytes | None, sealing: bool = False) -> VerifyReport:
    """Verify the chain and, given a checkpoint file, that the log still holds every
    checkpoint in it (a checkpoint whose seal fails is itself a problem). Only sealing may
    start a checkpoint file that is not there yet."""
    store = as_store(audit)
    if checkpoint_file is None or key is None:
        return store.verify()
    good, bad = read(checkpoint_file, key, required=not sealing)
    report = store.verify(good)
    report.problems[:0] = [Problem(0, "checkpoint_invalid", message) for message in bad]
    return report


def seal_head(audit: StoreLike, checkpoint_file: Path, key: bytes
              ) -> tuple[VerifyReport, dict[str, Any] | None]:
    """Checkpoint the head, but only of a log that verifies (with the earlier checkpoints):
    sealing a tampered log would vouch for the tampering."""
    report = verify_against(audit, checkpoint_file, key, sealing=True)
    if not report.ok or report.records == 0:
        return report, None
    return report, write(checkpoint_file, report.head_seq, report.head_hash, key)
