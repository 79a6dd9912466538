"""Decisions as supervisors and analysts see them: each logged recommendation joined with
the prosecutor's decisions on it, filtered, found by id, exported.

Decisions come after their recommendation in the log, so the join is two streaming passes
(decisions first, they are small) and never holds the referral snapshots in memory.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

from charging_rules.audit import log, shapes
from charging_rules.audit.lock import written_file
from charging_rules.audit.log import parse_line
from charging_rules.audit.store import AuditStore, StoreLike, as_store
from charging_rules.config import ExportFormat
from charging_rules.errors import InputError
from charging_rules.text import csv_cell

DECISION_KINDS = ("decision", "override")
MASK = "[masked]"
DEMOGRAPHICS = ("race", "ethnicity", "sex")
# What --mask-demographics also hides, because it would let the export be joined back to a
# record that holds the demographics (the log, a police file, an unmasked export):
# identifiers and sequence numbers masked, ages masked, exact times cut to the day and
# incident/receipt dates to the month. Documented in docs/audit-log.md.
MASKED_IDS = ("decision_id", "record_id", "referral_id", "victim_id", "incident_id", "seq")
MASKED_AGES = ("age", "victim_age")
TO_DAY = ("timestamp", "decided_at")
TO_MONTH = ("received", "incident_date", "last_referral_date")
EXPORT_COLUMNS = (
    "decision_id", "timestamp", "screened_by", "record_kind", "record_id", "received",
    "jurisdiction", "agency", "charge_categories", "recommended", "outcome", "status",
    "decided_by", "decided_at", "reason", "rules", "missing", "guideline_set",
    "guideline_sha256", "guideline_versions", *DEMOGRAPHICS, "seq", "actor",
)


@dataclass(frozen=True)
class Row:
    """One decision: the logged recommendation and the decisions recorded on it (in order;
    the last is final, since a decision is never rewritten, only followed by another)."""

    recommendation: dict[str, Any]
    decisions: tuple[dict[str, Any], ...] = ()

    @property
    def decision_id(self) -> str:
        return str(self.recommendation["decision_id"])

    @property
    def recommended(self) -> str:
        return str(self.recommendation["result"]["outcome"])

    @property
    def final(self) -> dict[str, Any] | None:
        return self.decisions[-1] if self.decisions else None

    @property
    def outcome(self) -> str:
        """The decided outcome, or the recommendation while no decision is recorded."""
        return str(self.final["outcome"]) if self.final else self.recommended

    @property
    def status(self) -> str:
        if self.final is None:
            return "pending"
        return "overridden" if self.final["kind"] == "override" else "accepted"

    def guideline_versions(self) -> list[str]:
        return [f"{g['id']}@{g['version']}"
                for g in self.recommendation["guideline_set"].get("guidelines", [])]

    def to_json(self, mask_demographics: bool = False) -> dict[str, Any]:
        rec, final = self.recommendation, self.final
        referral = rec.get("referral") or {}
        demographics = rec.get("demographics") or {}
        result = rec["result"]
        row: dict[str, Any] = {
            "decision_id": self.decision_id, "timestamp": rec["timestamp"],
            "screened_by": rec.get("actor"), "record_kind": rec.get("record_kind"),
            "record_id": rec.get("record_id"), "received": referral.get("received"),
            "jurisdiction": referral.get("jurisdiction"), "agency": referral.get("agency"),
            "charge_categories": [c.get("category") for c in referral.get("charges", [])],
            "recommended": self.recommended, "outcome": self.outcome, "status": self.status,
            "decided_by": final["actor"] if final else None,
            "decided_at": final["timestamp"] if final else None,
            "reason": final.get("reason") if final else None,
            "rules": result.get("rules", []), "missing": result.get("missing", []),
            "guideline_set": rec["guideline_set"]["id"],
            "guideline_sha256": rec["guideline_set"]["sha256"],
            "guideline_versions": self.guideline_versions(), "seq": rec["seq"],
            # who logged the decision's current state: the decider, else the screener (with
            # the PostgreSQL store, the database login that wrote that record)
            "actor": (final or rec).get("actor"),
        }
        for key in DEMOGRAPHICS:
            row[key] = MASK if mask_demographics else demographics.get(key)
        return _mask_joins(row) if mask_demographics else row

    def snapshot(self, mask_demographics: bool = False) -> Any:
        """The logged referral, masked like `flat` when asked."""
        referral = self.recommendation.get("referral")
        return _mask_joins(referral) if mask_demographics else referral


def _mask_joins(value: Any) -> Any:
    """`value` with every field that could re-join it to demographics masked (MASKED_IDS)."""
    if isinstance(value, list):
        return [_mask_joins(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            out[key] = None
        elif key in MASKED_IDS or key in MASKED_AGES:
            out[key] = MASK
        elif key in TO_DAY:
            out[key] = str(item)[:10]
        elif key in TO_MONTH:
            out[key] = str(item)[:7]
        else:
            out[key] = _mask_joins(item)
    return out


@dataclass(frozen=True)
class Filters:
    since: date | None = None
    until: date | None = None
    actor: str | None = None
    outcome: str | None = None
    overrides_only: bool = False
    guideline: str | None = None  # set id, sha256 prefix, guideline version or id@version
    record_id: str | None = None  # the referral (or victim record) screened

    def __post_init__(self) -> None:
        """A filter that can match nothing is a typo, not an empty answer."""
        from charging_rules.model.kinds import KINDS

        outcomes = sorted({o for kind in KINDS.values() for o in kind.outcomes})
        if self.outcome is not None and self.outcome not in outcomes:
            raise InputError(f"outcome '{self.outcome}' is not an outcome "
                             f"({', '.join(outcomes)})")
        if self.since and self.until and self.since > self.until:
            raise InputError(f"since {self.since} is after until {self.until}: nothing can "
                             "match")

    def match(self, row: Row) -> bool:
        day = str(row.recommendation["timestamp"])[:10]
        actors = {row.recommendation.get("actor"), *(d.get("actor") for d in row.decisions)}
        return ((self.since is None or day >= self.since.isoformat())
                and (self.until is None or day <= self.until.isoformat())
                and (self.actor is None or self.actor in actors)
                and (self.outcome is None or row.outcome == self.outcome)
                and (not self.overrides_only or row.status == "overridden")
                and (self.guideline is None or self._guideline_matches(row))
                and (self.record_id is None
                     or row.recommendation.get("record_id") == self.record_id))

    def _guideline_matches(self, row: Row) -> bool:
        wanted = str(self.guideline)
        gset = row.recommendation["guideline_set"]
        versions = row.guideline_versions()
        return (wanted == gset["id"] or wanted in versions
                or wanted in (v.split("@", 1)[1] for v in versions)
                or (len(wanted) >= 6 and str(gset["sha256"]).startswith(wanted)))


def _records(store: AuditStore, since: str | None, *markers: bytes
             ) -> Iterator[dict[str, Any]]:
    """Records whose canonical line contains one of `markers` (cheap test before parsing),
    checked to have the members Row reads: an edited record is a failed check naming its
    line, not a crash."""
    for where, line in store.read_lines(since):
        if any(marker in line for marker in markers):
            yield shapes.check(where, parse_line(where, line, strict=True))


_RELATIVE = re.compile(r"^(\d{1,5})([dw])$")


def day_of(text: str, today: date, concept: str = "since") -> date:
    """A day as a supervisor types it: YYYY-MM-DD, `today`, `yesterday`, or a span back from
    today (`30d`, `2w`)."""
    words = {"today": today, "yesterday": today - timedelta(days=1)}
    value = text.strip().lower()
    if value in words:
        return words[value]
    relative = _RELATIVE.match(value)
    if relative:
        days = int(relative[1]) * (7 if relative[2] == "w" else 1)
        return today - timedelta(days=days)
    with suppress(ValueError):
        if len(value) == 10:  # fromisoformat also reads 20230102, which nobody types here
            return date.fromisoformat(value)
    raise InputError(f"{text!r} is not a day: give YYYY-MM-DD, today, yesterday, or a span "
                     "back such as 30d or 2w", concept=concept)


def latest(selected: Iterable[Row], limit: int | None) -> list[Row]:
    """The `limit` most recent of `selected` (all without a limit), oldest first."""
    if limit is not None and limit < 1:
        raise InputError(f"must be at least 1, got {limit}", concept="limit")
    return list(deque(selected, maxlen=limit))


def rows(audit: StoreLike, filters: Filters = Filters()) -> Iterator[Row]:
    """Matching decisions, oldest first."""
    store = as_store(audit)
    since = filters.since.isoformat() if filters.since else None
    decided: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in _records(store, since, *(b'"kind":"%s"' % k.encode()
                                               for k in DECISION_KINDS)):
        if record.get("kind") in DECISION_KINDS:
            decided[str(record["decision_id"])].append(record)
    for record in _records(store, since, b'"kind":"recommendation"'):
        if record.get("kind") == "recommendation":
            row = Row(record, tuple(decided.get(str(record["decision_id"]), ())))
            if filters.match(row):
                yield row


def find(audit: StoreLike, decision_id: str) -> Row:
    """The decision with this id (or unique id prefix of 6+ characters), else the one
    decision on the referral with this id (a supervisor has the referral number at hand)."""
    store = as_store(audit)
    try:
        return _find_decision(store, decision_id)
    except InputError:
        screened = list(rows(store, Filters(record_id=decision_id.strip())))
        if len(screened) == 1:
            return screened[0]
        if len(screened) > 1:
            raise InputError(f"referral '{decision_id}' was screened {len(screened)} times: "
                             f"give one of its decision ids ("
                             f"{', '.join(r.decision_id[:12] for r in screened[-5:])})"
                             ) from None
        raise


def _find_decision(store: AuditStore, decision_id: str) -> Row:
    wanted = decision_id.strip().lower()
    if len(wanted) < 6:
        raise InputError(f"decision id '{decision_id}': give at least 6 characters (or a "
                         "referral id)")
    matches: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in _records(store, None, b'"decision_id":"' + wanted.encode()):
        if str(record.get("decision_id") or "").startswith(wanted):
            matches[str(record["decision_id"])].append(record)
    if len(matches) > 1:
        raise InputError(f"decision id '{decision_id}' is ambiguous: "
                         f"{', '.join(sorted(matches)[:5])}")
    found = next(iter(matches.values()), [])
    recommendation = [r for r in found if r.get("kind") == "recommendation"]
    if not recommendation:
        raise InputError(f"no decision '{decision_id}' in {store.location}")
    return Row(recommendation[0], tuple(r for r in found if r.get("kind") in DECISION_KINDS))


def _csv_safe(value: Any) -> Any:
    """Lists joined; text that a spreadsheet would run as a formula is quoted with '."""
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    return csv_cell(value)


