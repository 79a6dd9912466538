"""One library call per analysis command: the CLI parses options, calls one of these, and
renders the result (`.to_json()` for --json, `.views()` for the terminal)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from charging_rules.analysis.benchmark import load_benchmark, representation
from charging_rules.analysis.disparity import (
    BAND,
    Comparison,
    Pooled,
    Tally,
    check_reference,
    mantel_haenszel,
)
from charging_rules.analysis.groups import load_group_map
from charging_rules.analysis.impact import (
    Impact,
    compare_outcomes,
    impact,
    logged_referrals,
    read_referrals,
)
from charging_rules.analysis.monitor import decision_points, summary
from charging_rules.analysis.sources import (
    OFFENSE,
    STAGES,
    Grouping,
    Integrity,
    TableSpec,
    audit_cases,
    checked_log,
    table_cases,
)
from charging_rules.analysis.views import (
    comparison_table,
    impact_view,
    pooled_table,
    representation_table,
)
from charging_rules.audit.store import AuditStore
from charging_rules.config import SMALL_CELL
from charging_rules.errors import InputError
from charging_rules.model.referral import CHARGING_OUTCOMES
from charging_rules.text import literal

PERIODS = (None, "month", "quarter")


@dataclass(frozen=True)
class Options:
    """What every analysis shares: how groups are formed and compared."""

    group_map: str | None = None
    intersect: str | None = None  # a sex-like column crossed with the group (race x sex)
    intersect_map: str | None = "sex"
    reference: str | None = None
    min_n: int = SMALL_CELL
    by: str | None = None
    period: str | None = None
    band: tuple[float, float] = BAND

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise InputError(f"must be month or quarter (got {self.period!r})",
                             concept="period")

    def grouping(self) -> Grouping:
        return Grouping(load_group_map(self.group_map),
                        load_group_map(self.intersect_map) if self.intersect else None)


def parse_band(text: str) -> tuple[float, float]:
    """A tolerance band "LOW-HIGH" around 1 (Aequitas' default 0.8-1.25)."""
    low, _, high = text.partition("-")
    try:
        band = (float(low), float(high))
    except ValueError:
        band = (0.0, 0.0)
    if not 0 < band[0] < 1 < band[1]:
        raise InputError(f"must be LOW-HIGH around 1, e.g. 0.8-1.25 (got {text!r})",
                         concept="band")
    return band


@dataclass
class DisparityResult:
    title: str
    comparison: Comparison
    tally: Tally
    options: Options
    grouping: Grouping
    extra: dict[str, Any] = field(default_factory=dict)
    tables: list[RenderableType] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = self.comparison.to_json()
        out["group_map"] = {"name": self.grouping.group_map.name,
                            "labels": self.grouping.group_map.used()}
        if self.options.by:
            out["by"] = {"column": self.options.by,
                         "mantel_haenszel": [m.to_json() for m in self.pooled()],
                         "strata": {s: self.tally.compare(
                             self.options.reference, self.options.min_n,
                             stratum=s).to_json() for s in self.tally.strata()}}
        if self.options.period:
            out["period"] = {"unit": self.options.period, "periods": {
                p: self.tally.compare(self.options.reference, self.options.min_n,
                                      period=p).to_json() for p in self.tally.periods()}}
        return {**out, **self.extra}

    def pooled(self) -> list[Pooled]:
        return mantel_haenszel(self.tally, self.options.reference, self.options.min_n)

    def views(self) -> list[RenderableType]:
        views: list[RenderableType] = []
        if self.options.by:  # the summary across strata first, then the strata that compare
            views.append(pooled_table(self.pooled(), self.options.by))
        views += [*self.tables, comparison_table(self.comparison, self.title)]
        small = []
        for stratum in self.tally.strata():
            table = self.tally.compare(self.options.reference, self.options.min_n,
                                       stratum=stratum)
            if any(g.rri is not None and g.group != table.reference for g in table.groups):
                views.append(comparison_table(table, f"{self.title} | {self.options.by} = "
                                                     f"{stratum}"))
            else:
                small.append(f"{stratum} ({sum(g.n for g in table.groups)})")
        if small:
            views.append(literal(f"Strata with no group of {self.options.min_n} or more to "
                                 f"compare with the reference (n): {', '.join(small)}", "dim"))
        for period in self.tally.periods():
            views.append(comparison_table(self.tally.compare(
                self.options.reference, self.options.min_n, period=period),
                f"{self.title} | {self.options.period} {period}"))
        labels = ", ".join(f"{k} -> {v}" for k, v in self.grouping.group_map.used().items())
        views.append(literal(f"Group map {self.grouping.group_map.name}: {labels}", "dim"))
        return views


def table_spec(group: str | None, outcome: str | None, positive: list[str] | None,
               options: Options, date: str | None) -> TableSpec:
    """What a table analysis needs named: its group and outcome columns, the positive
    value(s), and a date column for a trend."""
    if not (group and outcome and positive):
        raise InputError("a table needs its group column, its outcome column and the "
                         "positive outcome value(s) named", concept="group")
    if options.period and not date:
        raise InputError("a trend over a table needs its date column named", concept="date")
    return TableSpec(group, outcome, frozenset(positive), options.by, options.intersect, date,
                     options.period)


def disparity_table(path: Path, spec: TableSpec, options: Options,
                    benchmark: str | None = None) -> DisparityResult:
    """Rates and RRIs by group in any CSV/JSONL table."""
    grouping = options.grouping()
    outcomes: set[str] = set()
    tally = Tally().add_all(table_cases(path, spec, grouping, outcomes))
    if outcomes and not outcomes & spec.positive:
        seen = ", ".join(sorted(outcomes)[:12]) + (", ..." if len(outcomes) > 12 else "")
        raise InputError(f"no row of {spec.outcome} holds {', '.join(sorted(spec.positive))} "
                         f"(its values: {seen})", concept="positive")
    check_reference(tally.observed(), options.reference)
    comparison = tally.compare(options.reference, options.min_n)
    positive = "|".join(sorted(spec.positive))
    extra: dict[str, Any] = {"input": str(path), "outcome": spec.outcome,
                             "positive": sorted(spec.positive)}
    tables = _representation(tally.observed(), benchmark, extra, options.min_n)
    return DisparityResult(f"{spec.outcome} = {positive} by {spec.group}", comparison, tally,
                           options, grouping, extra, tables)


def _representation(counts: dict[str, int], benchmark: str | None,
                    extra: dict[str, Any], min_n: int) -> list[RenderableType]:
    """Representation against the named benchmark: into `extra`, and its table."""
    if not benchmark:
        return []
    bench = load_benchmark(benchmark)
    rows = representation(counts, bench, min_n)
    extra["representation"] = {"benchmark": bench.name, "description": bench.description,
                               "groups": rows}
    return [representation_table(rows, bench.name)]


def disparity_log(records: Any, stage: str, positives: list[str] | None, options: Options,
                  benchmark: str | None = None, group: str | None = None,
                  integrity: Integrity | None = None) -> DisparityResult:
    """One decision point of the audit log in the contract shape, with every decision point
    (and, when named, representation against a benchmark) beside it. `positive`: one outcome
    (a rate of one decision), `file` when not given; `group`: race when not given."""
    if positives and len(positives) > 1:
        raise InputError("on the audit log this is one outcome (a rate of one decision)",
                         concept="positive")
    positive = positives[0] if positives else "file"
    group = group or "demographics.race"
    if stage not in STAGES or stage == "referred":
        raise InputError(f"must be one of recommendation, decision, override "
                         f"(got {stage!r})", concept="stage")
    if positive not in CHARGING_OUTCOMES:
        raise InputError(f"must be an outcome: {', '.join(CHARGING_OUTCOMES)} "
                         f"(got {positive!r})", concept="positive")
    grouping = options.grouping()
    folded = audit_cases(records, group, options.by)
    points = decision_points(folded.cases, grouping, positive, options.period)
    check_reference(points.referred, options.reference)
    tally = points.tallies[stage]
    comparison = tally.compare(options.reference, options.min_n)
    extra: dict[str, Any] = {"stage": stage, "stage_definition": STAGES[stage],
                             "positive": positive,
                             "log": summary(points) | folded.to_json(),
                             "integrity": (integrity or Integrity()).to_json()}
    stages = {s: t.compare(options.reference, options.min_n)
              for s, t in points.tallies.items()}
    extra["decision_points"] = {s: {"definition": STAGES[s], **c.to_json()}
                                for s, c in stages.items()}
    tables = _representation(dict(points.referred), benchmark, extra, options.min_n)
    if folded.repeats:
        tables.append(literal(f"{folded.screenings} screenings of {len(folded.cases)} referrals: "
                           f"{folded.repeats} repeated screenings folded (each referral "
                              "counted once, at its latest recommendation and final "
                              "decision)"))
    if integrity is not None and not integrity.ok:
        tables.insert(0, literal(integrity.warning() or "", "bold red"))
    tables += [comparison_table(c, f"Decision point: {STAGES[s]}")
               for s, c in stages.items() if s != stage]
    return DisparityResult(f"Decision point: {STAGES[stage]}", comparison, tally, options,
                           grouping, extra, tables)


def impact_of(source: Path | None, records: Any, baseline: Path, proposed: Path | None,
              options: Options, positive: str = "file") -> Impact:
    """`source` referral file, or (None) the referral snapshots in the audit log."""
    from charging_rules.guidelines.loader import load_guidelines

    if proposed is None:
        raise InputError("is required (the guideline set to compare)", concept="proposed")
    referrals = read_referrals(source) if source is not None else logged_referrals(records)
    return impact(referrals, load_guidelines(baseline), load_guidelines(proposed),
                  options.grouping(), positive, options.reference, options.min_n)


def impact_views(result: Impact) -> list[RenderableType]:
    views: list[RenderableType] = [impact_view(result)]
    if result.after is not None:
        views.append(comparison_table(result.after, f"Under {result.proposed.id}: "
                                      f"'{result.positive}' rate by group"))
    return views


def report_of(store: AuditStore, out_dir: Path, options: Options, *, threshold: int,
              baseline: Path | None = None, proposed: Path | None = None,
              title: str = "Charging decisions by race", ignore_integrity: bool = False,
              outreach: Callable[[], Any] | None = None) -> Any:
    """The public report from a verified audit log; with --baseline/--proposed, the impact
    of that guideline change on the logged referrals too; when the log holds outreach
    records, the outreach program's year against its goal (`outreach()`: the outreach
    package sits beside this one, so the caller passes its status function in)."""
    from charging_rules.analysis.report import build_report
    from charging_rules.config import office

    stream, integrity = checked_log(store, ignore_integrity)
    records = list(stream)
    change = (impact_of(None, records, baseline, proposed, options)
              if baseline is not None and proposed is not None else None)
    return build_report(audit_cases(records, by=options.by), options.grouping(), out_dir,
                        period=options.period or "month", threshold=threshold,
                        reference=options.reference, impact=change, title=title,
                        band=options.band, office=office(), integrity=integrity,
                        outreach=outreach() if outreach is not None and any(
                            r.get("record_kind", "referral") != "referral" for r in records)
                        else None)


@dataclass
class Demo:
    out_dir: Path
    referrals: Path
    audit_dir: Path
    impact: Impact
    disparity: DisparityResult
    report: Any
    calibration: list[tuple[str, str, float]]

    def to_json(self) -> dict[str, Any]:
        return {"synthetic": True, "output": str(self.out_dir),
                "calibration": [{"figure": f, "published": p, "synthetic": v}
                                for f, p, v in self.calibration],
                "referrals": str(self.referrals), "audit_dir": str(self.audit_dir),
                "report": str(self.report.html), "impact": self.impact.to_json(),
                "disparity": self.disparity.to_json()}

    def views(self) -> list[RenderableType]:
        from charging_rules.analysis.synth import SYNTHETIC_LABEL

        table = Table(title="Synthetic year vs the office's published figures (seed)",
                      title_justify="left", header_style="bold")
        for column in ("figure", "published", "synthetic"):
            table.add_column(column)
        for figure, published, value in self.calibration:
            table.add_row(figure, published, f"{100 * value:.1f}%")
        return [Text(SYNTHETIC_LABEL, style="bold black on yellow"), table,
                literal("Summary (as the report opens):", "bold"),
                *(literal(f"- {finding}") for finding in self.report.findings),
                *impact_views(self.impact),
                *self.disparity.views(),
                literal(f"Report: {self.report.html}  (CSV beside it; audit log: "
                        f"{self.audit_dir})", "bold")]


def demo(out_dir: Path, before: Path, current: Path, count: int = 4000, seed: int = 2022,
         threshold: int = SMALL_CELL) -> Demo:
    """A synthetic year screened under the old practice (before the policy date) and the
    current guideline (after), logged with synthetic prosecutor decisions; then the impact
    of the change on the whole year, the decision points, and the public report.

    Every input is loaded and checked (both guideline sets, the output folder writable)
    before anything is written; both sets are archived beside the log, so every demo
    decision replays (`audit replay`)."""
    import json
    import random
    import tempfile

    from charging_rules.analysis.synth import (
        DEMO_OFFICE,
        POLICY_DATE,
        SYNTHETIC_LABEL,
        calibration,
        prosecutor_decision,
        synthetic_year,
    )
    from charging_rules.audit import archive, log
    from charging_rules.audit.entries import decision_entry, recommendation_entry
    from charging_rules.config import office
    from charging_rules.engine.evaluate import Evaluator
    from charging_rules.guidelines.loader import load_guidelines
    from charging_rules.model.kinds import parse_record

    audit_dir = out_dir / "audit_logs"
    if log.segments(audit_dir):
        raise InputError("already holds a demo audit log; choose another output directory",
                         source=str(out_dir))
    sets = {"before": load_guidelines(before), "current": load_guidelines(current)}
    raw = synthetic_year(count, seed)
    parsed = [parse_record(r, "referral", f"synthetic {r['referral_id']}") for r in raw]
    records = [record for record, _ in parsed]
    outcomes = {era: list(Evaluator(s).evaluate_many(records)) for era, s in sets.items()}
    referrals = out_dir / "referrals.jsonl"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):  # writable, before anything is written
            pass
        referrals.write_text("".join(json.dumps(r) + "\n" for r in raw), encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write the demo: {error.strerror or error}",
                         source=str(out_dir)) from None
    for guideline_set in sets.values():  # the files behind every logged sha256, for replay
        archive.store(audit_dir, guideline_set)
    rng = random.Random(seed)
    entries = []
    for r, (record, demographics), old, new in zip(raw, parsed, outcomes["before"],
                                                   outcomes["current"], strict=True):
        recommendation = old if r["received"] < POLICY_DATE.isoformat() else new
        entry = recommendation_entry(recommendation, record, demographics, "synthetic-demo")
        entries.append(entry)
        decided = prosecutor_decision(rng, recommendation.outcome)
        if decided is not None:
            entries.append(decision_entry(entry, "synthetic-demo", *decided))
    log.append_many(audit_dir, entries)
    options = Options(group_map=None)
    change = compare_outcomes(parsed, outcomes["before"], outcomes["current"], sets["before"],
                              sets["current"], options.grouping())
    logged = list(log.read_records(audit_dir))
    result = disparity_log(logged, "recommendation", ["file"], options,
                           "kansas-city-office-39")
    from charging_rules.analysis.report import build_report

    report = build_report(audit_cases(logged, by=OFFENSE), options.grouping(),
                          out_dir / "report",
                          threshold=threshold, impact=change, period="quarter",
                          title="Kansas City referrals: charging decisions by race (SYNTHETIC)",
                          banner=SYNTHETIC_LABEL, office=office() or DEMO_OFFICE)
    return Demo(out_dir, referrals, audit_dir, change, result, report, calibration(raw))
