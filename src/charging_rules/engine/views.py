"""Rich views: what an intake prosecutor reads in the terminal.

Every string from a referral or a guideline goes in as `Text`, never as a plain str: rich
reads `[...]` in a str as markup, so a guideline version "[/x]" crashed the view and the
"[<sha256 prefix>]" of the set vanished whenever it began with a letter."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from charging_rules.model.recommendation import ConditionTrace, Recommendation

OUTCOME_STYLE = {
    "file": "bold white on red",
    "decline": "bold white on green",
    "divert": "bold black on cyan",
    "review": "bold black on yellow",
    "needs_information": "bold black on magenta",
}
TRUTH_MARK = {"held": ("✔", "green"), "failed": ("✘", "red"), "unknown": ("?", "magenta")}


def outcome_badge(outcome: str) -> Text:
    return Text(f" {outcome.upper().replace('_', ' ')} ", style=OUTCOME_STYLE.get(outcome, "bold"))


def _truth(truth: str) -> Text:
    mark, style = TRUTH_MARK[truth]
    return Text(mark, style=style)


def _condition_tree(parent: Tree, conditions: list[ConditionTrace]) -> None:
    stack: list[tuple[int, Tree]] = [(-1, parent)]
    for cond in conditions:
        while stack[-1][0] >= cond.depth:
            stack.pop()
        node = stack[-1][1].add(Text.assemble(_truth(cond.truth), " ", cond.text))
        stack.append((cond.depth, node))


def trace_tree(rec: Recommendation) -> Tree:
    root = Tree(Text("How each rule was evaluated", style="bold"))
    for guideline in rec.trace:
        branch = root.add(Text.assemble(
            (f"{guideline.guideline} v{guideline.version}", "bold"),
            f"  hit policy: {guideline.hit_policy}  scope: ", _truth(guideline.scope)))
        _condition_tree(branch.add("scope"), guideline.scope_conditions)
        if guideline.scope == "failed":
            continue
        for rule in guideline.rules:
            node = branch.add(Text.assemble(_truth(rule.truth), " rule ", (rule.rule, "bold"),
                                            f" -> {rule.outcome}"))
            _condition_tree(node, rule.conditions)
    return root


def recommendation_view(rec: Recommendation, decision_id: str | None,
                        show_trace: bool = True) -> RenderableType:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("Referral", Text(rec.record_id))
    head.add_row("Recommendation", outcome_badge(rec.outcome))
    head.add_row("Deciding rules", Text(", ".join(rec.rules) or "(none: fallback)"))
    head.add_row("Reasons", Text("\n".join(f"• {r}" for r in rec.reasons)))
    if rec.missing:
        head.add_row("Facts to request", Text("\n".join(f"• {m}" for m in rec.missing),
                                              style="magenta"))
    else:
        head.add_row("Facts to request", Text("none", style="dim"))
    versions = ", ".join(f"{g.id} v{g.version}" for g in rec.guidelines)
    head.add_row("Guidelines",
                 Text(f"{rec.guideline_set} [{rec.guideline_set_sha256[:12]}] {versions}"))
    head.add_row("Decision id", Text(decision_id) if decision_id else
                 Text("not logged (--no-log)", style="dim"))
    parts: list[RenderableType] = [head]
    seen: set[str] = set()
    for citation in rec.citations:
        if citation.guideline in seen:
            continue
        seen.add(citation.guideline)
        parts.append(Panel(Text(citation.text, style="italic"),
                           title=Text(f"Guideline text: {citation.guideline}"),
                           subtitle=Text(citation.citation), border_style="dim"))
    if show_trace:
        parts.append(trace_tree(rec))
    return Panel(Group(*parts), title="charging-rules screen", border_style="blue")
