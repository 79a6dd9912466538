"""The exact guideline files behind every logged sha256, stored once beside the log.

A decision must stay explainable and replayable after its rules were edited or deleted, so
every guideline set that produced a logged recommendation is copied (its canonical bytes,
as hashed) into `audit_dir/guidelines/<set sha256>/`. Stores are atomic (a temporary
directory renamed into place) and idempotent, so concurrent screeners need no lock.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

from charging_rules.audit.lock import ensure_dir, fsync_dir, own_dir
from charging_rules.audit.log import AuditLogError, writable, write_all
from charging_rules.errors import InputError
from charging_rules.files import open_regular, read_fd
from charging_rules.guidelines.loader import SET_FILE, load_guidelines, set_sha256
from charging_rules.guidelines.schema import GuidelineSet

ARCHIVE_DIR = "guidelines"


def archived_path(audit_dir: Path, sha256: str) -> Path:
    return audit_dir / ARCHIVE_DIR / sha256


def store(audit_dir: Path, guidelines: GuidelineSet) -> Path:
    """Archive the set's files under its sha256, unless they already are."""
    with writable(audit_dir):
        return _store(audit_dir, guidelines)


def _store(audit_dir: Path, guidelines: GuidelineSet) -> Path:
    target = archived_path(audit_dir, guidelines.sha256)
    if target.is_dir():
        return target
    own_dir(target.parent)
    staging = target.parent / f".tmp-{guidelines.sha256[:16]}-{uuid.uuid4().hex}"
    ensure_dir(staging)
    try:
        for name, raw in guidelines.files.items():
            write_all(staging / name, raw, append=False)
        fsync_dir(staging)
        os.rename(staging, target)
    except OSError:
        if not target.is_dir():  # not merely another process winning the rename
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fsync_dir(target.parent)
    return target


def check_sha256(sha256: str) -> None:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):  # it names a directory: no "../"
        raise AuditLogError(f"{sha256[:80]!r} is not a guideline set sha256")


def load(audit_dir: Path, sha256: str) -> GuidelineSet:
    """The archived set, checked to still hash to `sha256` (an altered archive is refused)."""
    check_sha256(sha256)
    directory = archived_path(audit_dir, sha256)
    if not directory.is_dir():
        raise AuditLogError(f"{directory}: guideline set {sha256[:12]} is not archived")
    return load_checked(directory, sha256, str(directory))


def _archived_bytes(path: Path, where: str) -> bytes:
    """An archived file: a regular file (a FIFO, directory or link put there is refused)."""
    try:
        fd = open_regular(path, follow=False)
    except (OSError, InputError) as error:
        problem = error.message if isinstance(error, InputError) else error.strerror
        raise AuditLogError(f"{where}: {path.name}: {problem} (the archive was altered)"
                            ) from None
    try:
        return read_fd(fd)
    finally:
        os.close(fd)


def load_checked(directory: Path, sha256: str, where: str) -> GuidelineSet:
    """The set whose files are in `directory`, refused unless they hash to `sha256`."""
    files = {p.name: _archived_bytes(p, where) for p in directory.iterdir()}
    if set_sha256(files) != sha256:
        raise AuditLogError(f"{where}: archived files no longer hash to {sha256[:12]} "
                            "(the archive was altered)")
    if SET_FILE in files:
        return load_guidelines(directory)
    (only,) = files  # a single guideline file is a set of one
    return load_guidelines(directory / only)
