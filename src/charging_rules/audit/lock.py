"""An exclusive, cross-process lock on the audit directory.

Several prosecutors' processes append at once. Each writer holds this lock from reading the
log's tail to the fsync of what it wrote, so two writers can never chain to the same
predecessor or interleave bytes. `flock` locks belong to the open file description: the
kernel releases them when the holder exits, even on SIGKILL, so a crashed writer never
leaves the log locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from charging_rules.errors import InputError

LOCK_NAME = ".lock"
DIR_MODE = 0o700
FILE_MODE = 0o600


def ensure_dir(directory: Path) -> None:
    """Create `directory` and missing parents owner-only (mkdir(parents=True) would give the
    parents default permissions); an existing directory is left as it is."""
    if directory.is_dir():
        return
    ensure_dir(directory.parent)
    try:
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
    except FileExistsError:  # exist_ok forgives an existing directory only
        raise InputError("not a directory", source=str(directory)) from None


def fsync_dir(directory: Path) -> None:
    """Make a created, renamed or removed directory entry durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def exclusive(audit_dir: Path) -> Iterator[None]:
    """Hold the audit directory's exclusive lock for the duration of the block."""
    ensure_dir(audit_dir)
    fd = os.open(audit_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
