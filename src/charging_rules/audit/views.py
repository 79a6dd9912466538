"""Rich views of the audit log for supervisors: decision lists, one decision in full, the
integrity report. The recommendation itself is drawn by engine/views.py, as `screen` shows it.

Everything logged (ids, users, reasons, the referral, demographics) was typed by someone:
it goes to rich through `text.literal`, never as markup, control characters escaped."""

from __future__ import annotations

import json
from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from charging_rules.audit.query import Row
from charging_rules.audit.replay import Explained, Replay
from charging_rules.audit.verify import VerifyReport
from charging_rules.engine.views import outcome_badge, recommendation_view
from charging_rules.text import literal

STATUS_STYLE = {"pending": "dim", "accepted": "green", "overridden": "bold yellow"}


def decisions_table(selected: Iterable[Row]) -> Table:
    table = Table(title="Decisions", header_style="bold")
    for column in ("when (UTC)", "id", "record", "screened by", "recommended", "decision",
                   "decided by", "reason", "guidelines"):
        table.add_column(column, no_wrap=column in ("id", "record"))
    for row in selected:
        final = row.final
        decision = {"pending": "pending", "accepted": "accepted",
                    "overridden": f"override → {row.outcome}"}[row.status]
        table.add_row(
            literal(str(row.recommendation["timestamp"])[:16].replace("T", " ")),
            literal(row.decision_id[:8]), literal(row.recommendation.get("record_id")),
            literal(row.recommendation.get("actor")), literal(row.recommended),
            literal(decision, STATUS_STYLE[row.status]),
            literal(final["actor"] if final else ""),
            literal((final.get("reason") or "") if final else ""),
            literal(", ".join(row.guideline_versions())))
    return table


def decision_view(row: Row, explained: Explained) -> RenderableType:
    rec = row.recommendation
    parts: list[RenderableType] = [recommendation_view(explained.recommendation,
                                                       row.decision_id)]
    if explained.note:
        parts.append(literal(explained.note, "dim" if explained.reproduced else "bold red"))
    history = Table(title="Decisions on it (append-only; the last one stands)",
                    header_style="bold")
    for column in ("when (UTC)", "who", "kind", "outcome", "reason", "seq"):
        history.add_column(column)
    history.add_row(literal(rec["timestamp"]), literal(rec.get("actor")), "recommendation",
                    outcome_badge(row.recommended), "", literal(rec["seq"]))
    for decision in row.decisions:
        history.add_row(literal(decision["timestamp"]), literal(decision.get("actor")),
                        literal(decision["kind"]), outcome_badge(str(decision["outcome"])),
                        literal(decision.get("reason") or ""), literal(decision["seq"]))
    if not row.decisions:
        history.add_row("", "", Text("no decision recorded yet", style="dim"), "", "", "")
    parts.append(history)
    parts.append(Panel(literal(json.dumps(rec.get("referral"), indent=2, ensure_ascii=False),
                               keep_newlines=True),
                       title="Referral as screened (the engine saw only this)"))
    demographics = rec.get("demographics") or {}
    versions = rec.get("versions") or {}
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("Demographics (never given to a rule)", literal(
        ", ".join(f"{k}: {v}" for k, v in demographics.items() if v) or "not given"))
    facts.add_row("Guideline set", literal(f"{rec['guideline_set']['id']} "
                                           f"sha256 {rec['guideline_set']['sha256']}"))
    facts.add_row("Versions", literal(", ".join(f"{k} {v}" for k, v in versions.items())))
    facts.add_row("Log position", literal(f"seq {rec['seq']}, hash {rec['hash'][:16]}…"))
    parts.append(facts)
    return Panel(Group(*parts), title=literal(f"Decision {row.decision_id}"),
                 border_style="blue")


def verify_view(report: VerifyReport) -> RenderableType:
    if report.ok:
        return Text(f"✔ audit log intact: {report.records} records, chain verified",
                    style="bold green")
    table = Table(title=f"✘ audit log: {len(report.problems)} problem(s) in "
                  f"{report.records} records", title_style="bold red", header_style="bold")
    for column in ("line", "kind", "detail"):
        table.add_column(column)
    for problem in report.problems:
        style = "yellow" if problem.kind == "torn_tail" else "red"
        table.add_row(literal(problem.line), literal(problem.kind, style),
                      literal(problem.detail))
    return table


def replay_view(result: Replay) -> RenderableType:
    mark = ("✔ reproduced", "bold green") if result.reproduced else ("✘ NOT reproduced",
                                                                      "bold red")
    lines = [Text.assemble((mark[0], mark[1]), literal(
        f": logged {result.logged_outcome}, replayed {result.replayed.outcome} under archived "
        f"guideline set {result.replayed.guideline_set_sha256[:12]}"))]
    lines += [literal(f"  {note}", "yellow") for note in result.differences()]
    return Group(*lines)
