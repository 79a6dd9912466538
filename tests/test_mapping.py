"""Export mappings: defaults, constants, value maps; any row is mapped or refused, never a crash."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging_rules.errors import InputError
from charging_rules.ingest.mapping import MappingError, load_mapping
from charging_rules.model.kinds import parse_record
from tests.helpers import COOK_COUNTY, REPO

COOK = load_mapping(REPO / "examples" / "mappings" / "cook_county_intake.yaml")

MAPPING = """\
mapping: test
referral:
  referral_id: {column: id}
  received: {column: date, type: date}
  jurisdiction: {column: city, default: Kansas City}
  agency: {value: Kansas City Missouri Police Department}
  charges[0].category: {column: offense, values: offenses}
  charges[1].category: {column: second, values: offenses}
  violence.victim_injured: {column: hurt, type: boolean}
demographics:
  race: {column: race, values: races}
values:
  offenses: {PCS: drug_possession, " Assault ": violent}
  races: {Black: Black, Unknown: null}
"""


def test_defaults_constants_value_maps_and_blanks(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MAPPING)
    mapping = load_mapping(tmp_path / "m.yaml")
    row = {"id": "R-1", "date": "2023-02-01 08:30:00", "city": " ", "offense": "pcs",
           "second": "assault", "hurt": "", "race": "UNKNOWN"}
    assert mapping.apply(row) == {
        "referral_id": "R-1", "received": "2023-02-01", "jurisdiction": "Kansas City",
        "agency": "Kansas City Missouri Police Department",
        "charges": [{"category": "drug_possession"}, {"category": "violent"}],
    }  # blank hurt: unknown, not false; race Unknown: no demographics at all
    record, demographics = parse_record(mapping.apply({**row, "race": "Black"}))
    assert demographics is not None and demographics.race == "Black"
    assert "race" not in record.model_dump()


cells = st.one_of(st.just(""), st.text(max_size=12),
                  st.sampled_from(["Narcotics", "UUW - Unlawful Use of Weapon", "Chicago",
                                   "CHICAGO PD", "2019-03-04T00:00:00", "34", "-3", "200",
                                   "Black", "HISPANIC", "Male", "1e3", "2999-01-01"]))


# A real row of the sample; rows drawn from it with one cell replaced reach the mapped path
REAL_ROW = {"age_at_incident": "20", "case_participant_id": "1079964612524", "gender": "Male",
            "incident_city": "Chicago", "law_enforcement_agency": "CHICAGO PD",
            "offense_category": "UUW - Unlawful Use of Weapon",
            "race": "White [Hispanic or Latino]", "received_date": "2019-01-01T00:00:00"}
rows = st.one_of(
    st.fixed_dictionaries({c: cells for c in COOK.columns}),
    st.builds(lambda column, cell: {**REAL_ROW, **({column: cell} if column else {})},
              st.one_of(st.none(), st.sampled_from(sorted(REAL_ROW))), cells))


@settings(max_examples=200, deadline=None)
@given(rows)
def test_any_cook_county_row_is_mapped_or_refused_with_a_reason(row: dict[str, str]) -> None:
    try:
        record, _ = parse_record(COOK.apply(row))
    except MappingError as error:
        assert error.field and error.message
        return
    except InputError as error:
        assert ": " in error.message  # names the field
        return
    # Mapped: the referral is this row's, and what the export cannot say stays unknown
    referral = record.model_dump()
    assert referral["referral_id"] == f"CC-{row['case_participant_id'].strip()}"
    assert referral["firearm_recovered"] is None
    for section in ("violence", "community_concern"):
        assert not any((referral[section] or {}).values()), section
    age = row["age_at_incident"].strip()
    assert referral["defendant"] is None or referral["defendant"]["age"] == (
        int(age) if age else None)


def test_the_cook_county_mapping_reads_only_columns_the_export_has() -> None:
    with (COOK_COUNTY).open() as file:
        header = file.readline().strip().split(",")
    COOK.check_header(header, "cook.csv")
    assert "participant_status" not in COOK.columns
    assert "participant_status" in COOK.ignored
    with pytest.raises(InputError, match="race"):
        COOK.check_header([c for c in header if c != "race"], "cook.csv")


NUMBERS = """\
mapping: numbers
referral:
  referral_id: {value: R-1}
  received: {value: "2023-02-01"}
  jurisdiction: {value: Kansas City}
  charges[0].category: {value: drug_sale}
  charges[0].quantity_grams: {column: grams, type: number}
  defendant.age: {column: age, type: integer}
"""


@pytest.mark.parametrize(("column", "cell", "kind"), [
    ("grams", "1_000", "a number"), ("grams", "\uff18", "a number"), ("grams", "nan", "a number"),
    ("grams", "infinity", "a number"), ("grams", "1,5", "a number"), ("grams", "½", "a number"),
    ("age", "2_5", "an integer"), ("age", "\uff12\uff15", "an integer"),
    ("age", "25.0", "an integer"), ("age", "\u0662\u0665", "an integer")])
def test_numbers_are_ascii_digits_as_a_spreadsheet_writes_them(
        tmp_path: Path, column: str, cell: str, kind: str) -> None:
    """Python's int() and float() read "1_000", full-width and Arabic-Indic digits and "nan":
    an officer's cell holding them is refused, not read as a weight or an age."""
    (tmp_path / "m.yaml").write_text(NUMBERS)
    mapping = load_mapping(tmp_path / "m.yaml")
    row = {"grams": "2.5", "age": "25", column: cell}
    with pytest.raises(MappingError, match=f"{column} value .* is not {kind}"):
        mapping.apply(row)


def test_plain_numbers_in_cells_are_read(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(NUMBERS)
    mapping = load_mapping(tmp_path / "m.yaml")
    for grams, expected in (("2.5", 2.5), ("3", 3), ("-0", 0), (".5", 0.5), ("1e2", 100.0)):
        mapped = mapping.apply({"grams": grams, "age": "25"})
        assert mapped["charges"][0]["quantity_grams"] == expected
        assert mapped["defendant"]["age"] == 25


@pytest.mark.parametrize(("rule", "message", "line"), [
    ("firearm_recovered: {column: gun, type: boolean, default: false}",
     "firearm_recovered: a blank cell is unknown, never a default", 8),
    ("defendant.age: {column: age, type: integer, default: 30}",
     "defendant.age: a blank cell is unknown, never a default", 8),
    ('firearm_recovered: {value: "yes"}',
     "firearm_recovered: value -> 'yes' is not true or false", 8),
    ('defendant.age: {value: "2 g"}', "defendant.age: value -> '2 g' is not a number", 8),
    ('offense_date: {value: "2023-02-30"}', "offense_date: value -> '2023-02-30' is not a date",
     8),
    ("agency: {value: 7}", "agency: value -> 7 is not text", 8),
    ("violence.victim_injured: {column: hurt, values: yesno}",
     "violence.victim_injured: M -> 'maybe' is not true or false", 10),
])
def test_what_a_mapping_itself_says_is_checked_when_it_loads(tmp_path: Path, rule: str,
                                                             message: str, line: int) -> None:
    """A constant, default or value-map entry of the wrong type would skip every row: it is
    a load error naming its line. A blank is never given a fact's value: missing is not
    false."""
    text = NUMBERS.replace("  defendant.age: {column: age, type: integer}\n",
                           f"  {rule}\nvalues:\n  yesno: {{Y: true, N: false, M: maybe}}\n")
    (tmp_path / "m.yaml").write_text(text)
    with pytest.raises(InputError, match=re.escape(message)) as refused:
        load_mapping(tmp_path / "m.yaml")
    assert refused.value.line == line
