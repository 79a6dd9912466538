"""Where the audit log lives: a folder of files on one workstation, or an office's PostgreSQL
database. Both hold the same records (the same canonical lines, seq and hash chain), so
everything above this module (screening, queries, verify, replay, analysis) reads and writes
through `AuditStore` and never asks which one it has.

The file store delegates to log.py, verify.py and archive.py as they are; the PostgreSQL
store (pgstore.py) is imported only when a database is named, so the file path and the
tool's start-up never load the driver.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from charging_rules import config
from charging_rules.audit import log
from charging_rules.audit.verify import Checkpoint, VerifyReport, verify
from charging_rules.errors import InputError

if TYPE_CHECKING:
    from charging_rules.guidelines.schema import GuidelineSet


class AuditStore(Protocol):
    """What the tool needs from an audit log, whichever store holds it."""

    @property
    def location(self) -> str:
        """Where the log is, as shown in messages (never a password)."""
        ...

    def require(self) -> None:
        """For reading commands: a log that is not there (or holds nothing) is exit 2."""
        ...

    def actor(self, user: str | None) -> str:
        """Who is deciding: `--user` or the login (file log); the database login, with a
        differing `--user` refused (PostgreSQL)."""
        ...

    def append(self, entry: dict[str, Any]) -> dict[str, Any]: ...

    def append_many(self, entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """One group commit; every record returned is durable (fsynced / committed)."""
        ...

    def read_lines(self, since: str | None = None) -> Iterator[tuple[str, bytes]]:
        """(where, stored line) of every committed record, oldest first (see log.read_lines
        for `since`)."""
        ...

    def read_records(self, since: str | None = None) -> Iterator[dict[str, Any]]: ...

    def store_guidelines(self, guidelines: GuidelineSet) -> None:
        """Archive the files behind the set's sha256 (for `audit replay`), once."""
        ...

    def load_guidelines(self, sha256: str) -> GuidelineSet: ...

    def verify(self, checkpoints: Iterable[Checkpoint] = ()) -> VerifyReport: ...

    def repair(self, actor: str) -> dict[str, Any] | None: ...

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Serialize a read-check-append step among all writers of this log (`name` keeps
        unrelated steps apart); records appended inside are committed when it ends."""
        ...


class FileStore:
    """The embedded default: `audit_dir/` on this machine (docs/audit-log.md)."""

    def __init__(self, audit_dir: Path):
        self.audit_dir = audit_dir

    @property
    def location(self) -> str:
        return str(self.audit_dir)

    def require(self) -> None:
        if not log.segments(self.audit_dir):
            raise InputError(f"no audit log at {self.audit_dir} (nothing has been logged "
                             "there: check --audit-dir)")

    def actor(self, user: str | None) -> str:
        return user or config.actor()

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        return log.append(self.audit_dir, entry)

    def append_many(self, entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return log.append_many(self.audit_dir, entries)

    def read_lines(self, since: str | None = None) -> Iterator[tuple[str, bytes]]:
        return log.read_lines(self.audit_dir, since)

    def read_records(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        return log.read_records(self.audit_dir, since)

    def store_guidelines(self, guidelines: GuidelineSet) -> None:
        from charging_rules.audit import archive  # the guideline loader: only when needed

        archive.store(self.audit_dir, guidelines)

    def load_guidelines(self, sha256: str) -> GuidelineSet:
        from charging_rules.audit import archive

        return archive.load(self.audit_dir, sha256)

    def verify(self, checkpoints: Iterable[Checkpoint] = ()) -> VerifyReport:
        return verify(self.audit_dir, checkpoints)

    def repair(self, actor: str) -> dict[str, Any] | None:
        return log.repair(self.audit_dir, actor)

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """An flock on `audit_dir/<name>.lock`, released by the kernel even on SIGKILL."""
        try:
            self.audit_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.audit_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise InputError(f"cannot use the audit log directory: {error.strerror or error}",
                             source=str(self.audit_dir)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


StoreLike = AuditStore | Path


def as_store(store: StoreLike) -> AuditStore:
    """A folder given where a store is expected is the file store in that folder."""
    return FileStore(store) if isinstance(store, Path) else store


def open_store(audit_dir: Path, audit_db: str | None) -> AuditStore:
    """The PostgreSQL store when a database URL is given, else the file log in `audit_dir`."""
    if audit_db:
        from charging_rules.audit.pgstore import PgStore

        return PgStore(audit_db)
    return FileStore(audit_dir)
