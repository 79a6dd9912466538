"""The intake queue: referral files waiting in a folder, screened and decided one at a time.

Each decision is durably in the audit log before its file moves to `screened/`, so a crash or
a closed terminal between the two leaves the file waiting with its decision logged; the next
session finds that decision by content (the logged referral and demographics, hashed) and
files it away instead of deciding it twice. An interrupt during that critical step is held
until the step is done. A file that fails validation goes to `rejected/` with a `.error.txt`
beside it; nothing about it reaches the audit log. Several sessions may work one folder: each
file is locked while a session handles it, and the others pass over it.

What is decided is exactly what was shown: a file is read once, when it is claimed, and the
decision is logged only if the file still holds those bytes (same file, same SHA-256). A file
replaced, rewritten or truncated while on screen (a corrected re-send) is shown again; one
deleted is passed over. A swap in the instant between that check and the move is caught
after the move, and the file put back in the queue to be screened. The folders the queue
creates (screened/, rejected/, requests/) and the files it writes are owner-only: they hold
referrals and their facts.
"""

from __future__ import annotations

import fcntl
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from charging_rules.audit.lock import FILE_MODE, ensure_dir, fsync_dir, written_file
from charging_rules.audit.query import content_key, decided_in_log
from charging_rules.audit.store import AuditStore
from charging_rules.errors import InputError
from charging_rules.files import open_regular, read_fd
from charging_rules.model.facts import to_fact
from charging_rules.model.kinds import kind_of, load_record_file, parse_record_bytes
from charging_rules.model.referral import Demographics
from charging_rules.screening.requests import fact_labels, request_text
from charging_rules.screening.screener import Screened, Screener

SCREENED, REJECTED, REQUESTS = "screened", "rejected", "requests"
NEEDS_INFORMATION = "needs_information"


def waiting(directory: Path) -> list[Path]:
    """Referral files waiting in `directory` (not in its subfolders), oldest name first."""
    if not directory.is_dir():
        raise InputError("not a directory", source=str(directory))
    return sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())


def _key_of(record: BaseModel, demographics: Demographics | None) -> str:
    return content_key(to_fact(record), None if demographics is None else demographics.model_dump())


def _destination(path: Path, folder: Path, tag: str) -> Path:
    """Where `path` goes in `folder`: its own name, else tagged (`tag` must be unique, so
    an earlier file of the same name is never overwritten)."""
    ensure_dir(folder)
    target = folder / path.name
    return folder / f"{path.stem}.{tag}{path.suffix}" if target.exists() else target


@dataclass(frozen=True)
class Claim:
    """A waiting file this session holds: its descriptor (flocked) and the bytes read from
    it, which are what is shown and decided. `error`: it could not be read at all."""

    path: Path
    fd: int | None
    raw: bytes = b""
    error: InputError | None = None

    def identity(self) -> tuple[int, int] | None:
        if self.fd is None:
            return None
        info = os.fstat(self.fd)
        return info.st_dev, info.st_ino

    def unchanged(self) -> bool:
        """The path still names the claimed file, and it still holds the bytes read."""
        try:
            fd = open_regular(self.path)
        except (OSError, InputError):
            return False
        try:
            info = os.fstat(fd)
            return (info.st_dev, info.st_ino) == self.identity() and read_fd(fd) == self.raw
        finally:
            os.close(fd)


@contextmanager
def _claimed(path: Path) -> Iterator[Claim | None]:
    """Whether this session may handle `path`: it is still waiting, and no other session on
    the folder holds it. Held (flock, released on exit even after a crash) until the block
    ends, so two prosecutors working one folder never screen or decide a referral twice."""
    try:
        fd = open_regular(path)  # never blocks: a FIFO put in the queue is not read
    except FileNotFoundError:  # another session filed it away
        yield None
        return
    except (OSError, InputError) as error:  # unreadable, or not a file: rejected with why
        problem = error if isinstance(error, InputError) else InputError(
            f"cannot read: {error.strerror or error}", source=str(path))
        yield Claim(path, None, error=problem)
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another session has it on screen
            yield None
            return
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        held = os.fstat(fd)
        if current is None or (current.st_dev, current.st_ino) != (held.st_dev, held.st_ino):
            yield None  # filed away (or replaced) between the open and the lock: look again
            return
        yield Claim(path, fd, read_fd(fd))
    finally:
        os.close(fd)


