"""Where observations come from: any CSV/JSONL table, or the audit log's decision points.

The audit log holds, per decision_id, one recommendation and later any number of decision
or override records; the last one is the final decision. Three decision points follow
(OJJDP: each rate on the preceding stage): referred -> recommended to file (on referred) ->
filed (on recommended to file, decided), and overrides (on decided).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charging_rules.analysis.disparity import CROSS, Case, period_of
from charging_rules.analysis.groups import GroupMap
from charging_rules.audit import shapes
from charging_rules.audit.log import AuditLogError, parse_line
from charging_rules.audit.store import AuditStore
from charging_rules.errors import InputError, clip
from charging_rules.ingest.readers import RowSource, Unreadable
from charging_rules.model.facts import MISSING, lookup

STAGES: dict[str, str] = {
    "referred": "referred (all referrals; representation against a population benchmark)",
    "recommendation": "recommended to file, of referrals",
    "decision": "filed (final decision), of referrals recommended to file and decided",
    "override": "overridden (final decision differs from the recommendation), of decided",
}
OFFENSE = "offense"  # the audit log's stratifier: the referral's first charge category


@dataclass(frozen=True)
class Grouping:
    """How an observation gets its group: a race-like column, optionally crossed with sex."""

    group_map: GroupMap
    intersect_map: GroupMap | None = None

    def group(self, label: object, other: object = None) -> str | None:
        group = self.group_map.group(label)
        if self.intersect_map is None or group is None:
            return group
        second = self.intersect_map.group(other)
        return None if second is None else group + CROSS + second


def _text(value: Any) -> str | None:
    """A cell as the text an analyst types on the command line: JSON `true` is "true" (as
    in the file), not Python's "True", so `--positive true` matches it."""
    if value is MISSING or value is None:
        return None
    text = json.dumps(value) if isinstance(value, bool) else str(value).strip()
    return text or None


@dataclass(frozen=True)
class TableSpec:
    """Columns of a CSV/JSONL table (dotted paths reach into JSON objects)."""

    group: str
    outcome: str
    positive: frozenset[str]
    by: str | None = None
    intersect: str | None = None
    date: str | None = None
    period: str | None = None


def table_cases(path: Path, spec: TableSpec, grouping: Grouping,
                outcomes: set[str]) -> Iterator[Case]:
    """Each row as a case; `outcomes` collects the outcome values met (to tell a mistyped
    positive value from a table where nothing is positive)."""
    with RowSource(path) as source:  # the reader every input goes through
        yield from _table_cases(source, spec, grouping, outcomes)


def _table_cases(source: RowSource, spec: TableSpec, grouping: Grouping,
                 outcomes: set[str]) -> Iterator[Case]:
    path = source.path
    checked = False
    for number, row in source:
        if isinstance(row, Unreadable):
            raise InputError(row.reason, source=str(path), line=number)
        if not isinstance(row, dict):
            raise InputError("expected an object per row", source=str(path), line=number)
        if not checked:
            checked = True
            for column in (spec.group, spec.outcome, spec.by, spec.intersect, spec.date):
                if column and "." not in column and column not in row:
                    raise InputError(f"no column {column!r} (columns: {', '.join(row)})",
                                     source=str(path))
        outcome = _text(lookup(row, spec.outcome))
        if outcome is not None:
            outcomes.add(outcome)
        group = grouping.group(_text(lookup(row, spec.group)),
                               _text(lookup(row, spec.intersect)) if spec.intersect else None)
        day = _text(lookup(row, spec.date)) if spec.date else None
        period = period_of(day, spec.period) if day and spec.period else None
        if day and spec.period and period is None:  # left out, it would bend the trend
            raise InputError(f"{spec.date}: {clip(day)!r} is not a date (YYYY-MM-DD)",
                             source=str(path), line=number)
        yield (group, None if outcome is None else outcome in spec.positive,
               _text(lookup(row, spec.by)) if spec.by else None, period)


@dataclass(frozen=True)
class Integrity:
    """What the chain check found: None when the log verified intact."""

    problems: int = 0
    first: str | None = None

    @property
    def ok(self) -> bool:
        return self.first is None

    def warning(self) -> str | None:
        if self.ok:
            return None
        return (f"WARNING: the audit log failed its integrity check ({self.problems} "
                f"problem(s); first: {self.first}). These figures were computed anyway at the "
                "analyst's request (--ignore-integrity): they may not reflect the true record.")

    def to_json(self) -> dict[str, Any]:
        return {"verified": self.ok, "problems": self.problems, "first_problem": self.first}


