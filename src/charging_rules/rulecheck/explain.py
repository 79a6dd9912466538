"""A guideline set as the policy text a supervisor reads and signs (`rules explain`).

Markdown, so the same text prints in the terminal (through rich) and goes into a memo. Text
from the guideline files (titles, labels, reasons, the legal text) is escaped (`md`): a label
holding `**`, a link or `# heading` is shown as written, never as markup. The
set's SHA-256 is printed beside the signature line: the signature binds to exactly the
version the engine will run and the audit log will name.
"""

from __future__ import annotations

import dataclasses

from charging_rules.guidelines.conditions import (
    All,
    AnyItem,
    AnyOf,
    Condition,
    Not,
    children,
    describe,
    headline,
)
from charging_rules.guidelines.schema import Guideline, GuidelineSet, Rule
from charging_rules.text import markdown_text as md

HIT_POLICY_TEXT = {
    "first": "The rules are tried in order; the first rule that applies decides.",
    "priority": "When several rules apply, the one with the highest priority decides.",
    "unique": "At most one rule may apply to any case; if several with different outcomes "
              "apply, the case goes to the fallback below.",
}
MISSING_TEXT = (
    "A fact the referral does not state is unknown, not false. When an unknown fact could "
    "change the outcome, the recommendation is **needs information**, naming the facts to "
    "request; it is never a silent decline."
)


def unlabelled(cond: Condition) -> Condition:
    """The condition's logic without its labels (labels are wording, not policy)."""
    if isinstance(cond, All):
        return All(tuple(unlabelled(c) for c in cond.items))
    if isinstance(cond, AnyOf):
        return AnyOf(tuple(unlabelled(c) for c in cond.items))
    if isinstance(cond, Not):
        return Not(unlabelled(cond.item))
    if isinstance(cond, AnyItem):
        return AnyItem(cond.collection, cond.singular, unlabelled(cond.item))
    return dataclasses.replace(cond, label=None)


def condition_lines(cond: Condition, depth: int = 0) -> list[str]:
    """A nested bullet list: composite conditions list their parts underneath."""
    lines = [f"{'  ' * depth}- {md(headline(cond))}"]
    if not cond.label:
        for child in children(cond):
            lines += condition_lines(child, depth + 1)
    return lines


def _rule(number: int, rule: Rule, policy: str) -> list[str]:
    priority = f", priority {rule.priority}" if policy == "priority" else ""
    lines = [f"**Rule {number}: {rule.outcome.upper().replace('_', ' ')}** "
             f"(`{rule.id}`{priority}) when:", "", *condition_lines(rule.condition), "",
             f"Reason given: {md(rule.reason)}"]
    if rule.cite:
        lines += ["", f"Authority: {md(rule.cite)}"]
    return [*lines, ""]


def _guideline(number: int, g: Guideline) -> list[str]:
    quoted = [f"> {md(line)}" if line.strip() else ">"
              for line in g.source_text.strip().splitlines()]
    lines = [f"## {number}. {md(g.title)}", "",
             f"`{g.id}` version {md(g.version)}, in force {g.window()} (on the record's "
             f"as-of date), for {g.applies_to} records.", "",
             f"Source: {md(g.citation)}", "", *quoted, ""]
    if g.scope is not None:
        lines += ["This guideline applies only when:", "", *condition_lines(g.scope), ""]
    else:
        lines += [f"This guideline applies to every {g.applies_to} record.", ""]
    lines += [HIT_POLICY_TEXT[g.hit_policy], ""]
    for index, rule in enumerate(g.rules, 1):
        lines += _rule(index, rule, g.hit_policy)
    return lines


def explain_markdown(gs: GuidelineSet) -> str:
    lines = [f"# {md(gs.title)}", "", f"Guideline set `{gs.id}`, SHA-256 `{gs.sha256}`.", "",
             "The guidelines below are considered in the order listed. The first guideline "
             "that applies to a record and decides it gives the recommendation.", "",
             MISSING_TEXT, ""]
    for index, guideline in enumerate(gs.guidelines, 1):
        lines += _guideline(index, guideline)
    lines += ["## Otherwise", ""]
    for kind, fallback in sorted(gs.otherwise.items()):
        lines.append(f"- A {kind} record no guideline decides: "
                     f"**{fallback.outcome.replace('_', ' ')}**. {md(fallback.reason)}")
    lines += ["", "---", "", f"Approved (set `{gs.id}`, SHA-256 `{gs.sha256[:16]}…`):", "",
              "Name: ______________________  Title: ______________________  "
              "Date: ____________", ""]
    return "\n".join(lines)


def logic_text(cond: Condition) -> str:
    """One line of the condition's logic, labels removed (what diff compares)."""
    return describe(unlabelled(cond))