def _move(claim: Claim, target: Path) -> Path | None:
    """Move the claimed file to `target`; None (and the file back in the queue) when the
    file moved is not the one claimed with the bytes read (swapped in the last instant)."""
    os.replace(claim.path, target)
    if claim.fd is not None:
        moved = os.lstat(target)
        if (moved.st_dev, moved.st_ino) != claim.identity() or read_fd(claim.fd) != claim.raw:
            _requeue(target, claim.path)
            return None
        with suppress(OSError):  # it holds a referral; not ours to change if not owned
            os.fchmod(claim.fd, FILE_MODE)
    fsync_dir(target.parent)
    fsync_dir(claim.path.parent)
    return target


def _set_aside(path: Path, moved: Path | None, show: Callable[[Path], None],
               tally: list[Path]) -> Next:
    """A file moved out of the queue without a decision (rejected, already decided): shown
    and counted; one changed under us was not moved and is seen again."""
    if moved is None:
        return Next.AGAIN
    show(moved)
    tally.append(path)
    return Next.DONE


def _requeue(moved: Path, path: Path) -> None:
    """Put a file moved by mistake back in the queue, never over a file waiting there."""
    back = path
    while True:
        try:
            os.link(moved, back)
            break
        except FileExistsError:
            back = path.with_name(f"{path.stem}.{uuid.uuid4().hex[:12]}{path.suffix}")
    moved.unlink()
    fsync_dir(path.parent)


