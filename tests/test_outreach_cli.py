"""`charging-rules outreach import|status|record` as the Crime Strategies Unit runs them:
real files, the real engine, the real audit log."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from charging_rules.audit import log
from charging_rules.cli.app import app
from tests.helpers import EXAMPLES, REPO, RULES

runner = CliRunner()
YEAR = EXAMPLES / "outreach"
HEADER = ("week,incident_id,victim_id,incident_date,victim_age,fatal,victim_contact_available,"
          "family_contact_available,prior_referral_count,last_referral_date,race,ethnicity,sex")


def outreach(tmp: Path, *args: str | Path) -> Result:
    common = ["--audit-dir", str(tmp / "audit")]
    command, rest = str(args[0]), [str(a) for a in args[1:]]
    if command == "import":
        common += ["--guidelines", str(RULES), "--out", str(tmp / "lists")]
    return runner.invoke(app, ["outreach", command, *rest, *common])


def log_lines(tmp: Path) -> list[dict[str, Any]]:
    audit = tmp / "audit"
    files = sorted(audit.rglob("*.jsonl")) if audit.exists() else []
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line]


def week_file(tmp: Path, name: str, *rows: str) -> Path:
    path = tmp / name
    path.write_text("\n".join((HEADER, *rows)) + "\n")
    return path


def row(week: str, incident: str, victim: str, day: str, fatal: str = "false",
        contact: str = "true", family: str = "", prior: str = "0", last: str = "",
        race: str = "Black", age: str = "30") -> str:
    return f"{week},{incident},{victim},{day},{age},{fatal},{contact},{family},{prior},{last}," \
           f"{race},Not Hispanic,Male"


def imported(tmp: Path, *paths: Path) -> dict[str, Any]:
    result = outreach(tmp, "import", *paths, "--json")
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def outcomes_by_record(tmp: Path) -> dict[str, str]:
    return {r["record_id"]: r["result"]["outcome"] for r in log_lines(tmp)
            if r["kind"] == "recommendation"}


def test_a_week_is_evaluated_logged_and_listed_for_the_hub(tmp_path: Path) -> None:
    week = week_file(tmp_path, "w10.csv",
                     row("2023-W10", "I-1", "V-1", "2023-03-06"),
                     row("2023-W10", "I-2", "V-2", "2023-03-07", fatal="true", contact="",
                         family="true"),
                     row("2023-W10", "I-3", "V-3", "2023-03-08", contact="", family="false"),
                     row("2023-W10", "I-4", "V-4", "2023-03-09", prior="1",
                         last="2023-02-01"))
    out = imported(tmp_path, week)
    assert out["victims"] == 4 and out["referrals"] == 2
    assert outcomes_by_record(tmp_path) == {
        "I-1/V-1": "refer_now", "I-2/V-2": "refer_family", "I-3/V-3": "needs_information",
        "I-4/V-4": "already_referred"}
    records = log_lines(tmp_path)
    assert [r["kind"] for r in records] == ["outreach_import"] + ["recommendation"] * 4
    victim = next(r for r in records if r.get("record_id") == "I-1/V-1")
    # What the shared `disparity` command reads: kind, record_kind, demographics, outcome.
    assert victim["record_kind"] == "victim"
    assert victim["demographics"] == {"race": "Black", "ethnicity": "Not Hispanic",
                                      "sex": "Male"}
    assert "race" not in victim["referral"]
    assert victim["referral"]["previously_referred"] is False
    hub = list(csv.DictReader((tmp_path / "lists" / "2023-W10-hub-referrals.csv").open()))
    assert [(r["victim_id"], r["reach_out_to"]) for r in hub] == [("V-1", "victim"),
                                                                  ("V-2", "family")]
    assert hub[0]["decision_id"] == victim["decision_id"]
    chase = list(csv.DictReader((tmp_path / "lists" / "2023-W10-needs-information.csv").open()))
    assert [(r["victim_id"], r["missing"]) for r in chase] == [("V-3",
                                                                "victim_contact_available")]


def test_the_same_week_is_refused_by_id_and_by_content_and_nothing_is_appended(
        tmp_path: Path) -> None:
    first = week_file(tmp_path, "w10.csv", row("2023-W10", "I-1", "V-1", "2023-03-06"))
    imported(tmp_path, first)
    before = log_lines(tmp_path)
    same_week = week_file(tmp_path, "w10-corrected.csv",
                          row("2023-W10", "I-9", "V-9", "2023-03-07"))
    again = outreach(tmp_path, "import", same_week)
    assert again.exit_code == 2
    assert "week 2023-W10 was already imported (from w10.csv" in again.stderr
    renamed = tmp_path / "copy.csv"
    renamed.write_bytes(first.read_bytes())
    copy = outreach(tmp_path, "import", renamed)
    assert copy.exit_code == 2
    assert "already imported" in copy.stderr
    # Twice in one command: refused before anything is written.
    other = week_file(tmp_path, "w11.csv", row("2023-W11", "I-5", "V-5", "2023-03-13"))
    twice = outreach(tmp_path, "import", other, other)
    assert twice.exit_code == 2 and "same week" in twice.stderr
    assert log_lines(tmp_path) == before
    assert sorted(p.name for p in (tmp_path / "lists").iterdir()) == [
        "2023-W10-hub-referrals.csv"]


def test_a_bad_row_rejects_the_whole_week_naming_file_line_and_field(tmp_path: Path) -> None:
    week = week_file(tmp_path, "bad.csv",
                     row("2023-W10", "I-1", "V-1", "2023-03-06"),
                     row("2023-W10", "I-2", "V-2", "2023-03-07", fatal="maybe"),
                     row("2023-W10", "I-3", "V-3", "2023-03-99"))
    result = outreach(tmp_path, "import", week)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert f"{week}:3: fatal: expected true/false" in result.stderr
    assert "and 1 more bad rows, at lines 4" in result.stderr
    assert "the week was not imported" in result.stderr
    assert "Traceback" not in result.output
    assert log_lines(tmp_path) == []
    assert not (tmp_path / "lists").exists()


@pytest.mark.parametrize(("cells", "message"), [
    (row("2023-W10", "I-1", "V-1", "2023-03-20"), "incident_date: 2023-03-20 is after week"),
    (row("2023-W53", "I-1", "V-1", "2023-03-06"), "week: '2023-W53': 2023 has no ISO week 53"),
    (row("2023-W10", "I-1", "V-1", "2023-03-06", prior="0", last="2023-01-01"),
     "prior_referral_count is 0 but last_referral_date is given"),
    (row("2023-W10", "I 1", "V-1", "2023-03-06"), "incident_id: String should match"),
    (row("2023-W10", "I-1", "V-1", "2023-03-06") + ",extra", "expected 13 cells"),
])
def test_row_errors_name_the_line_and_the_field(tmp_path: Path, cells: str,
                                                 message: str) -> None:
    result = outreach(tmp_path, "import", week_file(tmp_path, "w.csv", cells))
    assert result.exit_code == 2
    assert ":2: " in result.stderr and message in result.stderr
    assert log_lines(tmp_path) == []


def test_blank_rows_from_a_spreadsheet_are_not_victims(tmp_path: Path) -> None:
    """Spreadsheets save trailing rows of empty cells (",,,,") and blank lines; they list
    nobody, so they neither reject the week nor count as victims."""
    path = week_file(tmp_path, "w.csv", row("2023-W14", "I1", "V1", "2023-04-03"),
                     ",,,,,,,,,,,,", "   ", ",,,,,,,,,,,,")
    assert imported(tmp_path, path)["victims"] == 1


def test_an_unknown_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text(HEADER.replace("fatal", "fatality") + "\n")
    result = outreach(tmp_path, "import", path)
    assert result.exit_code == 2 and "unknown column 'fatality'" in result.stderr


def test_a_victim_referred_twice_within_the_window_is_already_referred(tmp_path: Path) -> None:
    # Referred in week 10; shot again 30 days later (week 14) and 120 days later (week 27).
    imported(tmp_path, week_file(tmp_path, "w10.csv", row("2023-W10", "I-1", "V-1",
                                                          "2023-03-06")))
    # The hub's report lags (prior_referral_count 0): the log is the source of truth.
    imported(tmp_path, week_file(tmp_path, "w14.csv", row("2023-W14", "I-2", "V-1",
                                                          "2023-04-05")))
    imported(tmp_path, week_file(tmp_path, "w27.csv", row("2023-W27", "I-3", "V-1",
                                                          "2023-07-03", prior="1")))
    assert outcomes_by_record(tmp_path) == {
        "I-1/V-1": "refer_now", "I-2/V-1": "already_referred", "I-3/V-1": "refer_now"}
    facts = {r["record_id"]: r["referral"] for r in log_lines(tmp_path)
             if r["kind"] == "recommendation"}
    assert facts["I-2/V-1"]["days_since_last_referral"] == 30
    # 120 days after the last *referral* (I-1); the already_referred listing is not one.
    assert facts["I-3/V-1"]["days_since_last_referral"] == 119


def test_twice_in_one_week_the_second_listing_is_already_referred(tmp_path: Path) -> None:
    imported(tmp_path, week_file(tmp_path, "w.csv",
                                 row("2023-W10", "I-2", "V-1", "2023-03-09"),
                                 row("2023-W10", "I-1", "V-1", "2023-03-06")))
    assert outcomes_by_record(tmp_path) == {"I-1/V-1": "refer_now",
                                            "I-2/V-1": "already_referred"}


def test_no_history_is_unknown_not_never_referred(tmp_path: Path) -> None:
    imported(tmp_path, week_file(tmp_path, "w.csv", row("2023-W10", "I-1", "V-1", "2023-03-06",
                                                        prior="")))
    record = next(r for r in log_lines(tmp_path) if r["kind"] == "recommendation")
    assert "previously_referred" not in record["referral"]
    assert record["result"]["outcome"] == "needs_information"
    assert record["result"]["missing"] == ["days_since_last_referral", "previously_referred"]


def hub_routes(tmp: Path) -> dict[str, tuple[str, str]]:
    """(outcome, reach_out_to) by incident/victim, from every hub list written."""
    return {f"{r['incident_id']}/{r['victim_id']}": (r["outcome"], r["reach_out_to"])
            for path in sorted((tmp / "lists").glob("*-hub-referrals.csv"))
            for r in csv.DictReader(path.open())}


def chase_rows(tmp: Path) -> dict[str, dict[str, str]]:
    return {f"{r['incident_id']}/{r['victim_id']}": r
            for path in sorted((tmp / "lists").glob("*-needs-information.csv"))
            for r in csv.DictReader(path.open())}


def logged_routes(tmp: Path) -> dict[str, str | None]:
    return {r["record_id"]: r["result"]["reach_out_to"] for r in log_lines(tmp)
            if r["kind"] == "recommendation"}


def test_a_survivor_killed_later_has_the_family_referred_within_the_window(
        tmp_path: Path) -> None:
    # Referred as a survivor on 6 March; killed on 5 April (30 days: inside the window that
    # holds a second call to the survivor); a survivor of 7 March who dies of the wounds,
    # listed again for the same incident; then the first death listed once more.
    imported(tmp_path, week_file(tmp_path, "w10.csv",
                                 row("2023-W10", "I-1", "V-1", "2023-03-06"),
                                 row("2023-W10", "I-2", "V-2", "2023-03-07")))
    imported(tmp_path, week_file(tmp_path, "w14.csv",
                                 row("2023-W14", "I-3", "V-1", "2023-04-05", fatal="true",
                                     contact="", family="true", prior="1",
                                     last="2023-03-06"),
                                 row("2023-W14", "I-2", "V-2", "2023-03-07", fatal="true",
                                     contact="", family="true")))
    imported(tmp_path, week_file(tmp_path, "w15.csv",
                                 row("2023-W15", "I-3", "V-1", "2023-04-05", fatal="true",
                                     contact="", family="true", prior="2")))
    assert outcomes_by_record(tmp_path) == {
        "I-1/V-1": "refer_now", "I-2/V-2": "refer_family", "I-3/V-1": "already_referred"}
    assert hub_routes(tmp_path) == {"I-1/V-1": ("refer_now", "victim"),
                                    "I-2/V-2": ("refer_family", "family"),
                                    "I-3/V-1": ("refer_family", "family")}
    week15 = [r for r in log_lines(tmp_path) if r.get("outreach", {}).get("week") == "2023-W15"]
    assert week15[0]["result"]["rules"] == ["outreach-family-already-referred"]


def test_blank_hub_history_does_not_hold_a_homicide_family(tmp_path: Path) -> None:
    imported(tmp_path, week_file(tmp_path, "w.csv",
                                 row("2023-W10", "I-1", "V-1", "2023-03-06", fatal="true",
                                     contact="", family="true", prior=""),
                                 row("2023-W10", "I-2", "V-2", "2023-03-06", prior="")))
    # The survivor with a blank history still waits for it: a second call within 90 days
    # is what the window prevents, and the hub's columns are the only source before the log.
    assert outcomes_by_record(tmp_path) == {"I-1/V-1": "refer_family",
                                            "I-2/V-2": "needs_information"}
    assert hub_routes(tmp_path) == {"I-1/V-1": ("refer_family", "family")}


def test_a_victim_under_18_is_never_called_directly(tmp_path: Path) -> None:
    imported(tmp_path, week_file(tmp_path, "w.csv",
                                 row("2023-W10", "I-1", "V-1", "2023-03-06", age="17",
                                     family="true"),
                                 row("2023-W10", "I-2", "V-2", "2023-03-06", age="17",
                                     family="false"),
                                 row("2023-W10", "I-3", "V-3", "2023-03-06", age="18",
                                     family="true"),
                                 row("2023-W10", "I-4", "V-4", "2023-03-06", age="")))
    assert hub_routes(tmp_path) == {"I-1/V-1": ("refer_now", "guardian"),
                                    "I-3/V-3": ("refer_now", "victim")}
    assert logged_routes(tmp_path) == {"I-1/V-1": "guardian", "I-2/V-2": None,
                                       "I-3/V-3": "victim", "I-4/V-4": None}
    chase = chase_rows(tmp_path)
    assert chase["I-2/V-2"]["rules"] == "outreach-minor-needs-guardian-contact"
    assert "parent's or guardian's contact" in chase["I-2/V-2"]["reason"]
    assert chase["I-4/V-4"]["missing"] == "family_contact_available, victim_age"
    # The engine's questions, worded for the list and naming whom to ask.
    assert "How old is the victim (under 18, the hub calls a parent or guardian)? (ask KCPD)" \
        in chase["I-4/V-4"]["questions"]


def test_a_survivor_reachable_only_through_family_goes_the_family_route(
        tmp_path: Path) -> None:
    imported(tmp_path, week_file(tmp_path, "w.csv",
                                 row("2023-W10", "I-1", "V-1", "2023-03-06", contact="false",
                                     family="true"),
                                 row("2023-W10", "I-2", "V-2", "2023-03-06", contact="false",
                                     family="false")))
    assert hub_routes(tmp_path) == {"I-1/V-1": ("refer_now", "family")}
    assert chase_rows(tmp_path)["I-2/V-2"]["rules"] == ""  # the set's fallback: ask KCPD


def test_a_victim_listed_alive_after_a_fatal_listing_is_flagged_and_held(
        tmp_path: Path) -> None:
    imported(tmp_path, week_file(tmp_path, "w10.csv",
                                 row("2023-W10", "I-1", "V-1", "2023-03-06", fatal="true",
                                     contact="", family="true"),
                                 # Same week: shot on the 7th and survived, killed on the 9th.
                                 row("2023-W10", "I-3", "V-3", "2023-03-09", fatal="true",
                                     contact="", family="true"),
                                 row("2023-W10", "I-2", "V-3", "2023-03-07"),
                                 # Same week: killed on the 6th, listed alive on the 8th.
                                 row("2023-W10", "I-4", "V-4", "2023-03-06", fatal="true",
                                     contact="", family="true"),
                                 row("2023-W10", "I-5", "V-4", "2023-03-08")))
    out = imported(tmp_path, week_file(tmp_path, "w11.csv",
                                       row("2023-W11", "I-6", "V-1", "2023-03-13"),
                                       row("2023-W11", "I-7", "V-7", "2023-03-13")))
    assert out["referrals"] == 1  # the week is imported; the other victim is referred
    outcomes = outcomes_by_record(tmp_path)
    assert (outcomes["I-2/V-3"], outcomes["I-3/V-3"]) == ("refer_now", "refer_family")
    assert outcomes["I-5/V-4"] == outcomes["I-6/V-1"] == "needs_information"
    chase = chase_rows(tmp_path)
    assert set(chase) == {"I-5/V-4", "I-6/V-1"}
    assert chase["I-6/V-1"]["rules"] == "outreach-listed-alive-after-death"
    assert chase["I-6/V-1"]["reason"].startswith("Data error, held")
    assert "Listed as killed: I-1/V-1 in week 2023-W10." in chase["I-6/V-1"]["reason"]
    flagged = next(r for r in log_lines(tmp_path) if r.get("record_id") == "I-6/V-1")
    assert flagged["referral"]["previously_listed_fatal"] is True
    assert flagged["outreach"]["listed_fatal"] == {"record_id": "I-1/V-1", "week": "2023-W10"}
    assert "I-6/V-1" not in hub_routes(tmp_path)
    shown = outreach(tmp_path, "import", week_file(
        tmp_path, "w12.csv", row("2023-W12", "I-8", "V-4", "2023-03-20")))
    assert shown.exit_code == 0 and "Data error, held" in shown.stdout


def test_a_guideline_that_would_call_a_child_directly_is_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("set.yaml", "mo-amendment-3-marijuana.yaml", "mo-juvenile.yaml",
                 "kc-drug-policy.yaml"):
        (rules / name).write_bytes((RULES / name).read_bytes())
    text = (RULES / "victim-outreach.yaml").read_text()
    edited = text.replace("        - field: family_contact_available\n          eq: true\n"
                          "          label: contact information for the family (a parent or "
                          "guardian) is available",
                          "        - field: victim_contact_available\n          eq: true")
    assert edited != text
    (rules / "victim-outreach.yaml").write_text(edited)
    week = week_file(tmp_path, "w.csv", row("2023-W10", "I-1", "V-1", "2023-03-06"),
                     row("2023-W10", "I-2", "V-2", "2023-03-06", age="15", family="false"))
    result = runner.invoke(app, ["outreach", "import", str(week), "--guidelines", str(rules),
                                 "--audit-dir", str(tmp_path / "audit"),
                                 "--out", str(tmp_path / "lists")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {week}:3: victim V-2: the guidelines say "
                                    "refer_now but the listing gives no safe person to call")
    assert result.stderr.count("\n") == 1
    assert log_lines(tmp_path) == []
    assert not list((tmp_path / "lists").glob("*.csv"))


@pytest.fixture(scope="module")
def example_year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic 2023 imported in one command, as docs/outreach.md shows."""
    tmp = tmp_path_factory.mktemp("year")
    imported(tmp, YEAR)
    return tmp


