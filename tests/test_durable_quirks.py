"""durable_rules behaviours the engine adapter works around, reproduced on the real engine.

If a future durable_rules fixes one of these, its test fails and the workaround in
engine/durable.py can be reconsidered.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import durable.engine
import pytest

_names = itertools.count()


def matched(conditions: dict[str, dict[str, Any]], fact: dict[str, Any]) -> set[str]:
    ruleset = durable.engine.Ruleset(
        f"quirk-{next(_names)}", None,
        {name: {"all": [{"m": cond}], "run": lambda c: None} for name, cond in conditions.items()})
    engine = durable.engine.durable_rules_engine
    code, state = engine.assert_fact(ruleset._handle, json.dumps({**fact, "sid": "1"}))
    names: set[str] = set()
    if code == 0:
        message = engine.start_action_for_state(ruleset._handle, state)[1]
        while message:
            names.add(next(iter(json.loads(message))))
            message = engine.complete_and_start_action(ruleset._handle, state)
    return names


def test_or_inside_an_item_quantifier_is_mis_evaluated() -> None:
    # "every charge is not a drug sale, or is over 35 g": true for a 0 g possession charge.
    cond = {"$iall": {"charges": {"$or": [{"$neq": {"$i.category": "drug_sale"}},
                                          {"$gt": {"$i.q": 35}}]}}}
    assert matched({"r": cond}, {"charges": [{"category": "drug_possession", "q": 0}]}) == set()
    # The same test at top level, as the adapter asserts each charge, is right.
    flat = {"$or": [{"$neq": {"category": "drug_sale"}}, {"$gt": {"q": 35}}]}
    assert matched({"r": flat}, {"category": "drug_possession", "q": 0}) == {"r"}


def test_a_comparison_on_a_missing_attribute_never_matches_not_even_neq() -> None:
    assert matched({"eq": {"x": True}, "ne": {"$neq": {"x": True}}}, {"y": 1}) == set()


def test_a_not_exists_rule_also_matches_the_session_state_object() -> None:
    # Hence the marker attribute on every rule of ours.
    assert matched({"r": {"$nex": {"x": 1}}, "s": {"x": 1}}, {"x": 1}) == {"r", "s"}


@pytest.mark.parametrize("number", ["1e-05", "1e+20"])
def test_exponents_without_a_decimal_point_are_refused(number: str) -> None:
    ruleset = durable.engine.Ruleset(f"quirk-{next(_names)}", None,
                                     {"r": {"all": [{"m": {"$lt": {"q": 3}}}], "run": None}})
    with pytest.raises(Exception, match="204"):
        durable.engine.durable_rules_engine.assert_fact(ruleset._handle,
                                                        f'{{"q": {number}, "sid": "1"}}')
