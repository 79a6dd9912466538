"""The batch fast paths change nothing: evaluation cached per truth vector gives what a fresh
evaluator gives, evaluation without a trace (a batch) recommends what `screen` does, and
`to_log` is `dataclasses.asdict` without what the log does not keep."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging_rules.engine.evaluate import Evaluator
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.guidelines.schema import GuidelineSet
from charging_rules.model.kinds import parse_record
from charging_rules.model.recommendation import Recommendation
from tests.helpers import RULES, manual_referrals, referral, untraced

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
        # the same JSON (to_log gives arrays as lists; asdict keeps the tuples), but lean:
        # no trace and no guideline text, which the archived set and the referral determine
        full = dataclasses.asdict(got)
        lean = {k: v for k, v in full.items() if k != "trace"}
        lean["citations"] = [{k: v for k, v in c.items() if k != "text"}
                             for c in full["citations"]]
        assert json.dumps(got.to_log(), sort_keys=True) == json.dumps(lean, sort_keys=True)


@pytest.fixture(scope="module")
def manual(manual_set: GuidelineSet) -> tuple[Evaluator, Evaluator]:
    """The 30-guideline manual, with a trace (screen) and without (batch: scope first)."""
    return Evaluator(manual_set), Evaluator(manual_set, trace=False)


@pytest.fixture(scope="module")
def manual_at_once(manual_set: GuidelineSet) -> list[Evaluator]:
    """The manual without a trace, all of it asked at once, and scope first without
    reusing cells."""
    return [Evaluator(manual_set, trace=False, scope_first=False),
            Evaluator(manual_set, trace=False, reuse=False)]


UNTRACED = Evaluator(GUIDELINES, trace=False)
SCOPE_FIRST = Evaluator(GUIDELINES, trace=False, scope_first=True)


@settings(max_examples=40, deadline=None)
@given(st.lists(referrals(), min_size=1, max_size=12))
def test_evaluation_without_a_trace_recommends_what_screen_does(
        batch: list[dict[str, Any]]) -> None:
    """Without a trace, the rules of a guideline whose scope is false are not told apart
    (nothing shows them), or not even asked (scope first): outcomes, rules, reasons, missing
    facts, questions and the values shown are still those a traced evaluation gives."""
    records = [parse_record(r)[0] for r in batch]
    screened = untraced(SHARED.evaluate_many(records))
    assert untraced(UNTRACED.evaluate_many(records)) == screened
    assert untraced(SCOPE_FIRST.evaluate_many(records)) == screened


@settings(max_examples=40, deadline=None)
@given(st.lists(manual_referrals(complete=False), min_size=1, max_size=6))
def test_the_manual_without_a_trace_recommends_what_screen_does(
        manual: tuple[Evaluator, Evaluator], batch: list[dict[str, Any]]) -> None:
    records = [parse_record(r)[0] for r in batch]
    traced, batch_like = manual
    got: list[Recommendation] = list(batch_like.evaluate_many(records))
    assert untraced(got) == untraced(traced.evaluate_many(records))
    assert all(r.trace == () for r in got)


@settings(max_examples=25, deadline=None)
@given(st.lists(manual_referrals(complete=False), min_size=1, max_size=6))
def test_the_manual_asked_scope_first_or_at_once_recommends_alike(
        manual: tuple[Evaluator, Evaluator], manual_at_once: list[Evaluator],
        batch: list[dict[str, Any]]) -> None:
    records = [parse_record(r)[0] for r in batch]
    scope_first = list(manual[1].evaluate_many(records))
    for other in manual_at_once:
        assert list(other.evaluate_many(records)) == scope_first


def test_results_sharing_a_truth_vector_share_nothing_mutable() -> None:
    """Two referrals with the same facts get one cached evaluation, copied: neither result can
    be changed, so changing one can never change the other (appending to one record's
    `missing` once changed its neighbour's)."""
    unknown = {"violence.victim_injured": None, "community_concern": None}
    first, second = SHARED.evaluate_many([
        parse_record(referral(referral_id=f"R-{n}", **unknown))[0] for n in (1, 2)])
    assert first.missing and first.missing == second.missing
    for result in (first, second):
        for sequence in (result.rules, result.reasons, result.citations, result.missing,
                         result.guidelines, result.trace, result.counts, result.questions,
                         *(t.rules for t in result.trace),
                         *(r.conditions for t in result.trace for r in t.rules)):
            assert isinstance(sequence, tuple), type(sequence)
    with pytest.raises(AttributeError):
        first.missing.append("x")  # type: ignore[attr-defined]
    assert json.dumps(first.to_json("d")) == json.dumps({**first.to_json("d")})
    assert first.to_json("d")["missing"] == list(first.missing)
