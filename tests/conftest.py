"""Shared fixtures: the shipped rules, a referral builder, the real Cook County data."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
EXAMPLES = REPO / "examples"
# Real public data (attribution in examples/data/README.md).
DATA = EXAMPLES / "data"
COOK_COUNTY = DATA / "cook_county_sao_intake_2019_sample.csv"




KC_DRUG_SALE: dict[str, Any] = {
    "referral_id": "KC-2023-000100",
    "received": "2023-03-14",
    "agency": "Kansas City Missouri Police Department",
    "jurisdiction": "Kansas City",
    "charges": [{"category": "drug_sale", "drug": "marijuana", "quantity_grams": 3.0}],
    "firearm_recovered": False,
    "violence": {"linked_to_violent_incident": False, "victim_injured": False},
    "community_concern": {"documented": False},
    "defendant": {"age": 34},
}


def referral(**changes: Any) -> dict[str, Any]:
    """A complete KC drug-sale referral with no violence and no concern, then `changes`.

    A change whose value is `None` removes the key (the fact becomes unknown); dotted keys
    reach nested objects: referral(**{"violence.victim_injured": None}).
    """
    data = copy.deepcopy(KC_DRUG_SALE)
    for key, value in changes.items():
        *parents, leaf = key.split(".")
        target = data
        for parent in parents:
            target = target.setdefault(parent, {})
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return data


@pytest.fixture(scope="session")
def screener_rules() -> Path:
    return RULES
