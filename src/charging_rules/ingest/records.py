"""Referral records from an input file, read the same way by every command that takes one
(`batch`, `impact`): the streaming readers, a CSV header or export mapping turned into
referral fields, then the contract's validation. A row that cannot be read, mapped or
validated comes out as `Skipped` with its line and field; the caller decides whether that
costs the row (batch) or the run (an analysis that must not silently miss referrals).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from charging_rules.errors import InputError
from charging_rules.ingest.mapping import Mapping, MappingError, header_mapping
from charging_rules.ingest.readers import JsonLine, RowSource, Unreadable, json_value
from charging_rules.model.kinds import parse_record
from charging_rules.model.referral import Demographics

Parsed = tuple[BaseModel, Demographics | None]


@dataclass(frozen=True, slots=True)
class Skipped:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"

    def error(self, source: str) -> InputError:
        return InputError(f"{self.field}: {self.message}", source=source, line=self.line)


def _skipped(line: int, reason: str) -> Skipped:
    where, _, message = reason.partition(": ")
    return Skipped(line, where, message) if message else Skipped(line, "(row)", reason)


def mapping_for(source: RowSource, mapping: Mapping | None) -> Mapping | None:
    """A CSV's mapping: the one given, else its header names referral fields; checked
    against the header before any row is read."""
    if source.header is None:
        return mapping
    mapping = mapping or header_mapping(source.header, str(source.path))
    mapping.check_header(source.header, str(source.path))
    return mapping


def referral_rows(source: RowSource, mapping: Mapping | None
                  ) -> Iterator[tuple[int, Parsed | Skipped]]:
    """(line, record and demographics) for each row, or (line, Skipped) saying why not."""
    label = str(source.path)
    for line, raw in source:
        yield line, referral_row(line, raw, mapping, label)


def referral_row(line: int, raw: Any, mapping: Mapping | None, label: str) -> Parsed | Skipped:
    """One row read by a `RowSource`: the record and demographics, or why not."""
    if isinstance(raw, JsonLine):
        raw = json_value(raw.text)
    try:
        if isinstance(raw, Unreadable):
            raise MappingError("(row)", raw.reason)
        return parse_record(raw if mapping is None else mapping.apply(raw), "referral", label)
    except MappingError as error:
        return Skipped(line, error.field, error.message)
    except InputError as error:
        return _skipped(line, error.message)
