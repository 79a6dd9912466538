"""`outreach import`: weekly lists -> the engine -> the audit log -> the hub's referral lists.

Order matters: every file is read and validated, and checked against the log for duplicates,
before anything is written; then all decisions of all weeks are appended in one group (one
write); only then are the hub lists moved into place. A bad file or a week already imported
(same week id, or same bytes under another name) stops everything with exit 2.
Each referral names whom the hub calls (`reach_out_to`: victim, family or guardian), in the
logged result and on the hub's list.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charging_rules.audit.entries import new_decision_id, recommendation_entry
from charging_rules.audit.log import FORMAT_VERSION
from charging_rules.audit.store import AuditStore
from charging_rules.engine.evaluate import Evaluator
from charging_rules.errors import InputError
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.model.victim import (
    OUTREACH_OUTCOMES,
    REFERRAL_OUTCOMES,
    Route,
    Victim,
    reach_out_to,
)
from charging_rules.outreach.history import IMPORT_KIND, LOCK_NAME, LoggedDecision, OutreachLog
from charging_rules.outreach.weekly import WeekList, WeekRow, read_week
from charging_rules.text import csv_cell

HUB_COLUMNS = ("decision_id", "week", "incident_id", "victim_id", "incident_date", "outcome",
               "reach_out_to")
CHASE_COLUMNS = ("decision_id", "week", "incident_id", "victim_id", "incident_date", "missing",
                 "rules", "reason")


@dataclass
class WeekReport:
    week: str
    source: str
    sha256: str
    victims: int
    outcomes: dict[str, int]
    hub_list: str | None = None
    chase_list: str | None = None
    needs_information: list[dict[str, Any]] = field(default_factory=list)

    @property
    def referrals(self) -> int:
        return sum(self.outcomes[o] for o in REFERRAL_OUTCOMES)


def import_summary(reports: list[WeekReport]) -> dict[str, Any]:
    """The `outreach import --json` object."""
    weeks = [{**dataclasses.asdict(r), "referrals": r.referrals} for r in reports]
    return {"weeks": weeks, "victims": sum(r.victims for r in reports),
            "referrals": sum(r.referrals for r in reports)}


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a directory stands for the *.csv files in it."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.csv"))
            if not found:
                raise InputError("no .csv weekly lists in this directory", source=str(path))
            files += found
        else:
            files.append(path)
    if not files:
        raise InputError("no weekly list given")
    return files


def _refuse_duplicates(weeks: list[WeekList], history: OutreachLog) -> None:
    by_week: dict[str, WeekList] = {}
    by_sha: dict[str, WeekList] = {}
    for week in weeks:
        logged = history.imports.get(week.week)
        if logged is not None:
            raise InputError(f"week {week.week} was already imported (from {logged['source']}, "
                             f"import {logged['decision_id']}); nothing was imported",
                             source=str(week.path))
        if week.sha256 in history.weeks_by_sha:
            raise InputError(f"this file was already imported as week "
                             f"{history.weeks_by_sha[week.sha256]} (same content); nothing "
                             "was imported", source=str(week.path))
        for seen, key in ((by_week, week.week), (by_sha, week.sha256)):
            if key in seen:
                raise InputError(f"same week as {seen[key].path} ({week.week}) in this import; "
                                 "nothing was imported", source=str(week.path))
            seen[key] = week


def _route(week: WeekList, row: WeekRow, victim: Victim, outcome: str) -> Route | None:
    """Whom the hub calls; a referral the guideline set makes without a safe route (a child
    to be called directly, nobody reachable) is the set's error, refused before logging."""
    if outcome not in REFERRAL_OUTCOMES:
        return None
    route = reach_out_to(victim)
    if route is None:
        raise InputError(f"victim {victim.victim_id}: the guidelines say {outcome} but the "
                         "listing gives no safe person to call (a victim under 18 is reached "
                         "through a parent or guardian, a fatal shooting through the family); "
                         "check the outreach guideline; nothing was imported",
                         source=str(week.path), line=row.line)
    return route


