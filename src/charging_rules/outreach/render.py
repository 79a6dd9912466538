"""Rich views of outreach imports and the year's status, for the CSU in a terminal."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from charging_rules.model.victim import OUTREACH_OUTCOMES
from charging_rules.outreach.contacts import RecordReport
from charging_rules.outreach.importer import WeekReport
from charging_rules.outreach.status import Status
from charging_rules.text import literal

_SHORT = {"refer_now": "now", "refer_family": "family", "already_referred": "already",
          "needs_information": "info?"}


def import_view(reports: list[WeekReport]) -> RenderableType:
    table = Table(title="Weekly lists imported", title_justify="left")
    table.add_column("week", no_wrap=True)
    table.add_column("listed", justify="right")
    for outcome in OUTREACH_OUTCOMES:
        table.add_column(_SHORT[outcome], justify="right")
    for report in reports:
        table.add_row(literal(report.week), str(report.victims),
                      *(str(report.outcomes[o]) for o in OUTREACH_OUTCOMES))
    chase = [row for report in reports for row in report.needs_information]
    parts: list[RenderableType] = [table]
    if chase:
        lines = Table(title="Needs information (ask KCPD)", title_justify="left")
        for column in ("week", "incident_id", "victim_id", "what to ask"):
            lines.add_column(column)
        for row in chase:
            # Missing facts when the engine names them; else the rule's or fallback's reason
            # (contact information documented as absent, a child's guardian, a data error).
            ask = f"missing: {row['missing']}" if row["missing"] else row["reason"]
            lines.add_row(*(literal(row[c]) for c in ("week", "incident_id", "victim_id")),
                          literal(ask))
        parts.append(lines)
    referrals = sum(r.referrals for r in reports)
    parts.append(literal(f"{referrals} referrals to the hub from {sum(r.victims for r in reports)} "
                      f"victims in {len(reports)} week(s). Hub lists: "
                         f"{Path(reports[0].hub_list or '').parent}/<week>-hub-referrals.csv",
                         "bold"))
    return Group(*parts)


def status_view(status: Status) -> RenderableType:
    table = Table(title=f"Partners for Peace referrals, {status.year}", title_justify="left")
    table.add_column("week", no_wrap=True)
    table.add_column("listed", justify="right")
    for outcome in OUTREACH_OUTCOMES:
        table.add_column(_SHORT[outcome], justify="right")
    table.add_column("refs", justify="right")
    table.add_column("to date", justify="right")
    table.add_column("pace", justify="right")
    for line in status.weeks:
        if not line.imported:
            table.add_row(literal(line.week), Text("not imported", style="yellow"))
            continue
        behind = line.cumulative < line.goal_pace
        table.add_row(literal(line.week), str(line.victims), *(str(line.outcomes[o])
                                                      for o in OUTREACH_OUTCOMES),
                      str(line.referrals), Text(str(line.cumulative),
                                                style="red" if behind else "green"),
                      str(line.goal_pace))
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    table.caption = ("refs: refer now + family; pace: where the goal needs the running total "
                     "to be")
    summary.add_row("Referrals", f"{status.referrals} of a goal of {status.goal} "
                    f"({status.referrals / status.goal:.0%})")
    summary.add_row("Weeks imported", f"{status.weeks_imported} of {status.weeks_in_year}"
                    + (f"; missing: {', '.join(status.missing_weeks)}"
                       if status.missing_weeks else ""))
    if status.projected is not None:
        verdict = Text("on track", style="green") if status.on_track \
            else Text("behind the goal", style="red")
        summary.add_row("Projection", Text.assemble(
            f"{status.projected} referrals by the end of {status.year} at this rate: ", verdict))
    summary.add_row("Contact outcomes", literal(", ".join(f"{k.replace('_', ' ')} {v}"
                                                          for k, v in status.contacts.items())))
    return Group(table, summary)


def record_view(report: RecordReport) -> RenderableType:
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.outcomes.items() if v)
    return literal(f"Recorded {report.recorded} contact outcome(s)"
                + (f" ({counts})" if counts else "")
                + (f"; {report.already_recorded} already in the log, skipped"
                   if report.already_recorded else "") + ".")
