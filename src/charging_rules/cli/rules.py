"""`charging-rules rules ...`: guidelines as code (validate, test, lint, diff, explain).

Each command loads, calls one rulecheck function and renders; the logic lives in
charging_rules.rulecheck. Bad input (a set or case file that does not load) lists every
problem as `file:line: message` on stderr and exits 2; a failed check exits 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from charging_rules import config
from charging_rules.cli.options import JsonOpt
from charging_rules.errors import InputError

if TYPE_CHECKING:  # the library and rich load when a `rules` command runs, not at start-up
    from rich.console import Console

    from charging_rules.rulecheck.cases import CaseReport, CaseRun
    from charging_rules.rulecheck.diff import SetDiff
    from charging_rules.rulecheck.lint import LintReport

rules_app = typer.Typer(
    name="rules", no_args_is_help=True,
    help="Guidelines as code: validate, test, lint, diff and explain a guideline set.")

PathArg = Annotated[Path | None, typer.Argument(
    help="Guideline set: a directory with set.yaml, or one guideline file [default: the set "
    "in force, as --guidelines finds it].", show_default=False)]
CasesOpt = Annotated[Path | None, typer.Option(
    "--cases", help="Case file or directory [default: tests/ beside the guidelines].")]



@cache
def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def out() -> Console:
    return _console()


def err() -> Console:
    return _console(stderr=True)


@contextmanager
def _input_errors() -> Iterator[None]:
    """Every problem on its own `file:line: message` line, exit 2."""
    from charging_rules.guidelines.loader import GuidelineErrors

    try:
        yield
    except GuidelineErrors as error:
        for problem in error.problems:
            err().print(f"[red]{escape(str(problem))}[/]")
        raise typer.Exit(2) from None
    except InputError as error:
        err().print(f"[bold red]error:[/] {escape(str(error))}")
        raise typer.Exit(2) from None


def _emit(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


@rules_app.command()
def validate(path: PathArg = None, as_json: JsonOpt = False) -> None:
    """Load the set and list every problem as file:line: message (exit 2 if any).

    Example: charging-rules rules validate rules/
    """
    from charging_rules.guidelines.loader import check_guidelines, load_guidelines
    from charging_rules.rulecheck.capacity import engine_problems

    problems = check_guidelines(config.guidelines(path))
    if not problems:  # a set durable_rules cannot hold is refused here, not when screening
        problems = engine_problems(load_guidelines(config.guidelines(path)))
    if as_json:
        _emit({"ok": not problems, "problems": [
            {"file": p.source, "line": p.line, "message": p.message} for p in problems]})
    if problems:
        if not as_json:
            for problem in problems:
                err().print(escape(str(problem)))
        raise typer.Exit(2)
    if not as_json:
        gs = load_guidelines(config.guidelines(path))
        rules = sum(len(g.rules) for g in gs.guidelines)
        out().print(f"ok: {gs.id} ({len(gs.guidelines)} guidelines, {rules} rules), "
                  f"sha256 {gs.sha256}")


# --- test ------------------------------------------------------------------------------


def _run_lines(run: CaseRun) -> list[str]:
    case = run.case
    note = f"  [dim]{escape(case.description)}[/]" if case.description else ""
    if run.passed:
        return [f"  [green]PASS[/] {escape(case.id)}{note}"]
    lines = [f"  [bold red]FAIL[/] {escape(case.id)}{note}  [dim]({case.file}:{case.line})[/]"]
    for key, expected, actual in run.differences():
        lines.append(f"       {key}:")
        lines.append(f"         [red]- expected {escape(json.dumps(expected))}[/]")
        lines.append(f"         [green]+ actual   {escape(json.dumps(actual))}[/]")
    if run.recommendation.reasons:
        lines.append(f"       [dim]engine: {escape(run.recommendation.reasons[0])}[/]")
    return lines


def _coverage_lines(report: CaseReport) -> list[str]:
    cov = report.coverage
    decided = sum(1 for hits in cov.rules.values() if hits)
    lines = ["", "[bold]Coverage[/]",
             f"  rules: {decided}/{len(cov.rules)} decide at least one case"]
    for gid, g in cov.guidelines.items():
        outcomes = ", ".join(f"{o} ({len(h)})" for o, h in g.outcomes.items())
        missing = sum(1 for h in g.missing.values() if h)
        conds = sum(1 for c in g.conditions if c.held and c.not_held)
        lines += [f"  {gid}: outcomes {outcomes}",
                  f"  {gid}: missing facts requested {missing}/{len(g.missing)}; "
                  f"conditions seen holding and not holding {conds}/{len(g.conditions)}"]
    for kind, hits in cov.fallback.items():
        lines.append(f"  fallback for {kind} records: {len(hits)} cases")
    uncovered = cov.uncovered()
    lines += [f"  [yellow]not covered: {escape(u)}[/]" for u in uncovered]
    if not uncovered:
        lines.append("  [green]everything covered[/]")
    return lines


@rules_app.command()
def test(
    path: PathArg = None,
    cases: CasesOpt = None,
    fail_uncovered: Annotated[bool, typer.Option(
        "--fail-uncovered", help="Exit 1 also when something is not covered.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the test cases through the engine: PASS/FAIL per case, coverage (exit 1: a failure).

    Example: charging-rules rules test rules/
    """
    from charging_rules.guidelines.loader import load_guidelines
    from charging_rules.rulecheck.cases import case_files, run_tests

    with _input_errors():
        gs = load_guidelines(config.guidelines(path))
        report = run_tests(gs, case_files(config.guidelines(path), cases))
    failed = report.failed
    if as_json:
        _emit({"guideline_set": gs.id, "sha256": gs.sha256, "passed": len(report.runs)
               - len(failed), "failed": len(failed),
               "cases": [{"case": r.case.name, "file": r.case.file, "line": r.case.line,
                          "passed": r.passed, "expected": r.case.expect.as_dict(),
                          "actual": r.actual.as_dict()} for r in report.runs],
               "coverage": report.coverage.as_dict()})
    else:
        current = None
        for run in report.runs:
            if run.case.file != current:
                current = run.case.file
                out().print(f"[bold]{escape(current)}[/]")
            for line in _run_lines(run):
                out().print(line)
        for line in _coverage_lines(report):
            out().print(line)
        style = "red" if failed else "green"
        out().print(f"\n[bold {style}]{len(report.runs) - len(failed)} passed, "
                  f"{len(failed)} failed[/]")
    if failed or (fail_uncovered and report.coverage.uncovered()):
        raise typer.Exit(1)


