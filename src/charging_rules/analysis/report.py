"""The public transparency report: one self-contained HTML file (plain-language summary
first, then the charts, what was hidden and why, methods, caveats, glossary) and the CSV
behind every chart.

Every published count is one cell of one system (suppression.py): decision points, trend,
offense categories, overrides and impact, with every equation and inequality a reader
knows between them, so a count hidden in one table cannot be recovered from another.
Rates, ratios and intervals are shown only when every count they come from is shown.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from rich.table import Table

from charging_rules.analysis import charts
from charging_rules.analysis.disparity import (
    BAND,
    check_reference,
    choose_reference,
    period_of,
    relative_rate,
)
from charging_rules.analysis.impact import UNKNOWN_LABEL, Impact
from charging_rules.analysis.sources import AuditCase, AuditCases, Grouping, Integrity
from charging_rules.analysis.suppression import (
    DEFAULT_THRESHOLD,
    Equation,
    Inequality,
    at_most,
    sum_at_most,
    suppress,
)
from charging_rules.audit.lock import written_file
from charging_rules.errors import ChargingRulesError, InputError
from charging_rules.text import csv_cell, html_text, literal

SUPPRESSED = "suppressed"
PUBLISHED = 0o644  # the report's files: a page and tables to publish, not the audit log
NA = ""  # not computed (a zero denominator, the reference against itself): not a hidden value
ALL = "All referrals"
UNKNOWN_ROW = "Race not recorded"
BIG_GROUP = 100  # a group this large is never hidden to protect another if a total can be
KEEP = 1000.0  # cost multiplier for such a group's cells
DP = ("referred", "recommended", "decided", "filed")
RATE_STAGES = {  # stage -> (words, numerator cell, denominator cell)
    "recommended": ("recommended for filing, of referrals", ("dp", "recommended"),
                    ("dp", "referred")),
    "filed": ("filed, of referrals recommended for filing and decided", ("dp", "filed"),
              ("dp", "decided")),
    "overridden": ("overridden (final decision differs from the recommendation), of decided",
                   ("ovr", "overridden"), ("ovr", "decided")),
}
VERB = {"recommended": "recommended for filing", "filed": "filed (once recommended)",
        "overridden": "overridden"}


class NothingPublishable(ChargingRulesError):
    """Every count is small or needed to protect one: a report would show nothing."""

    exit_code = 1


Cell = tuple[Any, ...]  # (table, row, column) or (table, part, group, column)


@dataclass
class System:
    """Counts published together, the relations a reader knows between them, what each
    would cost to hide, and what is hidden."""

    values: dict[Cell, int] = field(default_factory=dict)
    equations: list[Equation] = field(default_factory=list)
    inequalities: list[Inequality] = field(default_factory=list)
    cost: dict[Cell, float] = field(default_factory=dict)
    hidden: set[Cell] = field(default_factory=set)

    def total(self, key: Cell, parts: Sequence[Cell]) -> None:
        """`key` = sum of parts when it is (every case has a part), else sum <= key."""
        self.values.setdefault(key, sum(self.values[p] for p in parts))
        if self.values[key] == sum(self.values[p] for p in parts):
            self.equations.append(Equation(key, tuple(parts)))
        else:
            self.inequalities.append(sum_at_most(parts, key))

    def suppress(self, threshold: int) -> None:
        self.hidden = suppress(self.values, self.equations, threshold, self.inequalities,
                               self.cost)

    def get(self, *key: Any) -> int | None:
        return None if key in self.hidden else self.values[key]


def _rate(num: int | None, den: int | None) -> float | str | None:
    """num / den; None when a count is hidden; NA when there is nothing to divide by."""
    if num is None or den is None:
        return None
    return num / den if den else NA


def _shown(value: object) -> float | None:
    """A figure for a chart: a number, else a gap."""
    return value if isinstance(value, float) else None


def _cell(value: object) -> str:
    """A CSV/HTML cell: the one place a figure becomes text."""
    if value is None:
        return SUPPRESSED
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _terminal(column: str, value: object) -> str:
    """Compact: rates as percentages, ratios to two places."""
    if isinstance(value, float):
        if column.startswith("p_"):
            return f"{value:.2g}"
        return f"{100 * value:.1f}%" if column.endswith("rate") else f"{value:.2f}"
    return "s" if value is None else str(value)


def words(label: str) -> str:
    """A label as words for readers: drug_possession -> drug possession, 2021Q3 -> 2021 Q3."""
    text = label.replace("_", " ")
    return f"{text[:4]} {text[4:]}" if len(text) == 6 and text[4] == "Q" else text


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


@dataclass
class Chart:
    name: str
    title: str
    svg: str
    header: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class PublicReport:
    html: Path
    csvs: list[Path]
    charts: list[Chart]
    systems: list[System]  # what was published and hidden, for audit of the suppression
    findings: list[str] = field(default_factory=list)
    cases: AuditCases | None = None

    @property
    def hidden(self) -> int:
        return sum(len(system.hidden) for system in self.systems)

    def to_json(self) -> dict[str, Any]:
        return {"report": str(self.html), "csv": [str(p) for p in self.csvs],
                "suppressed_cells": self.hidden, "summary": self.findings,
                "log": self.cases.to_json() if self.cases else None}

    def views(self) -> list[RenderableType]:
        out: list[RenderableType] = [literal(f, "bold") for f in self.findings]
        for chart in self.charts:
            table = Table(title=literal(chart.title), title_justify="left", header_style="bold",
                          caption="s: suppressed (small count or its complement)",
                          caption_justify="left")
            keep = [i for i, column in enumerate(chart.header)
                    if column not in ("reference", "ci_low", "ci_high", "p_value")]
            for i in keep:  # the reference group is named in the title
                names = chart.header[i].split("_")
                table.add_column("\n".join(names), no_wrap=True,
                                 min_width=max(len(w) for w in names))
            for row in chart.rows:
                table.add_row(*(literal(_terminal(chart.header[i], row[i])) for i in keep))
            out.append(table)
        out.append(literal(f"Report: {self.html}", "bold"))
        return out


@dataclass
class Counts:
    """The report's raw counts, each referral once, before anything is hidden."""

    groups: list[str]
    dp: dict[str, Counter[str]]
    ovr: dict[str, Counter[str]]
    trend: dict[tuple[str, str], Counter[str]]
    offense: dict[tuple[str, str], Counter[str]]
    periods: list[str]
    strata: list[str]


