"""The weekly victim list (CSV) from police: every row validated before anything is written.

A week is all or nothing: one bad row rejects the whole file (exit 2, nothing logged, no hub
list written). A partial import would send the hub a list with people silently missing, and
the re-import of the corrected file would then be refused as a duplicate week.

Blank cells are unknown, never false or zero. Booleans are `true`/`false` (or `yes`/`no`);
dates are ISO (YYYY-MM-DD); the week is an ISO week id (`2023-W14`), the same on every row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from charging_rules.errors import InputError
from charging_rules.files import BAD_BYTES, has_bad_bytes, read_bytes
from charging_rules.model.kinds import format_validation_error
from charging_rules.model.referral import Demographics
from charging_rules.model.victim import VictimListing

REQUIRED = ("week", "incident_id", "victim_id", "incident_date")
OPTIONAL = ("victim_age", "fatal", "victim_contact_available", "family_contact_available",
            "prior_referral_count", "last_referral_date")
DEMOGRAPHIC = ("race", "ethnicity", "sex")
COLUMNS = (*REQUIRED, *OPTIONAL, *DEMOGRAPHIC)
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_TRUE, _FALSE = {"true", "yes"}, {"false", "no"}


def week_bounds(week: str) -> tuple[date, date]:
    """Monday and Sunday of an ISO week id; ValueError if it is not one."""
    match = _WEEK.match(week)
    if not match:
        raise ValueError(f"{week!r} is not an ISO week id (YYYY-Www, e.g. 2023-W14)")
    year, number = int(match[1]), int(match[2])
    try:
        return date.fromisocalendar(year, number, 1), date.fromisocalendar(year, number, 7)
    except ValueError:
        raise ValueError(f"{week!r}: {year} has no ISO week {number}") from None


def weeks_in_year(year: int) -> int:
    return date(year, 12, 28).isocalendar().week


@dataclass(frozen=True)
class WeekRow:
    line: int
    listing: VictimListing
    demographics: Demographics | None


@dataclass(frozen=True)
class WeekList:
    path: Path
    week: str
    sha256: str
    rows: tuple[WeekRow, ...]


class RowErrors(InputError):
    """Every bad row of a file; str() names the first, counts the rest, says what was not done."""

    def __init__(self, path: Path, problems: list[tuple[int, str]], consequence: str):
        self.problems = problems
        line, message = problems[0]
        if len(problems) > 1:
            others = ", ".join(str(n) for n, _ in problems[1:6])
            message += f" (and {len(problems) - 1} more bad rows, at lines {others}" + \
                ("..." if len(problems) > 6 else "") + ")"
        super().__init__(f"{message}; {consequence}", source=str(path), line=line)


@dataclass(frozen=True)
class CsvRows:
    raw: bytes
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (line, cells) of well-formed rows
    problems: list[tuple[int, str]]  # rows with the wrong number of cells, broken quoting


def read_csv(path: Path, allowed: tuple[str, ...], required: tuple[str, ...]) -> CsvRows:
    """Rows by line number; the header is checked here (unknown columns are errors: a typo'd
    column would otherwise make a whole column silently unknown)."""
    raw = read_bytes(path)
    text = raw.decode("utf-8-sig", errors="surrogateescape")  # a bad byte costs its row
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as error:
        raise InputError(f"malformed CSV: {error}", source=str(path), line=1) from None
    unknown = [c for c in header if c not in allowed]
    absent = [c for c in required if c not in header]
    if unknown or absent or len(set(header)) != len(header):
        problem = (f"unknown column {unknown[0]!r}" if unknown else
                   f"required column {absent[0]!r} is missing" if absent else "repeated column")
        raise InputError(f"{problem} (columns: {', '.join(allowed)})", source=str(path), line=1)
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[tuple[int, str]] = []
    start = reader.line_num + 1  # a record is named by its first line (quoted cells may span)
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # a blank line, or a spreadsheet's trailing row of empty cells
            if has_bad_bytes("".join(cells)):
                problems.append((line, BAD_BYTES))
            elif len(cells) != len(header):
                problems.append((line, f"expected {len(header)} cells, got {len(cells)}"))
            else:
                rows.append((line, dict(zip(header, cells, strict=True))))
    except csv.Error as error:
        problems.append((start, f"malformed CSV: {error}"))
    return CsvRows(raw, header, rows, problems)


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE | _FALSE:
        return lowered in _TRUE
    raise ValueError(f"expected true/false (or blank for unknown), got {text!r}")


def _integer(text: str) -> int:
    if not re.fullmatch(r"\d{1,4}", text):
        raise ValueError(f"expected a whole number, got {text!r}")
    return int(text)


def parse_date(text: str, name: str | None = None) -> date:
    where = f"{name}: " if name else ""
    problem = ValueError(f"{where}expected a date YYYY-MM-DD, got {text!r}")
    if len(text) != 10:  # fromisoformat also takes 20230102, which no export means
        raise problem
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise problem from None


_CONVERT: dict[str, Callable[[str], Any]] = {
    "incident_date": parse_date, "last_referral_date": parse_date,
    "victim_age": _integer, "prior_referral_count": _integer,
    "fatal": _boolean, "victim_contact_available": _boolean,
    "family_contact_available": _boolean,
}


def _row(cells: dict[str, str], week: str) -> tuple[VictimListing, Demographics | None]:
    """One row; ValueError with 'field: problem' on the first thing wrong."""
    listing: dict[str, Any] = {}
    demographics: dict[str, str] = {}
    for column, raw in cells.items():
        text = raw.strip()
        if not text or column == "week":
            continue
        if column in DEMOGRAPHIC:
            demographics[column] = text
            continue
        try:
            listing[column] = _CONVERT.get(column, str)(text)
        except ValueError as error:
            raise ValueError(f"{column}: {error}") from None
    try:
        parsed = VictimListing.model_validate(listing)
        people = Demographics.model_validate(demographics) if demographics else None
    except ValidationError as error:
        raise ValueError(format_validation_error(error)) from None
    if parsed.incident_date > week_bounds(week)[1]:
        raise ValueError(f"incident_date: {parsed.incident_date} is after week {week} ends")
    return parsed, people


def _check_week(week: str, first: tuple[str, int] | None) -> None:
    try:
        week_bounds(week)
    except ValueError as error:
        raise ValueError(f"week: {error}") from None
    if first is not None and week != first[0]:
        raise ValueError(f"week: {week!r} differs from {first[0]!r} at line {first[1]}: "
                         "one file is one week")


def read_week(path: Path) -> WeekList:
    """Parse and validate a weekly list; `RowErrors`/`InputError` on anything wrong."""
    table = read_csv(path, COLUMNS, REQUIRED)
    problems = list(table.problems)
    rows: list[WeekRow] = []
    first_week: tuple[str, int] | None = None
    seen: dict[str, int] = {}
    for line, cells in table.rows:
        week = cells["week"].strip()
        try:
            _check_week(week, first_week)
            first_week = first_week or (week, line)
            listing, people = _row(cells, week)
        except ValueError as error:
            problems.append((line, str(error)))
            continue
        if listing.record_id in seen:
            problems.append((line, f"victim {listing.victim_id} of incident "
                             f"{listing.incident_id} is already listed at line "
                             f"{seen[listing.record_id]}"))
            continue
        seen[listing.record_id] = line
        rows.append(WeekRow(line, listing, people))
    if problems:
        raise RowErrors(path, sorted(problems), "the week was not imported")
    if first_week is None:
        raise InputError("no victims listed: an empty week has no week id to record",
                         source=str(path))
    return WeekList(path, first_week[0], hashlib.sha256(table.raw).hexdigest(), tuple(rows))