def _decide(week: WeekList, evaluator: Evaluator, history: OutreachLog, actor: str
            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The week's log entries (its import record first) and, of those, the decisions."""
    import_id = new_decision_id()
    entries: list[dict[str, Any]] = []
    counts: Counter[str] = Counter(dict.fromkeys(OUTREACH_OUTCOMES, 0))
    # Incident order, so a victim listed twice in one week sees the first referral.
    for row in sorted(week.rows, key=lambda r: (r.listing.incident_date, r.line)):
        listing = row.listing
        victim = Victim.from_listing(listing, history.history_facts(listing, week.week))
        recommendation = evaluator.evaluate(victim)
        entry = recommendation_entry(recommendation, victim, row.demographics, actor)
        entry["result"]["reach_out_to"] = _route(week, row, victim, recommendation.outcome)
        entry["outreach"] = {
            "week": week.week, "import_id": import_id, "line": row.line,
            "reported": {"prior_referral_count": listing.prior_referral_count,
                         "last_referral_date": None if listing.last_referral_date is None
                         else listing.last_referral_date.isoformat()},
        }
        earlier = history.earlier_fatal_listing(listing, week.week)
        if earlier is not None:  # which listing a data-error flag refers to
            entry["outreach"]["listed_fatal"] = {"record_id": earlier.record_id,
                                                 "week": earlier.week}
        entries.append(entry)
        counts[recommendation.outcome] += 1
        history.add(LoggedDecision(entry["decision_id"], victim.record_id, victim.victim_id,
                                   victim.incident_date, week.week, recommendation.outcome,
                                   victim.fatal))
    marker = {
        "format": FORMAT_VERSION, "kind": IMPORT_KIND, "decision_id": import_id,
        "actor": actor, "week": week.week, "source": week.path.name, "sha256": week.sha256,
        "victims": len(week.rows), "outcomes": dict(counts),
        "guideline_set": entries[0]["guideline_set"],
    }
    return [marker, *entries], entries


def _list_rows(entries: list[dict[str, Any]], outcomes: tuple[str, ...]
               ) -> list[dict[str, Any]]:
    rows = []
    for entry in entries:
        result, victim = entry["result"], entry["referral"]
        if result["outcome"] not in outcomes:
            continue
        reasons = result["reasons"]
        earlier = entry["outreach"].get("listed_fatal")
        if earlier is not None and victim.get("fatal") is False:
            reasons = [*reasons, f"Listed as killed: {earlier['record_id']} in week "
                       f"{earlier['week']}."]
        rows.append({
            "decision_id": entry["decision_id"], "week": entry["outreach"]["week"],
            "incident_id": victim["incident_id"], "victim_id": victim["victim_id"],
            "incident_date": victim["incident_date"], "outcome": result["outcome"],
            "reach_out_to": result["reach_out_to"], "missing": ", ".join(result["missing"]),
            "rules": ", ".join(result["rules"]), "reason": " ".join(reasons),
        })
    return rows


def _stage_csv(out_dir: Path, name: str, columns: tuple[str, ...],
               rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    """Write to a temporary file beside the target; moved into place after the log append."""
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", dir=out_dir)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return Path(temp), out_dir / name


def import_weeks(paths: Iterable[Path], guidelines: Path, store: AuditStore, out_dir: Path,
                 actor: str) -> list[WeekReport]:
    """Import weekly lists (files or directories of *.csv); reports in week order."""
    weeks = sorted((read_week(p) for p in expand(paths)), key=lambda w: w.week)
    evaluator = Evaluator(load_guidelines(guidelines), "victim")
    if not evaluator.guidelines:
        raise InputError("no guideline in this set applies to victim records (applies_to: "
                         "victim); see rules/victim-outreach.yaml", source=str(guidelines))
    reports: list[WeekReport] = []
    staged: list[tuple[Path, Path]] = []
    with store.exclusive(LOCK_NAME):
        history = OutreachLog.read(store)
        _refuse_duplicates(weeks, history)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"cannot create the output directory: {error}",
                             source=str(out_dir)) from None
        entries: list[dict[str, Any]] = []
        try:
            for week in weeks:
                logged, decisions = _decide(week, evaluator, history, actor)
                entries += logged
                report = WeekReport(week.week, str(week.path), week.sha256, len(week.rows),
                                    logged[0]["outcomes"])
                report.needs_information = _list_rows(decisions, ("needs_information",))
                staged.append(_stage_csv(out_dir, f"{week.week}-hub-referrals.csv",
                                         HUB_COLUMNS, _list_rows(decisions, REFERRAL_OUTCOMES)))
                report.hub_list = str(staged[-1][1])
                if report.needs_information:
                    staged.append(_stage_csv(out_dir, f"{week.week}-needs-information.csv",
                                             CHASE_COLUMNS, report.needs_information))
                    report.chase_list = str(staged[-1][1])
                reports.append(report)
            store.store_guidelines(evaluator.set)  # the files behind the sha256: replay
            store.append_many(entries)
        except BaseException:
            for temp, _ in staged:
                temp.unlink(missing_ok=True)
            raise
    for temp, final in staged:
        temp.replace(final)
    return reports
