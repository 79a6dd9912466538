"""Test cases beside the guidelines (`rules/tests/*.yaml`), run through the real engine.

A case is a partial record, the outcome the office expects, the rules expected to decide it
and the facts expected to be requested. Cases run through `Evaluator` (durable_rules), never
the reference Kleene evaluator, so a passing suite says what `screen` will do. Coverage is
taken from the engine's own trace: which rules decided, which outcomes each guideline gave,
which missing facts were named, and whether every condition was seen holding and not holding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from charging_rules.engine.evaluate import NEEDS_INFORMATION, Evaluator
from charging_rules.errors import InputError
from charging_rules.files import read_bytes
from charging_rules.guidelines.conditions import fields_of, headline, walk
from charging_rules.guidelines.loader import GuidelineErrors, Problems, parse_yaml, validate_spec
from charging_rules.guidelines.schema import GuidelineSet, Identifier, Prose, Spec
from charging_rules.guidelines.yamlsource import line_of
from charging_rules.model.facts import generic_path, vocabulary
from charging_rules.model.kinds import KINDS, parse_record
from charging_rules.model.recommendation import Recommendation
from charging_rules.rulecheck.factspace import may_be_missing
from charging_rules.rulecheck.partial import merge, skeleton

CASES_DIR = "tests"


class ExpectSpec(Spec):
    outcome: Identifier
    rules: list[Identifier]
    missing: list[str] = Field(default_factory=list)


class CaseSpec(Spec):
    model_config = ConfigDict(extra="allow")  # the record, under its kind's name

    id: Identifier
    description: Prose | None = None
    kind: Identifier | None = None
    expect: ExpectSpec


class CaseFileSpec(Spec):
    kind: Identifier = "referral"
    defaults: dict[str, Any] = Field(default_factory=dict)
    cases: list[Any] = Field(min_length=1)  # each checked on its own: every problem listed


@dataclass(frozen=True)
class Result:
    """What a case expects, or what the engine gave: compared as sets (order is not policy)."""

    outcome: str
    rules: tuple[str, ...]
    missing: tuple[str, ...]

    @classmethod
    def of(cls, outcome: str, rules: Iterable[str], missing: Iterable[str]) -> Result:
        return cls(outcome, tuple(sorted(set(rules))), tuple(sorted(set(missing))))

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "rules": list(self.rules), "missing": list(self.missing)}


@dataclass(frozen=True)
class Case:
    file: str
    line: int | None
    id: str
    description: str | None
    kind: str
    record: dict[str, Any]
    expect: Result

    @property
    def name(self) -> str:
        return f"{Path(self.file).name}::{self.id}"


@dataclass(frozen=True)
class CaseRun:
    case: Case
    actual: Result
    recommendation: Recommendation

    @property
    def passed(self) -> bool:
        return self.actual == self.case.expect

    def differences(self) -> list[tuple[str, Any, Any]]:
        expected, actual = self.case.expect.to_json(), self.actual.to_json()
        return [(key, expected[key], actual[key]) for key in expected
                if expected[key] != actual[key]]


# --- loading ---------------------------------------------------------------------------


def case_files(guidelines: Path, cases: Path | None = None) -> list[Path]:
    """The case files: `cases` if given, else the `tests/` directory beside the guidelines."""
    where = cases if cases is not None else \
        (guidelines if guidelines.is_dir() else guidelines.parent) / CASES_DIR
    if where.is_file():
        return [where]
    if not where.is_dir():
        raise InputError("no test cases: expected a directory of case files "
                         f"(*.yaml) at {where}", source=str(where))
    files = sorted(p for p in where.iterdir() if p.suffix in (".yaml", ".yml"))
    if not files:
        raise InputError("no test case files (*.yaml) here", source=str(where))
    return files


def load_cases(files: Iterable[Path]) -> list[Case]:
    """Every case of every file; all problems at once (GuidelineErrors) when any."""
    problems = Problems()
    cases: list[Case] = []
    for path in files:
        cases += _load_file(path, problems)
    if problems.items:
        raise GuidelineErrors(problems.items)
    return cases


def _load_file(path: Path, problems: Problems) -> list[Case]:
    try:
        raw = read_bytes(path)
    except InputError as error:
        problems.items.append(error)
        return []
    parsed = parse_yaml(path, raw, problems)
    if parsed is None:
        return []
    data, lines = parsed
    spec: CaseFileSpec | None = validate_spec(CaseFileSpec, data, path, lines, problems)
    if spec is None:
        return []
    out: list[Case] = []
    seen: set[str] = set()
    for index, raw_case in enumerate(spec.cases):
        at = ("cases", index)
        line = line_of(lines, at)
        case = _case_spec(raw_case, at, path, lines, problems)
        if case is None:
            continue
        kind = case.kind or spec.kind
        extra = dict(case.model_extra or {})
        if case.id in seen:
            problems.add(str(path), line, f"cases[{index}]: duplicate case id '{case.id}'")
        seen.add(case.id)
        if kind not in KINDS:
            problems.add(str(path), line, f"cases[{index}]: unknown record kind '{kind}' "
                         f"(known: {', '.join(KINDS)})")
            continue
        record = extra.pop(kind, {})
        for key in extra:
            problems.add(str(path), line_of(lines, (*at, key)),
                         f"cases[{index}].{key}: unknown key (the record goes under '{kind}')")
        if not isinstance(record, dict):
            problems.add(str(path), line_of(lines, (*at, kind)),
                         f"cases[{index}].{kind}: must be a mapping of facts")
            continue
        full = merge(merge(skeleton(kind, case.id), spec.defaults), record)
        try:
            parse_record(full, kind)
        except InputError as error:
            problems.add(str(path), line_of(lines, (*at, kind)),
                         f"case '{case.id}': {error.message}")
            continue
        _check_expect(case, kind, (*at, "expect"), str(path), lines, problems)
        expect = Result.of(case.expect.outcome, case.expect.rules, case.expect.missing)
        out.append(Case(str(path), line, case.id, case.description, kind, full, expect))
    return out


def _check_expect(case: CaseSpec, kind: str, at: tuple[str | int, ...], path: str,
                  lines: dict[Any, int], problems: Problems) -> None:
    """An expectation no run could meet (an outcome the kind does not have, a fact the
    contract does not name) is a bad case file, not a failing case."""
    outcomes = KINDS[kind].outcomes
    if case.expect.outcome not in outcomes:
        problems.add(path, line_of(lines, (*at, "outcome")),
                     f"case '{case.id}': expect.outcome '{case.expect.outcome}' is not an "
                     f"outcome of a {kind} record ({', '.join(outcomes)})")
    for fact in case.expect.missing:
        if generic_path(fact) not in _facts(kind):
            problems.add(path, line_of(lines, (*at, "missing")),
                         f"case '{case.id}': expect.missing '{fact}' is not a fact of a "
                         f"{kind} record")


@cache
def _facts(kind: str) -> frozenset[str]:
    """The facts a recommendation may name as missing, as generic paths."""
    words = vocabulary(KINDS[kind].model)
    return frozenset((*words.fields, *(f"{name}[].{item}"
                                       for name, items in words.collections.items()
                                       for item in items)))


def _check_rules(guidelines: GuidelineSet, cases: list[Case]) -> None:
    """Every rule a case expects is a rule of the set for its kind: a mistyped id would
    only ever fail."""
    problems = Problems()
    ids: dict[str, set[str]] = {}
    for g in guidelines.guidelines:
        ids.setdefault(g.applies_to, set()).update(rule.id for rule in g.rules)
    for case in cases:
        for rule in case.expect.rules:
            if rule not in ids.get(case.kind, ()):
                problems.add(case.file, case.line, f"case '{case.id}': expect.rules names "
                             f"'{rule}', which is no rule of a {case.kind} guideline in "
                             f"'{guidelines.id}'")
    if problems.items:
        raise GuidelineErrors(problems.items)


def _case_spec(raw: Any, at: tuple[str, int], path: Path, lines: dict[Any, int],
               problems: Problems) -> CaseSpec | None:
    """One case's shape, its problems named `cases[i]...` at their own lines."""
    own = {key[len(at):]: line for key, line in lines.items() if key[:len(at)] == at}
    found = Problems()
    spec: CaseSpec | None = validate_spec(CaseSpec, raw, path, own, found)
    for problem in found.items:
        problems.add(str(path), problem.line, f"cases[{at[1]}].{problem.message}")
    return spec


