"""`charging-rules batch INPUT`: screen a whole file of referrals (.jsonl, .json, .csv)."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from charging_rules import config
from charging_rules.cli.options import (
    AuditDbOpt,
    AuditDirOpt,
    GuidelinesOpt,
    JsonOpt,
    UserOpt,
    audit_store,
    check_writes,
)
from charging_rules.cli.output import emit

if TYPE_CHECKING:
    from rich.table import Table

    from charging_rules.ingest.records import Skipped
    from charging_rules.screening.batch import BatchSummary


def _summary_table(summary: BatchSummary) -> Table:
    from rich.table import Table
    from rich.text import Text

    from charging_rules.engine.views import outcome_badge
    from charging_rules.text import literal

    table = Table(title="Batch screening", show_footer=True)
    table.add_column("Outcome", footer="screened")
    table.add_column("Referrals", justify="right", footer=str(summary.screened))
    for outcome, count in sorted(summary.outcomes.items(), key=lambda item: -item[1]):
        table.add_row(outcome_badge(outcome), str(count))
    if summary.out_of_scope:
        table.add_row(Text("fallback: no guideline in scope", style="yellow"),
                      str(summary.out_of_scope))
    for reason, count in summary.skip_reasons.most_common():
        table.add_row(Text.assemble(("skipped", "red"), literal(f": {reason}")), str(count))
    return table


def batch(
    source: Annotated[Path, typer.Argument(
        metavar="INPUT", help="Referrals: .jsonl, .json (array) or .csv; - reads standard "
        "input.")],
    mapping: Annotated[Path | None, typer.Option(
        "--mapping", metavar="MAP.yaml",
        help="Export mapping: columns of a case-management export to referral fields.")] = None,
    guidelines: GuidelinesOpt = None,
    audit_dir: AuditDirOpt = None,
    audit_db: AuditDbOpt = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="Don't write the audit log.")] = False,
    user: UserOpt = None,
    out: Annotated[Path | None, typer.Option(
        "--out", metavar="RESULTS.jsonl", help="One line per screened referral, as "
        "`screen --json` prints it (referral_id, outcome, decision_id, ...).")] = None,
    as_json: JsonOpt = False,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, metavar="N",
        help="Processes screening at once (default: one per available CPU core). The log "
        "and the results are in the input's order either way.")] = None,
) -> None:
    """Screen every referral in a file; invalid rows are reported and skipped (exit 1).

    Example: charging-rules batch referrals.csv --mapping examples/mappings/cook_county_intake.yaml
    """
    # The library is imported here, not at the top: start-up time is part of the job.
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    from charging_rules.ingest.mapping import load_mapping
    from charging_rules.ingest.readers import stdin_as_file
    from charging_rules.screening.batch import results_file, run_batch
    from charging_rules.screening.screener import Screener
    from charging_rules.screening.workers import available_cores
    from charging_rules.text import literal, printable

    check_writes(out, "--out", audit_dir, (source, mapping, config.guidelines(guidelines)))
    loaded = None if mapping is None else load_mapping(mapping)
    store = None if no_log else audit_store(audit_dir, audit_db)
    actor = (user or config.actor()) if store is None else store.actor(user)
    screener = Screener.open(config.guidelines(guidelines), store, questions=out is not None,
                             trace=False)
    err = Console(stderr=True, highlight=False)
    # Refreshed as chunks are screened, not by a thread of its own: worker processes are
    # forked during the batch, and a process is forked safely only while it has one thread.
    progress = Progress(TextColumn("screening"), BarColumn(), DownloadColumn(),
                        TimeElapsedColumn(), console=err, transient=True, auto_refresh=False,
                        disable=not err.is_terminal)

    def report(skip: Skipped) -> None:
        message = printable(f"{source}: skipped {skip}")  # the row's text, never run
        if progress.disable:
            sys.stderr.write(message + "\n")
        else:
            progress.console.print(literal(message))

    with progress, ExitStack() as stack:
        path = stack.enter_context(stdin_as_file(sys.stdin.buffer)) if str(source) == "-" \
            else source
        results = None if out is None else stack.enter_context(results_file(out))
        task = progress.add_task("screening", total=None)
        summary = run_batch(path, screener, actor, loaded, report,
                            lambda done, total: progress.update(task, completed=done,
                                                                total=total, refresh=True),
                            results,
                            jobs or available_cores())
    emit(as_json, summary.to_json(), _summary_table(summary))
    if summary.skipped:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(batch)
