"""Asking durable_rules once per cell of the fact space and reusing its answer gives exactly
what asking it about every referral gives (the reuse switch: Evaluator(reuse=False), or
CHARGING_RULES_REUSE_CELLS=0)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging_rules.engine.evaluate import REUSE_ENV, Evaluator
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.guidelines.schema import GuidelineSet
from charging_rules.model.kinds import parse_record
from tests.helpers import RULES, facts, manual_referrals, referral

SHIPPED = load_guidelines(RULES)
REUSING = Evaluator(SHIPPED, reuse=True)
ASKING = Evaluator(SHIPPED, reuse=False)


@pytest.fixture(scope="session")
def manual(manual_set: GuidelineSet) -> tuple[Evaluator, Evaluator]:
    """The 30-guideline manual, reusing and asking every time."""
    return Evaluator(manual_set, reuse=True), Evaluator(manual_set, reuse=False)


@settings(max_examples=80, deadline=None)
@given(st.lists(facts, min_size=1, max_size=8), st.lists(st.one_of(st.none(),
                                                                    st.integers(0, 120))))
def test_reusing_durable_rules_answers_per_cell_changes_no_recommendation(
        batch: list[dict[str, Any]], ages: list[int | None]) -> None:
    records = []
    for i, changes in enumerate(batch):
        data = referral(**changes, referral_id=f"R-{i}")
        if i < len(ages) and ages[i] is not None:
            data["defendant"] = {"age": ages[i]}
        records.append(parse_record(data)[0])
    assert list(REUSING.evaluate_many(records)) == list(ASKING.evaluate_many(records))


@settings(max_examples=30, deadline=None)  # complete: no questions, each asked once
@given(st.lists(manual_referrals(complete=True), min_size=1, max_size=4))
def test_reuse_on_the_30_guideline_manual_changes_no_recommendation(
        manual: tuple[Evaluator, Evaluator], batch: list[dict[str, Any]]) -> None:
    records = [parse_record(data)[0] for data in batch]
    reusing, asking = manual
    assert list(reusing.evaluate_many(records)) == list(asking.evaluate_many(records))


@pytest.mark.parametrize(("value", "reuse"), [("0", False), ("1", True), (None, True)])
def test_the_environment_switches_reuse_off(monkeypatch: pytest.MonkeyPatch, value: str | None,
                                            reuse: bool) -> None:
    if value is None:
        monkeypatch.delenv(REUSE_ENV, raising=False)
    else:
        monkeypatch.setenv(REUSE_ENV, value)
    assert Evaluator(SHIPPED).reuses_cells is reuse
