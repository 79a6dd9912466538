"""`charging-rules batch`: every row screened or skipped with its line and reason."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from charging_rules.audit import log
from charging_rules.cli.app import app
from charging_rules.ingest.mapping import load_mapping
from charging_rules.ingest.records import Skipped
from charging_rules.screening.batch import run_batch
from charging_rules.screening.screener import Screener
from tests.helpers import COOK_COUNTY, REPO, RULES, referral

runner = CliRunner()
COOK = COOK_COUNTY
COOK_MAPPING = REPO / "examples" / "mappings" / "cook_county_intake.yaml"


def batch(*args: str | Path, audit: Path | None = None) -> Any:
    logging = ["--audit-dir", str(audit)] if audit else ["--no-log"]
    return runner.invoke(app, ["batch", *map(str, args), "--guidelines", str(RULES), *logging],
                         env={"COLUMNS": "200"})


def test_cook_county_sample_every_row_accounted_for(tmp_path: Path) -> None:
    result = batch(COOK, "--mapping", COOK_MAPPING, "--json", audit=tmp_path / "audit")
    assert result.exit_code == 1  # some rows have no jurisdiction: skipped, so exit 1
    out = json.loads(result.stdout)
    assert set(out) == {"screened", "skipped", "outcomes"}
    assert out["screened"] + out["skipped"] == 2000
    assert sum(out["outcomes"].values()) == out["screened"]
    reported = [line for line in result.stderr.splitlines() if "skipped line" in line]
    assert len(reported) == out["skipped"]
    # Every skip is explained, and here all by the one field the export leaves blank.
    assert all("jurisdiction: required by the referral contract" in r for r in reported)

    records = list(log.read_records(tmp_path / "audit"))
    assert len(records) == out["screened"]
    # The group-committed log is intact, and a batch decision replays under its guidelines.
    verified = runner.invoke(app, ["audit", "verify", "--json", "--audit-dir",
                                   str(tmp_path / "audit")])
    assert verified.exit_code == 0 and json.loads(verified.stdout)["ok"] is True
    replayed = runner.invoke(app, ["audit", "replay", records[-1]["decision_id"],
                                   "--audit-dir", str(tmp_path / "audit")])
    assert replayed.exit_code == 0, replayed.output
    with COOK.open(newline="") as file:
        rows = {f"CC-{r['case_participant_id']}": r for r in csv.DictReader(file)}
    groups = {"Black", "White", "Hispanic", "Asian", "Multiracial", None}
    for record in records:
        row = rows[record["record_id"]]
        assert set(record["referral"]) <= {"referral_id", "received", "agency", "jurisdiction",
                                          "charges", "defendant", "violence",
                                          "community_concern"}
        assert "firearm_recovered" not in record["referral"]  # never invented
        assert (record["demographics"] or {}).get("race") in groups
        if row["offense_category"].startswith("UUW"):
            assert record["referral"]["charges"][0]["category"] == "weapon"
        if row["race"] in ("", "Unknown"):
            assert (record["demographics"] or {}).get("race") is None


def test_cook_county_skip_reasons_are_counted_by_field() -> None:
    skips: list[Skipped] = []
    summary = run_batch(COOK, Screener.open(RULES, None), "analyst", load_mapping(COOK_MAPPING),
                        skips.append)
    assert summary.screened + summary.skipped == 2000
    assert summary.skip_reasons == {"jurisdiction": len(skips)}
    assert len({s.line for s in skips}) == len(skips)
    assert all(2 <= s.line <= 2001 for s in skips)


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows, indent=2))
    else:
        columns = ["referral_id", "received", "agency", "jurisdiction", "defendant.age",
                   "charges[0].category",
                   "charges[0].drug", "firearm_recovered", "violence.victim_injured",
                   "demographics.race"]
        firearm: dict[bool | None, str] = {True: "true", False: "false"}
        with path.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(columns)
            for r in rows:
                flat = {"referral_id": r["referral_id"], "received": r["received"],
                        "jurisdiction": r["jurisdiction"], "agency": r.get("agency", ""),
                        "defendant.age": r.get("defendant", {}).get("age", ""),
                        "charges[0].category": r["charges"][0]["category"],
                        "charges[0].drug": r["charges"][0].get("drug", ""),
                        "firearm_recovered": firearm.get(r.get("firearm_recovered"), ""),
                        "violence.victim_injured": {True: "yes", False: "no"}.get(
                            r.get("violence", {}).get("victim_injured"), ""),
                        "demographics.race": r.get("demographics", {}).get("race", "")}
                writer.writerow([flat[c] for c in columns])
    return path


ROWS = [
    referral(referral_id="R-1"),
    referral(referral_id="R-2", firearm_recovered=True),
    referral(referral_id="R-3", firearm_recovered=None),
    referral(referral_id="R-4", jurisdiction="Independence",
             demographics={"race": "White"}),
]


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv"])
def test_the_three_formats_screen_alike(tmp_path: Path, suffix: str) -> None:
    result = batch(_write(tmp_path / f"in{suffix}", [{k: v for k, v in r.items()
                                                     if k != "community_concern"}
                                                    for r in ROWS]), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"screened": 4, "skipped": 0, "outcomes": {
        "file": 1, "needs_information": 2, "review": 1}}
    assert result.stderr == ""  # no progress bar when not on a terminal


def test_invalid_rows_are_reported_skipped_and_not_logged(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join([
        json.dumps(referral(referral_id="OK-1")),
        "{not json",
        json.dumps(referral(referral_id="BAD-2", firearm_recoverd=True)),
        "",
        json.dumps(referral(referral_id="BAD-4", charges=[{"category": "jaywalking"}])),
        json.dumps(referral(referral_id="OK-5")),
        "[1, 2]",
    ]) + "\n")
    result = batch(source, "--json", audit=tmp_path / "audit")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"screened": 2, "skipped": 4,
                                         "outcomes": {"decline": 2}}
    lines = result.stderr.splitlines()
    assert "line 2: (row): invalid JSON" in lines[0]
    assert "line 3: firearm_recoverd: unknown field" in lines[1]
    assert "line 5: charges[0].category:" in lines[2]
    assert "line 7: (row): expected a JSON object" in lines[3]
    assert [r["record_id"] for r in log.read_records(tmp_path / "audit")] == ["OK-1", "OK-5"]


DEEP = "[" * 100_000 + "]" * 100_000  # valid JSON, nested past the decoder's recursion limit


@pytest.mark.parametrize(("name", "content", "skip"), [
    ("in.jsonl", f"{json.dumps(referral())}\n{DEEP}\n", "line 2: (row): invalid JSON: nested "
     "too deeply"),
    ("in.json", f"[{json.dumps(referral())},\n{DEEP}]", "line 2: (row): invalid JSON: nested "
     "too deeply"),
    # A second array appended to the file: its rows would otherwise go unread, unreported.
    ("in.json", f"[{json.dumps(referral())}]\n[{json.dumps(referral())}]",
     "line 2: (row): invalid JSON: more data after the closing ']'"),
])
def test_unreadable_json_is_a_skipped_row_not_a_crash(tmp_path: Path, name: str, content: str,
                                                      skip: str) -> None:
    (tmp_path / name).write_text(content)
    result = batch(tmp_path / name, "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["screened"] == 1
    assert skip in result.stderr


def test_a_broken_json_array_keeps_the_rows_before_and_reports_where(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    good = json.dumps([referral(referral_id="A-1"), referral(referral_id="A-2")], indent=1)
    source.write_text(good[:-1] + ",\n {\"referral_id\": oops}\n]")
    result = batch(source, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["screened"] == 2
    last_line = len(good.splitlines()) + 1  # the element after the last good one
    assert f"line {last_line}: (row): invalid JSON" in result.stderr


@pytest.mark.parametrize(("name", "content", "message"), [
    ("in.txt", "x", "unsupported input format"),
    ("in.json", '{"referral_id": "X"}', "must be an array"),
    ("in.csv", "referral_id,colour\nR-1,red\n", "column 'colour' is not a referral field"),
    # Past the model's 100 charges: refused up front, not a list of 10^9 charges built.
    ("in.csv", "referral_id,charges[999999999].category\nR-1,violent\n",
     "column 'charges[999999999].category' is not a referral field"),
    ("in.csv", "referral_id,received,referral_id\nR-1,2023-01-01,R-2\n",
     "in.csv:1: column(s) named twice: referral_id"),
])
def test_a_bad_file_is_exit_2_and_nothing_is_logged(tmp_path: Path, name: str, content: str,
                                                    message: str) -> None:
    (tmp_path / name).write_text(content)
    result = batch(tmp_path / name, audit=tmp_path / "audit")
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "audit").exists()


def _mapping(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "map.yaml"
    path.write_text(body)
    return path


MAPPING = """\
mapping: test
referral:
  referral_id: {column: id, template: "T-{}"}
  received: {column: date, type: date}
  jurisdiction: {column: city}
  charges[0].category: {column: offense, values: offenses}
  firearm_recovered: {column: gun, type: boolean}
