"""Disparity on the real Cook County sample: figures match an independent scipy computation,
and the tool says how many rows had no usable race."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import fisher_exact
from scipy.stats.contingency import relative_risk
from typer.testing import CliRunner

from charging_rules.analysis.groups import load_group_map
from charging_rules.cli.app import app
from charging_rules.errors import InputError
from tests.helpers import COOK_COUNTY

# Independent race grouping for the test (same choices as the shipped cook-county map).
GROUPS = {"Black": "Black", "White": "White", "White [Hispanic or Latino]": "Hispanic",
          "HISPANIC": "Hispanic", "White/Black [Hispanic or Latino]": "Hispanic",
          "Asian": "Asian", "Biracial": "Multiracial"}


def _run(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_cook_county_rates_rri_ci_match_scipy() -> None:
    path = COOK_COUNTY
    out = _run("disparity", str(path), "--group", "race", "--group-map", "cook-county",
               "--outcome", "participant_status", "--positive", "Approved",
               "--reference", "White")
    rows = list(csv.DictReader(path.open()))
    counts: dict[str, list[int]] = {}
    unknown = 0
    for row in rows:
        group = GROUPS.get(row["race"])
        if group is None:
            unknown += 1
        elif row["participant_status"]:
            c = counts.setdefault(group, [0, 0])
            c[0] += 1
            c[1] += row["participant_status"] == "Approved"
    assert out["reference"] == "White"
    assert out["excluded"]["unknown_group"] == unknown == 97
    assert out["excluded"]["unknown_group_share"] == pytest.approx(unknown / len(rows))
    ref_n, ref_pos = counts["White"]
    by_group = {g["group"]: g for g in out["groups"]}
    assert set(by_group) == set(counts)
    for group, (n, pos) in counts.items():
        got = by_group[group]
        assert (got["n"], got["positive"]) == (n, pos)
        assert got["rate"] == pytest.approx(pos / n)
        if n < 11:
            assert got["suppressed"] and got["rri"] is None
            continue
        if group == "White":  # the reference: 1 by definition, no interval against itself
            assert (got["rri"], got["ci_low"], got["ci_high"], got["p_value"]) == \
                (1.0, None, None, None)
            continue
        rr = relative_risk(pos, n, ref_pos, ref_n)
        ci = rr.confidence_interval(0.95)
        assert got["rri"] == pytest.approx(rr.relative_risk)
        assert (got["ci_low"], got["ci_high"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
        p = fisher_exact([[pos, n - pos], [ref_pos, ref_n - ref_pos]]).pvalue
        assert got["p_value"] == pytest.approx(p)


def test_terminal_states_rows_without_usable_race() -> None:
    result = CliRunner().invoke(app, [
        "disparity", str(COOK_COUNTY), "--group", "race", "--group-map", "cook-county",
        "--outcome", "participant_status", "--positive", "Approved"])
    assert result.exit_code == 0, result.output
    assert "Unknown/blank group: 97 of 2000 (4.9%) excluded" in " ".join(result.output.split())


def test_stratified_intersectional_and_trend() -> None:
    out = _run("disparity", str(COOK_COUNTY), "--group", "race", "--group-map",
               "cook-county", "--outcome", "participant_status", "--positive", "Approved",
               "--by", "offense_category", "--intersect", "gender", "--date",
               "received_date", "--period", "quarter")
    assert out["reference"] == "White \u00d7 Male"
    assert set(out["period"]["periods"]) == {"2019Q1", "2019Q2", "2019Q3", "2019Q4"}
    narcotics = out["by"]["strata"]["Narcotics"]
    assert 0 < sum(g["n"] for g in narcotics["groups"]) <= 720


def test_unmapped_label_is_a_clear_error(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("race,status\nMartian,Approved\n")
    result = CliRunner().invoke(app, ["disparity", str(table), "--group", "race",
                                      "--group-map", "cook-county", "--outcome", "status",
                                      "--positive", "Approved"])
    assert result.exit_code == 2
    assert "Martian" in result.output and "Traceback" not in result.output


def test_group_map_csv_and_dotted_columns(tmp_path: Path) -> None:
    gmap = tmp_path / "map.csv"
    gmap.write_text("label,group\nB,Black\nW,White\nU,\n")
    table = tmp_path / "t.jsonl"
    rows = [("B", "y")] * 20 + [("W", "n")] * 15 + [("W", "y")] * 15 + [("U", "y")] * 3
    table.write_text("".join(json.dumps({"d": {"race": r}, "o": o}) + "\n" for r, o in rows))
    out = _run("disparity", str(table), "--group", "d.race", "--group-map", str(gmap),
               "--outcome", "o", "--positive", "y")
    groups = {g["group"]: g for g in out["groups"]}
    assert groups["Black"]["rri"] == pytest.approx(2.0)
    assert out["excluded"]["unknown_group"] == 3


def test_representation_of_a_table_against_the_acs_benchmark() -> None:
    out = _run("disparity", str(COOK_COUNTY), "--group", "race", "--group-map",
               "cook-county", "--outcome", "participant_status", "--positive", "Approved",
               "--benchmark", "jackson-county-acs2017")
    rows = {r["group"]: r for r in out["representation"]["groups"]}
    known = 2000 - 97  # every row with a usable race, with or without an outcome
    assert rows["Black"]["n"] == 1339
    assert rows["Black"]["share"] == pytest.approx(1339 / known)
    assert rows["Black"]["representation_index"] == pytest.approx(1339 / known / 0.234)
    assert rows["Multiracial"]["population_share"] is None  # not in the benchmark


def test_json_cells_are_read_as_written(tmp_path: Path) -> None:
    """A JSON `true` outcome is counted by `--positive true`; a row missing a dotted group
    path is unknown (excluded, counted), never a group of its own; a spreadsheet's BOM does
    not hide the first column."""
    table = tmp_path / "t.jsonl"
    rows = [{"p": {"race": "Black"}, "o": True}] * 12 + [{"p": {"race": "White"}, "o": False}] \
        * 12 + [{"p": {"race": "White"}, "o": True}] * 12 + [{"p": {}, "o": True}] * 2
    table.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = _run("disparity", str(table), "--group", "p.race", "--outcome", "o",
               "--positive", "true")
    groups = {g["group"]: g for g in out["groups"]}
    assert set(groups) == {"Black", "White"}
    assert (groups["Black"]["positive"], groups["White"]["positive"]) == (12, 12)
    assert groups["Black"]["rri"] == pytest.approx(2.0)
    assert out["excluded"]["unknown_group"] == 2

    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffrace,o\nBlack,y\nWhite,n\n".encode())
    out = _run("disparity", str(bom), "--group", "race", "--outcome", "o", "--positive", "y")
    assert {g["group"]: g["positive"] for g in out["groups"]} == {"Black": 1, "White": 0}


@pytest.mark.parametrize("reference", ["Martian", "white"])
def test_reference_not_in_the_data_is_an_input_error(tmp_path: Path, reference: str) -> None:
    table = tmp_path / "t.csv"
    table.write_text("race,o\nBlack,y\nWhite,n\n")
    result = CliRunner().invoke(app, ["disparity", str(table), "--group", "race", "--outcome",
                                      "o", "--positive", "y", "--reference", reference])
    assert result.exit_code == 2
    assert f"--reference: {reference!r} is not a group" in result.output
    assert "Black, White" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("option", ["--group-map", "--benchmark"])
def test_yaml_with_an_impossible_date_is_an_input_error(tmp_path: Path, option: str) -> None:
    table = tmp_path / "t.csv"
    table.write_text("race,o\nBlack,y\nWhite,n\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nupdated: 2023-02-30\n")
    result = CliRunner().invoke(app, ["disparity", str(table), "--group", "race", "--outcome",
                                      "o", "--positive", "y", option, str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:" in result.output and "day is out of range" in result.output


def test_by_stratum_summarises_across_strata_first() -> None:
    """~50 offense tables, most under the minimum n, were printed one after another (#15.3):
    a Mantel-Haenszel summary comes first, strata with nothing to compare are one line."""
    args = ["disparity", str(COOK_COUNTY), "--group", "race", "--group-map", "cook-county",
            "--outcome", "participant_status", "--positive", "Approved", "--by",
            "offense_category"]
    text = CliRunner().invoke(app, args).output
    assert text.index("Mantel-Haenszel") < text.index("participant_status = Approved by race")
    assert text.count("offense_category = ") < 15
    assert "Strata with no group of 11 or more to compare" in text
    out = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    black = next(m for m in out["by"]["mantel_haenszel"] if m["group"] == "Black")
    assert black["strata"] >= 2 and 0 < black["rri_mh"] < 5
    assert black["homogeneity_p"] is not None


@pytest.mark.parametrize("text", [
    "groups: {White: [White], Black: [Black]}\nunknown: [Unknown]\nunmapped: keep\n",
    "groups: {White: [White]}\nunmapped: keep\n",
    "groups: {White: [White]}\nunknown: []\nunmapped: unknown\n"])
def test_a_blank_label_is_never_a_group_whatever_the_map_lists(tmp_path: Path,
                                                                text: str) -> None:
    (tmp_path / "map.yaml").write_text(text)
    mapping = load_group_map(tmp_path / "map.yaml")
    for blank in ("", "  ", None):
        assert mapping.group(blank) is None
    assert mapping.group("White") == "White"


@pytest.mark.parametrize(("name", "text", "message"), [
    ("map.yaml", "groups: {White: [5]}\n", "groups.White: a label must be text"),
    ("map.yaml", "groups: {White: [null]}\n", "groups.White: a label must be text"),
    ("map.yaml", "groups: {White: [[x]]}\n", "groups.White: a label must be text"),
    ("map.yaml", "groups: {null: [White]}\n", "a group's name must be text"),
    ("map.yaml", "groups: {White: [White]}\nunknown: [White]\n",
     "'white' is both unknown and in group White"),
    ("map.yaml", "groups: {White: [White]}\nbogus: 1\n", "bogus: unknown key"),
    ("map.yaml", "groups: {White: ['']}\n", "a blank label cannot join group White"),
    ("map.csv", "label,group\nWhite,White\nBlack\n", "map.csv:3: a row needs exactly"),
    ("map.csv", "label,group\nWhite,White,x\n", "map.csv:2: a row needs exactly"),
])
def test_a_group_map_that_says_something_odd_is_refused(tmp_path: Path, name: str,
                                                        text: str, message: str) -> None:
    """A map is a methodological choice printed beside the figures: a short CSV row (it
    silently dropped every Black row), a null label (counted blanks as White) or a label both
    unknown and grouped is refused, naming it."""
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=re.escape(message)):
        load_group_map(tmp_path / name)


def test_a_positive_value_no_row_holds_is_refused_naming_the_values() -> None:
    """A mistyped --positive gave every group a rate of 0 and exit 0."""
    result = CliRunner().invoke(app, ["disparity", str(COOK_COUNTY), "--group", "race",
                                 "--group-map", "cook-county", "--outcome",
                                 "participant_status", "--positive", "Aproved"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "--positive: no row of participant_status holds Aproved" in result.stderr
    assert "Approved" in result.stderr


def test_a_date_that_is_not_one_stops_the_trend_naming_its_line(tmp_path: Path) -> None:
    """Rows with an unreadable date were left out of the trend without a word."""
    table = tmp_path / "t.csv"
    table.write_text("race,o,day\nBlack,y,2019-01-05\nWhite,n,2019-13-45\nWhite,y,\n")
    result = CliRunner().invoke(app, ["disparity", str(table), "--group", "race", "--outcome",
                                 "o", "--positive", "y", "--date", "day", "--period", "month"])
    assert result.exit_code == 2, result.output
    assert f"{table}:3: day: '2019-13-45' is not a date" in result.stderr


@pytest.mark.parametrize(("shares", "message"), [
    ("{Black: 2.5, White: -1}", "shares.White: -1 is not a percent 0-100"),
    ("{Black: true}", "shares.Black: True is not a percent 0-100"),
    ("{Black: '40'}", "shares.Black: '40' is not a percent 0-100"),
    ("[40]", "a benchmark needs `shares: {group: percent 0-100}`")])
def test_a_benchmark_share_out_of_range_is_named(tmp_path: Path, shares: str,
                                                 message: str) -> None:
    (tmp_path / "b.yaml").write_text(f"shares: {shares}\n")
    result = CliRunner().invoke(app, ["disparity", str(COOK_COUNTY), "--group", "race",
                                      "--group-map", "cook-county", "--outcome",
                                      "participant_status", "--positive", "Approved",
                                      "--benchmark", str(tmp_path / "b.yaml")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert message in result.stderr