def count(cases: Sequence[AuditCase], grouping: Grouping, positive: str, unit: str) -> Counts:
    dp: dict[str, Counter[str]] = {}
    ovr: dict[str, Counter[str]] = {}
    trend: dict[tuple[str, str], Counter[str]] = {}
    offense: dict[tuple[str, str], Counter[str]] = {}
    for case in cases:
        group = grouping.group(case.race, case.sex)
        row = group or UNKNOWN_ROW
        recommended = case.recommended == positive
        counts = dp.setdefault(row, Counter())
        counts["referred"] += 1
        counts["recommended"] += recommended
        if case.final is not None:
            counts["decided"] += recommended
            counts["filed"] += recommended and case.final == positive
            over = ovr.setdefault(row, Counter())
            over["decided"] += 1
            over["overridden"] += case.final != case.recommended
        if group is None:
            continue
        period = period_of(case.day, unit) if case.day else None
        for table, part in ((trend, period), (offense, case.stratum)):
            if part is not None:
                cell = table.setdefault((part, group), Counter())
                cell["referred"] += 1
                cell["recommended"] += recommended
    groups = sorted(g for g in dp if g != UNKNOWN_ROW)
    return Counts(groups, dp, ovr, trend, offense, sorted({p for p, _ in trend}),
                  sorted({s for s, _ in offense}))


def _system(counts: Counts, impact: Impact | None, threshold: int) -> System:
    """Every published count and every relation a reader knows between them."""
    system = System()
    values = system.values
    rows = [*counts.groups, UNKNOWN_ROW]
    big = {g for g in counts.groups if counts.dp[g]["referred"] >= BIG_GROUP}
    for row in rows:
        for column in DP:
            values["dp", row, column] = counts.dp.get(row, Counter())[column]
        for column in ("decided", "overridden"):
            values["ovr", row, column] = counts.ovr.get(row, Counter())[column]
    for column in DP:
        system.total(("dp", ALL, column), [("dp", r, column) for r in rows])
    for column in ("decided", "overridden"):
        system.total(("ovr", ALL, column), [("ovr", r, column) for r in rows])
    for row in [*rows, ALL]:
        for small, large in zip(DP[1:], DP, strict=False):
            system.inequalities.append(at_most(("dp", row, small), ("dp", row, large)))
        system.inequalities += [at_most(("ovr", row, "overridden"), ("ovr", row, "decided")),
                                at_most(("dp", row, "decided"), ("ovr", row, "decided")),
                                at_most(("ovr", row, "decided"), ("dp", row, "referred"))]
    for name, table, parts in (("trend", counts.trend, counts.periods),
                               ("offense", counts.offense, counts.strata)):
        for group in counts.groups:
            for part in parts:
                for column in ("referred", "recommended"):
                    values[name, part, group, column] = table.get((part, group),
                                                                  Counter())[column]
                system.inequalities.append(at_most((name, part, group, "recommended"),
                                                   (name, part, group, "referred")))
            for column in ("referred", "recommended"):
                system.total(("dp", group, column), [(name, p, group, column) for p in parts])
    if impact is not None:
        _impact_cells(system, counts, impact, rows)
    for key, value in values.items():
        if key[0] in ("dp", "ovr", "impact") and key[1] in big:
            system.cost[key] = KEEP * value
    system.suppress(threshold)
    return system