values:
  offenses:
    PCS: drug_possession
    Assault: violent
"""


def test_a_value_missing_from_a_value_map_is_reported_not_guessed(tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    # Starts with a byte-order mark, as spreadsheet exports often do: not part of "id".
    source.write_text("\ufeffid,date,city,offense,gun\n1,2023-01-05T10:00:00,Kansas City,pcs,no\n"
                      "2,2023-01-06,Kansas City,Jaywalking,\n3,2023-01-07,Kansas City,PCS,maybe\n")
    result = batch(source, "--mapping", _mapping(tmp_path, MAPPING), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["screened"] == 1
    assert "line 3: charges[0].category: offense value 'Jaywalking' is not in value map " \
           "'offenses'" in result.stderr
    assert "line 4: firearm_recovered: gun value 'maybe' is not a boolean" in result.stderr


@pytest.mark.parametrize(("body", "message"), [
    (MAPPING.replace("violent", "violence"), "map.yaml:11: charges[0].category: "
     "Assault -> 'violence' is not one of"),
    (MAPPING.replace("  firearm_recovered", "  firearm_found"), "map.yaml:7: referral: "
     "'firearm_found' is not a field"),
    (MAPPING.replace("  jurisdiction: {column: city}\n", ""), "no rule for required field "
     "'jurisdiction'"),
    (MAPPING.replace("mapping: test", "mapping: test\ncolumns: 3"), "map.yaml:2: columns: "
     "unknown key"),
    (MAPPING.replace("charges[0]", "charges[100]"), "map.yaml:6: referral: "
     "'charges[100].category' is not a field"),
    (MAPPING.replace("{column: city}", "{first_of: []}"), "map.yaml:5: "
     "referral.jurisdiction.first_of: List should have at least 1 item"),
    # YAML that PyYAML itself cannot build: still file:line, never a traceback
    (MAPPING.replace("    PCS:", "    [PCS]:"), "map.yaml:10: a key must be a plain value"),
    (MAPPING.replace("mapping: test", "mapping: test\ndescription: 2023-02-30"),
     "map.yaml:2: invalid value '2023-02-30': day is out of range"),
    (MAPPING.replace("mapping: test", "mapping: test\ndescription: !!python/name:os.system"),
     "map.yaml:2: invalid value '': could not determine a constructor"),
])
def test_a_bad_mapping_is_exit_2_with_file_and_line(tmp_path: Path, body: str,
                                                    message: str) -> None:
    source = tmp_path / "export.csv"
    source.write_text("id,date,city,offense,gun\n1,2023-01-05,Kansas City,PCS,no\n")
    result = batch(source, "--mapping", _mapping(tmp_path, body))
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def test_a_mapping_naming_an_absent_column_fails_before_any_row(tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_text("id,date,town,offense,gun\n1,2023-01-05,Kansas City,PCS,no\n")
    result = batch(source, "--mapping", _mapping(tmp_path, MAPPING), audit=tmp_path / "audit")
    assert result.exit_code == 2
    assert "reads column(s) the input does not have: city" in result.stderr
    assert not (tmp_path / "audit").exists()


def test_a_user_name_that_is_not_utf8_is_exit_2_and_nothing_is_logged(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 in argv (a mis-set locale) arrive as lone surrogates."""
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(referral()) + "\n")
    result = batch(source, "--user", "\udcff", audit=tmp_path / "audit")
    assert result.exit_code == 2 and "not valid UTF-8" in result.stderr
    assert not list(log.read_records(tmp_path / "audit"))


