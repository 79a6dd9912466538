"""`outreach status`: referrals in a year against the annual goal, week by week.

A referral is a logged `refer_now` or `refer_family` decision; `already_referred` is not a new
one. Weeks are ISO weeks and a week's referrals count in its ISO year. The projection is the
run rate of the weeks imported so far (referrals / imported weeks x weeks in the year): weeks
not imported yet are listed as missing rather than counted as zero, so a late import does not
read as a collapse. Contact outcomes are each referral's latest report from the hub.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from charging_rules.audit.store import AuditStore
from charging_rules.errors import InputError
from charging_rules.model.victim import OUTREACH_OUTCOMES, REFERRAL_OUTCOMES
from charging_rules.outreach.contacts import CONTACT_OUTCOMES
from charging_rules.outreach.history import OutreachLog
from charging_rules.outreach.weekly import weeks_in_year

DEFAULT_GOAL = 500


@dataclass(frozen=True)
class WeekLine:
    week: str
    imported: bool
    victims: int
    outcomes: dict[str, int]
    referrals: int
    cumulative: int
    goal_pace: int  # where the cumulative count should be by the end of this week


@dataclass(frozen=True)
class Status:
    year: int
    goal: int
    referrals: int
    victims: int
    weeks_in_year: int
    weeks_imported: int
    missing_weeks: list[str]
    projected: int | None
    on_track: bool | None
    outcomes: dict[str, int]
    contacts: dict[str, int]  # latest outcome per referral, plus "not_reported"
    weeks: list[WeekLine]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _year_of(week: str) -> int:
    return int(week[:4])


def outreach_status(store: AuditStore, year: int | None = None,
                    goal: int | None = None) -> Status:
    """The year's figures from the log; `year` defaults to that of the latest imported week,
    `goal` to DEFAULT_GOAL."""
    goal = DEFAULT_GOAL if goal is None else goal
    if goal < 1:
        raise InputError(f"must be at least 1, got {goal}", concept="goal")
    if year is not None and not 1900 <= year <= 9998:
        raise InputError(f"must be a year from 1900 to 9998, got {year}", concept="year")
    history = OutreachLog.read(store)
    if year is None:
        year = max((_year_of(w) for w in history.imports), default=date.today().year)
    total_weeks = weeks_in_year(year)
    decisions = [d for d in history.decisions.values() if _year_of(d.week) == year]
    imported = {w for w in history.imports if _year_of(w) == year}
    last = max((int(w[-2:]) for w in imported), default=0)
    by_week: dict[str, Counter[str]] = {}
    for decision in decisions:
        by_week.setdefault(decision.week, Counter())[decision.outcome] += 1
    lines: list[WeekLine] = []
    cumulative = 0
    for number in range(1, last + 1):
        week = f"{year}-W{number:02d}"
        counts = by_week.get(week, Counter())
        referrals = sum(counts[o] for o in REFERRAL_OUTCOMES)
        cumulative += referrals
        lines.append(WeekLine(week, week in imported, sum(counts.values()),
                              {o: counts[o] for o in OUTREACH_OUTCOMES}, referrals, cumulative,
                              round(goal * number / total_weeks)))
    projected = round(cumulative / len(imported) * total_weeks) if imported else None
    latest: Counter[str] = Counter()
    for decision in decisions:
        if decision.referred:
            reports = history.contacts.get(decision.decision_id)
            # Stable sort: of two reports on one day, the one logged later counts.
            latest[sorted(reports, key=lambda c: c.date)[-1].outcome if reports
                   else "not_reported"] += 1
    return Status(
        year=year, goal=goal, referrals=cumulative, victims=len(decisions),
        weeks_in_year=total_weeks, weeks_imported=len(imported),
        missing_weeks=[line.week for line in lines if not line.imported],
        projected=projected, on_track=None if projected is None else projected >= goal,
        outcomes={o: sum(line.outcomes[o] for line in lines) for o in OUTREACH_OUTCOMES},
        contacts={o: latest[o] for o in (*CONTACT_OUTCOMES, "not_reported")},
        weeks=lines,
    )
