"""Rich views: what an intake prosecutor reads in the terminal.

Every string from a referral or a guideline goes in through `text.literal`, never as a plain
str: rich reads `[...]` in a str as markup (a guideline version "[/x]" crashed the view, the
"[<sha256 prefix>]" of the set vanished), and a terminal obeys control characters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from charging_rules.model.recommendation import (
    ConditionTrace,
    CountOutcome,
    Question,
    Recommendation,
)
from charging_rules.text import literal

OUTCOME_STYLE = {
    "file": "bold white on red",
    "decline": "bold white on green",
    "divert": "bold black on cyan",
    "review": "bold black on yellow",
    "needs_information": "bold black on magenta",
}
TRUTH_MARK = {"held": ("✔", "green"), "failed": ("✘", "red"), "unknown": ("?", "magenta")}


def outcome_badge(outcome: str) -> Text:
    return literal(f" {outcome.upper().replace('_', ' ')} ", OUTCOME_STYLE.get(outcome, "bold"))


def _truth(truth: str) -> Text:
    mark, style = TRUTH_MARK[truth]
    return Text(mark, style=style)


def _condition_tree(parent: Tree, conditions: Sequence[ConditionTrace],
                    rec: Recommendation) -> None:
    stack: list[tuple[int, Tree]] = [(-1, parent)]
    for cond in conditions:
        while stack[-1][0] >= cond.depth:
            stack.pop()
        node = stack[-1][1].add(Text.assemble(_truth(cond.truth), " ",
                                              literal(rec.shown(cond))))
        stack.append((cond.depth, node))


def trace_tree(rec: Recommendation) -> Tree:
    root = Tree(Text("How each rule was evaluated", style="bold"))
    for guideline in rec.trace:
        branch = root.add(Text.assemble(
            literal(f"{guideline.guideline} v{guideline.version}", "bold"),
            literal(f"  hit policy: {guideline.hit_policy}  scope: "), _truth(guideline.scope)))
        _condition_tree(branch.add("scope"), guideline.scope_conditions, rec)
        if guideline.scope == "failed":
            continue
        for rule in guideline.rules:
            node = branch.add(Text.assemble(_truth(rule.truth), " rule ",
                                            literal(rule.rule, "bold"),
                                            literal(f" -> {rule.outcome}")))
            _condition_tree(node, rule.conditions, rec)
    return root


def questions_text(questions: Sequence[Question]) -> Text:
    """Each question, whom to ask, and where each answer leads."""
    text = Text()
    for index, q in enumerate(questions):
        if index:
            text.append("\n")
        text.append_text(literal(f"• {q.question}", "bold magenta"))
        text.append_text(literal(f"  (ask {q.ask}; fact {q.fact})", "magenta"))
        text.append("\n")
        text.append_text(literal("  " + "; ".join(
            f"{answer_label(answer)} -> {outcome.replace('_', ' ')}"
            for answer, outcome in q.answers.items())))
    return text


def answer_label(answer: str) -> str:
    """'other' is the value none of the guidelines names."""
    return "any other value" if answer == "other" else answer


def counts_table(counts: Sequence[CountOutcome]) -> Table:
    table = Table(title="Counts", title_justify="left", expand=False)
    for column in ("#", "statute", "category", "outcome", "guideline", "rules"):
        table.add_column(column)
    for count in counts:
        table.add_row(str(count.charge + 1), literal(count.statute or ""),
                      literal(count.category), outcome_badge(count.outcome),
                      literal(count.guideline or (
                          "-" if count.outcome == "needs_information" else "(fallback)")),
                      literal(", ".join(count.rules)))
    return table


def recommendation_view(rec: Recommendation, decision_id: str | None,
                        show_trace: bool = True) -> RenderableType:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("Referral", literal(rec.record_id))
    head.add_row("Recommendation", outcome_badge(rec.outcome))
    head.add_row("Deciding rules", literal(", ".join(rec.rules) or "(none: fallback)"))
    head.add_row("Reasons", Text("\n").join(literal(f"• {r}") for r in rec.reasons))
    if rec.questions:
        head.add_row("Ask", questions_text(rec.questions))
    elif rec.missing:
        head.add_row("Facts to request", Text("\n", style="magenta").join(
            literal(f"• {m}", "magenta") for m in rec.missing))
    else:
        head.add_row("Facts to request", Text("none", style="dim"))
    versions = ", ".join(f"{g.id} v{g.version}" for g in rec.guidelines)
    head.add_row("Guidelines",
                 literal(f"{rec.guideline_set} [{rec.guideline_set_sha256[:12]}] {versions}"))
    head.add_row("Decision id", literal(decision_id) if decision_id else
                 Text("not logged (--no-log)", style="dim"))
    parts: list[RenderableType] = [head]
    if len(rec.counts) > 1:
        parts.append(counts_table(rec.counts))
    seen: set[str] = set()
    for citation in rec.citations:
        if citation.guideline in seen:
            continue
        seen.add(citation.guideline)
        parts.append(Panel(literal(citation.text, "italic", keep_newlines=True),
                           title=literal(f"Guideline text: {citation.guideline}"),
                           subtitle=literal(citation.citation), border_style="dim"))
    if show_trace:
        parts.append(trace_tree(rec))
    return Panel(Group(*parts), title="charging-rules screen", border_style="blue")


def recorded_decision(record: dict[str, Any]) -> Text:
    """The prosecutor's decision as the log now holds it (accepted or overridden, by whom,
    why, under which decision id): what `screen --accept/--override` and intake confirm."""
    verb = "Overridden" if record["kind"] == "override" else "Accepted"
    reason = record.get("reason")
    return Text.assemble(
        literal(f"{verb}: "), outcome_badge(str(record["outcome"])),
        literal(f" by {record['actor']}" + (f": {reason}" if reason else "")),
        literal(f"\n  logged as decision {record['decision_id']}", keep_newlines=True))
