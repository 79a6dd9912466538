"""`disparity`, `impact`, `report`, `demo`: the Crime Strategies Unit's analyses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from charging_rules import config
from charging_rules.cli.options import (
    AuditDbOpt,
    AuditDirOpt,
    GuidelinesOpt,
    JsonOpt,
    audit_store,
    check_writes,
)
from charging_rules.cli.output import emit
from charging_rules.errors import InputError

GroupMapOpt = Annotated[str | None, typer.Option(
    "--group-map", help="Label -> group map: builtin cook-county or sex, or a YAML/CSV file "
    "[default: labels as they are; blank/Unknown excluded].")]
ReferenceOpt = Annotated[str | None, typer.Option(
    "--reference", help="Reference group [default: White, else the largest group].")]
MinNOpt = Annotated[int, typer.Option("--min-n", min=1, help="Groups with fewer cases are "
                                      "flagged and not compared.")]
ByOpt = Annotated[str | None, typer.Option(
    "--by", help="Stratify by this column (audit log: offense = first charge category).")]
IntersectOpt = Annotated[str | None, typer.Option(
    "--intersect", help="Cross groups with this column (e.g. gender: race x sex). On the "
    "audit log any value turns on race x sex.")]
PeriodOpt = Annotated[str | None, typer.Option(
    "--period", help="Trend by month or quarter.")]
IgnoreIntegrityOpt = Annotated[bool, typer.Option(
    "--ignore-integrity", help="Analyse a log whose hash chain does not verify (the output "
    "then says so prominently) [default: refuse it, exit 1].")]
BandOpt = Annotated[str, typer.Option(
    "--band", help="Tolerance band LOW-HIGH: a relative rate outside it is flagged.")]


def _options(group_map: str | None, intersect: str | None, reference: str | None, min_n: int,
             by: str | None, period: str | None, band: str = "0.8-1.25") -> Any:
    from charging_rules.analysis.run import Options, parse_band

    return Options(group_map=group_map, intersect=intersect, reference=reference,
                   min_n=min_n, by=by, period=period, band=parse_band(band))


def _log(audit_dir: Path | None, audit_db: str | None, ignore_integrity: bool) -> Any:
    """The log's records once its chain verifies (exit 1 naming the first bad record)."""
    from charging_rules.analysis.sources import checked_log

    return checked_log(audit_store(audit_dir, audit_db, existing=True), ignore_integrity)


def disparity(
    input_file: Annotated[Path | None, typer.Argument(
        metavar="[INPUT]", help="CSV/JSONL table; without it, the audit log.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Group column (dotted paths "
                                              "reach into JSON).")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="Outcome column.")] = None,
    positive: Annotated[list[str] | None, typer.Option(
        "--positive", help="Outcome value counted as positive (repeatable) [audit log: "
        "file].")] = None,
    stage: Annotated[str, typer.Option("--stage", help="Audit log decision point: "
                                       "recommendation, decision (final) or override.")
                     ] = "decision",
    date_column: Annotated[str | None, typer.Option("--date", help="Date column for "
                                                    "--period (tables).")] = None,
    benchmark: Annotated[str | None, typer.Option(
        "--benchmark", help="Population benchmark for representation: builtin "
        "jackson-county-acs2017, kansas-city-office-39, or a YAML file.")] = None,
    group_map: GroupMapOpt = None,
    reference: ReferenceOpt = None,
    min_n: MinNOpt = config.SMALL_CELL,
    by: ByOpt = None,
    intersect: IntersectOpt = None,
    period: PeriodOpt = None,
    band: BandOpt = "0.8-1.25",
    ignore_integrity: IgnoreIntegrityOpt = False,
    audit_dir: AuditDirOpt = None,
    audit_db: AuditDbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rates by group, relative rate index vs a reference, Katz 95% CI, Fisher p.

    Example: charging-rules disparity examples/data/cook_county_sao_intake_2019_sample.csv
    --group race --group-map cook-county --outcome participant_status --positive Approved
    """
    from charging_rules.analysis import run

    options = _options(group_map, intersect, reference, min_n, by, period, band)
    if input_file is not None:
        spec = run.table_spec(group, outcome, positive, options, date_column)
        result = run.disparity_table(input_file, spec, options, benchmark)
    else:
        records, integrity = _log(audit_dir, audit_db, ignore_integrity)
        result = run.disparity_log(records, stage, positive, options, benchmark, group,
                                   integrity)
    emit(as_json, result.to_json(), *result.views())


def impact(
    input_file: Annotated[Path | None, typer.Argument(
        metavar="[INPUT]", help="Referrals (.jsonl/.json, demographics beside the facts); "
        "without it, the referrals in the audit log.")] = None,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", help="Guideline set in force [default: as --guidelines].")] = None,
    proposed: Annotated[Path | None, typer.Option("--proposed", help="Guideline set "
                                                  "proposed.")] = None,
    group_map: GroupMapOpt = None,
    reference: ReferenceOpt = None,
    min_n: MinNOpt = config.SMALL_CELL,
    ignore_integrity: IgnoreIntegrityOpt = False,
    audit_dir: AuditDirOpt = None,
    audit_db: AuditDbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What changes, and for whom, when the guidelines change.

    Example: charging-rules impact referrals.jsonl --baseline examples/guidelines/before
    --proposed rules
    """
    from charging_rules.analysis import run

    options = _options(group_map, None, reference, min_n, None, None)
    records = None if input_file else _log(audit_dir, audit_db, ignore_integrity)[0]
    result = run.impact_of(input_file, records, config.guidelines(baseline), proposed,
                           options)
    emit(as_json, result.to_json(), *run.impact_views(result))


