"""Batch screening: a whole export through the guidelines, streaming, every row accounted for.

Each row is read, mapped (when a mapping is given), validated, evaluated and logged in chunks;
a row that cannot be read, mapped or validated is reported with its line and reason and
skipped, never guessed at. Memory does not grow with the input: rows are never collected.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from charging_rules.errors import InputError
from charging_rules.ingest.mapping import Mapping, MappingError, header_mapping
from charging_rules.ingest.readers import JsonText, RowSource, Unreadable, decode_json_line
from charging_rules.model.facts import generic_path
from charging_rules.model.kinds import KINDS, parse_record, parse_record_json
from charging_rules.model.referral import Demographics
from charging_rules.screening.screener import Screener

PROGRESS_EVERY = 512
REFERRAL = KINDS["referral"]


@dataclass(frozen=True, slots=True)
class Skipped:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass
class BatchSummary:
    screened: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    skip_reasons: Counter[str] = field(default_factory=Counter)  # by field, indices dropped

    @property
    def skipped(self) -> int:
        return sum(self.skip_reasons.values())

    def to_json(self) -> dict[str, object]:
        """`batch --json` (DESIGN.md): exactly these keys."""
        return {"screened": self.screened, "skipped": self.skipped,
                "outcomes": dict(sorted(self.outcomes.items()))}


OnSkip = Callable[[Skipped], None]
OnProgress = Callable[[int, int], None]


def _skipped(line: int, reason: str) -> Skipped:
    where, _, message = reason.partition(": ")
    return Skipped(line, where, message) if message else Skipped(line, "(row)", reason)


def _records(source: RowSource, mapping: Mapping | None, summary: BatchSummary,
             on_skip: OnSkip, on_progress: OnProgress | None
             ) -> Iterator[tuple[BaseModel, Demographics | None]]:
    label = str(source.path)
    for count, (line, raw) in enumerate(source, 1):
        if on_progress is not None and count % PROGRESS_EVERY == 0:
            on_progress(source.position(), source.size)
        if isinstance(raw, JsonText):
            fast = parse_record_json(raw.text, REFERRAL)
            if fast is not None:
                yield fast
                continue
            raw = decode_json_line(raw.text)  # the ordinary path says what is wrong
        try:
            if isinstance(raw, Unreadable):
                raise MappingError("(row)", raw.reason)
            parsed = parse_record(raw if mapping is None else mapping.apply(raw), "referral",
                                  label)
        except MappingError as error:
            skip = Skipped(line, error.field, error.message)
        except InputError as error:
            skip = _skipped(line, error.message)
        else:
            yield parsed
            continue
        summary.skip_reasons[generic_path(skip.field)] += 1
        on_skip(skip)


def run_batch(path: Path, screener: Screener, actor: str, mapping: Mapping | None,
              on_skip: OnSkip, on_progress: OnProgress | None = None) -> BatchSummary:
    """Screen every row of `path`; skipped rows go to `on_skip` as they are found."""
    summary = BatchSummary()
    with RowSource(path, raw_json=mapping is None) as source:
        if source.header is not None:
            mapping = mapping or header_mapping(source.header, str(path))
            mapping.check_header(source.header, str(path))
        records = _records(source, mapping, summary, on_skip, on_progress)
        for screened in screener.screen_many(records, actor):
            summary.screened += 1
            summary.outcomes[screened.recommendation.outcome] += 1
        if on_progress is not None:
            on_progress(source.size, source.size)
    return summary
