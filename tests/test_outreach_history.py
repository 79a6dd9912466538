"""The derived history facts (a referral found is a referral; nothing found is not "never"),
and the weekly reader (any file is read or refused with a located one-line error)."""

from __future__ import annotations

import csv
import tempfile
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from charging_rules.errors import InputError
from charging_rules.model.victim import OUTREACH_OUTCOMES, VictimListing
from charging_rules.outreach.history import LoggedDecision, OutreachLog
from charging_rules.outreach.weekly import read_week, week_bounds

INCIDENT = date(2023, 6, 1)
days_before = st.integers(-60, 400)  # negative: an incident after this one


WEEK = "2023-W22"  # the listing's week; logged decisions are from it or an earlier one


@given(prior_count=st.one_of(st.none(), st.integers(0, 3)),
       hub_last=st.one_of(st.none(), st.integers(0, 400)),
       logged=st.lists(st.tuples(days_before, st.sampled_from(OUTREACH_OUTCOMES),
                                 st.sampled_from(["2023-W01", WEEK]),
                                 st.one_of(st.none(), st.booleans())), max_size=4))
def test_history_facts_never_invent_a_clean_record(
        prior_count: int | None, hub_last: int | None,
        logged: list[tuple[int, str, str, bool | None]]) -> None:
    if prior_count == 0 and hub_last is not None:
        prior_count = None  # the listing itself refuses that contradiction
    listing = VictimListing(
        incident_id="I-0", victim_id="V-1", incident_date=INCIDENT,
        prior_referral_count=prior_count,
        last_referral_date=None if hub_last is None else INCIDENT - timedelta(days=hub_last))
    history = OutreachLog()
    for index, (before, outcome, week, fatal) in enumerate(logged):
        history.add(LoggedDecision(f"d{index}", f"I-{index + 1}/V-1", "V-1",
                                   INCIDENT - timedelta(days=before), week, outcome, fatal))
    facts = history.history_facts(listing, WEEK)

    referral_gaps = [b for b, o, _, _ in logged if b >= 0 and o in ("refer_now", "refer_family")]
    gaps = referral_gaps + ([hub_last] if hub_last is not None else [])
    family_gaps = [b for b, o, _, _ in logged if b >= 0 and o == "refer_family"]
    # The family facts and the fatal flag come from the log alone, so they are always known.
    assert facts.pop("family_previously_referred") is bool(family_gaps)
    assert facts.pop("days_since_family_referral", None) == min(family_gaps, default=None)
    # Killed in an earlier week, or in an earlier incident; same week and same day is not.
    assert facts.pop("previously_listed_fatal") is any(
        fatal is True and (week < WEEK or before > 0) for before, _, week, fatal in logged)
    if gaps:
        assert facts == {"previously_referred": True, "days_since_last_referral": min(gaps)}
    elif prior_count == 0:
        assert facts == {"previously_referred": False}
    elif prior_count:
        assert facts == {"previously_referred": True}  # when is unknown
    else:
        assert facts == {}  # no history at all: unknown, not "never referred"


cell = st.one_of(st.sampled_from(["", "true", "no", "0", "12", "2023-03-06", "2023-W10",
                                  "2023-02-30", "-1", "I-1", "V-1", "Black"]),
                 st.text(max_size=8))
COLUMNS_OF_A_LIST = ("week", "incident_id", "victim_id", "incident_date", "victim_age", "fatal",
                     "victim_contact_available", "prior_referral_count", "last_referral_date",
                     "race")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(cell, min_size=len(COLUMNS_OF_A_LIST),
                         max_size=len(COLUMNS_OF_A_LIST)), min_size=1, max_size=4))
def test_any_weekly_file_is_read_or_refused_with_a_located_error(rows: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "week.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS_OF_A_LIST)
            writer.writerows(rows)
        try:
            week = read_week(path)
        except InputError as error:
            assert error.source == str(path)
            # Quoted cells may span lines, so a record's first line is at most its index
            # plus the line breaks written before it.
            assert (error.line is not None and 2 <= error.line <= 1 + len(rows) + sum(
                c.count("\n") + c.count("\r") for r in rows for c in r)) or \
                "no victims" in error.message
            assert "\n" not in str(error)
        else:
            assert len(week.rows) == len(rows)
            assert all(r.listing.incident_date <= week_bounds(week.week)[1] for r in week.rows)
