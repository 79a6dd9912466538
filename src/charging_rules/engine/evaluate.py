"""From a record to a recommendation: durable_rules answers the truth of every condition,
this module combines rule truths by each guideline's hit policy and across the set.

Missing is not false. A rule whose condition is unknown may or may not hold, so we consider
every combination of the unknown rules (and unknown scopes): when they all lead to one
outcome that outcome stands; otherwise the result is `needs_information`, naming the missing
facts behind the rules that split it.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from charging_rules.engine.durable import CompiledRuleset
from charging_rules.guidelines.conditions import (
    AnyItem,
    Compare,
    Condition,
    Exists,
    Node,
    Truth,
    children,
    headline,
    kleene,
    layout,
)
from charging_rules.guidelines.schema import Guideline, GuidelineSet, Otherwise, Rule
from charging_rules.model.facts import lookup, to_fact
from charging_rules.model.kinds import KINDS, RecordKind
from charging_rules.model.recommendation import (
    Citation,
    ConditionTrace,
    GuidelineRef,
    GuidelineTrace,
    Recommendation,
    RuleTrace,
)

NEEDS_INFORMATION = "needs_information"
REUSE_ENV = "CHARGING_RULES_REUSE_CELLS"
_ABSTAIN = "(abstain)"
_CACHE_SIZE = 4096  # truth vectors remembered (a few kB each); cleared when full


@dataclass(frozen=True)
class _GuidelineResult:
    guideline: Guideline
    scope: Truth
    rules: dict[str, Truth]
    possible: dict[str, list[Rule]]  # outcome -> deciding rules in some world


class Evaluator:
    """Compiled once per guideline set and record kind; evaluates many records."""

    def __init__(self, guidelines: GuidelineSet, kind: str = "referral",
                 reuse: bool | None = None):
        """`reuse`: ask durable_rules once per cell of the fact space (engine/cells.py);
        default on, off with CHARGING_RULES_REUSE_CELLS=0."""
        self.set = guidelines
        self.kind: RecordKind = KINDS[kind]
        self.guidelines = guidelines.for_kind(kind)
        self.otherwise = guidelines.otherwise.get(kind)
        roots: dict[str, Condition] = {}
        where: dict[str, tuple[str, str]] = {}
        for g_index, guideline in enumerate(self.guidelines):
            if guideline.scope:
                roots[f"g{g_index}.scope"] = guideline.scope
                where[f"g{g_index}.scope"] = (guideline.file, f"guideline {guideline.id} scope")
            for r_index, rule in enumerate(guideline.rules):
                roots[f"g{g_index}.r{r_index}"] = rule.condition
                where[f"g{g_index}.r{r_index}"] = (guideline.file,
                                                   f"guideline {guideline.id} rule {rule.id}")
        self._layout = {root_id: layout(root_id, cond) for root_id, cond in roots.items()}
        # Trace lines are the same for every record but their truth: render them once.
        self._lines = {root_id: [(node.id, node.depth, headline(node.condition)) for node in nodes]
                       for root_id, nodes in self._layout.items()}
        if reuse is None:
            reuse = os.environ.get(REUSE_ENV, "1") != "0"
        self.reuses_cells = reuse
        self._ruleset = CompiledRuleset(roots, where, reuse)
        self._refs = [GuidelineRef(id=g.id, version=g.version, sha256=g.sha256)
                      for g in self.guidelines]
        self._combined: dict[tuple[Truth, ...], tuple[
            list[_GuidelineResult], list[_GuidelineResult], dict[str, list[Rule]]]] = {}
        self._templates: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._by_cell: dict[Hashable, tuple[Any, ...]] = {}

    def evaluate(self, record: BaseModel) -> Recommendation:
        return next(iter(self.evaluate_many((record,))))

    def evaluate_many(self, records: Iterable[BaseModel], chunk: int = 256
                      ) -> Iterator[Recommendation]:
        """Streams: records are evaluated in chunks, so memory stays flat on any input size."""
        iterator = iter(records)
        while batch := list(itertools.islice(iterator, chunk)):
            answers = self._ruleset.evaluate_cells(batch, to_fact)
            for record, (cell, truths) in zip(batch, answers, strict=True):
                yield self._recommend(record, truths, cell)

    # --- combination ---------------------------------------------------------------------

    def _guideline_result(self, g_index: int, truths: dict[str, Truth]) -> _GuidelineResult:
        guideline = self.guidelines[g_index]
        scope = truths[f"g{g_index}.scope"] if guideline.scope else Truth.TRUE
        rules = {rule.id: truths[f"g{g_index}.r{i}"] for i, rule in enumerate(guideline.rules)}
        possible: dict[str, list[Rule]] = {}
        if scope is not Truth.FALSE:
            for world in _worlds(guideline.rules, rules):
                chosen = choose(guideline, world)
                outcome = _ABSTAIN if not chosen else _outcome_of(chosen, self.otherwise)
                possible.setdefault(outcome, chosen)
        if scope is not Truth.TRUE:
            possible.setdefault(_ABSTAIN, [])
        return _GuidelineResult(guideline, scope, rules, possible)

    def _recommend(self, record: BaseModel, truths: dict[str, Truth],
                   cell: Hashable = None) -> Recommendation:
        """Everything but the record id and the missing facts depends on the truths alone,
        and real inputs produce few distinct truth vectors: the work is done once per vector
        (and missing-fact list) and the result is copied with the record's id. A cell of
        the fact space (engine/cells.py) has one truth vector: when its recommendation names
        no missing facts, it is found by the cell alone."""
        record_id = str(getattr(record, self.kind.id_field))
        by_cell = self._by_cell.get(cell) if cell is not None else None
        if by_cell is not None:
            return Recommendation(record_id, *by_cell)
        key = tuple(truths.values())
        combined = self._combined.get(key)
        if combined is None:
            combined = self._combined[key] = self._combine(truths)
        results, visited, outcomes = combined
        missing = [] if len(outcomes) == 1 else sorted(set(self._missing_of(
            visited, truths, to_fact(record))))
        rest = self._templates.get((key, *missing))
        if rest is None:  # the template's fields after record_id: building is 2x `replace`
            template = self._template(results, visited, outcomes, missing, truths)
            rest = self._templates[(key, *missing)] = tuple(
                getattr(template, f.name) for f in dataclasses.fields(template)[1:])
        if cell is not None and not missing:
            self._by_cell[cell] = rest
        if max(len(self._templates), len(self._combined), len(self._by_cell)) > _CACHE_SIZE:
            self._templates.clear()
            self._combined.clear()
            self._by_cell.clear()
        return Recommendation(record_id, *rest)

    def _combine(self, truths: dict[str, Truth]) -> tuple[
            list[_GuidelineResult], list[_GuidelineResult], dict[str, list[Rule]]]:
        results = [self._guideline_result(i, truths) for i in range(len(self.guidelines))]
        outcomes: dict[str, list[Rule]] = {}
        visited: list[_GuidelineResult] = []
        for result in results:
            visited.append(result)
            for outcome, rules in result.possible.items():
                if outcome != _ABSTAIN:
                    outcomes.setdefault(outcome, rules)
            if _ABSTAIN not in result.possible:
                break
        else:
            if self.otherwise is not None:
                outcomes.setdefault(self.otherwise.outcome, [])
        return results, visited, outcomes

    def _template(self, results: list[_GuidelineResult], visited: list[_GuidelineResult],
                  outcomes: dict[str, list[Rule]], missing: list[str],
                  truths: dict[str, Truth]) -> Recommendation:
        """The recommendation for a truth vector; its record id is filled in per record."""
        record_id = ""
        if len(outcomes) == 1:
            outcome, deciding = next(iter(outcomes.items()))
            rule_ids = [r.id for r in deciding]
            if deciding:
                reasons = [r.reason for r in deciding]
            else:  # only the set's fallback decides without a rule
                assert self.otherwise is not None
                reasons = [self.otherwise.reason]
        elif not outcomes:  # no guideline decided and the set has no fallback for this kind
            outcome, deciding, rule_ids = NEEDS_INFORMATION, [], []
            reasons = [f"No guideline decides {self.kind.name} records like this one and the "
                       f"guideline set names no fallback for them."]
        else:
            outcome = NEEDS_INFORMATION
            deciding = [rule for res in visited for rule in _open_rules(res)]
            rule_ids = [rule.id for rule in deciding]
            reasons = [f"The outcome depends on facts missing from the referral: "
                       f"{', '.join(missing)}."]
            reasons += [f"If {rule.id} holds ({rule.outcome}): {rule.reason}"
                        for rule in deciding]
        return Recommendation(
            record_id=record_id, kind=self.kind.name, outcome=outcome, rules=rule_ids,
            reasons=reasons, citations=[self._citation(r) for r in deciding], missing=missing,
            guideline_set=self.set.id, guideline_set_sha256=self.set.sha256,
            guidelines=self._refs, trace=[self._trace(i, r, truths) for i, r in enumerate(results)],
        )

    def _guideline_of(self, rule: Rule) -> Guideline:
        return next(g for g in self.guidelines if rule in g.rules)

    def _citation(self, rule: Rule) -> Citation:
        guideline = self._guideline_of(rule)
        return Citation(rule=rule.id, guideline=guideline.id,
                        citation=rule.cite or guideline.citation, text=guideline.source_text)

    # --- explanation ---------------------------------------------------------------------

    def _missing_of(self, visited: list[_GuidelineResult], truths: dict[str, Truth],
                    fact: dict[str, Any]) -> Iterator[str]:
        for res in visited:
            g_index = self.guidelines.index(res.guideline)
            roots = [f"g{g_index}.scope"] if res.scope is Truth.UNKNOWN else []
            roots += [f"g{g_index}.r{res.guideline.rules.index(rule)}"
                      for rule in _open_rules(res)]
            for root in roots:
                yield from _unknown_fields(self._layout[root], truths, fact)

    def _trace(self, g_index: int, result: _GuidelineResult,
               truths: dict[str, Truth]) -> GuidelineTrace:
        def conditions(root: str) -> list[ConditionTrace]:
            return [ConditionTrace(depth, text, truths[node_id].value)
                    for node_id, depth, text in self._lines[root]]

        guideline = result.guideline
        return GuidelineTrace(
            guideline=guideline.id, version=guideline.version, scope=result.scope.value,
            scope_conditions=conditions(f"g{g_index}.scope") if guideline.scope else [],
            hit_policy=guideline.hit_policy,
            rules=[RuleTrace(rule=rule.id, outcome=rule.outcome,
                             truth=result.rules[rule.id].value,
                             conditions=conditions(f"g{g_index}.r{i}"))
                   for i, rule in enumerate(guideline.rules)],
            possible=sorted(o for o in result.possible if o != _ABSTAIN),
        )


def _worlds(rules: tuple[Rule, ...], truths: dict[str, Truth]) -> Iterator[list[Rule]]:
    """The rules that hold in enough assignments of the unknown rules to reach every outcome
    any assignment reaches, in rule order: none of the unknowns, each one alone, all of them.

    Linear, not 2^n: under FIRST and PRIORITY the deciding rule of any assignment is the
    deciding rule of the known rules plus one of its unknowns; under UNIQUE a conflict is
    possible exactly when it arises with every unknown rule holding.
    """
    known = {r.id for r in rules if truths[r.id] is Truth.TRUE}
    unknown = [r for r in rules if truths[r.id] is Truth.UNKNOWN]
    yield [r for r in rules if r.id in known]
    for extra in unknown:
        yield [r for r in rules if r.id in known or r is extra]
    if len(unknown) > 1:
        yield [r for r in rules if truths[r.id] is not Truth.FALSE]


def _open_rules(res: _GuidelineResult) -> list[Rule]:
    """The unknown rules of an applicable guideline that decide in some world: under FIRST
    and PRIORITY an unknown rule behind one that holds can change nothing, so its facts are
    not worth asking for."""
    if res.scope is Truth.FALSE:
        return []
    rules = res.guideline.rules
    unknown = [r for r in rules if res.rules[r.id] is Truth.UNKNOWN]
    if res.guideline.hit_policy == "unique":
        return unknown
    return [r for r in unknown if r in choose(res.guideline, [
        x for x in rules if x is r or res.rules[x.id] is Truth.TRUE])]


def choose(guideline: Guideline, holding: list[Rule]) -> list[Rule]:
    """The rules that decide under the guideline's hit policy (DMN FIRST/PRIORITY/UNIQUE)."""
    if not holding:
        return []
    if guideline.hit_policy == "first":
        return holding[:1]
    if guideline.hit_policy == "priority":
        top = max(r.priority or 0 for r in holding)
        return [next(r for r in holding if r.priority == top)]
    return holding  # unique: all holding rules; more than one outcome is a conflict


