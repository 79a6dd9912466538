"""The derived history facts: a referral found is a referral; nothing found is not "never"."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from charging_rules.outreach.history import LoggedDecision, OutreachLog
from charging_rules.victim import OUTREACH_OUTCOMES, VictimListing

INCIDENT = date(2023, 6, 1)
days_before = st.integers(-60, 400)  # negative: an incident after this one


@given(prior_count=st.one_of(st.none(), st.integers(0, 3)),
       hub_last=st.one_of(st.none(), st.integers(0, 400)),
       logged=st.lists(st.tuples(days_before, st.sampled_from(OUTREACH_OUTCOMES)), max_size=4))
def test_history_facts_never_invent_a_clean_record(
        prior_count: int | None, hub_last: int | None,
        logged: list[tuple[int, str]]) -> None:
    if prior_count == 0 and hub_last is not None:
        prior_count = None  # the listing itself refuses that contradiction
    listing = VictimListing(
        incident_id="I-0", victim_id="V-1", incident_date=INCIDENT,
        prior_referral_count=prior_count,
        last_referral_date=None if hub_last is None else INCIDENT - timedelta(days=hub_last))
    history = OutreachLog()
    for index, (before, outcome) in enumerate(logged):
        history.add(LoggedDecision(f"d{index}", f"I-{index + 1}/V-1", "V-1",
                                   INCIDENT - timedelta(days=before), "2023-W01", outcome))
    facts = history.history_facts(listing)

    referral_gaps = [b for b, o in logged if b >= 0 and o in ("refer_now", "refer_family")]
    gaps = referral_gaps + ([hub_last] if hub_last is not None else [])
    if gaps:
        assert facts == {"previously_referred": True, "days_since_last_referral": min(gaps)}
    elif prior_count == 0:
        assert facts == {"previously_referred": False}
    elif prior_count:
        assert facts == {"previously_referred": True}  # when is unknown
    else:
        assert facts == {}  # no history at all: unknown, not "never referred"