def report(
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory for report.html "
                                         "and the CSV behind each chart.")] = Path("report"),
    threshold: Annotated[int, typer.Option("--threshold", min=1, help="Suppress counts "
                                           "below this.")] = config.SMALL_CELL,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", help="With --proposed: show the impact of that guideline change on "
        "the logged referrals.")] = None,
    proposed: Annotated[Path | None, typer.Option("--proposed")] = None,
    title: Annotated[str, typer.Option("--title")] = "Charging decisions by race",
    group_map: GroupMapOpt = None,
    reference: ReferenceOpt = None,
    period: Annotated[str, typer.Option("--period", help="Trend by month or quarter.")
                      ] = "month",
    by_offense: Annotated[bool, typer.Option(
        "--by-offense/--no-by-offense", help="Add rates by offense category.")] = True,
    intersect: Annotated[bool, typer.Option(
        "--intersect", help="Groups are race x sex.")] = False,
    band: BandOpt = "0.8-1.25",
    ignore_integrity: IgnoreIntegrityOpt = False,
    audit_dir: AuditDirOpt = None,
    audit_db: AuditDbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Public transparency report from the audit log: self-contained HTML + CSVs.

    Example: charging-rules report --output report --baseline examples/guidelines/before
    --proposed rules
    """
    from charging_rules.analysis import run
    from charging_rules.analysis.sources import OFFENSE

    if (baseline is None) != (proposed is None):
        raise InputError("--baseline and --proposed go together")
    options = _options(group_map, "sex" if intersect else None, reference, config.SMALL_CELL,
                       OFFENSE if by_offense else None, period, band)
    from charging_rules.outreach.status import outreach_status

    check_writes(output, "--output", audit_dir, (baseline, proposed))
    store = audit_store(audit_dir, audit_db, existing=True)
    result = run.report_of(store, output, options, threshold=threshold, baseline=baseline,
                           proposed=proposed, title=title, ignore_integrity=ignore_integrity,
                           outreach=lambda: outreach_status(store))
    emit(as_json, result.to_json(), *result.views())


def demo(
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Directory for the synthetic referrals, audit log and report "
        "[default: a new temporary directory].")] = None,
    before: Annotated[Path | None, typer.Option(
        "--before", help="Guideline set before the change [default: the 'before' set shipped "
        "with the tool].")] = None,
    guidelines: GuidelinesOpt = None,
    count: Annotated[int, typer.Option("--count", min=100, max=200_000,
                                       help="Synthetic referrals in the year.")] = 4000,
    seed: Annotated[int, typer.Option("--seed")] = 2022,
    as_json: JsonOpt = False,
) -> None:
    """SYNTHETIC demo: a year of Kansas City referrals screened before and after the drug
    guideline; impact, decision points and the public report. No real person or case.

    Example: charging-rules demo
    """
    import tempfile

    from charging_rules.analysis import run

    out = output or Path(tempfile.mkdtemp(prefix="charging-rules-demo-"))
    result = run.demo(out, before or config.shipped("before"), config.guidelines(guidelines),
                      count, seed)
    emit(as_json, result.to_json(), *result.views())


def register(app: typer.Typer) -> None:
    app.command()(disparity)
    app.command()(impact)
    app.command()(report)
    app.command()(demo)
