"""Compact terminal renditions (rich) of the analysis results, for analysts.

Group labels, column names and outcome values come from data files and the log: they are
shown through `text.literal` (a race "[/]" is a label like any other, not markup)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from charging_rules.analysis.disparity import BAND, Comparison
from charging_rules.analysis.impact import Impact
from charging_rules.text import literal


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def comparison_table(comparison: Comparison, title: str) -> Table:
    table = Table(title=literal(title), title_justify="left", header_style="bold")
    for column in ("group", "n", "positive", "rate", "RRI", "95% CI", "p (Fisher)", ""):
        table.add_column(column, justify="left" if column in ("group", "") else "right",
                         no_wrap=column != "")
    for g in comparison.groups:
        note = Text("")
        if g.group == comparison.reference:
            note = Text("ref", style="dim")
        elif g.suppressed:
            note = Text(f"n<{comparison.min_n}", style="yellow")
        elif g.outside_band:
            note = Text("outside band", style="bold red")
        ci = "-" if g.ci_low is None else f"{fmt(g.ci_low)}-{fmt(g.ci_high)}"
        p = "-" if g.p_value is None else f"{g.p_value:.2g}"
        table.add_row(literal(g.group), str(g.n), str(g.positive), pct(g.rate), fmt(g.rri), ci,
                      p, note)
    share = comparison.unknown_share
    table.caption = literal(
        f"ref: reference group; n<{comparison.min_n}: not compared; RRI outside "
        f"{BAND[0]}-{BAND[1]} (Aequitas band). Unknown/blank group: {comparison.unknown} of "
        f"{comparison.total} ({pct(share)}) excluded from comparison"
        + (f"; {comparison.missing_outcome} without an outcome excluded"
           if comparison.missing_outcome else ""))
    table.caption_justify = "left"
    return table


def representation_table(rows: list[dict[str, Any]], name: str) -> Table:
    table = Table(title=literal(f"Representation of referrals vs population ({name})"),
                  title_justify="left", header_style="bold")
    for column in ("group", "referrals", "share", "95% CI", "population", "index"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for row in rows:
        ci = "-" if row["share_ci_low"] is None else (
            f"{pct(row['share_ci_low'])}-{pct(row['share_ci_high'])}")
        table.add_row(literal(row["group"]), str(row["n"]), pct(row["share"]), ci,
                      pct(row["population_share"]), fmt(row["representation_index"]))
    return table


def impact_view(result: Impact) -> Group:
    head = Table(title=literal(f"Impact: {result.baseline.id} -> {result.proposed.id}"),
                 title_justify="left", header_style="bold")
    head.add_column("transition")
    head.add_column("referrals", justify="right")
    for transition, count in sorted(result.transitions.items(), key=lambda kv: -kv[1]):
        head.add_row(literal(transition), str(count))
    head.caption = f"{result.changed} of {result.total} referrals change outcome"
    head.caption_justify = "left"
    groups = Table(title=literal(f"By group: '{result.positive}' rate and RRI (reference "
                                 f"{result.before.reference if result.before else '-'})"),
                   title_justify="left", header_style="bold")
    for column in ("group", "referrals", "changed", "rate\nbefore", "rate\nafter",
                   "change\n(points)", "RRI\nbefore", "RRI\nafter"):
        groups.add_column(column, justify="left" if column == "group" else "right",
                          no_wrap=True)
    rates = result.to_json().get("rates", {}).get("groups", {})
    for group, counts in sorted(result.by_group.items()):
        r = rates.get(group, {})
        change = r.get("rate_change")
        groups.add_row(literal(group), str(counts["total"]), str(counts["changed"]),
                       pct(r.get("baseline_rate")), pct(r.get("proposed_rate")),
                       "-" if change is None else f"{100 * change:+.1f}",
                       fmt(r.get("baseline_rri")), fmt(r.get("proposed_rri")))
    return Group(head, groups)