# --- running ---------------------------------------------------------------------------


def run_cases(guidelines: GuidelineSet, cases: list[Case]) -> list[CaseRun]:
    evaluators: dict[str, Evaluator] = {}
    runs: list[CaseRun] = []
    for case in cases:
        evaluator = evaluators.get(case.kind)
        if evaluator is None:
            evaluator = evaluators[case.kind] = Evaluator(guidelines, case.kind, questions=False)
        record, _ = parse_record(case.record, case.kind, case.name)
        rec = evaluator.evaluate(record)
        runs.append(CaseRun(case, Result.of(rec.outcome, rec.rules, rec.missing), rec))
    return runs


# --- coverage --------------------------------------------------------------------------




@dataclass
class ConditionCoverage:
    where: str  # "scope" or a rule id
    index: int
    text: str
    held: list[str] = field(default_factory=list)
    not_held: list[str] = field(default_factory=list)


@dataclass
class GuidelineCoverage:
    outcomes: dict[str, list[str]]
    missing: dict[str, list[str]]
    conditions: list[ConditionCoverage]


@dataclass
class Coverage:
    rules: dict[str, list[str]]
    guidelines: dict[str, GuidelineCoverage]
    fallback: dict[str, list[str]]

    def uncovered(self) -> list[str]:
        """One line per thing no case exercises; empty when coverage is complete."""
        out = [f"rule {rule}: no case is decided by it"
               for rule, hits in self.rules.items() if not hits]
        for gid, cov in self.guidelines.items():
            out += [f"guideline {gid}: no case gives outcome {o}"
                    for o, hits in cov.outcomes.items() if not hits]
            out += [f"guideline {gid}: no needs_information case names missing fact {f}"
                    for f, hits in cov.missing.items() if not hits]
            for cond in cov.conditions:
                out += [f"guideline {gid}, {cond.where}: no case where '{cond.text}' {verb}"
                        for verb, hits in (("holds", cond.held), ("does not hold",
                                                                  cond.not_held)) if not hits]
        out += [f"fallback for {kind} records: no case reaches it"
                for kind, hits in self.fallback.items() if not hits]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": self.rules,
            "guidelines": {gid: {"outcomes": c.outcomes, "missing": c.missing,
                                 "conditions": [vars(x) for x in c.conditions]}
                           for gid, c in self.guidelines.items()},
            "fallback": self.fallback,
            "uncovered": self.uncovered(),
        }


