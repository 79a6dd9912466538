"""The referral contract: what is accepted, what is refused and how the refusal reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging_rules.errors import InputError
from charging_rules.model.facts import vocabulary
from charging_rules.model.kinds import KINDS, load_record_file, parse_record
from charging_rules.model.referral import Referral
from tests.helpers import EXAMPLES, MALFORMED, SURVIVOR, referral


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


# Every number the contracts hold, where it sits in a record of each kind.
_NUMBER_FIELDS = [("referral", ("charges", 0, "quantity_grams")),
                  ("referral", ("defendant", "age")),
                  *[("victim", (name,)) for name in ("victim_age", "days_since_last_referral",
                                                     "days_since_family_referral")]]


def test_the_property_test_covers_every_number_field() -> None:
    listed = {(kind, ".".join(p for p in path if isinstance(p, str)).replace(
        "charges.", "")) for kind, path in _NUMBER_FIELDS}
    for name, kind in KINDS.items():
        words = vocabulary(kind.model)
        numbers = {p for p, s in words.fields.items() if s.kind == "number"}
        numbers |= {p for fields in words.collections.values()
                    for p, s in fields.items() if s.kind == "number"}
        assert numbers == {path for listed_kind, path in listed if listed_kind == name}


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(_NUMBER_FIELDS),
       value=st.one_of(st.integers(), st.integers(min_value=10**300, max_value=10**400),
                       st.integers(max_value=-(10**300), min_value=-(10**400)), st.floats()))
def test_any_number_in_a_number_field_is_accepted_or_refused_naming_it(
        field: tuple[str, tuple[str | int, ...]], value: float) -> None:
    """A 400-digit integer where a weight is expected is bad input (exit 2, the field
    named), never an overflow inside the validator."""
    kind, path = field
    data: dict[str, Any] = referral() if kind == "referral" else dict(SURVIVOR)
    target: Any = data
    for step in path[:-1]:
        target = target.setdefault(step, {}) if isinstance(step, str) else target[step]
    target[path[-1]] = value
    try:
        parse_record(data, kind)
    except InputError as error:
        assert str(path[-1]) in str(error)


def test_a_byte_order_mark_is_read_past_as_batch_reads_it(tmp_path: Path) -> None:
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(referral()), encoding="utf-8")
    marked = tmp_path / "marked.json"
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    assert load_record_file(marked) == load_record_file(plain)