# --- lint ------------------------------------------------------------------------------


def _lint_lines(report: LintReport) -> list[str]:
    lines: list[str] = []
    for f in report.findings:
        style = "bold red" if f.severity == "error" else "yellow"
        where = f"{f.file}:{f.line}" if f.line else f.file
        lines.append(f"{escape(where)}: [{style}]{f.severity}[/] {escape(f'[{f.check}]')} "
                     f"{escape(f.message)}")
        if f.example is not None:
            lines += [f"    {escape(line)}" for line in json.dumps(f.example, indent=2)
                      .splitlines()]
    lines.append(f"{len(report.errors)} errors, {len(report.warnings)} warnings")
    return lines


@rules_app.command(name="lint")
def lint_command(path: PathArg = None, as_json: JsonOpt = False) -> None:
    """Static analysis: protected attributes, proxies, overlaps, dead rules, gaps.

    Exit 1 on errors; warnings alone exit 0.

    Example: charging-rules rules lint rules/
    """
    from charging_rules.rulecheck.lint import lint

    with _input_errors():
        report = lint(config.guidelines(path))
    if as_json:
        _emit({"errors": len(report.errors), "warnings": len(report.warnings),
               "findings": [f.as_dict() for f in report.findings]})
    else:
        for line in _lint_lines(report):
            out().print(line)
    if report.errors:
        raise typer.Exit(1)


# --- diff ------------------------------------------------------------------------------


def _diff_lines(diff: SetDiff) -> list[str]:
    mark = {"added": "[green]+[/]", "removed": "[red]-[/]", "changed": "[yellow]~[/]"}
    lines = [f"old {diff.old_sha256[:16]}  new {diff.new_sha256[:16]}"]
    if not diff.changes:
        lines.append("no changes to guidelines or rules")
    for change in diff.changes:
        lines.append(f"{mark[change.change]} {change.subject} {escape(change.id)} "
                     f"{change.change}")
        for attribute, old, new in change.details:
            if old:
                lines.append(f"    {attribute}: [red]- {escape(old)}[/]")
            if new:
                lines.append(f"    {' ' * len(attribute)}  [green]+ {escape(new)}[/]"
                             if old else f"    {attribute}: [green]+ {escape(new)}[/]")
            if not old and not new:
                lines.append(f"    {attribute}")
    lines.append(f"\n[bold]Test cases whose result changes: {len(diff.cases)} of "
                 f"{diff.cases_run}[/]")
    for moved in diff.cases:
        lines.append(f"  {escape(moved.case)}: {moved.old.outcome} -> {moved.new.outcome}")
        for key in ("rules", "missing"):
            old, new = getattr(moved.old, key), getattr(moved.new, key)
            if old != new:
                lines.append(f"    [dim]{key}: {', '.join(old) or '-'} -> "
                             f"{', '.join(new) or '-'}[/]")
    return lines


@rules_app.command(name="diff")
def diff_command(
    old: Annotated[Path, typer.Argument(help="The guideline set in force.")],
    new: Annotated[Path, typer.Argument(help="The proposed guideline set.")],
    cases: CasesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rule-by-rule changes between two sets, and which test cases change result.

    Example: charging-rules rules diff rules/ proposed-rules/
    """
    from charging_rules.guidelines.loader import load_guidelines
    from charging_rules.rulecheck.cases import case_files, load_cases
    from charging_rules.rulecheck.diff import cases_for_diff, diff_sets

    with _input_errors():
        before, after = load_guidelines(old), load_guidelines(new)
        files = case_files(new, cases) if cases is not None else cases_for_diff(old, new)
        diff = diff_sets(before, after, load_cases(files))
    if as_json:
        _emit(diff.as_dict())
    else:
        for line in _diff_lines(diff):
            out().print(line)


@rules_app.command()
def explain(
    path: PathArg = None,
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="Plain Markdown (for a memo) instead of terminal formatting.")] = False,
) -> None:
    """The set as readable policy text, for a supervisor to read and sign.

    Example: charging-rules rules explain rules/ --markdown > policy.md
    """
    from charging_rules.guidelines.loader import load_guidelines
    from charging_rules.rulecheck.explain import explain_markdown

    with _input_errors():
        text = explain_markdown(load_guidelines(config.guidelines(path)))
    if markdown:
        typer.echo(text)
    else:
        from rich.markdown import Markdown  # markdown-it: only this command pays for it

        out().print(Markdown(text))


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
