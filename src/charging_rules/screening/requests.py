"""The request for information an intake prosecutor sends back to the police: the facts the
guidelines need, in the policy's own words, and why."""

from __future__ import annotations

from charging_rules.guidelines.conditions import AnyItem, Compare, Exists, describe, walk
from charging_rules.guidelines.schema import GuidelineSet
from charging_rules.model.facts import generic_path
from charging_rules.screening.screener import Screened


def fact_labels(guidelines: GuidelineSet) -> dict[str, str]:
    """Field path ('charges[].level' for item fields) -> the policy's words for it."""
    labels: dict[str, str] = {}
    for guideline in guidelines.guidelines:
        roots = [guideline.scope] if guideline.scope else []
        for root in [*roots, *(rule.condition for rule in guideline.rules)]:
            for cond in walk(root):
                inner = [(f"{cond.collection}[].", cond.item)] if isinstance(cond, AnyItem) else []
                for prefix, node in [("", cond), *inner]:
                    if isinstance(node, Compare | Exists):
                        labels.setdefault(prefix + node.field, describe(node))
    return labels


def request_text(screened: Screened, labels: dict[str, str]) -> str:
    rec = screened.recommendation
    lines = [f"Request for information: referral {rec.record_id}", "",
             "The charging guidelines cannot decide this referral until these facts are "
             "documented (missing is not the same as 'no'):", ""]
    if rec.questions:
        lines[2] = ("The charging guidelines cannot decide this referral until these questions "
                    "are answered (missing is not the same as 'no'):")
    for question in rec.questions:
        lines.append(f"  - {question.question} (ask {question.ask}; fact {question.fact})")
        lines += [f"      if {answer}: {outcome}" for answer, outcome in question.answers.items()]
    for path in rec.missing if not rec.questions else ():
        label = labels.get(generic_path(path))
        lines.append(f"  - {path}" + (f": whether {label}" if label else ""))
    lines += ["", "Why:", *(f"  {reason}" for reason in rec.reasons), "",
              f"Guidelines: {rec.guideline_set} ({rec.guideline_set_sha256[:12]}); decision id "
              f"{screened.decision_id}"]
    return "\n".join(lines) + "\n"
