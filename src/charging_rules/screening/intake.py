"""The intake queue: referral files waiting in a folder, screened and decided one at a time.

Each decision is durably in the audit log before its file moves to `screened/`, so a crash or
a closed terminal between the two leaves the file waiting with its decision logged; the next
session finds that decision by content (the logged referral and demographics, hashed) and
files it away instead of deciding it twice. An interrupt during that critical step is held
until the step is done. A file that fails validation goes to `rejected/` with a `.error.txt`
beside it; nothing about it reaches the audit log. Several sessions may work one folder: each
file is locked while a session handles it, and the others pass over it.
"""

from __future__ import annotations

import fcntl
import os
import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from charging_rules.audit.lock import fsync_dir
from charging_rules.audit.query import content_key, decided_in_log
from charging_rules.audit.store import AuditStore
from charging_rules.errors import InputError
from charging_rules.model.facts import to_fact
from charging_rules.model.kinds import kind_of, load_record_file
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


def _write_durably(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def _destination(path: Path, folder: Path, tag: str) -> Path:
    """Where `path` goes in `folder`: its own name, else tagged (`tag` must be unique, so
    an earlier file of the same name is never overwritten)."""
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    return folder / f"{path.stem}.{tag}{path.suffix}" if target.exists() else target


def _move(path: Path, target: Path) -> Path:
    os.replace(path, target)
    fsync_dir(target.parent)
    fsync_dir(path.parent)
    return target


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


@contextmanager
def _claimed(path: Path) -> Iterator[bool]:
    """Whether this session may handle `path`: it is still waiting, and no other session on
    the folder holds it. Held (flock, released on exit even after a crash) until the block
    ends, so two prosecutors working one folder never screen or decide a referral twice."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # another session filed it away
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another session has it on screen
            yield False
            return
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        yield current == os.fstat(fd).st_ino  # not filed away between the open and the lock
    finally:
        os.close(fd)


def _hang_up(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # a closed terminal ends the session like Ctrl-C


class IntakeUI(Protocol):
    """What the queue needs from a terminal: show things, ask things. EOFError and
    KeyboardInterrupt from any `ask_*` end the session (nothing decided is lost)."""

    def rejected(self, path: Path, error: InputError, moved_to: Path) -> None: ...
    def already_decided(self, path: Path, decision: dict[str, Any], moved_to: Path) -> None: ...
    def show(self, path: Path, referral: dict[str, Any], screened: Screened, position: int,
             total: int) -> None: ...
    def ask_request(self, missing: list[str]) -> bool: ...
    def request_written(self, path: Path) -> None: ...
    def ask_action(self) -> str: ...
    def ask_override(self, outcomes: tuple[str, ...], recommended: str) -> tuple[str, str]: ...
    def decided(self, record: dict[str, Any], moved_to: Path) -> None: ...
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

    def reject(self, path: Path, error: InputError) -> Path:
        """The error text first, then the file: a crash between leaves the file waiting."""
        target = _destination(path, self.directory / REJECTED, uuid.uuid4().hex[:12])
        _write_durably(target.with_name(f"{target.name}.error.txt"),
                       "".join(f"{line}\n" for line in error.lines()))
        return _move(path, target)

    def decide(self, path: Path, screened: Screened, override: str | None = None,
               reason: str | None = None) -> tuple[dict[str, Any], Path]:
        """Log the decision (durably), then move the file: never the other way round."""
        with _held_interrupts():
            record = self.screener.decide(screened, self.actor, override, reason)
            return record, self._file_away(path, record)

    def _file_away(self, path: Path, decision: dict[str, Any]) -> Path:
        tag = str(decision["decision_id"])[:12]
        return _move(path, _destination(path, self.directory / SCREENED, tag))

    def write_request(self, path: Path, screened: Screened) -> Path:
        folder = self.directory / REQUESTS
        folder.mkdir(exist_ok=True)
        target = folder / f"{path.stem}.request.txt"
        _write_durably(target, request_text(screened, self.labels))
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
        loaded: dict[Path, tuple[BaseModel, Demographics | None] | InputError] = {}
        for path in files:
            try:
                loaded[path] = load_record_file(path)
            except InputError as error:
                loaded[path] = error
        wanted: dict[str, set[str]] = {}
        for item in loaded.values():
            if not isinstance(item, InputError):
                wanted.setdefault(str(getattr(item[0], kind_of(item[0]).id_field)),
                                  set()).add(_key_of(*item))
        decided = decided_in_log(self.store, wanted)
        for position, path in enumerate(files, 1):
            with _claimed(path) as mine:
                if mine and not self._handle(path, loaded[path], decided, position,
                                             len(files), ui, summary):
                    return

    def _handle(self, path: Path, item: tuple[BaseModel, Demographics | None] | InputError,
                decided: dict[str, dict[str, Any]], position: int, total: int, ui: IntakeUI,
                summary: IntakeSummary) -> bool:
        """One waiting file, claimed by this session; False when the prosecutor quits."""
        if isinstance(item, InputError):
            ui.rejected(path, item, self.reject(path, item))
            summary.rejected.append(path)
            return True
        earlier = decided.get(_key_of(*item))
        if earlier is not None:
            moved = self._file_away(path, earlier)
            ui.already_decided(path, earlier, moved)
            summary.already_decided.append(path)
            return True
        screened = self.screener.screen(item[0], item[1], self.actor)
        ui.show(path, to_fact(item[0]), screened, position, total)
        rec = screened.recommendation
        if rec.outcome == NEEDS_INFORMATION and rec.missing and ui.ask_request(rec.missing):
            ui.request_written(self.write_request(path, screened))
        action = ui.ask_action()
        if action == "q":
            return False
        if action == "s":
            summary.skipped.append(path)
            ui.skipped(path)
            return True
        override, reason = (None, None) if action == "a" else ui.ask_override(
            kind_of(item[0]).outcomes, rec.outcome)
        record, moved = self.decide(path, screened, override, reason)
        summary.decided.append(str(record["decision_id"]))
        ui.decided(record, moved)
        return True
