"""What `rules test`, `lint`, `diff` and `validate` print: one rich `Text` per line.

Case ids, descriptions, messages and condition text come from guideline and case files: they
go in through `text.literal` (no markup, control characters escaped); only the marks
(PASS, FAIL, +, -) are styled here.
"""

from __future__ import annotations

import json

from rich.text import Text

from charging_rules.guidelines.schema import GuidelineSet
from charging_rules.rulecheck.cases import CaseReport, CaseRun
from charging_rules.rulecheck.diff import SetDiff
from charging_rules.rulecheck.lint import LintReport
from charging_rules.text import literal


def _line(*parts: Text | tuple[str, str] | str) -> Text:
    """Styled marks (tuples, plain str) and literal pieces (Text) on one line."""
    return Text.assemble(*parts)


def validated_lines(gs: GuidelineSet) -> list[Text]:
    rules = sum(len(g.rules) for g in gs.guidelines)
    return [literal(f"ok: {gs.id} ({len(gs.guidelines)} guidelines, {rules} rules), "
                    f"sha256 {gs.sha256}")]


def _run_lines(run: CaseRun) -> list[Text]:
    case = run.case
    note = literal(f"  {case.description}", "dim") if case.description else Text()
    if run.passed:
        return [_line("  ", ("PASS", "green"), " ", literal(case.id), note)]
    lines = [_line("  ", ("FAIL", "bold red"), " ", literal(case.id), note,
                   literal(f"  ({case.file}:{case.line})", "dim"))]
    for key, expected, actual in run.differences():
        lines.append(literal(f"       {key}:"))
        lines.append(literal(f"         - expected {json.dumps(expected)}", "red"))
        lines.append(literal(f"         + actual   {json.dumps(actual)}", "green"))
    if run.recommendation.reasons:
        lines.append(literal(f"       engine: {run.recommendation.reasons[0]}", "dim"))
    return lines


def _coverage_lines(report: CaseReport) -> list[Text]:
    cov = report.coverage
    decided = sum(1 for hits in cov.rules.values() if hits)
    lines = [Text(), Text("Coverage", style="bold"),
             literal(f"  rules: {decided}/{len(cov.rules)} decide at least one case")]
    for gid, g in cov.guidelines.items():
        outcomes = ", ".join(f"{o} ({len(h)})" for o, h in g.outcomes.items())
        missing = sum(1 for h in g.missing.values() if h)
        conds = sum(1 for c in g.conditions if c.held and c.not_held)
        lines += [literal(f"  {gid}: outcomes {outcomes}"),
                  literal(f"  {gid}: missing facts requested {missing}/{len(g.missing)}; "
                          f"conditions seen holding and not holding {conds}/"
                          f"{len(g.conditions)}")]
    for kind, hits in cov.fallback.items():
        lines.append(literal(f"  fallback for {kind} records: {len(hits)} cases"))
    uncovered = cov.uncovered()
    lines += [literal(f"  not covered: {u}", "yellow") for u in uncovered]
    if not uncovered:
        lines.append(Text("  everything covered", style="green"))
    return lines


def test_lines(report: CaseReport) -> list[Text]:
    """PASS/FAIL per case grouped by file, the coverage, the totals."""
    lines: list[Text] = []
    current = None
    for run in report.runs:
        if run.case.file != current:
            current = run.case.file
            lines.append(literal(current, "bold"))
        lines += _run_lines(run)
    lines += _coverage_lines(report)
    failed = len(report.failed)
    lines.append(literal(f"\n{len(report.runs) - failed} passed, {failed} failed",
                         f"bold {'red' if failed else 'green'}", keep_newlines=True))
    return lines


def test_json(gs: GuidelineSet, report: CaseReport) -> dict[str, object]:
    failed = len(report.failed)
    return {"guideline_set": gs.id, "sha256": gs.sha256, "passed": len(report.runs) - failed,
            "failed": failed,
            "cases": [{"case": r.case.name, "file": r.case.file, "line": r.case.line,
                       "passed": r.passed, "expected": r.case.expect.to_json(),
                       "actual": r.actual.to_json()} for r in report.runs],
            "coverage": report.coverage.to_json()}


def lint_lines(report: LintReport) -> list[Text]:
    lines: list[Text] = []
    for f in report.findings:
        style = "bold red" if f.severity == "error" else "yellow"
        where = f"{f.file}:{f.line}" if f.line else f.file
        lines.append(_line(literal(f"{where}: "), (f.severity, style),
                           literal(f" [{f.check}] {f.message}")))
        if f.example is not None:
            lines += [literal(f"    {line}") for line in json.dumps(f.example, indent=2)
                      .splitlines()]
    lines.append(literal(f"{len(report.errors)} errors, {len(report.warnings)} warnings"))
    return lines


def lint_json(report: LintReport) -> dict[str, object]:
    return {"errors": len(report.errors), "warnings": len(report.warnings),
            "findings": [f.to_json() for f in report.findings]}


def diff_lines(diff: SetDiff) -> list[Text]:
    mark = {"added": ("+", "green"), "removed": ("-", "red"), "changed": ("~", "yellow")}
    lines = [literal(f"old {diff.old_sha256[:16]}  new {diff.new_sha256[:16]}")]
    if not diff.changes:
        lines.append(Text("no changes to guidelines or rules"))
    for change in diff.changes:
        lines.append(_line(mark[change.change], literal(
            f" {change.subject} {change.id} {change.change}")))
        for attribute, old, new in change.details:
            if old:
                lines.append(_line(literal(f"    {attribute}: "), literal(f"- {old}", "red")))
            if new:
                lead = f"    {' ' * len(attribute)}  " if old else f"    {attribute}: "
                lines.append(_line(literal(lead), literal(f"+ {new}", "green")))
            if not old and not new:
                lines.append(literal(f"    {attribute}"))
    lines.append(literal(f"\nTest cases whose result changes: {len(diff.cases)} of "
                         f"{diff.cases_run}", "bold", keep_newlines=True))
    for moved in diff.cases:
        lines.append(literal(f"  {moved.case}: {moved.old.outcome} -> {moved.new.outcome}"))
        for key in ("rules", "missing"):
            old, new = getattr(moved.old, key), getattr(moved.new, key)
            if old != new:
                lines.append(literal(f"    {key}: {', '.join(old) or '-'} -> "
                                     f"{', '.join(new) or '-'}", "dim"))
    return lines