def checked_log(store: AuditStore, ignore_integrity: bool = False
                ) -> tuple[Iterator[dict[str, Any]], Integrity]:
    """The log's records after its hash chain verifies. A broken chain is a failed check
    (exit 1, naming the first bad record): figures from an altered log would be published
    as the office's. With `ignore_integrity` the records are read anyway (unparseable lines
    skipped) and the Integrity says so, for the output to state."""
    report = store.verify()
    if report.ok:
        return _records(store, skip_bad=False), Integrity()
    first = report.problems[0]
    where = f"line {first.line} ({first.kind}: {first.detail})"
    if not ignore_integrity:
        raise AuditLogError(
            f"{store.location}: the audit log's hash chain is broken at {where}; nothing was "
            "analysed. Run 'charging-rules audit verify' (or pass --ignore-integrity to "
            "analyse it anyway, which the output then states)")
    return _records(store, skip_bad=True), Integrity(len(report.problems), where)


def _records(store: AuditStore, skip_bad: bool) -> Iterator[dict[str, Any]]:
    """Each record parsed and checked to hold what the analysis reads (`shapes`)."""
    for where, line in store.read_lines():
        try:
            yield shapes.check(where, parse_line(where, line))
        except AuditLogError:
            if not skip_bad:
                raise


class AuditCase:
    """One referral's path through the decision points, as the audit log tells it.
    (A slotted class, not a dataclass: a year of log makes a million of them.)"""

    __slots__ = ("day", "final", "guidelines", "race", "recommended", "sex", "stratum")

    def __init__(self, race: str | None, sex: str | None, stratum: str | None,
                 day: str | None, recommended: str, final: str | None = None,
                 guidelines: tuple[str, str] | None = None):
        self.race, self.sex, self.stratum, self.day = race, sex, stratum, day
        self.recommended, self.final = recommended, final
        self.guidelines = guidelines  # (set id, sha256) of the recommendation


def charging_recommendation(record: dict[str, Any]) -> bool:
    """A referral's recommendation. The log also holds other record kinds (outreach victims,
    whose outcomes are refer_now and the like): counted as referrals, they would dilute every
    charging rate."""
    return record.get("kind") == "recommendation" and \
        record.get("record_kind", "referral") == "referral"


@dataclass
class AuditCases:
    """Each referral once, and how many repeated screenings were folded into it."""

    cases: list[AuditCase]
    screenings: int  # recommendation records read
    repeats: int  # of them, earlier screenings of a referral screened again (folded)

    def to_json(self) -> dict[str, int]:
        return {"screenings": self.screenings, "referrals": len(self.cases),
                "repeats_folded": self.repeats}


def audit_cases(records: Iterable[dict[str, Any]], group: str = "demographics.race",
                by: str | None = None) -> AuditCases:
    """One case per referral (record_id): its latest recommendation, and as final decision
    the latest decision or override on any of its screenings. Intake re-shows a skipped
    referral and logs a new recommendation each time; a batch re-run after a crash logs the
    same referrals again: counted per screening, each would be several referrals."""
    cases: dict[str, AuditCase] = {}
    referral_of: dict[str, str] = {}  # decision_id -> record_id
    screenings = 0
    race_key = group.removeprefix("demographics.") if group.startswith("demographics.") else None
    for record in records:
        kind = record.get("kind")
        if charging_recommendation(record):
            screenings += 1
            referral = record.get("referral") or {}
            demographics = record.get("demographics") or {}
            day = referral.get("received") or record.get("timestamp")
            race = (demographics.get(race_key) if race_key and "." not in race_key
                    else lookup(record, group))
            key = str(record.get("record_id") or record["decision_id"])
            referral_of[record["decision_id"]] = key
            earlier = cases.pop(key, None)  # re-inserted: the order is the latest screening's
            used = record.get("guideline_set") or {}
            cases[key] = AuditCase(
                _text(race), _text(demographics.get("sex")), _stratum(referral, by),
                str(day)[:10] if day else None, record["result"]["outcome"],
                earlier.final if earlier is not None else None,
                (str(used.get("id")), str(used.get("sha256"))) if used else None)
        elif kind in ("decision", "override"):
            key_of = referral_of.get(record["decision_id"])
            if key_of is not None:
                cases[key_of].final = record["outcome"]
    if not cases:
        raise InputError("the audit log holds no referral recommendations to analyse")
    return AuditCases(list(cases.values()), screenings, screenings - len(cases))


def _stratum(referral: dict[str, Any], by: str | None) -> str | None:
    if by is None:
        return None
    if by == OFFENSE:
        charges = referral.get("charges") or []
        return _text(charges[0].get("category")) if charges else None
    return _text(lookup(referral, by))


def stage_cases(cases: Iterable[AuditCase], stage: str, positive: str, grouping: Grouping,
                period: str | None = None) -> Iterator[Case]:
    """The observations at one decision point, each on the preceding stage's population."""
    for case in cases:
        if stage == "recommendation" or stage == "referred":
            outcome: bool | None = case.recommended == positive
        elif stage == "decision":
            if case.recommended != positive:
                continue
            outcome = None if case.final is None else case.final == positive
        elif stage == "override":
            outcome = None if case.final is None else case.final != case.recommended
        else:
            raise InputError(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
        yield (grouping.group(case.race, case.sex), outcome, case.stratum,
               period_of(case.day, period) if period and case.day else None)