def coverage(guidelines: GuidelineSet, runs: list[CaseRun]) -> Coverage:
    rules: dict[str, list[str]] = {r.id: [] for g in guidelines.guidelines for r in g.rules}
    per: dict[str, GuidelineCoverage] = {}
    for g in guidelines.guidelines:
        roots = [("scope", g.scope)] if g.scope is not None else []
        roots += [(r.id, r.condition) for r in g.rules]
        read = set().union(*(fields_of(cond) for _, cond in roots))
        per[g.id] = GuidelineCoverage(
            outcomes={o: [] for o in [*sorted({r.outcome for r in g.rules}), NEEDS_INFORMATION]},
            missing={f: [] for f in sorted(read) if may_be_missing(g.applies_to, f)},
            conditions=[ConditionCoverage(where, index, headline(node))
                        for where, cond in roots for index, node in enumerate(walk(cond))],
        )
    kinds = {g.applies_to for g in guidelines.guidelines}
    fallback: dict[str, list[str]] = {k: [] for k in sorted(kinds) if k in guidelines.otherwise}
    for run in runs:
        _count(guidelines, run, rules, per, fallback)
    return Coverage(rules, per, fallback)


def _count(guidelines: GuidelineSet, run: CaseRun, rules: dict[str, list[str]],
           per: dict[str, GuidelineCoverage], fallback: dict[str, list[str]]) -> None:
    name, rec = run.case.name, run.recommendation
    # Undecided = the engine's needs_information (it names missing facts). A rule or fallback
    # whose own outcome is needs_information (victim outreach: ask police) did decide.
    decided = rec.outcome != NEEDS_INFORMATION or not rec.missing
    responsible = {guidelines.rule(rule_id)[0].id for rule_id in rec.rules}
    for rule_id in rec.rules if decided else ():
        rules[rule_id].append(name)
    for gid in responsible:
        per[gid].outcomes.setdefault(rec.outcome, []).append(name)
        for fact in sorted({generic_path(m) for m in rec.missing} & set(per[gid].missing)):
            per[gid].missing[fact].append(name)
    if decided and not rec.rules and rec.kind in fallback:
        fallback[rec.kind].append(name)
    for trace in rec.trace:
        seen = [("scope", trace.scope_conditions)]
        if trace.scope != "failed":
            seen += [(r.rule, r.conditions) for r in trace.rules]
        slots = {(c.where, c.index): c for c in per[trace.guideline].conditions}
        for where, conds in seen:
            for index, cond in enumerate(conds):
                slot = slots[(where, index)]
                (slot.held if cond.truth == "held" else slot.not_held).append(name)


@dataclass(frozen=True)
class CaseReport:
    runs: list[CaseRun]
    coverage: Coverage

    @property
    def failed(self) -> list[CaseRun]:
        return [r for r in self.runs if not r.passed]


def run_tests(guidelines: GuidelineSet, files: Iterable[Path]) -> CaseReport:
    """Load the cases, run them through the engine and measure coverage."""
    cases = load_cases(files)
    _check_rules(guidelines, cases)
    runs = run_cases(guidelines, cases)
    return CaseReport(runs, coverage(guidelines, runs))