@contextmanager
def _held_interrupts() -> Iterator[None]:
    """Ctrl-C or a hang-up during the block is held and raised once the block is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: held.append(signum))
                for sig in (signal.SIGINT, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if held:
            raise KeyboardInterrupt


class Next(Enum):
    """What the queue does after handling a claimed file."""

    DONE = "done"
    AGAIN = "again"  # the file changed while on screen: claim and show it again
    QUIT = "quit"


def _hang_up(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # a closed terminal ends the session like Ctrl-C


class IntakeUI(Protocol):
    """What the queue needs from a terminal: show things, ask things. EOFError and
    KeyboardInterrupt from any `ask_*` end the session (nothing decided is lost)."""

    def rejected(self, path: Path, error: InputError, moved_to: Path) -> None: ...
    def already_decided(self, path: Path, decision: dict[str, Any], moved_to: Path) -> None: ...
    def show(self, path: Path, referral: dict[str, Any], screened: Screened, position: int,
             total: int) -> None: ...
    def ask_request(self, missing: Sequence[str]) -> bool: ...
    def request_written(self, path: Path) -> None: ...
    def ask_action(self) -> str: ...
    def ask_override(self, outcomes: tuple[str, ...], recommended: str) -> tuple[str, str]: ...
    def decided(self, record: dict[str, Any], moved_to: Path) -> None: ...
    def changed(self, path: Path) -> None: ...
    def skipped(self, path: Path) -> None: ...


@dataclass
class IntakeSummary:
    decided: list[str] = field(default_factory=list)  # decision ids, accepted or overridden
    skipped: list[Path] = field(default_factory=list)
    rejected: list[Path] = field(default_factory=list)
    already_decided: list[Path] = field(default_factory=list)
    interrupted: bool = False
    remaining: int = 0


class IntakeQueue:
    def __init__(self, directory: Path, screener: Screener, actor: str):
        if screener.store is None:
            raise InputError("intake records decisions: it needs the audit log")
        self.directory = directory
        self.screener = screener
        self.store: AuditStore = screener.store
        self.actor = actor
        self.labels = fact_labels(screener.guidelines)

    def reject(self, claim: Claim, error: InputError) -> Path | None:
        """The error text first, then the file: a crash between leaves the file waiting."""
        target = _destination(claim.path, self.directory / REJECTED, uuid.uuid4().hex[:12])
        reason = target.with_name(f"{target.name}.error.txt")
        with written_file(reason) as out:
            out.write("".join(f"{line}\n" for line in error.lines()))
        try:
            moved = _move(claim, target)
        except FileNotFoundError:  # unreadable and unlocked: another session moved it
            moved = None
        if moved is None:
            reason.unlink()
        return moved

    def decide(self, claim: Claim, screened: Screened, override: str | None = None,
               reason: str | None = None) -> tuple[dict[str, Any], Path | None]:
        """Log the decision (durably), then move the file: never the other way round."""
        with _held_interrupts():
            record = self.screener.decide(screened, self.actor, override, reason)
            return record, self._file_away(claim, record)

    def _file_away(self, claim: Claim, decision: dict[str, Any]) -> Path | None:
        tag = str(decision["decision_id"])[:12]
        return _move(claim, _destination(claim.path, self.directory / SCREENED, tag))

    def write_request(self, path: Path, screened: Screened) -> Path:
        folder = self.directory / REQUESTS
        ensure_dir(folder)
        target = folder / f"{path.stem}.request.txt"
        with written_file(target) as out:
            out.write(request_text(screened, self.labels))
        return target

    def run(self, ui: IntakeUI) -> IntakeSummary:
        """Walk the waiting files once; returns what happened (also after an interrupt)."""
        summary = IntakeSummary()
        files = waiting(self.directory)
        previous = signal.signal(signal.SIGHUP, _hang_up) \
            if threading.current_thread() is threading.main_thread() else None
        try:
            self._walk(files, ui, summary)
        except (KeyboardInterrupt, EOFError):
            summary.interrupted = True
        finally:
            if previous is not None:
                signal.signal(signal.SIGHUP, previous)
        summary.remaining = len(waiting(self.directory))
        return summary

    def _walk(self, files: list[Path], ui: IntakeUI, summary: IntakeSummary) -> None:
        wanted: dict[str, set[str]] = {}
        for path in files:  # which of the waiting referrals the log may already hold
            try:
                item = load_record_file(path)
            except InputError:
                continue
            wanted.setdefault(str(getattr(item[0], kind_of(item[0]).id_field)),
                              set()).add(_key_of(*item))
        decided = decided_in_log(self.store, wanted)
        for position, path in enumerate(files, 1):
            step = Next.AGAIN
            while step is Next.AGAIN:
                with _claimed(path) as claim:
                    if claim is None:
                        break
                    step = self._handle(claim, decided, position, len(files), ui, summary)
                if step is Next.QUIT:
                    return

    def _handle(self, claim: Claim, decided: dict[str, dict[str, Any]], position: int,
                total: int, ui: IntakeUI, summary: IntakeSummary) -> Next:
        """One waiting file, claimed by this session, decided on the bytes shown."""
        path = claim.path
        try:
            if claim.error is not None:
                raise claim.error
            item = parse_record_bytes(claim.raw, str(path))
        except InputError as error:
            problem = error  # a closure keeps its own name: `except` unbinds `error`
            return _set_aside(path, self.reject(claim, problem),
                              lambda moved: ui.rejected(path, problem, moved), summary.rejected)
        earlier = decided.get(_key_of(*item))
        if earlier is not None:
            return _set_aside(path, self._file_away(claim, earlier),
                              lambda moved: ui.already_decided(path, earlier, moved),
                              summary.already_decided)
        screened = self.screener.screen(item[0], item[1], self.actor)
        ui.show(path, to_fact(item[0]), screened, position, total)
        rec = screened.recommendation
        if rec.outcome == NEEDS_INFORMATION and rec.missing and ui.ask_request(rec.missing):
            ui.request_written(self.write_request(path, screened))
        action = ui.ask_action()
        if action == "q":
            return Next.QUIT
        if action == "s":
            summary.skipped.append(path)
            ui.skipped(path)
            return Next.DONE
        override, reason = (None, None) if action == "a" else ui.ask_override(
            kind_of(item[0]).outcomes, rec.outcome)
        if not claim.unchanged():  # re-sent, edited or deleted while on screen
            ui.changed(path)
            return Next.AGAIN
        record, moved = self.decide(claim, screened, override, reason)
        decided[_key_of(*item)] = record  # the same bytes back in the queue: decided once
        summary.decided.append(str(record["decision_id"]))
        ui.decided(record, moved or path)
        return Next.DONE if moved is not None else Next.AGAIN
