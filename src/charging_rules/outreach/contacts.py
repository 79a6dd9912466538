"""`outreach record`: the hub reports back what happened when it called a referred person.

The report is a CSV (`decision_id,contact_date,outcome`), the decision id being the one on
the hub's referral list. Each row is appended to the audit log as an `outreach_contact`
record pointing at the referral, never rewriting it. All rows are checked first; one bad row
rejects the file (exit 2, nothing written). A row already in the log (same referral, date
and outcome) is skipped, so a report sent twice is harmless. No free text is accepted: notes
about a victim's situation do not belong in an audit log that analysts export.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from charging_rules.audit.log import FORMAT_VERSION
from charging_rules.audit.store import AuditStore
from charging_rules.errors import InputError
from charging_rules.outreach.history import CONTACT_KIND, LOCK_NAME, Contact, OutreachLog
from charging_rules.outreach.weekly import RowErrors, parse_date, read_csv

CONTACT_OUTCOMES = ("accepted_services", "declined_services", "no_answer", "unreachable")
COLUMNS = ("decision_id", "contact_date", "outcome")


@dataclass(frozen=True)
class RecordReport:
    recorded: int
    already_recorded: int
    outcomes: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check(cells: dict[str, str], history: OutreachLog) -> tuple[str, Contact]:
    decision_id = cells["decision_id"].strip()
    decision = history.decisions.get(decision_id)
    if decision is None:
        raise ValueError(f"decision_id: {decision_id!r} is not a victim decision in the log")
    if not decision.referred:
        raise ValueError(f"decision_id: {decision_id!r} was not referred to the hub "
                         f"(outcome {decision.outcome})")
    outcome = cells["outcome"].strip()
    if outcome not in CONTACT_OUTCOMES:
        raise ValueError(f"outcome: {outcome!r} is not one of {', '.join(CONTACT_OUTCOMES)}")
    when = parse_date(cells["contact_date"].strip(), "contact_date")
    if when > date.today():
        raise ValueError(f"contact_date: {when} is in the future")
    if when < decision.incident_date:
        raise ValueError(f"contact_date: {when} is before the incident ({decision.incident_date})")
    return decision_id, Contact(when, outcome)


def record_contacts(path: Path, store: AuditStore, actor: str) -> RecordReport:
    table = read_csv(path, COLUMNS, COLUMNS)
    if not table.rows and not table.problems:
        raise InputError("no contacts in the report", source=str(path))
    with store.exclusive(LOCK_NAME):
        history = OutreachLog.read(store)
        problems = list(table.problems)
        entries: list[dict[str, Any]] = []
        skipped = 0
        seen: set[tuple[str, Contact]] = set()
        for line, cells in table.rows:
            try:
                decision_id, contact = _check(cells, history)
            except ValueError as error:
                problems.append((line, str(error)))
                continue
            if contact in history.contacts.get(decision_id, []) or \
                    (decision_id, contact) in seen:
                skipped += 1
                continue
            seen.add((decision_id, contact))
            decision = history.decisions[decision_id]
            entries.append({
                "format": FORMAT_VERSION, "kind": CONTACT_KIND, "decision_id": decision_id,
                "actor": actor, "record_kind": "victim", "record_id": decision.record_id,
                "contact": {"date": contact.date.isoformat(), "outcome": contact.outcome},
                "source": path.name,
            })
        if problems:
            raise RowErrors(path, sorted(problems), "nothing was recorded")
        if entries:
            store.append_many(entries)
    counts = {o: sum(e["contact"]["outcome"] == o for e in entries) for o in CONTACT_OUTCOMES}
    return RecordReport(len(entries), skipped, counts)