def _impact_cells(system: System, counts: Counts, impact: Impact, rows: list[str]) -> None:
    """The impact table's counts. Its referrals are the decision points' referred counts
    when they are the same referrals (one cell, so hidden in both or neither)."""
    values = system.values
    labels = {row: UNKNOWN_LABEL if row == UNKNOWN_ROW else row for row in rows}
    by_group = {row: impact.by_group.get(labels[row], Counter()) for row in rows}
    same = all(by_group[r]["total"] == counts.dp.get(r, Counter())["referred"] for r in rows)
    for row in rows:
        if not same:
            values["impact", row, "referrals"] = by_group[row]["total"]
        for column, source in (("changed", "changed"), ("baseline_file", "baseline_positive"),
                               ("proposed_file", "proposed_positive")):
            values["impact", row, column] = by_group[row][source]
    columns = ["changed", "baseline_file", "proposed_file"] + ([] if same else ["referrals"])
    for column in columns:
        system.total(("impact", ALL, column), [("impact", r, column) for r in rows])
    for row in [*rows, ALL]:
        referrals = _referrals_key(row, same)
        changed = ("impact", row, "changed")
        before, after = ("impact", row, "baseline_file"), ("impact", row, "proposed_file")
        system.inequalities += [at_most(changed, referrals), at_most(before, referrals),
                                at_most(after, referrals),
                                Inequality(((before, 1.0), (after, -1.0), (changed, -1.0))),
                                Inequality(((after, 1.0), (before, -1.0), (changed, -1.0)))]


def _referrals_key(row: str, same: bool) -> tuple[str, str, str]:
    return ("dp", row, "referred") if same else ("impact", row, "referrals")


def build_report(cases: Sequence[AuditCase] | AuditCases, grouping: Grouping, out_dir: Path,
                 *, positive: str = "file", period: str = "month",
                 threshold: int = DEFAULT_THRESHOLD, reference: str | None = None,
                 impact: Impact | None = None, title: str = "Charging decisions by race",
                 banner: str | None = None, band: tuple[float, float] = BAND,
                 office: dict[str, str] | None = None, integrity: Integrity | None = None,
                 outreach: Any = None) -> PublicReport:
    folded = cases if isinstance(cases, AuditCases) else AuditCases(list(cases), len(cases), 0)
    counts = count(folded.cases, grouping, positive, period)
    check_reference(counts.groups, reference)
    system = _system(counts, impact, threshold)
    if not any(v > 0 and k not in system.hidden for k, v in system.values.items()):
        raise NothingPublishable(
            f"nothing publishable: every count in the {len(folded.cases)} referrals is below "
            f"the threshold of {threshold} or needed to protect one; no report was written")
    ref = choose_reference({g: (counts.dp[g]["referred"], 0) for g in counts.groups},
                           reference)
    changes = guideline_changes(folded.cases)
    rri = _rri_chart(system, counts.groups, ref, threshold, band)
    charts_out = [_decision_chart(system, counts.groups), rri,
                  _trend_chart(system, counts, period, changes)]
    if counts.strata:
        charts_out.append(_offense_chart(system, counts))
    charts_out.append(_override_chart(system, counts.groups))
    if impact is not None:
        charts_out.append(_impact_chart(system, counts.groups, impact))
    days = sorted(c.day for c in folded.cases if c.day)
    page = Page(title, banner, threshold, band, ref, grouping, office or {}, integrity,
                folded, (days[0], days[-1]) if days else None, changes, outreach)
    findings = page.findings(system, rri, impact)
    html, csvs = _write(out_dir, charts_out, page.html(system, charts_out, findings))
    return PublicReport(html, csvs, charts_out, [system], findings, folded)


def guideline_changes(cases: Sequence[AuditCase]) -> list[tuple[str, str, str]]:
    """(first day used, set id, sha256) for each guideline set after the first, in the
    order the referrals' dates first show them."""
    first: dict[tuple[str, str], str] = {}
    for case in cases:
        if case.guidelines is not None and case.day:
            known = first.get(case.guidelines)
            if known is None or case.day < known:
                first[case.guidelines] = case.day
    order = sorted(first.items(), key=lambda item: item[1])
    return [(day, set_id, sha) for (set_id, sha), day in order[1:]]