def _outcome_of(chosen: list[Rule], otherwise: Otherwise | None) -> str:
    outcomes = {r.outcome for r in chosen}
    if len(outcomes) == 1:
        return outcomes.pop()
    # A UNIQUE guideline with overlapping rules cannot decide: send it to the fallback.
    return otherwise.outcome if otherwise is not None else NEEDS_INFORMATION


def _unknown_fields(nodes: list[Node], truths: dict[str, Truth],
                    fact: dict[str, Any]) -> Iterator[str]:
    """Field paths under unknown nodes whose absence made them unknown."""
    skip: str | None = None
    for entry in nodes:
        node_id, node = entry.id, entry.condition
        if skip is not None and node_id.startswith(skip + "."):
            continue
        skip = None
        if truths[node_id] is not Truth.UNKNOWN:
            skip = node_id
        elif isinstance(node, AnyItem):
            skip = node_id
            items = lookup(fact, node.collection)
            for index, item in enumerate(items if isinstance(items, list) else []):
                if kleene(node.item, item) is Truth.UNKNOWN:
                    yield from (f"{node.collection}[{index}].{f}"
                                for f in _atoms_missing(node.item, item))
        elif isinstance(node, Compare | Exists):
            yield node.field


def _atoms_missing(cond: Condition, item: dict[str, Any]) -> Iterator[str]:
    if kleene(cond, item) is not Truth.UNKNOWN:
        return
    if isinstance(cond, Compare | Exists):
        yield cond.field
    for child in children(cond):
        yield from _atoms_missing(child, item)
