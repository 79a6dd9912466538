"""`charging-rules rules ...`: guidelines as code (validate, test, lint, diff, explain).

Each command loads, calls one rulecheck function and prints its view (rulecheck/views.py).
Bad input (a set or case file that does not load) reaches the root error boundary, which
lists every problem as `file:line: message` on stderr and exits 2; a failed check exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from charging_rules import config
from charging_rules.cli.options import JsonOpt
from charging_rules.cli.output import emit, emit_json, show

rules_app = typer.Typer(
    name="rules", no_args_is_help=True,
    help="Guidelines as code: validate, test, lint, diff and explain a guideline set.")

PathArg = Annotated[Path | None, typer.Argument(
    help="Guideline set: a directory with set.yaml, or one guideline file [default: the set "
    "in force, as --guidelines finds it].", show_default=False)]
CasesOpt = Annotated[Path | None, typer.Option(
    "--cases", help="Case file or directory [default: tests/ beside the guidelines].")]
INDENT = 2  # `rules ... --json` is read by people in CI logs as often as by programs


@rules_app.command()
def validate(path: PathArg = None, as_json: JsonOpt = False) -> None:
    """Load the set and list every problem as file:line: message (exit 2 if any).

    Example: charging-rules rules validate rules/
    """
    from charging_rules.guidelines.loader import check_guidelines, load_guidelines
    from charging_rules.rulecheck.capacity import engine_problems
    from charging_rules.rulecheck.views import validated_lines

    problems = check_guidelines(config.guidelines(path))
    if not problems:  # a set durable_rules cannot hold is refused here, not when screening
        problems = engine_problems(load_guidelines(config.guidelines(path)))
    if as_json:
        emit_json({"ok": not problems, "problems": [
            {"file": p.source, "line": p.line, "message": p.message} for p in problems]},
            indent=INDENT)
    elif problems:  # the problems are this command's result, one per line
        show([line for p in problems for line in p.lines()], stderr=True, soft_wrap=True)
    else:
        show(validated_lines(load_guidelines(config.guidelines(path))), soft_wrap=True)
    if problems:
        raise typer.Exit(2)


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
    from charging_rules.rulecheck.views import test_json, test_lines

    gs = load_guidelines(config.guidelines(path))
    report = run_tests(gs, case_files(config.guidelines(path), cases))
    emit(as_json, test_json(gs, report), *test_lines(report), indent=INDENT, soft_wrap=True)
    if report.failed or (fail_uncovered and report.coverage.uncovered()):
        raise typer.Exit(1)


@rules_app.command(name="lint")
def lint_command(path: PathArg = None, as_json: JsonOpt = False) -> None:
    """Static analysis: protected attributes, proxies, overlaps, dead rules, gaps.

    Exit 1 on errors; warnings alone exit 0.

    Example: charging-rules rules lint rules/
    """
    from charging_rules.rulecheck.lint import lint
    from charging_rules.rulecheck.views import lint_json, lint_lines

    report = lint(config.guidelines(path))
    emit(as_json, lint_json(report), *lint_lines(report), indent=INDENT, soft_wrap=True)
    if report.errors:
        raise typer.Exit(1)


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
    from charging_rules.rulecheck.diff import diff_between
    from charging_rules.rulecheck.views import diff_lines

    diff = diff_between(old, new, cases)
    emit(as_json, diff.to_json(), *diff_lines(diff), indent=INDENT, soft_wrap=True)


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
    from charging_rules.text import printable

    # guideline text is shown, never run: no control characters, in either form
    text = printable(explain_markdown(load_guidelines(config.guidelines(path))),
                     keep_newlines=True)
    if markdown:
        typer.echo(text)
    else:
        from rich.markdown import Markdown  # markdown-it: only this command pays for it

        show([Markdown(text)])


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
