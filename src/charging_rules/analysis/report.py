"""The public transparency report: one self-contained HTML file plus the CSV behind every
chart, every count below the threshold hidden with complementary suppression.

Suppression runs on one system of equations per family of tables that share counts (the
decision points and their monthly trend share the referred and recommended counts), so a
count hidden in one table cannot be recovered from another. Rates, RRIs and intervals are
shown only when every count they are computed from is shown.
"""

from __future__ import annotations

import csv
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from rich.table import Table

from charging_rules.analysis import charts
from charging_rules.analysis.disparity import check_reference, choose_reference, relative_rate
from charging_rules.analysis.impact import UNKNOWN_LABEL, Impact
from charging_rules.analysis.monitor import decision_points
from charging_rules.analysis.sources import AuditCase, Grouping
from charging_rules.analysis.suppression import DEFAULT_THRESHOLD, Equation, suppress
from charging_rules.errors import InputError
from charging_rules.text import csv_cell, literal

SUPPRESSED = "suppressed"
ALL = "All"


@dataclass
class System:
    """Counts published together, the equations a reader knows between them, and what to
    hide. Keys are (table, row, column)."""

    values: dict[Hashable, int] = field(default_factory=dict)
    equations: list[Equation] = field(default_factory=list)
    hidden: set[Hashable] = field(default_factory=set)

    def table(self, name: str, rows: dict[str, dict[str, int]],
              row_equations: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Add a table with an All row (column totals) and per-row equations."""
        columns = list(next(iter(rows.values())).keys()) if rows else []
        for row, cells in rows.items():
            for column, value in cells.items():
                self.values[name, row, column] = value
        for column in columns:
            self.values[name, ALL, column] = sum(r[column] for r in rows.values())
            self.equations.append(Equation((name, ALL, column),
                                           tuple((name, row, column) for row in rows)))
        for row in [*rows, ALL]:
            for total, parts in row_equations:
                self.equations.append(Equation((name, row, total),
                                               tuple((name, row, p) for p in parts)))

    def suppress(self, threshold: int) -> None:
        self.hidden = suppress(self.values, self.equations, threshold)

    def get(self, name: str, row: str, column: str) -> int | None:
        key = (name, row, column)
        return None if key in self.hidden else self.values[key]


def _rate(num: int | None, den: int | None) -> float | None:
    return None if num is None or not den else num / den


def _cell(value: object) -> str:
    if value is None:
        return SUPPRESSED
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _terminal(column: str, value: object) -> str:
    """Compact: rates as percentages, ratios to two places."""
    if isinstance(value, float):
        if column == "p_value":
            return f"{value:.2g}"
        return f"{100 * value:.1f}%" if column.endswith("rate") else f"{value:.2f}"
    return "s" if value is None else str(value)


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

    @property
    def hidden(self) -> int:
        return sum(len(system.hidden) for system in self.systems)

    def views(self) -> list[Table]:
        out = []
        for chart in self.charts:
            table = Table(title=literal(chart.title), title_justify="left", header_style="bold",
                          caption="s: suppressed (small count or its complement)",
                          caption_justify="left")
            keep = [i for i, column in enumerate(chart.header) if column != "reference"]
            for i in keep:  # the reference group is named in the title
                words = chart.header[i].split("_")
                table.add_column("\n".join(words), no_wrap=True,
                                 min_width=max(len(w) for w in words))
            for row in chart.rows:
                table.add_row(*(literal(_terminal(chart.header[i], row[i])) for i in keep))
            out.append(table)
        return out


def build_report(cases: Sequence[AuditCase], grouping: Grouping, out_dir: Path, *,
                 positive: str = "file", period: str = "month",
                 threshold: int = DEFAULT_THRESHOLD, reference: str | None = None,
                 impact: Impact | None = None, title: str = "Charging decisions by race",
                 banner: str | None = None) -> PublicReport:
    points = decision_points(cases, grouping, positive, period)
    check_reference(points.referred, reference)
    rec = points.tallies["recommendation"].counts()[0]
    dec = points.tallies["decision"].counts()[0]
    ovr = points.tallies["override"].counts()[0]
    groups = sorted(points.referred)

    # Decision points and the trend: one system (they share referred/recommended counts).
    main = System()
    dp_rows = {}
    for g in groups:
        referred, recommended = rec.get(g, (0, 0))
        decided, filed = dec.get(g, (0, 0))
        dp_rows[g] = {"referred": referred, "recommended_file": recommended,
                      "not_recommended": referred - recommended, "filed": filed,
                      "not_filed": decided - filed, "pending": recommended - decided}
    main.table("dp", dp_rows, [("referred", ["recommended_file", "not_recommended"]),
                               ("recommended_file", ["filed", "not_filed", "pending"])])
    tally = points.tallies["recommendation"]
    periods = tally.periods()
    _split(main, "trend", groups, {p: tally.counts(period=p)[0] for p in periods})
    strata = tally.strata()
    _split(main, "strata", groups, {s: tally.counts(stratum=s)[0] for s in strata})
    main.suppress(threshold)

    overrides = System()
    overrides.table("ovr", {g: {"decided": ovr.get(g, (0, 0))[0],
                                "overridden": ovr.get(g, (0, 0))[1],
                                "not_overridden": ovr.get(g, (0, 0))[0] - ovr.get(g, (0, 0))[1]}
                            for g in groups},
                    [("decided", ["overridden", "not_overridden"])])
    overrides.suppress(threshold)

    charts_out = [_decision_chart(main, groups), _rri_chart(main, groups, reference),
                  _trend_chart(main, groups, periods, period), _override_chart(overrides, groups)]
    if strata:
        charts_out.insert(3, _strata_chart(main, groups, strata))
    systems = [main, overrides]
    if impact is not None:
        system = _impact_system(impact)
        system.suppress(threshold)
        systems.append(system)
        charts_out.append(_impact_chart(system, impact))
    page = _html(title, banner, charts_out, points.unknown, main.get("dp", ALL, "referred"),
                 threshold, grouping)
    html, csvs = _write(out_dir, charts_out, page)
    return PublicReport(html, csvs, charts_out, systems)


def _write(out_dir: Path, charts_out: list[Chart], page: str) -> tuple[Path, list[Path]]:
    """report.html and one CSV per chart; an unwritable --output is an input error."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        csvs = []
        for chart in charts_out:
            path = out_dir / f"{chart.name}.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(chart.header)
                # group labels come from the log: a "=HYPERLINK(...)" must not run
                writer.writerows([csv_cell(_cell(v)) for v in row] for row in chart.rows)
            csvs.append(path)
        html = out_dir / "report.html"
        html.write_text(page, encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write the report: {error.strerror or error}",
                         source=str(out_dir)) from None
    return html, csvs


def _split(main: System, name: str, groups: list[str],
           parts: dict[str, dict[str, tuple[int, int]]]) -> None:
    """The recommendation stage split by period or stratum: rows "part|group", each group's
    rows adding up to its decision-point counts (equations the reader knows too)."""
    if not parts:
        return
    rows = {}
    for part, counts in parts.items():
        for g in groups:
            n, pos = counts.get(g, (0, 0))
            rows[f"{part}|{g}"] = {"referred": n, "recommended_file": pos,
                                   "not_recommended": n - pos}
    main.table(name, rows, [("referred", ["recommended_file", "not_recommended"])])
    for g in groups:
        for column in ("referred", "recommended_file", "not_recommended"):
            main.equations.append(Equation(("dp", g, column), tuple(
                (name, f"{part}|{g}", column) for part in parts)))


def _strata_chart(main: System, groups: list[str], strata: list[str]) -> Chart:
    rows, bars = [], []
    for stratum in strata:
        rates = []
        for g in groups:
            n = main.get("strata", f"{stratum}|{g}", "referred")
            pos = main.get("strata", f"{stratum}|{g}", "recommended_file")
            rates.append(_rate(pos, n))
            rows.append([stratum, g, n, pos, rates[-1]])
        bars.append((stratum, rates))
    return Chart("by_offense", "Recommended to file, of referred, by offense category "
                 "(first charge)", charts.bars(bars, groups, "Rates by offense category"),
                 ["offense", "group", "referred", "recommended_file", "rate"], rows)


def _decision_chart(main: System, groups: list[str]) -> Chart:
    rows, bars, notes = [], [], []
    for g in [*groups, ALL]:
        referred, recommended = main.get("dp", g, "referred"), main.get("dp", g,
                                                                        "recommended_file")
        filed, not_filed = main.get("dp", g, "filed"), main.get("dp", g, "not_filed")
        decided = None if filed is None or not_filed is None else filed + not_filed
        r1, r2 = _rate(recommended, referred), _rate(filed, decided)
        rows.append([g, referred, recommended, r1, decided, filed, r2])
        bars.append((g, [r1, r2]))
        notes += [f" (n={referred})" if r1 is not None else "",
                  f" (n={decided})" if r2 is not None else ""]
    svg = charts.bars(bars, ["recommended to file, of referred",
                             "filed, of recommended and decided"],
                      "Rates by group at each decision point", notes)
    return Chart("decision_points", "Decision points by group: recommended to file (of "
                 "referred), filed (of recommended and decided)", svg,
                 ["group", "referred", "recommended", "recommended_rate", "decided", "filed",
                  "filed_rate"], rows)


def _rri_chart(main: System, groups: list[str], reference: str | None) -> Chart:
    known = {g: (main.values["dp", g, "referred"], 0) for g in groups}
    ref = choose_reference(known, reference)
    rows, forest = [], []
    stages = [("recommended", "referred", "recommended_file"),
              ("filed", "decided", "filed")]
    for label, total, positive in stages:
        def counts(g: str, total: str = total, positive: str = positive
                   ) -> tuple[int | None, int | None]:
            pos = main.get("dp", g, positive)
            if total == "decided":
                f, nf = main.get("dp", g, "filed"), main.get("dp", g, "not_filed")
                return pos, None if f is None or nf is None else f + nf
            return pos, main.get("dp", g, total)

        for g in groups:
            pos, n = counts(g)
            rpos, rn = counts(ref) if ref else (None, None)
            rri = low = high = p = None
            if None not in (pos, n, rpos, rn) and n and rn:
                rri, low, high, p = relative_rate(pos or 0, n or 0, rpos or 0, rn or 0)
            rows.append([label, g, ref, pos, n, rri, low, high, p])
            forest.append((f"{label}: {g}", rri, low, high))
    return Chart("rri", f"Relative rate index vs {ref} with 95% CI (Katz log); shaded: "
                 "0.8-1.25", charts.forest(forest, "Relative rate index by group"),
                 ["stage", "group", "reference", "positive", "n", "rri", "ci_low", "ci_high",
                  "p_value"], rows)


def _trend_chart(main: System, groups: list[str], periods: list[str], unit: str) -> Chart:
    rows = []
    series: dict[str, list[float | None]] = {g: [] for g in groups}
    for p in periods:
        for g in groups:
            n = main.get("trend", f"{p}|{g}", "referred")
            pos = main.get("trend", f"{p}|{g}", "recommended_file")
            rate = _rate(pos, n)
            rows.append([p, g, n, pos, rate])
            series[g].append(rate)
    return Chart("trend", f"Recommended to file, of referred, by {unit}",
                 charts.lines(periods, series, f"Rate recommended to file by {unit}"),
                 [unit, "group", "referred", "recommended_file", "rate"], rows)


def _override_chart(system: System, groups: list[str]) -> Chart:
    rows, bars = [], []
    for g in [*groups, ALL]:
        decided, overridden = system.get("ovr", g, "decided"), system.get("ovr", g,
                                                                         "overridden")
        rate = _rate(overridden, decided)
        rows.append([g, decided, overridden, rate])
        bars.append((g, [rate]))
    return Chart("overrides", "Overrides: final decision differs from the recommendation, "
                 "of decided", charts.bars(bars, ["overridden, of decided"], "Override rates"),
                 ["group", "decided", "overridden", "override_rate"], rows)


def _impact_system(impact: Impact) -> System:
    assert impact.before is not None and impact.after is not None
    after = {g.group: g for g in impact.after.groups}
    rows = {}
    for b in impact.before.groups:
        a = after[b.group]
        rows[b.group] = {"referrals": b.n, "baseline_file": b.positive,
                         "baseline_other": b.n - b.positive, "proposed_file": a.positive,
                         "proposed_other": a.n - a.positive,
                         "changed": impact.by_group[b.group]["changed"],
                         "unchanged": b.n - impact.by_group[b.group]["changed"]}
    system = System()
    system.table("impact", rows, [("referrals", ["baseline_file", "baseline_other"]),
                                  ("referrals", ["proposed_file", "proposed_other"]),
                                  ("referrals", ["changed", "unchanged"])])
    return system


def _impact_chart(system: System, impact: Impact) -> Chart:
    rows, bars = [], []
    groups = [g for g in sorted(impact.by_group) if g != UNKNOWN_LABEL]
    for g in [*groups, ALL]:
        n = system.get("impact", g, "referrals")
        before = _rate(system.get("impact", g, "baseline_file"), n)
        after = _rate(system.get("impact", g, "proposed_file"), n)
        rows.append([g, n, system.get("impact", g, "changed"), before, after])
        bars.append((g, [before, after]))
    return Chart("impact", f"Impact of the guideline change: '{impact.positive}' rate under "
                 f"{impact.baseline.id} and {impact.proposed.id}",
                 charts.bars(bars, [impact.baseline.id, impact.proposed.id],
                             "Impact of the last guideline change"),
                 ["group", "referrals", "changed", "baseline_rate", "proposed_rate"], rows)


STYLE = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:24px auto;padding:0 16px;
color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:0}.banner{background:#fff3cd;border:2px solid #d39e00;
padding:8px 12px;font-weight:bold;margin:12px 0}
table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ccc;
padding:2px 6px;text-align:right}td:first-child,th:first-child{text-align:left}
.muted{color:#666;font-size:0.9em}section{margin:28px 0}
"""


def _html(title: str, banner: str | None, charts_out: list[Chart], unknown: int,
          known: int | None, threshold: int, grouping: Grouping) -> str:
    """`known`: the published count of referrals with a usable race (None when hidden). The
    total is known + unknown, so it is printed only when both are shown: otherwise it would
    give away whichever of the two is hidden."""
    shown = unknown >= threshold or unknown == 0
    total = known + unknown if shown and known is not None else None
    share = f"{100 * unknown / total:.1f}%" if total else "share suppressed"
    unknown_text = f"{unknown:,}" if shown else f"fewer than {threshold}"
    counted = "" if total is None else f" {total:,} referrals."
    labels = ", ".join(f"{escape(k)} &rarr; {escape(v)}"
                       for k, v in grouping.group_map.used().items())
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{escape(title)}</h1>",
             f"<p class='muted'>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by "
             f"charging-rules.{counted}</p>"]
    if banner:
        parts.append(f"<div class='banner'>{escape(banner)}</div>")
    parts.append(
        f"<p>Referrals with no usable race recorded: {unknown_text} ({share}); they are "
        f"excluded from the comparisons below. Counts below {threshold} are suppressed, with "
        f"further counts suppressed where needed so that no hidden count can be calculated "
        f"from the totals; rates and ratios are shown only when all their counts are shown. "
        f"Relative rate index (RRI): a group's rate divided by the reference group's rate, "
        f"each on the preceding decision point (OJJDP); 95% confidence interval by the Katz "
        f"log method; the shaded band 0.8-1.25 is the Aequitas fairness band.</p>")
    for chart in charts_out:
        header = "".join(f"<th>{escape(h)}</th>" for h in chart.header)
        body = "".join("<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>"
                       for row in chart.rows)
        parts.append(f"<section id='{chart.name}'><h2>{escape(chart.title)}</h2>{chart.svg}"
                     f"<details><summary>Data ({chart.name}.csv)</summary><table><tr>{header}"
                     f"</tr>{body}</table></details></section>")
    parts.append(f"<p class='muted'>Group map {escape(grouping.group_map.name)}: {labels}."
                 "</p></body></html>")
    return "".join(parts)
