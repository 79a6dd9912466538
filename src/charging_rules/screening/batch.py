"""Batch screening: a whole export through the guidelines, streaming, every row accounted for.

Each row is read, mapped (when a mapping is given), validated, evaluated and logged in chunks;
a row that cannot be read, mapped or validated is reported with its line and reason and
skipped, never guessed at. Memory does not grow with the input: rows are never collected.
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from charging_rules.errors import InputError
from charging_rules.ingest.mapping import Mapping
from charging_rules.ingest.readers import RowSource
from charging_rules.ingest.records import Parsed, Skipped, mapping_for, referral_rows
from charging_rules.model.facts import generic_path
from charging_rules.model.recommendation import Recommendation
from charging_rules.screening.screener import Screened, Screener

PROGRESS_EVERY = 512


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
OnScreened = Callable[[Screened], None]


def out_of_scope(recommendation: Recommendation) -> bool:
    """No guideline applied to the record: no rule decided it and nothing is missing, so
    the set's fallback did (every scope failed, or the guidelines in scope abstained)."""
    return not recommendation.rules and recommendation.outcome != "needs_information"


def _records(source: RowSource, mapping: Mapping | None, summary: BatchSummary,
             on_skip: OnSkip, on_progress: OnProgress | None
             ) -> Iterator[Parsed]:
    for count, (_, item) in enumerate(referral_rows(source, mapping), 1):
        if on_progress is not None and count % PROGRESS_EVERY == 0:
            on_progress(source.position(), source.size)
        if isinstance(item, Skipped):
            summary.skip_reasons[generic_path(item.field)] += 1
            on_skip(item)
        else:
            yield item


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
              on_screened: OnScreened | None = None) -> BatchSummary:
    """Screen every row of `path`; skipped rows go to `on_skip` as they are found, and each
    screened one (once logged) to `on_screened`."""
    summary = BatchSummary()
    with RowSource(path) as source, _collector_for_a_batch():
        records = _records(source, mapping_for(source, mapping), summary, on_skip,
                           on_progress)
        for screened in screener.screen_many(records, actor):
            summary.screened += 1
            summary.outcomes[screened.recommendation.outcome] += 1
            summary.out_of_scope += out_of_scope(screened.recommendation)
            if on_screened is not None:
                on_screened(screened)
        if on_progress is not None:
            on_progress(source.size, source.size)
    return summary


@contextmanager
def results_file(path: Path) -> Iterator[OnScreened]:
    """`batch --out`: each screened referral as one JSON line, as `screen --json` prints
    it, written as it is screened (a crash keeps every line before it)."""
    try:
        handle = path.open("w", encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write: {error.strerror or error}", source=str(path)) from None
    with handle:
        def write(screened: Screened) -> None:
            handle.write(json.dumps(screened.recommendation.to_json(screened.decision_id),
                                    ensure_ascii=False) + "\n")

        yield write