def test_an_audit_dir_that_is_a_file_is_exit_2_and_the_file_is_untouched(
        tmp_path: Path) -> None:
    source, not_a_dir = tmp_path / "in.jsonl", tmp_path / "notes.txt"
    source.write_text(json.dumps(referral()) + "\n")
    not_a_dir.write_text("mine")
    result = batch(source, audit=not_a_dir)
    assert result.exit_code == 2 and "notes.txt: not a directory" in result.stderr
    assert not_a_dir.read_text() == "mine"


def test_out_writes_one_line_per_referral_with_its_decision_id(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    rows = [referral(referral_id="KC-1", firearm_recovered=True),
            referral(referral_id="KC-2"), {"referral_id": "bad"},
            referral(referral_id="IND-3", jurisdiction="Independence")]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "results.jsonl"
    audit = tmp_path / "audit"
    result = batch(source, "--out", out, audit=audit)
    assert result.exit_code == 1  # the bad row is skipped, and said so
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["referral_id"], r["outcome"]) for r in lines] == [
        ("KC-1", "file"), ("KC-2", "decline"), ("IND-3", "review")]
    logged = {r["decision_id"]: r["record_id"] for r in log.read_records(audit)}
    assert {r["decision_id"]: r["referral_id"] for r in lines} == logged
    screened = json.loads(runner.invoke(app, ["screen", str(_file(tmp_path, rows[0])),
                                              "--guidelines", str(RULES), "--no-log",
                                              "--json"]).stdout)
    assert set(lines[0]) == set(screened)  # a line is what `screen --json` prints
    # no guideline was in scope for IND-3: the fallback decided, and the summary says so
    assert re.search(r"fallback: no guideline in scope\s*│\s*1\s*│", result.stdout)


def _file(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(data))
    return path


def test_out_that_cannot_be_written_is_one_line_before_anything_is_screened(
        tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(referral()) + "\n")
    result = batch(source, "--out", tmp_path / "no" / "such" / "r.jsonl",
                   audit=tmp_path / "audit")
    assert result.exit_code == 2 and "cannot write" in result.stderr
    assert not log.segments(tmp_path / "audit")