def test_the_example_year_imports_in_one_command_and_status_shows_the_goal(
        example_year: Path) -> None:
    result = outreach(example_year, "status", "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert (status["year"], status["goal"], status["weeks_imported"]) == (2023, 500, 52)
    assert status["missing_weeks"] == []
    assert 450 <= status["referrals"] <= 550
    assert status["referrals"] == status["outcomes"]["refer_now"] + \
        status["outcomes"]["refer_family"] == status["weeks"][-1]["cumulative"]
    assert all(status["outcomes"][o] > 0 for o in status["outcomes"])
    assert status["projected"] == status["referrals"]  # a complete year projects itself
    assert status["on_track"] is (status["referrals"] >= 500)
    assert status["weeks"][-1]["goal_pace"] == 500
    routes = hub_routes(example_year)
    assert set(routes.values()) == {("refer_now", "victim"), ("refer_now", "guardian"),
                                    ("refer_now", "family"), ("refer_family", "family")}
    assert len(routes) == status["referrals"]
    table = outreach(example_year, "status", "--goal", "400")
    assert table.exit_code == 0
    assert f"{status['referrals']} of a goal of 400" in table.stdout
    assert "on track" in table.stdout


def test_status_projects_a_partial_year_from_the_imported_weeks(tmp_path: Path) -> None:
    imported(tmp_path, YEAR / "synthetic-2023-W01.csv", YEAR / "synthetic-2023-W03.csv")
    status = json.loads(outreach(tmp_path, "status", "--json").stdout)
    assert status["missing_weeks"] == ["2023-W02"]
    assert status["weeks_imported"] == 2
    assert status["projected"] == round(status["referrals"] / 2 * 52)


def test_hub_contact_outcomes_are_recorded_once_and_shown_in_status(
        example_year: Path, tmp_path: Path) -> None:
    hub = list(csv.DictReader((example_year / "lists" / "2023-W05-hub-referrals.csv").open()))
    report = tmp_path / "hub-report.csv"
    report.write_text("decision_id,contact_date,outcome\n"
                      f"{hub[0]['decision_id']},2023-02-10,no_answer\n"
                      f"{hub[0]['decision_id']},2023-02-12,accepted_services\n"
                      f"{hub[1]['decision_id']},2023-02-10,declined_services\n")
    before = len(log_lines(example_year))
    result = outreach(example_year, "record", report, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["recorded"] == 3
    contacts = log_lines(example_year)[before:]
    assert [c["kind"] for c in contacts] == ["outreach_contact"] * 3
    assert contacts[0]["decision_id"] == hub[0]["decision_id"]
    again = json.loads(outreach(example_year, "record", report, "--json").stdout)
    assert (again["recorded"], again["already_recorded"]) == (0, 3)
    status = json.loads(outreach(example_year, "status", "--json").stdout)
    assert status["contacts"]["accepted_services"] == 1  # the latest report per referral
    assert status["contacts"]["declined_services"] == 1
    assert status["contacts"]["no_answer"] == 0
    assert status["contacts"]["not_reported"] == status["referrals"] - 2


def test_a_bad_contact_report_records_nothing(example_year: Path, tmp_path: Path) -> None:
    hub = list(csv.DictReader((example_year / "lists" / "2023-W06-hub-referrals.csv").open()))
    report = tmp_path / "bad-report.csv"
    report.write_text("decision_id,contact_date,outcome\n"
                      f"{hub[0]['decision_id']},2023-03-01,accepted_services\n"
                      "not-a-decision,2023-03-01,no_answer\n")
    before = len(log_lines(example_year))
    result = outreach(example_year, "record", report)
    assert result.exit_code == 2
    assert ":3: decision_id: 'not-a-decision' is not a victim decision" in result.stderr
    assert "nothing was recorded" in result.stderr
    assert len(log_lines(example_year)) == before


def test_the_example_year_is_reproduced_by_its_generator(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(YEAR / "generate.py"), str(tmp_path)], check=True,
                   capture_output=True)
    generated = sorted(p.name for p in tmp_path.glob("*.csv"))
    assert generated == sorted(p.name for p in YEAR.glob("*.csv"))
    assert len(generated) == 52
    for name in generated:
        assert (tmp_path / name).read_bytes() == (YEAR / name).read_bytes(), name


def test_python_dash_m_runs_outreach_as_a_user_would(tmp_path: Path) -> None:
    week = week_file(tmp_path, "w.csv", row("2023-W10", "I-1", "V-1", "2023-03-06"))
    done = subprocess.run(
        [sys.executable, "-m", "charging_rules", "outreach", "import", str(week), "--json",
         "--audit-dir", str(tmp_path / "audit"), "--out", str(tmp_path / "lists")],
        cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["referrals"] == 1
    again = subprocess.run(
        [sys.executable, "-m", "charging_rules", "outreach", "import", str(week),
         "--audit-dir", str(tmp_path / "audit"), "--out", str(tmp_path / "lists")],
        cwd=REPO, capture_output=True, text=True, check=False)
    assert again.returncode == 2
    assert again.stderr.startswith("error:") and "already imported" in again.stderr


def test_a_charging_only_guideline_set_cannot_decide_victims(tmp_path: Path) -> None:
    week = week_file(tmp_path, "w.csv", row("2023-W10", "I-1", "V-1", "2023-03-06"))
    result = runner.invoke(app, ["outreach", "import", str(week), "--guidelines",
                                 str(RULES / "kc-drug-policy.yaml"),
                                 "--audit-dir", str(tmp_path / "audit")])
    assert result.exit_code == 2
    assert "no guideline in this set applies to victim records" in result.stderr
    assert log_lines(tmp_path) == []


def test_status_of_a_log_without_outreach_is_zero_and_without_a_log_exit_2(
        tmp_path: Path) -> None:
    missing = outreach(tmp_path, "status", "--year", "2023")
    assert missing.exit_code == 2 and "no audit log at" in missing.stderr
    assert not (tmp_path / "audit").exists()  # a reading command creates nothing
    log.append(tmp_path / "audit", {"kind": "recommendation", "actor": "ana",
                                    "decision_id": "d1", "record_kind": "referral"})
    result = outreach(tmp_path, "status", "--year", "2023", "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert (status["referrals"], status["weeks"], status["projected"]) == (0, [], None)
    assert outreach(tmp_path, "status").exit_code == 0
    for bad in (["--year", "99999"], ["--goal", "0"]):
        refused = outreach(tmp_path, "status", *bad)
        assert refused.exit_code == 2 and refused.stderr.startswith("error: --")


def test_two_people_importing_the_same_week_at_once_import_it_once(tmp_path: Path) -> None:
    week = week_file(tmp_path, "w.csv", *(row("2023-W10", f"I-{n}", f"V-{n}", "2023-03-06")
                                          for n in range(30)))
    command = [sys.executable, "-m", "charging_rules", "outreach", "import", str(week),
               "--audit-dir", str(tmp_path / "audit"), "--out", str(tmp_path / "lists")]
    racers = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE) for _ in range(3)]
    codes = sorted(p.wait(timeout=60) for p in racers)
    assert codes == [0, 2, 2]
    records = log_lines(tmp_path)
    assert [r["kind"] for r in records].count("outreach_import") == 1
    assert len(records) == 31


def test_an_audit_dir_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    week = week_file(tmp_path, "w.csv", row("2023-W10", "I-1", "V-1", "2023-03-06"))
    (tmp_path / "audit").write_text("not a directory")
    result = outreach(tmp_path, "import", week)
    assert result.exit_code == 2
    assert "cannot use the audit log directory" in result.stderr
    assert not (tmp_path / "lists").exists()


def test_every_logged_outreach_decision_verifies_and_replays(example_year: Path) -> None:
    audit = ["--audit-dir", str(example_year / "audit")]
    verify = runner.invoke(app, ["audit", "verify", "--json", *audit])
    assert verify.exit_code == 0, verify.output
    assert json.loads(verify.stdout)["ok"] is True
    decisions = [r for r in log_lines(example_year) if r["kind"] == "recommendation"]
    for outcome in ("refer_now", "refer_family", "already_referred", "needs_information"):
        one = next(r for r in decisions if r["result"]["outcome"] == outcome)
        replay = runner.invoke(app, ["audit", "replay", one["decision_id"], "--json", *audit])
        assert replay.exit_code == 0, replay.output
        assert json.loads(replay.stdout)["replayed"] == outcome
