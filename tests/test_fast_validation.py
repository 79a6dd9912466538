"""`batch` validates .jsonl lines straight from their text (no dict in between); whatever
that fast path accepts, the ordinary path (json.loads, split off the demographics, validate)
accepts as the same record and demographics; what it refuses goes the ordinary way."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from charging_rules.errors import InputError
from charging_rules.model.kinds import KINDS, parse_record, parse_record_json
from tests.helpers import referral

REFERRAL = KINDS["referral"]
odd_values = st.one_of(st.none(), st.booleans(), st.integers(-2, 200), st.floats(allow_nan=False),
                       st.text(max_size=6), st.sampled_from(["2023-02-30", "2023-01-01T00:00",
                                                             " Kansas City ", "drug_sale"]),
                       st.lists(st.integers(0, 3), max_size=2))
paths = st.sampled_from(["received", "jurisdiction", "referral_id", "firearm_recovered",
                         "defendant.age", "violence.victim_injured", "community_concern.source",
                         "demographics.race", "demographics", "extra", "charges",
                         "defendant"])


@st.composite
def lines(draw: Any) -> str:
    data = referral(referral_id=f"R-{draw(st.integers(0, 99))}")
    data["charges"] = [{"category": draw(st.sampled_from(["drug_sale", "weapon"])),
                        "quantity_grams": draw(st.one_of(st.integers(0, 5), st.floats(0, 9)))}]
    if draw(st.booleans()):
        data["demographics"] = {"race": "Black", "sex": "Female"}
    for path, value in draw(st.lists(st.tuples(paths, odd_values), max_size=2)):
        *parents, leaf = path.split(".")
        target = data
        for parent in parents:
            if not isinstance(target.get(parent), dict):
                target[parent] = {}
            target = target[parent]
        target[leaf] = value
    text = json.dumps(data, ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):  # a key twice: both readers keep the last
        text = text[:-1] + ', "jurisdiction": "Independence"}'
    return text


@settings(max_examples=400, deadline=None)
@given(lines())
def test_the_fast_path_accepts_only_what_the_ordinary_path_accepts_as_the_same_record(
        text: str) -> None:
    fast = parse_record_json(text, REFERRAL)
    try:
        slow = parse_record(json.loads(text))
    except InputError:
        assert fast is None
        return
    assert fast is not None  # a valid line is not sent the slow way
    assert type(fast[0]) is type(slow[0]) and fast[0] == slow[0]
    assert fast[0].model_dump() == slow[0].model_dump()
    assert fast[0].model_fields_set == slow[0].model_fields_set
    assert fast[1] == slow[1]
