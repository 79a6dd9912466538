"""Batch screening: a whole export through the guidelines, streaming, every row accounted for.

Each row is read, mapped (when a mapping is given), validated, evaluated and logged in chunks;
a row that cannot be read, mapped or validated is reported with its line and reason and
skipped, never guessed at. Memory does not grow with the input: rows are never collected.
"""

from __future__ import annotations

import gc
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from charging_rules.errors import InputError
from charging_rules.ingest.mapping import Mapping
from charging_rules.ingest.readers import Row, RowSource
from charging_rules.ingest.records import Skipped, mapping_for
from charging_rules.model.facts import generic_path
from charging_rules.screening.screener import Screener
from charging_rules.screening.workers import Job, Result, screen_chunks

CHUNK = 256  # rows screened, and logged as one group (one write, one fsync), at a time


@dataclass
class BatchSummary:
    screened: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    skip_reasons: Counter[str] = field(default_factory=Counter)  # by field, indices dropped
    # decided by the set's fallback: no guideline applied to the record
    out_of_scope: int = 0

    @property
    def skipped(self) -> int:
        return sum(self.skip_reasons.values())

    def to_json(self) -> dict[str, object]:
        """`batch --json` (docs/intake-and-batch.md): exactly these keys."""
        return {"screened": self.screened, "skipped": self.skipped,
                "outcomes": dict(sorted(self.outcomes.items()))}


OnSkip = Callable[[Skipped], None]
OnProgress = Callable[[int, int], None]
OnScreened = Callable[[dict[str, object]], None]  # a referral's `screen --json` object


def _chunks(source: RowSource, on_progress: OnProgress | None) -> Iterator[list[Row]]:
    rows = iter(source)
    while chunk := list(itertools.islice(rows, CHUNK)):
        yield chunk
        if on_progress is not None:
            on_progress(source.position(), source.size)


@contextmanager
def _collector_for_a_batch() -> Iterator[None]:
    """A batch allocates millions of short-lived objects that form no cycles, beside a few
    long-lived ones (the compiled guidelines, the engine's caches). Python's default
    thresholds run a collection traversing those every 700 allocations and a full one soon
    after: a quarter of a batch's time. The long-lived objects are moved out of the
    collector's sight and the young generation is collected every 100,000 allocations; a
    full collection still runs every 50 million, so memory stays flat."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 10)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def run_batch(path: Path, screener: Screener, actor: str, mapping: Mapping | None,
              on_skip: OnSkip, on_progress: OnProgress | None = None,
              on_screened: OnScreened | None = None, jobs: int = 1) -> BatchSummary:
    """Screen every row of `path` (in `jobs` processes); skipped rows go to `on_skip` as
    they are found, and each screened one (once logged) to `on_screened`, in input order."""
    summary = BatchSummary()
    # Rows are parsed where they are screened: in the workers, when there are any.
    with RowSource(path, lazy=jobs > 1) as source, _collector_for_a_batch():
        job = Job(screener, mapping_for(source, mapping), str(path), actor,
                  on_screened is not None)
        for results in screen_chunks(job, jobs, _chunks(source, on_progress)):
            _account(results, screener, summary, on_skip, on_screened)
        if on_progress is not None:
            on_progress(source.size, source.size)
    return summary


def _account(results: list[Result | Skipped], screener: Screener, summary: BatchSummary,
             on_skip: OnSkip, on_screened: OnScreened | None) -> None:
    """A chunk's rows, in order: logged as one group, then counted and reported."""
    entries = [r.entry for r in results if isinstance(r, Result) and r.entry is not None]
    logged = iter(screener.log_many(entries)) if entries else None
    for item in results:
        if isinstance(item, Skipped):
            summary.skip_reasons[generic_path(item.field)] += 1
            on_skip(item)
            continue
        summary.screened += 1
        summary.outcomes[item.outcome] += 1
        summary.out_of_scope += item.fallback
        if on_screened is not None and item.shown is not None:
            item.shown["decision_id"] = None if logged is None else next(logged)["decision_id"]
            on_screened(item.shown)


@contextmanager
def results_file(path: Path) -> Iterator[OnScreened]:
    """`batch --out`: each screened referral as one JSON line, as `screen --json` prints
    it, written as it is screened (a crash keeps every line before it)."""
    try:
        handle = path.open("w", encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write: {error.strerror or error}", source=str(path)) from None
    with handle:
        def write(shown: dict[str, object]) -> None:
            handle.write(json.dumps(shown, ensure_ascii=False) + "\n")

        yield write