def export(selected: Iterable[Row], out: TextIO, fmt: ExportFormat,
           mask_demographics: bool = False) -> int:
    """Write rows for analysts (CSV: one flat row per decision; JSONL: the same fields,
    lists kept, plus the referral snapshot); returns how many were written."""
    count = 0
    writer = csv.DictWriter(out, EXPORT_COLUMNS, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    for row in selected:
        flat = row.to_json(mask_demographics)
        if writer is not None:
            writer.writerow({k: _csv_safe(v) for k, v in flat.items()})
        else:
            flat["referral"] = row.snapshot(mask_demographics)
            out.write(json.dumps(flat, ensure_ascii=False) + "\n")
        count += 1
    return count


def export_file(selected: Iterable[Row], path: Path, fmt: ExportFormat,
                mask_demographics: bool = False) -> int:
    """`export` into a new owner-only file renamed over `path` once complete: an existing
    file's wider mode is not kept (an export can hold demographics), and a failed export
    (disk full) leaves `path` as it was."""
    with written_file(path) as handle:
        return export(selected, handle, fmt, mask_demographics)


def content_key(referral: dict[str, Any], demographics: dict[str, Any] | None) -> str:
    """What identifies a referral's content in the log, whatever its file is called."""
    body = {"referral": referral, "demographics": demographics}
    return hashlib.sha256(log.canonical(body)).hexdigest()


def decided_in_log(audit: StoreLike, wanted: dict[str, set[str]]
                   ) -> dict[str, dict[str, Any]]:
    """Content key -> its latest decision record, for the record ids and keys in `wanted`."""
    keys_by_decision: dict[str, str] = {}
    found: dict[str, dict[str, Any]] = {}
    for record in as_store(audit).read_records():
        keys = wanted.get(str(record.get("record_id")))
        if not keys:
            continue
        if record.get("kind") == "recommendation":
            key = content_key(record.get("referral", {}), record.get("demographics"))
            if key in keys:
                keys_by_decision[str(record["decision_id"])] = key
        elif record.get("kind") in ("decision", "override"):
            key_of_decision = keys_by_decision.get(str(record.get("decision_id")))
            if key_of_decision is not None:
                found[key_of_decision] = record
    return found
