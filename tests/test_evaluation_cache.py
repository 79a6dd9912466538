"""The batch fast paths change nothing: evaluation cached per truth vector gives what a fresh
evaluator gives, and `to_log` is exactly `dataclasses.asdict`."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from charging_rules.engine.evaluate import Evaluator
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.model.kinds import parse_record
from tests.helpers import RULES, referral

GUIDELINES = load_guidelines(RULES)
SHARED = Evaluator(GUIDELINES)
maybe = st.sampled_from([True, False, None])
categories = st.sampled_from(["drug_possession", "drug_sale", "violent", "weapon", "property"])


@st.composite
def referrals(draw: Any) -> dict[str, Any]:
    return referral(**{
        "referral_id": f"R-{draw(st.integers(0, 10**6))}",
        "jurisdiction": draw(st.sampled_from(["Kansas City", "Independence"])),
        "charges": [{"category": c, **({"level": "felony"} if draw(st.booleans()) else {})}
                    for c in draw(st.lists(categories, min_size=1, max_size=3))],
        "firearm_recovered": draw(maybe),
        "violence.linked_to_violent_incident": draw(maybe),
        "violence.victim_injured": draw(maybe),
        "community_concern.documented": draw(maybe),
    })


@settings(max_examples=40, deadline=None)
@given(st.lists(referrals(), min_size=1, max_size=12))
def test_cached_evaluation_equals_a_fresh_evaluator(batch: list[dict[str, Any]]) -> None:
    records = [parse_record(r)[0] for r in batch]
    cached = list(SHARED.evaluate_many(records))
    for record, got in zip(records, cached, strict=True):
        fresh = Evaluator(GUIDELINES).evaluate(record)
        assert got == fresh
        assert got.record_id == record.referral_id  # type: ignore[attr-defined]
        assert got.to_log() == dataclasses.asdict(got)