def _write(out_dir: Path, charts_out: list[Chart], page: str) -> tuple[Path, list[Path]]:
    """report.html and one CSV per chart, each a new file renamed into place (a symlink
    planted in the folder is replaced, not written through); readable by all, as published
    pages are. An unwritable --output is an input error."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        csvs = []
        for chart in charts_out:
            path = out_dir / f"{chart.name}.csv"
            with written_file(path, PUBLISHED) as handle:
                writer = csv.writer(handle)
                writer.writerow(chart.header)
                # group labels come from the log: a "=HYPERLINK(...)" must not run
                writer.writerows([csv_cell(_cell(v)) for v in row] for row in chart.rows)
            csvs.append(path)
        html = out_dir / "report.html"
        with written_file(html, PUBLISHED) as handle:
            handle.write(page)
    except OSError as error:
        raise InputError(f"cannot write the report: {error.strerror or error}",
                         source=str(out_dir)) from None
    return html, csvs


def _decision_chart(system: System, groups: list[str]) -> Chart:
    rows, bars, notes = [], [], []
    for g in [*groups, UNKNOWN_ROW, ALL]:
        referred, recommended, decided, filed = (system.get("dp", g, c) for c in DP)
        r1, r2 = _rate(recommended, referred), _rate(filed, decided)
        rows.append([g, referred, recommended, r1, decided, filed, r2])
        if g != UNKNOWN_ROW:
            bars.append((g, [_shown(r1), _shown(r2)]))
            notes += [f" (n={referred})", f" (n={decided})"]
    svg = charts.bars(bars, ["recommended for filing, of referrals",
                             "filed, of those recommended and decided"],
                      "Rates by group at each decision point", notes)
    return Chart("decision_points", "Decision points by group: recommended for filing (of "
                 "referrals), filed (of those recommended for filing and decided)", svg,
                 ["group", "referred", "recommended", "recommended_rate", "decided", "filed",
                  "filed_rate"], rows,
                 f"'{ALL}' includes the referrals with no race recorded ('{UNKNOWN_ROW}'), "
                 "which are left out of every comparison between groups.")


def _rri_chart(system: System, groups: list[str], ref: str | None, min_n: int,
               band: tuple[float, float]) -> Chart:
    from statsmodels.stats.multitest import multipletests

    rows: list[list[Any]] = []
    for stage, (_, (num_table, num), (den_table, den)) in RATE_STAGES.items():
        rpos = system.get(num_table, ref, num) if ref else None
        rn = system.get(den_table, ref, den) if ref else None
        for g in groups:
            pos, n = system.get(num_table, g, num), system.get(den_table, g, den)
            rri: float | str | None = NA
            low: float | str | None = NA
            high: float | str | None = NA
            p: float | str | None = NA
            if g == ref:
                note = "reference group"
                rri = 1.0
            elif pos is None or n is None:
                rri = low = high = p = None
                note = "not compared: counts suppressed"
            elif n < min_n:
                note = f"not compared: fewer than {min_n}"
            elif rpos is None or rn is None or rn < min_n:
                note = f"not compared: reference group {ref} too small (fewer than {min_n})"
            else:
                ratio, ci_low, ci_high, p = relative_rate(pos, n, rpos, rn)
                rri, low, high = (NA if v is None else v for v in (ratio, ci_low, ci_high))
                note = ("" if ratio is None else "within band" if band[0] <= ratio <= band[1]
                        else "outside band (higher)" if ratio > band[1] else
                        "outside band (lower)")
            rows.append([stage, g, ref, pos, n, rri, low, high, p, p if p is None else NA,
                         note])
    tested = [i for i, row in enumerate(rows) if isinstance(row[8], float)]
    if tested:
        adjusted = multipletests([rows[i][8] for i in tested], method="holm")[1]
        for i, value in zip(tested, adjusted, strict=True):
            rows[i][9] = float(value)
    forest = [(f"{VERB[row[0]]}: {row[1]}", _shown(row[5]) if row[1] != ref else None,
               _shown(row[6]), _shown(row[7])) for row in rows]
    return Chart("rri", f"Relative rate index against {ref} with 95% confidence interval; "
                 f"shaded: the tolerance band {band[0]:g}-{band[1]:g}",
                 charts.forest(forest, "Relative rate index by group", band=band),
                 ["stage", "group", "reference", "positive", "n", "rri", "ci_low", "ci_high",
                  "p_value", "p_holm", "note"], rows,
                 "The reference group is compared with no one (its index is 1 by definition, "
                 "without an interval). p_holm: the p-value adjusted for the number of "
                 "comparisons (Holm).")


def _parts_chart(system: System, counts: Counts, name: str, parts: list[str]
                 ) -> tuple[list[list[Any]], dict[str, list[float | None]]]:
    rows = []
    series: dict[str, list[float | None]] = {g: [] for g in counts.groups}
    for part in parts:
        for g in counts.groups:
            n = system.get(name, part, g, "referred")
            pos = system.get(name, part, g, "recommended")
            rate = _rate(pos, n)
            rows.append([part, g, n, pos, rate])
            series[g].append(_shown(rate))
    return rows, series


def _trend_chart(system: System, counts: Counts, unit: str,
                 changes: list[tuple[str, str, str]]) -> Chart:
    rows, series = _parts_chart(system, counts, "trend", counts.periods)
    markers, notes = [], []
    for day, set_id, sha in changes:
        period = period_of(day, unit)
        if period in counts.periods:
            start = day[8:10] == "01" and (unit == "month" or day[5:7] in ("01", "04", "07",
                                                                         "10"))
            markers.append((counts.periods.index(period) - (0.5 if start else 0.0),
                            "guidelines changed"))
        notes.append(f"{day}: guideline set {set_id} (sha256 {sha[:12]}) first used")
    return Chart("trend", f"Recommended for filing, of referrals, by {unit}",
                 charts.lines([words(p) for p in counts.periods], series,
                              f"Rate recommended for filing by {unit}", markers),
                 [unit, "group", "referred", "recommended", "rate"], rows,
                 ("Guideline changes (dashed lines): " + "; ".join(notes) + ".") if notes
                 else "No guideline change is recorded in this period.")


def _offense_chart(system: System, counts: Counts) -> Chart:
    rows, series = _parts_chart(system, counts, "offense", counts.strata)
    bars = [(words(s), [series[g][i] for g in counts.groups])
            for i, s in enumerate(counts.strata)]
    return Chart("by_offense", "Recommended for filing, of referrals, by offense category "
                 "(first charge)", charts.bars(bars, counts.groups, "Rates by offense category"),
                 ["offense", "group", "referred", "recommended", "rate"], rows)


def _override_chart(system: System, groups: list[str]) -> Chart:
    rows, bars = [], []
    for g in [*groups, UNKNOWN_ROW, ALL]:
        decided, overridden = system.get("ovr", g, "decided"), system.get("ovr", g,
                                                                         "overridden")
        rate = _rate(overridden, decided)
        rows.append([g, decided, overridden, rate])
        if g != UNKNOWN_ROW:
            bars.append((g, [_shown(rate)]))
    return Chart("overrides", "Overrides: final decision differs from the recommendation, "
                 "of decided", charts.bars(bars, ["overridden, of decided"], "Override rates"),
                 ["group", "decided", "overridden", "override_rate"], rows)


def _impact_chart(system: System, groups: list[str], impact: Impact) -> Chart:
    rows, bars = [], []
    same = ("impact", ALL, "referrals") not in system.values
    for g in [*groups, UNKNOWN_ROW, ALL]:
        n = system.get(*_referrals_key(g, same))
        changed = system.get("impact", g, "changed")
        before, after = system.get("impact", g, "baseline_file"), system.get(
            "impact", g, "proposed_file")
        rows.append([g, n, changed, before, after, _rate(before, n), _rate(after, n)])
        if g != UNKNOWN_ROW:
            bars.append((g, [_shown(_rate(before, n)), _shown(_rate(after, n))]))
    positive = words(impact.positive)
    return Chart("impact", f"Impact of the guideline change: share recommended '{positive}' "
                 f"under {impact.baseline.title} and under {impact.proposed.title}",
                 charts.bars(bars, [impact.baseline.title, impact.proposed.title],
                             "Impact of the guideline change"),
                 ["group", "referrals", "changed", "baseline_file", "proposed_file",
                  "baseline_rate", "proposed_rate"], rows,
                 f"The same referrals under both guideline sets. '{ALL}' includes those with "
                 "no race recorded: its 'changed' count is the total the terminal prints.")


STYLE = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:24px auto;padding:0 16px;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:0}.banner{background:#fff3cd;border:2px solid #d39e00;
padding:8px 12px;font-weight:bold;margin:12px 0}.warn{background:#f8d7da;border-color:#b02a37}
table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ccc;
padding:2px 6px;text-align:right}td:first-child,th:first-child{text-align:left}
.muted{color:#666;font-size:0.9em}section{margin:28px 0}#summary{background:#f4f8fb;
padding:8px 16px;border-left:4px solid #1b6ca8}dt{font-weight:bold}dd{margin:0 0 8px 16px}
"""

