"""One rule for showing text: whatever a person, a file or the log typed is shown literally in
every view. Rich markup is not read ("[/x]" once crashed `audit show`, "[red]eve" was listed as
"eve"), terminal control sequences are escaped visibly (an OSC title, a CSI colour), and a
spreadsheet never runs a cell as a formula."""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from charging_rules.cli.app import app
from charging_rules.cli.intake_ui import TerminalUI
from charging_rules.screening.intake import IntakeQueue
from charging_rules.screening.screener import Screener
from charging_rules.text import FORMULA_START, csv_cell, literal, printable
from tests.helpers import RULES, guideline, referral, write_json, write_set

MARKUP_CLOSE = "[/x] petition"
MARKUP_OPEN = "[red]eve"
OSC_TITLE = "\x1b]0;pwned\x07"
CSI_COLOUR = "\x1b[41m"
FORMULA = '=HYPERLINK("http://x.example","y")'
HOSTILE = (MARKUP_CLOSE, MARKUP_OPEN, OSC_TITLE, CSI_COLOUR, FORMULA)
# One value holding all of it, as a reason, a user or a demographic label would.
ALL = f"{MARKUP_CLOSE} {MARKUP_OPEN} {OSC_TITLE}{CSI_COLOUR} {FORMULA}"
WIDE = {"COLUMNS": "400"}  # tables do not wrap the values apart


def shown_literally(output: str, *values: str) -> None:
    """Each value appears as typed (control characters as visible escapes); no control
    character reaches the terminal raw."""
    assert "\x1b" not in output and "\x07" not in output, repr(output[:400])
    for value in values:
        assert printable(value) in output, (value, output[:2000])


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env=WIDE)


# --- the rule itself -------------------------------------------------------------------


@pytest.mark.parametrize("value", [*HOSTILE, "\u202eevil", "a\x85b", "tab\there", "\x7f"])
def test_literal_escapes_every_control_and_format_character(value: str) -> None:
    text = printable(value)
    assert all(c.isprintable() for c in text), repr(text)
    console = Console(record=True, width=200, force_terminal=False)
    console.print(literal(value))
    assert console.export_text().rstrip("\n") == text


def test_plain_text_and_newlines_kept_where_asked() -> None:
    assert printable("José [b]x[/b]") == "José [b]x[/b]"
    assert printable("a\nb") == "a\\x0ab"
    assert printable("a\nb", keep_newlines=True) == "a\nb"


@pytest.mark.parametrize(("value", "cell"), [
    (FORMULA, "'" + FORMULA), ("+1", "'+1"), ("-2", "'-2"), ("@x", "'@x"),
    ("\tx", "\\x09x"), ("\rx", "\\x0dx"), ("a\x1b[31mb\r\n", "a\\x1b[31mb\\x0d\\x0a"),
    ("Black", "Black"), (3, 3), (None, None), (0.5, 0.5)])
def test_csv_cells_that_start_a_formula_are_quoted(value: object, cell: object) -> None:
    assert csv_cell(value) == cell


@given(st.text())
def test_a_csv_cell_neither_drives_a_terminal_nor_runs_as_a_formula(value: str) -> None:
    cell = csv_cell(value)
    assert not {unicodedata.category(char) for char in cell} & {"Cc", "Cf", "Zl", "Zp", "Cs"}
    assert cell in (printable(value), "'" + printable(value))
    assert not cell.startswith(FORMULA_START)


# --- screen, audit show, audit list ----------------------------------------------------

# A guideline's prose as YAML double quotes spell ESC (\e) and BEL (\a), and as it loads.
YAML_TEXT = '"[/x] petition [red]eve \\e]0;pwned\\a\\e[41m =HYPERLINK(1)"'
GUIDELINE_TEXT = "[/x] petition [red]eve \x1b]0;pwned\x07\x1b[41m =HYPERLINK(1)"


def hostile_rules(tmp_path: Path) -> Path:
    """A set whose one rule's reason and citation carry markup and control sequences."""
    return write_set(tmp_path / "rules", guideline("crafted", f"""
        - id: sale
          when: {{any_charge: {{field: category, eq: drug_sale}}}}
          outcome: file
          reason: {YAML_TEXT}
          cite: {YAML_TEXT}
        """))


@pytest.fixture
def hostile_log(tmp_path: Path) -> dict[str, Any]:
    """A guideline whose reason and citation carry it all, and a referral overridden by a
    user and with a reason that carry it all, screened through the CLI."""
    rules = hostile_rules(tmp_path)
    path = write_json(tmp_path / "r.json", referral())
    audit = tmp_path / "audit"
    result = cli("screen", str(path), "--guidelines", str(rules), "--audit-dir", str(audit),
                 "--user", ALL, "--override", "decline", "--reason", ALL)
    assert result.exit_code == 0, result.output
    return {"audit": audit, "screen": result.stdout,
            "guideline": GUIDELINE_TEXT}


def test_screen_shows_guideline_text_and_the_recorded_decision_literally(
        hostile_log: dict[str, Any]) -> None:
    out = hostile_log["screen"]
    shown_literally(out, hostile_log["guideline"], ALL)
    assert "Overridden" in out and "logged as decision" in out


def test_audit_show_and_list_show_logged_text_literally(hostile_log: dict[str, Any]) -> None:
    audit = str(hostile_log["audit"])
    listed = cli("audit", "list", "--audit-dir", audit)
    assert listed.exit_code == 0, listed.output
    shown_literally(listed.stdout, ALL)  # the decider and the reason column
    decision = json.loads(cli("audit", "list", "--audit-dir", audit, "--json").stdout)[
        "decisions"][0]["decision_id"]
    shown = cli("audit", "show", decision, "--audit-dir", audit)
    assert shown.exit_code == 0, shown.output
    shown_literally(shown.stdout, ALL, hostile_log["guideline"])


