"""What the audit log already says about outreach: the log is the source of truth.

Imported weeks (by week id and by file hash), every victim decision, who was referred and for
which incident, and the contact outcomes the hub reported back, read in one streaming pass.
The same pass serves the duplicate-week check, the history facts of a new week, `status`
and `record`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from charging_rules.audit import log
from charging_rules.audit.store import AuditStore
from charging_rules.model.victim import REFERRAL_OUTCOMES, VictimListing

IMPORT_KIND = "outreach_import"
CONTACT_KIND = "outreach_contact"
# Serializes outreach writers (store.exclusive): the duplicate check and the append must be
# one step, or two people importing the same week at once would both pass the check.
LOCK_NAME = "outreach"
_VICTIM, _OUTREACH = b'"record_kind":"victim"', b'"kind":"outreach_'


@dataclass(frozen=True)
class LoggedDecision:
    """A victim recommendation as logged: enough to count it, attribute it and find it."""

    decision_id: str
    record_id: str
    victim_id: str
    incident_date: date
    week: str
    outcome: str
    fatal: bool | None = None

    @property
    def referred(self) -> bool:
        return self.outcome in REFERRAL_OUTCOMES


@dataclass(frozen=True)
class Contact:
    date: date
    outcome: str


@dataclass
class OutreachLog:
    imports: dict[str, dict[str, Any]] = field(default_factory=dict)  # week -> import record
    weeks_by_sha: dict[str, str] = field(default_factory=dict)
    decisions: dict[str, LoggedDecision] = field(default_factory=dict)  # by decision id
    referrals: dict[str, list[date]] = field(default_factory=dict)  # victim id -> incidents
    family_referrals: dict[str, list[date]] = field(default_factory=dict)  # refer_family only
    fatal_listings: dict[str, list[LoggedDecision]] = field(default_factory=dict)  # by victim
    contacts: dict[str, list[Contact]] = field(default_factory=dict)  # by decision id

    @classmethod
    def read(cls, store: AuditStore) -> OutreachLog:
        history = cls()
        for where, line in store.read_lines():
            # Records are canonical JSON, so outreach lines can be picked out before parsing:
            # the charging records sharing the log cost a substring test each, not a parse.
            if _VICTIM not in line and _OUTREACH not in line:
                continue
            record = log.parse_line(where, line)
            kind = record.get("kind")
            if kind == IMPORT_KIND:
                history.imports[record["week"]] = record
                history.weeks_by_sha[record["sha256"]] = record["week"]
            elif kind == "recommendation" and record.get("record_kind") == "victim":
                history.add(LoggedDecision(
                    decision_id=record["decision_id"], record_id=record["record_id"],
                    victim_id=record["referral"]["victim_id"],
                    incident_date=date.fromisoformat(record["referral"]["incident_date"]),
                    week=record["outreach"]["week"], outcome=record["result"]["outcome"],
                    fatal=record["referral"].get("fatal")))
            elif kind == CONTACT_KIND:
                history.contacts.setdefault(record["decision_id"], []).append(
                    Contact(date.fromisoformat(record["contact"]["date"]),
                            record["contact"]["outcome"]))
        return history

    def add(self, decision: LoggedDecision) -> None:
        """A decision made (or read back): later listings of the same victim see it."""
        self.decisions[decision.decision_id] = decision
        if decision.referred:
            self.referrals.setdefault(decision.victim_id, []).append(decision.incident_date)
        if decision.outcome == "refer_family":
            self.family_referrals.setdefault(decision.victim_id, []).append(
                decision.incident_date)
        if decision.fatal is True:
            self.fatal_listings.setdefault(decision.victim_id, []).append(decision)

    def earlier_fatal_listing(self, listing: VictimListing, week: str) -> LoggedDecision | None:
        """A listing that says this victim was killed, from an earlier week or for an earlier
        incident. Same week and same day is not one: two shootings of one person on one day
        can be listed in either order."""
        return next((f for f in self.fatal_listings.get(listing.victim_id, [])
                     if f.week < week or f.incident_date < listing.incident_date), None)

    def history_facts(self, listing: VictimListing, week: str) -> dict[str, Any]:
        """The derived history facts of a listing in `week` (see victim.Victim).

        Earlier referrals are those of the same victim for incidents up to this one's date
        (a re-listed incident counts: 0 days). The hub's reported count of zero is the only
        thing that can make `previously_referred` false: the log cannot speak for the years
        before the tool existed. Family referrals and fatal listings come from the log alone.
        """
        dates = [d for d in self.referrals.get(listing.victim_id, [])
                 if d <= listing.incident_date]
        if listing.last_referral_date is not None:
            dates.append(listing.last_referral_date)
        facts: dict[str, Any] = {}
        if dates or (listing.prior_referral_count or 0) > 0:
            facts["previously_referred"] = True
        elif listing.prior_referral_count == 0:
            facts["previously_referred"] = False
        if dates:
            facts["days_since_last_referral"] = (listing.incident_date - max(dates)).days
        family = [d for d in self.family_referrals.get(listing.victim_id, [])
                  if d <= listing.incident_date]
        facts["family_previously_referred"] = bool(family)
        if family:
            facts["days_since_family_referral"] = (listing.incident_date - max(family)).days
        facts["previously_listed_fatal"] = self.earlier_fatal_listing(listing, week) is not None
        return facts
