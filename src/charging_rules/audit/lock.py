"""An exclusive, cross-process lock on the audit directory.

Several prosecutors' processes append at once. Each writer holds this lock from reading the
log's tail to the fsync of what it wrote, so two writers can never chain to the same
predecessor or interleave bytes. `flock` locks belong to the open file description: the
kernel releases them when the holder exits, even on SIGKILL, so a crashed writer never
leaves the log locked. A holder that is alive but stuck (stopped with SIGSTOP, hung on a dead
network volume) is another matter: a waiter says so on stderr after NOTICE_AFTER seconds,
naming the holder's pid when the kernel tells (/proc/locks), and gives up after
$CHARGING_RULES_LOCK_TIMEOUT seconds (default 30) with exit 2, before writing anything.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO

from charging_rules.errors import InputError
from charging_rules.files import open_regular

LOCK_NAME = ".lock"
DIR_MODE = 0o700
FILE_MODE = 0o600
LOCK_TIMEOUT_ENV = "CHARGING_RULES_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0
NOTICE_AFTER = 2.0


def own_dir(directory: Path) -> None:
    """`ensure_dir` for a folder of the log's own (quarantine, guideline archive): a
    symbolic link there would carry quarantined bytes or archived policy out of the log."""
    if directory.is_symlink():
        raise InputError("a symbolic link: the audit log's own folders are never followed "
                         "out of it (make it a directory)", source=str(directory))
    ensure_dir(directory)


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


@contextmanager
def written_file(path: Path, mode: int = FILE_MODE) -> Iterator[TextIO]:
    """Text written to a new file beside `path` (owner-only unless `mode` says otherwise),
    renamed over it when the block completes: an existing file's wider mode is not kept, a
    symlink at `path` is replaced, never written through, and on any failure (disk full, file
    size limit) the new file is removed and `path` left as it was (exit 2, one line)."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except OSError as error:
        raise InputError(f"cannot write: {error.strerror or error}", source=str(path)) from None
    try:
        with open(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with suppress(OSError):
            temporary.unlink()
        if isinstance(error, OSError):
            raise InputError(f"cannot write: {error.strerror or error}",
                             source=str(path)) from None
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a created, renamed or removed directory entry durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def lock_timeout() -> float:
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise InputError(f"${LOCK_TIMEOUT_ENV} must be a number of seconds (got {raw[:40]!r})")
    return value


def holder(fd: int) -> str:
    """Who holds the flock on `fd`'s file, as the kernel lists it ('pid N'), if it does."""
    info = os.fstat(fd)
    wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            for line in locks:
                fields = line.split()
                if len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == wanted:
                    return f"pid {fields[4]}"
    except OSError:
        pass
    return "another process"


def wait_for(fd: int, path: Path, what: str) -> None:
    """Take the exclusive flock on `fd`, waiting a bounded time and saying so.

    The wait itself is the kernel's (a blocking flock in a helper thread), so waiters are
    served as the kernel queues them, with no polling delay; this thread only watches the
    clock. Given up, the helper's late lock dies with the descriptor (closed by the caller)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    timeout = lock_timeout()
    taken = threading.Event()
    failed: list[OSError] = []

    def take() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as error:  # the descriptor closed under it after a give-up
            failed.append(error)
        taken.set()

    threading.Thread(target=take, name="lock-wait", daemon=True).start()
    if not taken.wait(min(NOTICE_AFTER, timeout)):
        sys.stderr.write(f"waiting for {what} held by {holder(fd)} ({path}); giving up "
                         f"after {timeout:g} s\n")
        sys.stderr.flush()
        if not taken.wait(max(timeout - NOTICE_AFTER, 0.0)):
            raise InputError(f"gave up after {timeout:g} s waiting for {what} held by "
                             f"{holder(fd)} (stopped or hung?); nothing was written. Set "
                             f"${LOCK_TIMEOUT_ENV} to wait longer", source=str(path))
    if failed:
        raise failed[0]


@contextmanager
def locked_file(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created owner-only) for the block. The lock file
    must be a regular file: a directory, FIFO or symlink in its place is refused by name."""
    fd = open_regular(path, os.O_RDWR | os.O_CREAT, follow=False, mode=FILE_MODE)
    try:
        wait_for(fd, path, what)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def exclusive(audit_dir: Path) -> Iterator[None]:
    """Hold the audit directory's exclusive lock for the duration of the block."""
    ensure_dir(audit_dir)
    with locked_file(audit_dir / LOCK_NAME, "the audit log lock"):
        yield