# --- intake ----------------------------------------------------------------------------


class ScriptedTerminal(TerminalUI):
    """The real terminal views, answered by a script instead of a person."""

    def __init__(self, console: Console, actions: list[str]):
        super().__init__(console)
        self.actions = actions

    def ask_request(self, missing: Sequence[str]) -> bool:
        return False

    def ask_action(self) -> str:
        return self.actions.pop(0)

    def ask_override(self, outcomes: tuple[str, ...], recommended: str) -> tuple[str, str]:
        return next(o for o in outcomes if o != recommended), ALL


def test_intake_shows_referral_text_and_decisions_literally(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_json(inbox / "a.json", referral(agency=ALL))
    write_json(inbox / "b.json", referral(referral_id="KC-2", agency=ALL))
    console = Console(record=True, width=400, force_terminal=False)
    queue = IntakeQueue(inbox, Screener.open(RULES, tmp_path / "audit"), ALL)
    queue.run(ScriptedTerminal(console, ["o", "s"]))
    out = console.export_text()
    shown_literally(out, ALL)
    assert "b.json: nothing recorded; it stays waiting" in out  # the skip says what happened
    assert (inbox / "b.json").exists()


# --- disparity and the report ----------------------------------------------------------

LABELS = ["[red]Black[/red]", "Black", "[/]", OSC_TITLE + "W", CSI_COLOUR + "H", FORMULA]


@pytest.fixture
def labelled_log(tmp_path: Path) -> Path:
    """A log whose race labels are markup, control sequences and a formula, 12 referrals
    each (above the report's suppression threshold)."""
    audit = tmp_path / "audit"
    records = tmp_path / "in.jsonl"
    rows = [referral(referral_id=f"KC-{i}-{n}", demographics={"race": label},
                     firearm_recovered=n % 2 == 0)
            for i, label in enumerate(LABELS) for n in range(12)]
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = cli("batch", str(records), "--guidelines", str(RULES), "--audit-dir", str(audit))
    assert result.exit_code == 0, result.output
    return audit


def test_disparity_counts_and_shows_each_label_as_typed(labelled_log: Path) -> None:
    result = cli("disparity", "--audit-dir", str(labelled_log), "--stage", "recommendation",
                 "--reference", "Black")
    assert result.exit_code == 0, result.output
    shown_literally(result.stdout, *LABELS)
    data = json.loads(cli("disparity", "--audit-dir", str(labelled_log), "--stage",
                          "recommendation", "--reference", "Black", "--json").stdout)
    counts = {g["group"]: g["n"] for g in data["groups"]}
    # "[red]Black[/red]" is a label of its own, never merged into "Black"
    assert counts["[red]Black[/red]"] == 12 and counts["Black"] == 12
    assert set(counts) == set(LABELS)


def test_report_terminal_csv_and_html_show_labels_literally(labelled_log: Path,
                                                            tmp_path: Path) -> None:
    out_dir = tmp_path / "report"
    result = cli("report", "--audit-dir", str(labelled_log), "--output", str(out_dir),
                 "--reference", "Black", "--no-by-offense")
    assert result.exit_code == 0, result.output
    shown_literally(result.stdout, *LABELS)
    for path in out_dir.glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            cells = [cell for row in csv.reader(handle) for cell in row]
        assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells), path
    decisions = (out_dir / "decision_points.csv").read_text(encoding="utf-8")
    assert "'" + FORMULA.replace('"', '""') in decisions and "[red]Black[/red]" in decisions
    html = (out_dir / "report.html").read_text(encoding="utf-8")
    assert "[red]Black[/red]" in html and "&quot;http://x.example&quot;" in html
    assert "<script" not in html.lower()


# --- batch skips, rules output ---------------------------------------------------------


def test_batch_skip_message_shows_the_bad_value_literally(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    row = referral()
    row[ALL] = 1  # an unknown field: the message names it
    path.write_text(json.dumps(row) + "\n")
    result = cli("batch", str(path), "--guidelines", str(RULES), "--no-log")
    assert result.exit_code == 1
    shown_literally(result.stderr, ALL)
    shown_literally(result.stdout, ALL)  # the summary's skip reasons


def test_rules_test_and_lint_show_guideline_text_literally(tmp_path: Path) -> None:
    rules = hostile_rules(tmp_path)
    cases = tmp_path / "cases.yaml"
    cases.write_text(f"cases:\n  - id: one\n    description: {YAML_TEXT}\n"
                     f"    referral: {json.dumps(referral())}\n"
                     "    expect: {outcome: decline, rules: []}\n")
    result = cli("rules", "test", str(rules), "--cases", str(cases))
    assert result.exit_code == 1, result.output  # the case fails: its lines are printed
    shown_literally(result.stdout, GUIDELINE_TEXT)
    assert "FAIL" in result.stdout
    linted = cli("rules", "lint", str(rules))
    assert "\x1b" not in linted.stdout and "Traceback" not in linted.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "set.yaml").write_text(f"id: {YAML_TEXT}\n")
    linted = cli("rules", "lint", str(bad))  # a set that does not load is a finding
    assert linted.exit_code == 1 and "\x1b" not in linted.stdout
    assert "pwned" in linted.stdout  # named (JSON-escaped), never sent raw
    result = cli("rules", "test", str(bad))  # ... and elsewhere an error, every problem
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "pwned" in result.stderr