GLOSSARY = [
    ("Referral", "A case a police agency sends to the prosecutor's office for a charging "
     "decision. Each referral is counted once, however often it was screened."),
    ("Decision point", "A step every referral passes: referred, recommended for filing by "
     "the guidelines, then filed or not by a prosecutor. Each rate is measured on the "
     "referrals that reached the step before it."),
    ("Rate", "The share of a group's referrals at one decision point that went on to the "
     "next, e.g. the share recommended for filing."),
    ("Reference group", "The group every other group is compared with (by default White, as "
     "in the federal relative rate index method). It is not compared with itself."),
    ("Relative rate index (RRI)", "A group's rate divided by the reference group's rate. 1 "
     "means the same rate; 0.6 means 60% of the reference group's rate. Because it compares "
     "two rates, it can rise while every group's rate falls: when the reference group's rate "
     "falls proportionally more than another group's, that group's index goes up."),
    ("95% confidence interval (CI)", "The range of relative rates consistent with the data "
     "at the 95% level. An interval that includes 1 means the difference could be chance."),
    ("Tolerance band", "Ratios inside it (by default 0.8 to 1.25, as in the Aequitas bias "
     "audit) are treated as no material disparity; outside it, the difference is flagged."),
    ("p-value and Holm adjustment", "How surprising the difference would be if the groups "
     "were treated alike. With many comparisons some look significant by chance; the Holm "
     "adjustment corrects for the number of comparisons made."),
    ("Suppression", "Hiding a small count (below the threshold) so no one can be identified, "
     "and hiding as few other counts as needed so the small one cannot be worked out from "
     "totals or other tables."),
    ("Override", "A prosecutor's final decision that differs from the guidelines' "
     "recommendation."),
    ("Race not recorded", "Referrals without a usable race. They are counted in the totals "
     "and left out of every comparison between groups."),
]


