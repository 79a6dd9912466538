"""Rich views: what an intake prosecutor reads in the terminal.

Every string from a referral or a guideline goes in through `text.literal`, never as a plain
str: rich reads `[...]` in a str as markup (a guideline version "[/x]" crashed the view, the
"[<sha256 prefix>]" of the set vanished), and a terminal obeys control characters."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from charging_rules.model.recommendation import ConditionTrace, Recommendation
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


def _condition_tree(parent: Tree, conditions: list[ConditionTrace]) -> None:
    stack: list[tuple[int, Tree]] = [(-1, parent)]
    for cond in conditions:
        while stack[-1][0] >= cond.depth:
            stack.pop()
        node = stack[-1][1].add(Text.assemble(_truth(cond.truth), " ", literal(cond.text)))
        stack.append((cond.depth, node))


def trace_tree(rec: Recommendation) -> Tree:
    root = Tree(Text("How each rule was evaluated", style="bold"))
    for guideline in rec.trace:
        branch = root.add(Text.assemble(
            literal(f"{guideline.guideline} v{guideline.version}", "bold"),
            literal(f"  hit policy: {guideline.hit_policy}  scope: "), _truth(guideline.scope)))
        _condition_tree(branch.add("scope"), guideline.scope_conditions)
        if guideline.scope == "failed":
            continue
        for rule in guideline.rules:
            node = branch.add(Text.assemble(_truth(rule.truth), " rule ",
                                            literal(rule.rule, "bold"),
                                            literal(f" -> {rule.outcome}")))
            _condition_tree(node, rule.conditions)
    return root


def recommendation_view(rec: Recommendation, decision_id: str | None,
                        show_trace: bool = True) -> RenderableType:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("Referral", literal(rec.record_id))
    head.add_row("Recommendation", outcome_badge(rec.outcome))
    head.add_row("Deciding rules", literal(", ".join(rec.rules) or "(none: fallback)"))
    head.add_row("Reasons", Text("\n").join(literal(f"• {r}") for r in rec.reasons))
    if rec.missing:
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
