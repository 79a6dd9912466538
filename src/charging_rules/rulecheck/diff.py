"""What changed between two guideline sets (`rules diff OLD NEW`), rule by rule, and which
test cases the change moves.

Rules are matched by id across the set (ids are unique in a set), so a rule moved between
guidelines is a change, not a removal and an addition. Conditions are compared on their
logic: a label edit is reported as wording, a logic edit shows both conditions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charging_rules.errors import InputError
from charging_rules.guidelines.schema import Guideline, GuidelineSet, Rule
from charging_rules.rulecheck.cases import Case, Result, case_files, run_cases
from charging_rules.rulecheck.explain import logic_text, unlabelled


@dataclass(frozen=True)
class Change:
    change: str  # added, removed, changed
    subject: str  # set, guideline, rule
    id: str
    details: tuple[tuple[str, str, str], ...] = ()  # (attribute, old, new)

    def to_json(self) -> dict[str, Any]:
        return {"change": self.change, "subject": self.subject, "id": self.id,
                "details": [{"attribute": a, "old": o, "new": n} for a, o, n in self.details]}


@dataclass(frozen=True)
class CaseChange:
    case: str
    old: Result
    new: Result

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "old": self.old.to_json(), "new": self.new.to_json()}


@dataclass(frozen=True)
class SetDiff:
    old_sha256: str
    new_sha256: str
    changes: list[Change]
    cases: list[CaseChange]
    cases_run: int

    def to_json(self) -> dict[str, Any]:
        return {"old_sha256": self.old_sha256, "new_sha256": self.new_sha256,
                "changes": [c.to_json() for c in self.changes],
                "cases_run": self.cases_run, "cases_changed": [c.to_json() for c in self.cases]}


def _compare(pairs: list[tuple[str, object, object]]) -> tuple[tuple[str, str, str], ...]:
    return tuple((name, str(old), str(new)) for name, old, new in pairs if old != new)


def _rule_details(old: Rule, new: Rule, old_g: Guideline, new_g: Guideline
                  ) -> tuple[tuple[str, str, str], ...]:
    details = list(_compare([("guideline", old_g.id, new_g.id), ("outcome", old.outcome,
                                                                  new.outcome),
                             ("reason", old.reason, new.reason), ("cite", old.cite, new.cite),
                             ("priority", old.priority, new.priority)]))
    if unlabelled(old.condition) != unlabelled(new.condition):
        details.insert(0, ("condition", logic_text(old.condition), logic_text(new.condition)))
    elif old.condition != new.condition:
        details.append(("labels (wording only)", "", ""))
    return tuple(details)


def _guideline_details(old: Guideline, new: Guideline) -> tuple[tuple[str, str, str], ...]:
    def scope(g: Guideline) -> str:
        return logic_text(g.scope) if g.scope is not None else "(every record)"

    return _compare([
        ("title", old.title, new.title), ("version", old.version, new.version),
        ("in force", old.window(), new.window()), ("applies_to", old.applies_to,
                                                   new.applies_to),
        ("outcomes", ", ".join(old.outcomes), ", ".join(new.outcomes)),
        ("citation", old.citation, new.citation), ("source text", old.source_text,
                                                   new.source_text),
        ("scope", scope(old), scope(new)), ("hit_policy", old.hit_policy, new.hit_policy),
        ("rule order", ", ".join(r.id for r in old.rules), ", ".join(r.id for r in new.rules)),
    ])


def _summary(rule: Rule) -> str:
    return f"{rule.outcome} when {logic_text(rule.condition)}"


def _versioned(name: str, g: Guideline, gs: GuidelineSet) -> str:
    """A name, with the guideline's window when the set holds several versions of it."""
    versions = sum(1 for other in gs.guidelines if other.id == g.id)
    return name if versions == 1 else f"{name} ({g.window()})"


def _by_version(gs: GuidelineSet) -> dict[str, Guideline]:
    return {_versioned(g.id, g, gs): g for g in gs.guidelines}


def diff_sets(old: GuidelineSet, new: GuidelineSet, cases: list[Case]) -> SetDiff:
    def otherwise(gs: GuidelineSet) -> str:
        return "; ".join(f"{k}: {o.outcome} ({o.reason})" for k, o in sorted(gs.otherwise.items()))

    changes: list[Change] = []
    set_details = _compare([
        ("id", old.id, new.id), ("title", old.title, new.title),
        ("combine", old.combine, new.combine),
        ("guideline order", ", ".join(g.id for g in old.guidelines),
         ", ".join(g.id for g in new.guidelines)),
        ("otherwise", otherwise(old), otherwise(new)),
    ])
    if set_details:
        changes.append(Change("changed", "set", new.id, set_details))
    old_g = _by_version(old)
    new_g = _by_version(new)
    for gid in [*old_g, *(g for g in new_g if g not in old_g)]:
        if gid not in new_g:
            changes.append(Change("removed", "guideline", gid))
        elif gid not in old_g:
            changes.append(Change("added", "guideline", gid))
        elif details := _guideline_details(old_g[gid], new_g[gid]):
            changes.append(Change("changed", "guideline", gid, details))
    old_r = {_versioned(r.id, g, old): (g, r) for g in old.guidelines for r in g.rules}
    new_r = {_versioned(r.id, g, new): (g, r) for g in new.guidelines for r in g.rules}
    for rid in [*old_r, *(r for r in new_r if r not in old_r)]:
        if rid not in new_r:
            changes.append(Change("removed", "rule", rid, (("was", _summary(old_r[rid][1]),
                                                            ""),)))
        elif rid not in old_r:
            changes.append(Change("added", "rule", rid, (("is", "", _summary(new_r[rid][1])),)))
        elif details := _rule_details(old_r[rid][1], new_r[rid][1], old_r[rid][0],
                                      new_r[rid][0]):
            changes.append(Change("changed", "rule", rid, details))
    before = run_cases(old, cases)
    after = run_cases(new, cases)
    moved = [CaseChange(a.case.name, a.actual, b.actual)
             for a, b in zip(before, after, strict=True) if a.actual != b.actual]
    return SetDiff(old.sha256, new.sha256, changes, moved, len(cases))


def cases_for_diff(old: Path, new: Path) -> list[Path]:
    """The case files beside either set; NEW's copy of a file wins over OLD's."""
    found: dict[str, Path] = {}
    for root in (old, new):
        try:
            found.update({p.name: p for p in case_files(root)})
        except InputError:
            continue
    return list(found.values())


def diff_between(old: Path, new: Path, cases: Path | None = None) -> SetDiff:
    """`rules diff`: the two sets loaded, and the cases (given, else beside either set)."""
    from charging_rules.guidelines.loader import load_guidelines
    from charging_rules.rulecheck.cases import load_cases

    files = case_files(new, cases) if cases is not None else cases_for_diff(old, new)
    return diff_sets(load_guidelines(old), load_guidelines(new), load_cases(files))