@dataclass
class Page:
    """The HTML page around the charts: summary, what was hidden, methods, glossary."""

    title: str
    banner: str | None
    threshold: int
    band: tuple[float, float]
    reference: str | None
    grouping: Grouping
    office: dict[str, str]
    integrity: Integrity | None
    cases: AuditCases
    period: tuple[str, str] | None
    changes: list[tuple[str, str, str]]
    outreach: Any

    def findings(self, system: System, rri: Chart, impact: Impact | None) -> list[str]:
        """Plain-language findings from published figures only (a sentence never restates
        a hidden count)."""
        out = []
        if self.integrity is not None and not self.integrity.ok:
            out.append(self.integrity.warning() or "")
        total, unknown = system.get("dp", ALL, "referred"), system.get("dp", UNKNOWN_ROW,
                                                                        "referred")
        if total is not None:
            text = f"{total:,} referrals"
            if unknown is not None and total:
                text += (f", of which {unknown:,} ({_pct(unknown / total)}) had no race "
                         "recorded and are left out of the comparisons between groups")
            out.append(text + ".")
        for stage, (description, _, _) in RATE_STAGES.items():
            out.append(self._verdict(stage, description, rri))
        if impact is not None:
            out.append(self._impact(system, impact))
        for day, set_id, _ in self.changes:
            out.append(f"The guidelines changed on {day} (guideline set {set_id} first used); "
                       "the change is marked on the trend chart.")
        if self.outreach is not None:
            out.append(_outreach_sentence(self.outreach))
        return out

    def _verdict(self, stage: str, description: str, rri: Chart) -> str:
        rows = [row for row in rri.rows if row[0] == stage and row[1] != self.reference]
        compared = [row for row in rows if isinstance(row[5], float)]
        lo, hi = self.band
        head = f"{description[0].upper()}{description[1:]}: "
        if not compared:
            reasons = sorted({row[10] for row in rows}) or ["no other group"]
            return head + "not assessed (" + "; ".join(reasons) + ")."
        outside = [row for row in compared if not lo <= row[5] <= hi]
        parts = []
        for row in outside or compared[:1]:
            if row[5] == 0:
                parts.append(f"none of the {row[4]} {row[1]} referrals were {VERB[stage]} "
                             "(a ratio of zero has no interval)")
                continue
            ci = ("" if not isinstance(row[6], float) or not isinstance(row[7], float) else
                  f" (95% CI {row[6]:.2f} to {row[7]:.2f}"
                  + ("; the difference could be chance" if row[6] <= 1 <= row[7] else "")
                  + ("" if not isinstance(row[9], float) or row[9] < 0.05
                     or row[6] <= 1 <= row[7]
                     else "; not significant once adjusted for the number of comparisons")
                  + ")")
            parts.append(f"{row[1]} referrals were {VERB[stage]} at {row[5]:.2f} times the "
                         f"rate of {self.reference} referrals{ci}")
        verdict = (f"outside the {lo:g}-{hi:g} tolerance band for "
                   f"{', '.join(row[1] for row in outside)}" if outside
                   else f"every compared group is within the {lo:g}-{hi:g} tolerance band")
        skipped = [row[1] for row in rows if not isinstance(row[5], float)]
        tail = f" Not compared: {', '.join(skipped)} (small or suppressed counts)." \
            if skipped else ""
        return head + "; ".join(parts) + f"; {verdict}.{tail}"

    def _impact(self, system: System, impact: Impact) -> str:
        same = ("impact", ALL, "referrals") not in system.values
        changed, n = system.get("impact", ALL, "changed"), system.get(*_referrals_key(ALL,
                                                                                      same))
        text = f"What the guideline change does ({impact.baseline.title} to " \
               f"{impact.proposed.title}): "
        if changed is not None and n is not None:
            text += f"{changed:,} of {n:,} referrals change outcome. "
        moves, falls, rises = [], [], []
        before_rri = {g.group: g.rri for g in impact.before.groups} if impact.before else {}
        after_rri = {g.group: g.rri for g in impact.after.groups} if impact.after else {}
        for row in sorted(impact.by_group):
            if row == UNKNOWN_LABEL:
                continue
            n_g = system.get(*_referrals_key(row, same))
            b = _shown(_rate(system.get("impact", row, "baseline_file"), n_g))
            a = _shown(_rate(system.get("impact", row, "proposed_file"), n_g))
            if a is None or b is None:
                continue
            moves.append(f"{row} from {_pct(b)} to {_pct(a)}")
            falls.append(a < b)
            ba, aa = before_rri.get(row), after_rri.get(row)
            if ba is not None and aa is not None and aa > ba and row != self.reference:
                rises.append(row)
        if moves:
            text += (f"the share recommended '{words(impact.positive)}' changes for "
                     + ", ".join(moves) + ".")
        if moves and all(falls) and rises:
            text += (f" Every group's rate falls, yet the relative rate of {', '.join(rises)} "
                     f"rises: the {self.reference} rate falls proportionally more, and the "
                     "index compares the two rates.")
        return text

    def html(self, system: System, charts_out: list[Chart], findings: list[str]) -> str:
        period = f"{self.period[0]} to {self.period[1]}" if self.period else "no dated referrals"
        parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                 f"<title>{html_text(self.title)}</title><style>{STYLE}</style></head><body>",
                 f"<h1>{html_text(self.title)}</h1>"]
        if self.banner:
            parts.append(f"<div class='banner'>{html_text(self.banner)}</div>")
        if self.integrity is not None and not self.integrity.ok:
            parts.append(f"<div class='banner warn'>{html_text(self.integrity.warning() or '')}"
                         "</div>")
        office = self.office.get("name") or "the prosecutor's office"
        parts.append(
            f"<section id='summary'><h2>Summary</h2><p><strong>Period covered: {period}."
            f"</strong> Published by {html_text(office)}.</p><ul>"
            + "".join(f"<li>{html_text(f)}</li>" for f in findings if f)
            + "</ul><p>These figures describe what happened; they do not by themselves show "
            "why (see the caveats below).</p></section>")
        for chart in charts_out:
            header = "".join(f"<th>{html_text(words(h))}</th>" for h in chart.header)
            # offense categories and periods are the tool's vocabulary: read as words
            vocabulary = chart.name in ("trend", "by_offense")
            body = "".join("<tr>" + "".join(
                f"<td>{html_text(words(v) if vocabulary and i == 0 else _cell(v))}</td>"
                for i, v in enumerate(row)) + "</tr>" for row in chart.rows)
            note = f"<p class='muted'>{html_text(chart.note)}</p>" if chart.note else ""
            parts.append(f"<section id='{chart.name}'><h2>{html_text(chart.title)}</h2>"
                         f"{chart.svg}{note}<details><summary>Data ({chart.name}.csv)</summary>"
                         f"<table><tr>{header}</tr>{body}</table></details></section>")
        if self.outreach is not None:
            parts.append(f"<section id='outreach'><h2>Victim outreach</h2><p>"
                         f"{html_text(_outreach_sentence(self.outreach))}</p></section>")
        parts += [self._hidden(system), self._methods(), self._caveats(), self._glossary(),
                  self._about(), "</body></html>"]
        return "".join(parts)

    def _hidden(self, system: System) -> str:
        primary = {k for k in system.hidden if system.values[k] < self.threshold}
        by_table: dict[str, list[str]] = {}
        for key in sorted(system.hidden, key=repr):
            where = " / ".join(words(str(part)) for part in key[1:])
            by_table.setdefault(TABLE_NAMES[str(key[0])], []).append(where)
        big = {str(k[1]) for k in system.hidden if k[0] == "dp" and k[1] not in (ALL, UNKNOWN_ROW)
               and system.values["dp", k[1], "referred"] >= BIG_GROUP}
        items = "".join(f"<li>{html_text(t)}: {html_text('; '.join(cells))}</li>"
                        for t, cells in by_table.items())
        return (f"<section id='suppression'><h2>What is hidden and why</h2><p>"
                f"{len(primary)} counts below {self.threshold} are hidden to protect the "
                f"people behind them, and {len(system.hidden) - len(primary)} further counts "
                "are hidden so that none of those can be worked out from totals, other rows, "
                "other tables or the logical relations between them (filed &le; decided &le; "
                "recommended &le; referred; a trend adds up to the year). The further counts "
                "were chosen to hide as little as possible: "
                + ("no group with 100 or more referrals has a decision-point count hidden."
                   if not big else html_text(f"groups with 100 or more referrals still hidden "
                                          f"in part: {', '.join(sorted(big))} (no smaller "
                                          "choice protected the small counts).")) + "</p>"
                + (f"<ul>{items}</ul>" if items else "<p>Nothing is hidden.</p>")
                + "</section>")

    def _methods(self) -> str:
        lo, hi = self.band
        labels = ", ".join(f"{k} → {v}" for k, v in self.grouping.group_map.used().items())
        folded = self.cases.repeats
        return (
            "<section id='methods'><h2>Methods</h2><ul>"
            f"<li>Each referral is counted once: {self.cases.screenings:,} screenings were "
            f"recorded for {len(self.cases.cases):,} referrals; {folded:,} repeated "
            "screenings of the same referral were folded into its latest recommendation and "
            "its final decision.</li>"
            "<li>Decision points (the federal relative rate index method, OJJDP): referred, "
            "then recommended for filing (rate on referrals), then filed (rate on referrals "
            "recommended for filing that have a final decision), and overrides (rate on "
            "decided).</li>"
            f"<li>Relative rate index: a group's rate divided by the reference group's "
            f"({html_text(self.reference or 'none')}). 95% confidence interval by the Katz log "
            "method, p-value by Fisher's exact test, adjusted for the number of comparisons "
            f"by Holm's method. Tolerance band {lo:g} to {hi:g} (Aequitas).</li>"
            f"<li>A group (or reference group) with fewer than {self.threshold} referrals at a "
            "decision point is not compared: the figure is left out and the table says "
            "why.</li>"
            "<li>Referrals with no race recorded are counted in the totals and left out of "
            "every comparison.</li>"
            f"<li>Suppression: every count from 1 to {self.threshold - 1} is hidden; further "
            "counts are hidden where needed, chosen by an integer program that hides the "
            "fewest referrals, so that each hidden count has at least two values consistent "
            "with everything published. Zeros are shown.</li>"
            f"<li>Groups (group map {html_text(self.grouping.group_map.name)}): "
            f"{html_text(labels)}.</li></ul></section>")

    def _caveats(self) -> str:
        return (
            "<section id='caveats'><h2>Caveats</h2><ul>"
            "<li>Descriptive, not causal: a difference in rates shows that groups fared "
            "differently, not why. Offense mix, criminal history and evidence differ between "
            "referrals and are not all held equal here.</li>"
            "<li>Multiple comparisons: this report makes many comparisons (groups times "
            "decision points), so some will look significant by chance; the Holm-adjusted "
            "p-values account for that.</li>"
            "<li>Small groups have wide intervals; a ratio outside the tolerance band with an "
            "interval that includes 1 is not firm evidence of a difference.</li>"
            "<li>Race is as recorded by the referring agency.</li></ul></section>")

    def _glossary(self) -> str:
        return ("<section id='glossary'><h2>Glossary</h2><dl>"
                + "".join(f"<dt>{html_text(t)}</dt><dd>{html_text(d)}</dd>" for t, d in GLOSSARY)
                + "</dl></section>")

    def _about(self) -> str:
        contact = self.office.get("contact") or "not configured"
        schedule = self.office.get("update_schedule") or "not configured"
        return (f"<section id='about'><h2>About this report</h2><p>Published by "
                f"{html_text(self.office.get('name') or 'not configured')}. Contact: "
                f"{html_text(contact)}. Updated: {html_text(schedule)}.</p><p class='muted'>"
                f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by charging-rules from the "
                "office's audit log; the CSV files beside this page hold every figure shown."
                "</p></section>")


TABLE_NAMES = {"dp": "Decision points", "ovr": "Overrides", "trend": "Trend",
               "offense": "By offense category", "impact": "Impact"}


def _outreach_sentence(status: Any) -> str:
    weeks = status.weeks_imported
    pace = status.referrals / weeks if weeks else 0.0
    needed = status.goal / status.weeks_in_year
    return (f"Victim outreach {status.year}: {status.referrals:,} referrals to the outreach "
            f"hub against the yearly goal of {status.goal:,} "
            f"({_pct(status.referrals / status.goal)}), over {weeks} week(s) recorded: "
            f"{pace:.1f} a week, against the {needed:.1f} a week the goal needs"
            + (f"; projected {status.projected:,} by year end" if status.projected is not None
               else "") + ".")

