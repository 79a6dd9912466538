"""Impact arithmetic adds up for any mix of referrals and outcomes: what `impact --json`
reports as total, changed, transitions and by_group are counts of one and the same set."""

from __future__ import annotations

from collections import Counter
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st
from pytest import approx

from charging_rules.analysis.groups import identity
from charging_rules.analysis.impact import UNKNOWN_LABEL, compare_outcomes
from charging_rules.analysis.sources import Grouping
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.guidelines.schema import GuidelineSet
from charging_rules.model.kinds import parse_record
from charging_rules.model.recommendation import Recommendation
from charging_rules.model.referral import CHARGING_OUTCOMES, Demographics
from tests.helpers import REPO

RECORD, _ = parse_record({"referral_id": "P-1", "received": "2023-03-14",
                          "jurisdiction": "Kansas City",
                          "charges": [{"category": "drug_possession"}]})


@cache
def guideline_sets() -> tuple[GuidelineSet, GuidelineSet]:
    return (load_guidelines(REPO / "examples/guidelines/before"),
            load_guidelines(REPO / "rules"))


def recommendation(outcome: str) -> Recommendation:
    return Recommendation("P-1", "referral", outcome, [], [], [], [], "set", "0" * 64, [], [])


Row = tuple[str | None, str, str]  # (race or None, baseline outcome, proposed outcome)
rows = st.lists(st.tuples(st.sampled_from(["Black", "White", "Hispanic", "", None]),
                          st.sampled_from(CHARGING_OUTCOMES),
                          st.sampled_from(CHARGING_OUTCOMES)), max_size=60)


@settings(max_examples=150, deadline=None)
@given(rows, st.sampled_from(CHARGING_OUTCOMES))
def test_impact_counts_add_up(data: list[Row], positive: str) -> None:
    items = [(RECORD, None if race is None else Demographics(race=race or None))
             for race, _, _ in data]
    out = compare_outcomes(items, [recommendation(b) for _, b, _ in data],
                           [recommendation(p) for _, _, p in data], *guideline_sets(),
                           Grouping(identity()), positive, min_n=1).to_json()

    expected = Counter(f"{b}->{p}" for _, b, p in data if b != p)
    assert out["total"] == len(data)
    assert out["changed"] == sum(expected.values()) == sum(out["transitions"].values())
    assert out["transitions"] == dict(expected)
    groups = out["by_group"]
    assert sum(g["total"] for g in groups.values()) == out["total"]
    assert sum(g["changed"] for g in groups.values()) == out["changed"]
    assert all(0 <= g["changed"] <= g["total"] for g in groups.values())

    unknown = sum(race in (None, "") for race, _, _ in data)
    assert groups.get(UNKNOWN_LABEL, {"total": 0})["total"] == unknown
    rates = out["rates"]["groups"]
    assert set(rates) == set(groups) - {UNKNOWN_LABEL}
    assert sum(r["n"] for r in rates.values()) == out["total"] - unknown
    for group, rate in rates.items():
        mine = [(b, p) for race, b, p in data if race == group]
        assert rate["n"] == groups[group]["total"] == len(mine)
        assert rate["baseline_rate"] == approx(sum(b == positive for b, _ in mine) / len(mine))
        assert rate["proposed_rate"] == approx(sum(p == positive for _, p in mine) / len(mine))
