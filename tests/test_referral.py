"""The referral contract: what is accepted, what is refused and how the refusal reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from charging_rules.errors import InputError
from charging_rules.model.kinds import load_record_file, parse_record
from charging_rules.model.referral import Referral
from tests.helpers import EXAMPLES, MALFORMED, referral


def test_every_example_referral_is_valid() -> None:
    files = sorted((EXAMPLES / "referrals").glob("*.json"))
    assert len(files) >= 5
    for file in files:
        record, _ = load_record_file(file)
        assert isinstance(record, Referral)


def test_demographics_are_split_off_and_never_part_of_the_referral() -> None:
    record, demographics = parse_record(
        referral(demographics={"race": "Black", "ethnicity": "Not Hispanic", "sex": "Male"}))
    assert demographics is not None and demographics.race == "Black"
    assert "demographics" not in Referral.model_fields
    assert "Black" not in record.model_dump_json()


def test_only_required_fields_is_a_valid_referral_with_unknowns() -> None:
    record, demographics = parse_record({
        "referral_id": "KC-1", "received": "2023-01-02", "jurisdiction": "Kansas City",
        "charges": [{"category": "drug_possession"}]})
    assert isinstance(record, Referral)
    assert record.firearm_recovered is None and demographics is None




@pytest.mark.parametrize(("data", "expected"), [(d, e) for _, d, e in MALFORMED],
                         ids=[name for name, _, _ in MALFORMED])
def test_malformed_referrals_are_refused_naming_the_field(data: object, expected: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_record(data, source="r.json")
    message = str(caught.value)
    assert message.startswith("r.json: ")
    assert expected in message
    assert "\n" not in message


def test_json_syntax_errors_name_the_line(tmp_path: Path) -> None:
    file = tmp_path / "r.json"
    file.write_text('{\n  "referral_id": "KC-1",\n  "received": \n}\n')
    with pytest.raises(InputError) as caught:
        load_record_file(file)
    assert str(caught.value).startswith(f"{file}:4: invalid JSON")


def test_a_json_array_is_not_a_referral(tmp_path: Path) -> None:
    file = tmp_path / "r.json"
    file.write_text(json.dumps([referral()]))
    with pytest.raises(InputError, match="expected a JSON object, got an array"):
        load_record_file(file)
