"""From a record to a recommendation: durable_rules answers the truth of every condition,
this module combines rule truths by each guideline's hit policy and across the set.

Missing is not false. A rule whose condition is unknown may or may not hold, so we consider
every combination of the unknown rules (and unknown scopes): when they all lead to one
outcome that outcome stands; otherwise the result is `needs_information`, naming the missing
facts behind the rules that split it.

Counts. A guideline governs the charges its scope names: its scope is also matched per
charge, each any_/every_charge quantifier in it reading that charge alone (durable_rules
matches the scope again on each count's view, see `CompiledRuleset`). Each count gets the
outcome of the first guideline that governs it and decides, else the set's fallback; rules
still read the whole referral. The referral's outcome is the first outcome in the kind's
precedence that some count has (`OUTCOME_PRECEDENCE`).

Questions. For `needs_information`, the smallest set of missing facts such that every
combination of answers (from the values the guidelines tell apart) settles the outcome; each
answer is evaluated through this same engine.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from collections import ChainMap
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple, Protocol, TypeVar

from pydantic import BaseModel

from charging_rules.engine.cells import value_at
from charging_rules.engine.durable import CompiledRuleset, Truths
from charging_rules.engine.scoped import ScopedRuleset
from charging_rules.guidelines import domains
from charging_rules.guidelines.conditions import (
    AnyItem,
    Compare,
    Condition,
    EveryItem,
    Exists,
    Node,
    SumItems,
    Truth,
    children,
    fields_of,
    headline,
    kleene,
    layout,
)
from charging_rules.guidelines.schema import Guideline, GuidelineSet, Otherwise, Rule
from charging_rules.model.facts import (
    MISSING,
    FieldSpec,
    engine_fact,
    lookup,
    to_fact,
    vocabulary,
)
from charging_rules.model.kinds import KINDS, RecordKind
from charging_rules.model.recommendation import (
    Citation,
    ConditionTrace,
    CountOutcome,
    GuidelineRef,
    GuidelineTrace,
    Question,
    Recommendation,
    RuleTrace,
)

NEEDS_INFORMATION = "needs_information"
REUSE_ENV = "CHARGING_RULES_REUSE_CELLS"
_ABSTAIN = "(abstain)"
_CACHE_SIZE = 4096  # questions, traces and decisions remembered; cleared when full
MAX_QUESTION_WORLDS = 512  # answer combinations evaluated before the search gives up
_INDEX = re.compile(r"\[(\d+)\]")
_ANY_DAY = date(2000, 1, 1)  # a date answer when no guideline compares the fact with a date

_PLANS_KEPT = 16384  # plans, and recommendations, remembered (each cleared when full)
SCOPE_FIRST_FROM = 10  # scoped guidelines from which a batch asks scope first (measured:
#                       benchmarks/README.md)
Outcomes = dict[str, list[Rule]]  # outcome -> the rules deciding it in some world
_serials = itertools.count()
K = TypeVar("K")
V = TypeVar("V")


class _Answered(Protocol):
    """What evaluation reads of a ruleset's answer for one fact (`durable.Answer`,
    `scoped.ScopedAnswer`)."""

    @property
    def cell(self) -> Hashable | None: ...
    @property
    def signature(self) -> Hashable | None: ...
    @property
    def items(self) -> Hashable | None: ...
    @property
    def top(self) -> list[Truths]: ...
    @property
    def shown(self) -> Hashable | None: ...


class _Rulesets(Protocol):
    def answer_many(self, facts: list[dict[str, Any]]) -> Sequence[_Answered]: ...
    def truths(self, answer: Any) -> tuple[Truths, list[Truths]]: ...


class _Decision(NamedTuple):
    """What a plan decides, before the counts' names: per count its outcome, deciding
    guideline and rules."""

    outcome: str
    rules: tuple[str, ...]
    reasons: tuple[str, ...]
    citations: tuple[Citation, ...]
    counts: tuple[tuple[str, str | None, tuple[str, ...]], ...]


class _Plan(NamedTuple):
    """A recommendation for some truths, before the counts' names: `serial` names the
    combination (per count) and the missing facts, which the recommendation depends on."""

    serial: int
    counted: list[_Combined]
    missing: list[str]
    per_count: bool
    open: bool  # some count is undecided: the missing facts name the record's items
    trace: tuple[GuidelineTrace, ...]
    shows: list[tuple[str, tuple[str, ...]]]  # with a trace, the facts whose values
    #                                   explain the failed comparisons (paths split)


@dataclass(frozen=True)
class _GuidelineResult:
    index: int  # the guideline's place in the set
    guideline: Guideline
    scope: Truth
    rules: dict[str, Truth]
    possible: Outcomes


@dataclass(frozen=True)
class _Combined:
    results: list[_GuidelineResult]
    visited: list[_GuidelineResult]
    outcomes: Outcomes


class Evaluator:
    """Compiled once per guideline set and record kind; evaluates many records."""

    def __init__(self, guidelines: GuidelineSet, kind: str = "referral",
                 questions: bool = True, reuse: bool | None = None, trace: bool = True,
                 scope_first: bool | None = None):
        """`questions=False` for analyses that read outcomes only (the search for the
        questions evaluates each needs_information record again per answer). `trace=False`
        where no trace is read (a batch: its log records are lean); the values shown beside
        failed comparisons are still kept. `reuse`: ask durable_rules once per cell of the
        fact space (engine/cells.py); default on, off with CHARGING_RULES_REUSE_CELLS=0.
        `scope_first` (without a trace): ask the rules of the guidelines in scope only
        (engine/scoped.py); by default for sets of `SCOPE_FIRST_FROM` scoped guidelines."""
        self.ask = questions
        self.traces = trace
        self.set = guidelines
        self.kind: RecordKind = KINDS[kind]
        self.guidelines = guidelines.for_kind(kind)
        self.otherwise = guidelines.otherwise.get(kind)
        self.vocabulary = vocabulary(self.kind.model)
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
        # Referral-level comparisons: the facts whose values explain one that fails (for a
        # derived fact, the facts it was derived from too).
        self._shows = {node.id: _shows(node.condition.field, self.vocabulary.fields)
                       for nodes in self._layout.values() for node in nodes
                       if node.collection is None and isinstance(node.condition, Compare)}
        self._show_rank = {node_id: i for i, node_id in enumerate(self._shows)}
        self._shown_by: dict[Hashable, list[tuple[str, tuple[str, ...]]]] = {}
        scopes = [root_id for root_id in roots if root_id.endswith(".scope")]
        if reuse is None:
            reuse = os.environ.get(REUSE_ENV, "1") != "0"
        self.reuses_cells = reuse
        # Without a trace, a manual is asked scope first (engine/scoped.py); one ruleset
        # answers a small set faster, and a trace shows every guideline's rules.
        if scope_first is None:
            scope_first = len(scopes) >= SCOPE_FIRST_FROM
        self._ruleset: _Rulesets = (
            ScopedRuleset(roots, {f"g{g}.r{r}": f"g{g}.scope"
                                  for g, guideline in enumerate(self.guidelines)
                                  if guideline.scope for r in range(len(guideline.rules))},
                          self.kind.counts, where, reuse)
            if scope_first and scopes and not trace else
            CompiledRuleset(roots, scopes, self.kind.counts, where, reuse, item_truths=trace))
        self._refs = [GuidelineRef(id=g.id, version=g.version, sha256=g.sha256)
                      for g in self.guidelines]
        self._literals = domains.literals(roots.values())
        # The facts the conditions read: questions depend on nothing else, so they are
        # remembered per projection of a record onto them (batches repeat projections).
        read = set().union(*(fields_of(c) for c in roots.values())) if roots else set()
        self._read = sorted(p for p in read if "[]." not in p)
        self._read_items = {c: sorted(p.partition("[].")[2] for p in read
                                      if p.startswith(c + "[]."))
                            for c in {p.partition("[].")[0] for p in read if "[]." in p}}
        self._questions: dict[Hashable, list[Question]] = {}
        self._combined: dict[tuple[Truth, ...], _Combined] = {}
        self._templates: dict[tuple[Any, ...], Recommendation] = {}
        self._plans: dict[Hashable, _Plan | dict[Hashable, _Plan]] = {}
        self._kept = 0  # plans in `_plans`
        self._plan_serials: dict[tuple[Any, ...], int] = {}
        self._bases: dict[int, tuple[_Decision, Recommendation]] = {}
        self._count_outcomes: dict[tuple[Any, ...], tuple[CountOutcome, str]] = {}
        self._root_ids = list(roots)
        self._rule_guideline = {id(rule): g for g in self.guidelines for rule in g.rules}
        self._scope_positions = [(i, root) for i, root in enumerate(self._root_ids)
                                 if root.endswith(".scope")]
        # Where each guideline's scope and rules sit in a root key (`_root_key`).
        at = {root_id: i for i, root_id in enumerate(self._root_ids)}
        self._guideline_roots = [
            (at[f"g{g}.scope"] if guideline.scope else None,
             slice(at[f"g{g}.r0"], at[f"g{g}.r0"] + len(guideline.rules))
             if guideline.rules else slice(0, 0))
            for g, guideline in enumerate(self.guidelines)]
        # A guideline whose scope is false decides nothing, whatever its rules' truths: a
        # key read without a trace (which shows them) holds them as false, so records
        # differing only there share one combination, plan and recommendation.
        self._gated = [] if trace else [
            (scope_at, rules_at, (Truth.FALSE,) * (rules_at.stop - rules_at.start))
            for scope_at, rules_at in self._guideline_roots
            if scope_at is not None and rules_at.stop > rules_at.start]
        self._results: dict[tuple[Any, ...], _GuidelineResult] = {}
        self._traces: dict[tuple[Any, ...], tuple[GuidelineTrace, tuple[str, ...]]] = {}
        self._guideline_nodes = [
            [node.id for root_id, nodes in self._layout.items()
             if root_id.startswith(f"g{g_index}.") for node in nodes]
            for g_index in range(len(self.guidelines))]

    def evaluate(self, record: BaseModel) -> Recommendation:
        return next(iter(self.evaluate_many((record,))))

    def evaluate_many(self, records: Iterable[BaseModel], chunk: int = 256
                      ) -> Iterator[Recommendation]:
        """Streams: records are evaluated in chunks, so memory stays flat on any input size."""
        iterator = iter(records)
        while batch := list(itertools.islice(iterator, chunk)):
            yield from self.evaluate_plain(batch, [to_fact(r) for r in batch])

    def evaluate_plain(self, records: Sequence[BaseModel], plain: Sequence[dict[str, Any]]
                       ) -> Iterator[Recommendation]:
        """`evaluate_many` for records whose `to_fact` the caller has (and logs)."""
        facts = [engine_fact(r, p) for r, p in zip(records, plain, strict=True)]
        ids = [str(getattr(r, self.kind.id_field)) for r in records]
        return self._evaluate(ids, facts, self.ask)

    def evaluate_facts(self, ids: list[str], facts: list[dict[str, Any]]
                       ) -> list[Recommendation]:
        """Recommendations (without questions) for engine facts (`engine_fact`)."""
        return list(self._evaluate(ids, facts, False))

    def _evaluate(self, ids: list[str], facts: list[dict[str, Any]], ask: bool
                  ) -> Iterator[Recommendation]:
        """A recommendation is built in two steps, each remembered. Its plan (what each
        count may come to, the missing facts, the trace) is a function of the truths
        durable_rules gives (their signature) and, where facts are missing, of the record's
        items (the missing facts name them). The recommendation is a function of its plan
        and the counts' names; it is copied for each record with the record's id and the
        values it shows beside failed comparisons."""
        ruleset = self._ruleset
        for record_id, fact, answer in zip(ids, facts, ruleset.answer_many(facts),
                                           strict=True):
            signature = answer.signature
            items = answer.items
            plan = self._plans.get(signature) if signature is not None else None
            if type(plan) is dict:  # undecided: the missing facts depend on the items
                plan = plan.get(items)
            if plan is None:
                truths, per_count = ruleset.truths(answer)
                plan = self._plan(fact, truths, per_count)
                if signature is not None:
                    self._remember(signature, items, plan)
            assert isinstance(plan, _Plan)
            labels = self._count_labels(fact)
            template = self._templates.get((plan.serial, labels))
            if template is None:
                template = _kept(self._templates, (plan.serial, labels),
                                 self._template(plan, labels))
            questions: Sequence[Question] = ()
            if ask and template.outcome == NEEDS_INFORMATION and template.missing:
                questions = self.questions(
                    record_id, fact, template.missing,
                    None if answer.cell is None else (answer.cell, labels))
            shows = plan.shows if self.traces else self._shown(answer)
            yield template.filled(
                record_id, plan.trace, questions,
                {f: v for f, parts in shows if (v := value_at(fact, parts)) is not MISSING})

    def _remember(self, signature: Hashable, items: Hashable, plan: _Plan) -> None:
        if self._kept > _PLANS_KEPT:
            self._plans.clear()
            self._kept = 0
        self._kept += 1
        if not plan.open:
            self._plans[signature] = plan
        else:
            per_items = self._plans.setdefault(signature, {})
            assert isinstance(per_items, dict)
            per_items[items] = plan

    # --- combination ---------------------------------------------------------------------

    def _guideline_result(self, g_index: int, roots: tuple[Truth, ...]) -> _GuidelineResult:
        """What one guideline may decide: a function of its scope's and rules' truths (its
        part of `roots`, the `_root_key`), so built once per those (a manual's referrals
        share most guidelines' results)."""
        guideline = self.guidelines[g_index]
        scope_at, rules_at = self._guideline_roots[g_index]
        scope = roots[scope_at] if scope_at is not None else Truth.TRUE
        truth_of_rules = roots[rules_at]
        key = (g_index, scope, truth_of_rules)
        known = self._results.get(key)
        if known is None:
            known = _kept(self._results, key, self._result(g_index, guideline, scope,
                                                           truth_of_rules))
        return known

    def _result(self, g_index: int, guideline: Guideline, scope: Truth,
                truth_of_rules: tuple[Truth, ...]) -> _GuidelineResult:
        rules = {rule.id: truth for rule, truth in zip(guideline.rules, truth_of_rules,
                                                       strict=True)}
        possible: Outcomes = {}
        if scope is not Truth.FALSE:
            for world in _worlds(guideline.rules, rules):
                chosen = choose(guideline, world)
                outcome = _ABSTAIN if not chosen else _outcome_of(chosen, self.otherwise)
                possible.setdefault(outcome, chosen)
        if scope is not Truth.TRUE:
            possible.setdefault(_ABSTAIN, [])
        return _GuidelineResult(g_index, guideline, scope, rules, possible)

    def _root_key(self, truths: Mapping[str, Truth]) -> tuple[Truth, ...]:
        """What combination reads of a truth vector: its scopes' and rules' truths."""
        return tuple([truths[root] for root in self._root_ids])

    def _count_key(self, whole: tuple[Truth, ...], own: dict[str, Truth]
                   ) -> tuple[Truth, ...]:
        """A count's root key: the referral's, with the scopes as that count sees them."""
        key = list(whole)
        for position, root in self._scope_positions:
            truth = own.get(root)
            if truth is not None:
                key[position] = truth
        return self._gate(key)

    def _gate(self, key: list[Truth]) -> tuple[Truth, ...]:
        """The key with the rules of each guideline out of scope held as false (`_gated`)."""
        for scope_at, rules_at, falses in self._gated:
            if key[scope_at] is Truth.FALSE:
                key[rules_at] = falses
        return tuple(key)

    def _combine(self, key: tuple[Truth, ...]) -> _Combined:
        """First-applicable across the guidelines, from the scopes' and rules' truths."""
        combined = self._combined.get(key)
        if combined is not None:
            return combined
        results = [self._guideline_result(i, key) for i in range(len(self.guidelines))]
        outcomes: Outcomes = {}
        # An outcome reachable both through rules that may not apply (an unknown scope or
        # rule) and through rules that certainly do is credited to the certain ones.
        deferred: list[tuple[str, list[Rule]]] = []
        visited: list[_GuidelineResult] = []
        for result in results:
            visited.append(result)
            for outcome, rules in result.possible.items():
                if outcome == _ABSTAIN:
                    continue
                if result.scope is Truth.UNKNOWN or any(
                        result.rules[r.id] is Truth.UNKNOWN for r in rules):
                    deferred.append((outcome, rules))
                else:
                    outcomes.setdefault(outcome, rules)
            if _ABSTAIN not in result.possible:
                break
        else:
            if self.otherwise is not None:
                outcomes.setdefault(self.otherwise.outcome, [])
        for outcome, rules in deferred:
            outcomes.setdefault(outcome, rules)
        return _kept(self._combined, key, _Combined(results, visited, outcomes))

    def _plan(self, fact: dict[str, Any], truths: dict[str, Truth],
              per_count: list[dict[str, Truth]]) -> _Plan:
        """What the recommendation for these truths is made of. Combination is a function
        of the scopes' and rules' truths (per count) and is remembered by those; the trace
        is built per guideline (`_trace_of`); without one, the values shown are the
        answer's (`_shown`)."""
        whole_key = self._root_key(truths)
        keys = [self._count_key(whole_key, own) for own in per_count] if per_count \
            else [self._gate(list(whole_key))]
        counted = [self._combine(key) for key in keys]
        # A count's own truths over the referral's, read only where the count is undecided.
        missing = sorted({path for index, combined in enumerate(counted)
                          if len(combined.outcomes) != 1
                          for path in self._missing_of(
                              combined.visited,
                              ChainMap(per_count[index], truths) if per_count else truths,
                              fact, index if per_count else None)})
        key = (*keys, "|", *missing)
        serial = self._plan_serials.get(key)
        if serial is None:
            serial = _kept(self._plan_serials, key, next(_serials))
        open_ = any(len(combined.outcomes) != 1 for combined in counted)
        if not self.traces:
            return _Plan(serial, counted, missing, bool(per_count), open_, (), [])
        traced = self._trace_of(self._combine(whole_key), truths)
        return _Plan(serial, counted, missing, bool(per_count), open_,
                     tuple(trace for trace, _ in traced),
                     _paths(f for _, shows in traced for f in shows))

    def _shown(self, answer: _Answered) -> list[tuple[str, tuple[str, ...]]]:
        """The facts whose values explain the failed referral-level comparisons, in the
        conditions' order. Those comparisons sit in durable_rules' top-level answer parts,
        which many records share when cells are reused: remembered by the parts' names."""
        known = self._shown_by.get(answer.shown) if answer.shown is not None else None
        if known is None:
            failed = [node_id for part in answer.top for node_id, truth in part.items()
                      if truth is Truth.FALSE and node_id in self._shows]
            failed.sort(key=self._show_rank.__getitem__)
            known = _paths(f for node_id in failed for f in self._shows[node_id])
            if answer.shown is not None:
                _kept(self._shown_by, answer.shown, known, _CACHE_SIZE)
        return known

    def _count_labels(self, fact: dict[str, Any]) -> tuple[Any, ...]:
        """What names each count (its statute and category): part of a recommendation."""
        items = fact.get(self.kind.counts) if self.kind.counts else None
        return tuple([(item.get("statute"), item.get("category", "")) if type(item) is dict
                      else (None, "") for item in (items if isinstance(items, list) else ())])

    def _decided(self, combined: _Combined) -> tuple[str, list[Rule], list[str]]:
        """A decided count's outcome, deciding rules and reasons."""
        outcome, deciding = next(iter(combined.outcomes.items()))
        if deciding:
            return outcome, deciding, [r.reason for r in deciding]
        assert self.otherwise is not None  # only the set's fallback decides without a rule
        return outcome, deciding, [self.otherwise.reason]

    def _template(self, plan: _Plan, labels: tuple[Any, ...]) -> Recommendation:
        """The recommendation; its record id, trace and values are filled in per record.
        Made from the plan's (built once per plan) and its counts, each remembered by its
        place, name and decision (counts' names vary more than anything else)."""
        based = self._bases.get(plan.serial)
        if based is None:
            decision = self._decision(plan)
            based = _kept(self._bases, plan.serial, (decision, Recommendation(
                record_id="", kind=self.kind.name, outcome=decision.outcome,
                rules=decision.rules, reasons=decision.reasons, citations=decision.citations,
                missing=plan.missing, guideline_set=self.set.id,
                guideline_set_sha256=self.set.sha256, guidelines=self._refs)))
        decision, base = based
        if not plan.per_count:
            return base
        counts = [self._count_outcome(index, label, part)
                  for index, (label, part) in enumerate(zip(labels, decision.counts,
                                                            strict=True))]
        mixed = len({part[0] for part in decision.counts}) > 1
        return base.labelled(tuple(count for count, _ in counts),
                             (*decision.reasons, *(line for _, line in counts)) if mixed
                             else decision.reasons)

    def _count_outcome(self, index: int, label: tuple[Any, ...],
                       part: tuple[str, str | None, tuple[str, ...]]
                       ) -> tuple[CountOutcome, str]:
        """A count's outcome, and the line that explains it where counts differ."""
        key = (index, label, part)
        known = self._count_outcomes.get(key)
        if known is None:
            c = CountOutcome(index, label[0], label[1], *part)
            known = _kept(self._count_outcomes, key, (c, (
                f"Count {c.charge + 1} ({_count_name(c)}): {c.outcome}"
                + (f" under {c.guideline} ({', '.join(c.rules)})" if c.guideline
                   else " (the set's fallback)" if c.outcome != NEEDS_INFORMATION else ""))))
        return known

    def _decision(self, plan: _Plan) -> _Decision:
        """What a plan decides, before the counts' names."""
        counted, missing = plan.counted, plan.missing
        open_counts = [c for c in counted if len(c.outcomes) != 1]
        if any(not c.outcomes for c in counted):
            # no guideline decided and the set has no fallback for this kind
            outcome, deciding = NEEDS_INFORMATION, []
            reasons = [f"No guideline decides {self.kind.name} records like this one and the "
                       f"guideline set names no fallback for them."]
        elif open_counts:
            outcome = NEEDS_INFORMATION
            deciding = _unique(rule for c in open_counts for rule in _undecided_rules(c))
            reasons = [f"The outcome depends on facts missing from the referral: "
                       f"{', '.join(missing)}."]
            reasons += [f"If {rule.id} holds ({rule.outcome}): {rule.reason}"
                        for rule in deciding]
        else:
            decided = [self._decided(c) for c in counted]
            outcome = min((o for o, _, _ in decided), key=self._rank)
            deciding = _unique(r for o, rules, _ in decided if o == outcome for r in rules)
            reasons = list(dict.fromkeys(reason for o, _, why in decided if o == outcome
                                         for reason in why))
        return _Decision(outcome, tuple(r.id for r in deciding), tuple(reasons),
                         tuple(self._citation(r) for r in deciding),
                         tuple(self._count(c) for c in counted))

    def _rank(self, outcome: str) -> int:
        order = self.kind.precedence
        return order.index(outcome) if outcome in order else len(order)

    def _count(self, combined: _Combined) -> tuple[str, str | None, tuple[str, ...]]:
        """A count's outcome, deciding guideline and rules."""
        if len(combined.outcomes) == 1:
            outcome, deciding, _ = self._decided(combined)
            return (outcome, self._guideline_of(deciding[0]).id if deciding else None,
                    tuple(r.id for r in deciding))
        return NEEDS_INFORMATION, None, tuple(r.id for r in _unique(_undecided_rules(combined)))

    def _guideline_of(self, rule: Rule) -> Guideline:
        return self._rule_guideline[id(rule)]

    def _citation(self, rule: Rule) -> Citation:
        guideline = self._guideline_of(rule)
        return Citation(rule=rule.id, guideline=guideline.id,
                        citation=rule.cite or guideline.citation, text=guideline.source_text)

    # --- questions -----------------------------------------------------------------------

    def questions(self, record_id: str, fact: dict[str, Any], missing: Sequence[str],
                  cell: Hashable | None = None) -> list[Question]:
        """The smallest set of missing facts whose answers, in every combination, settle
        the outcome; each with the outcome its answers lead to on their own. They depend on
        the record's cell (`cell`, when the engine reuses cells) or else on the facts the
        conditions read, so they are remembered by that."""
        key = cell if cell is not None else json.dumps(
            [[lookup(fact, p) if lookup(fact, p) is not MISSING else None for p in self._read],
             {c: [[i.get(f) for f in names] for i in lookup(fact, c)]
              if isinstance(lookup(fact, c), list) else None
              for c, names in self._read_items.items()}], default=str)
        found = self._questions.get(key)
        if found is None:
            found = _kept(self._questions, key, self._search(record_id, fact, missing),
                          _CACHE_SIZE)
        return found

    def _search(self, record_id: str, fact: dict[str, Any], missing: Sequence[str]
                ) -> list[Question]:
        paths = list(missing)
        answers = {path: self._answers(path) for path in paths}
        memo: dict[tuple[tuple[str, int], ...], str] = {}

        def outcomes(worlds: list[tuple[tuple[str, int], ...]]) -> list[str]:
            todo = [w for w in dict.fromkeys(worlds) if w not in memo]
            facts = [_answered(fact, {p: answers[p][i] for p, i in w}) for w in todo]
            for world, rec in zip(todo, self.evaluate_facts([record_id] * len(todo), facts),
                                  strict=True):
                memo[world] = rec.outcome
            return [memo[w] for w in worlds]

        alone = {path: outcomes([((path, i),) for i in range(len(answers[path]))])
                 for path in paths}
        def settles(subset: Sequence[str]) -> bool:
            worlds = [tuple(zip(subset, combo, strict=True)) for combo in itertools.product(
                *(range(len(answers[p])) for p in subset))]
            return NEEDS_INFORMATION not in outcomes(worlds)

        # Smallest first while that is cheap; then, from all the facts, drop each one whose
        # answers are not needed. Answering more never unsettles an outcome, so a set from
        # which no single fact can be dropped has no strict subset that settles it either.
        chosen = list(paths)
        budget = MAX_QUESTION_WORLDS
        if math.prod(len(answers[p]) for p in paths) > 8 * MAX_QUESTION_WORLDS:
            budget = 0  # too many facts to search: every one is asked
        for subset in (s for n in range(1, len(paths)) for s in itertools.combinations(paths, n)):
            budget -= math.prod(len(answers[p]) for p in subset)
            if budget < 0 and math.prod(len(answers[p]) for p in paths) > 8 * MAX_QUESTION_WORLDS:
                break
            if budget < 0:
                chosen = _irreducible(chosen, settles)
                break
            if settles(subset):
                chosen = list(subset)
                break
        return [Question(fact=path, question=self._question(path)[0],
                         ask=self._question(path)[1],
                         answers={_answer_key(v): o for v, o in zip(answers[path], alone[path],
                                                                    strict=True)})
                for path in chosen]

    def _spec(self, path: str) -> tuple[FieldSpec | None, str]:
        """The field's spec and its literal key ('charges[].quantity_grams')."""
        general = _INDEX.sub("[]", path)
        if "[]." in general:
            collection, _, name = general.partition("[].")
            return self.vocabulary.collections.get(collection, {}).get(name), general
        return self.vocabulary.fields.get(path), general

    def _answers(self, path: str) -> list[Any]:
        spec, general = self._spec(path)
        if spec is None:
            return [True, False]
        values = domains.candidates(spec, self._literals.get(general, []), _ANY_DAY)
        return [v for v in values if v is not MISSING and v != ""  # no record holds ""
                and not (isinstance(v, int | float) and not isinstance(v, bool) and v < 0)]

    def _question(self, path: str) -> tuple[str, str]:
        spec, _ = self._spec(path)
        match = _INDEX.search(path)
        count = int(match.group(1)) + 1 if match else 0
        if spec is None or spec.question is None:
            return f"What is {path}?", (spec.ask if spec and spec.ask else
                                        "the reporting officer")
        return spec.question.format(count=count), spec.ask or "the reporting officer"

    # --- explanation ---------------------------------------------------------------------

    def _missing_of(self, visited: list[_GuidelineResult], truths: Mapping[str, Truth],
                    fact: dict[str, Any], count: int | None) -> Iterator[str]:
        for res in visited:
            g_index = res.index
            # An unknown scope matters only where some rule may decide under it.
            decides = any(outcome != _ABSTAIN for outcome in res.possible)
            scope = [f"g{g_index}.scope"] if res.scope is Truth.UNKNOWN and decides else []
            for root in scope:  # a count's scope reads that count alone
                yield from _unknown_fields(self._layout[root], truths, fact, count)
            for rule in _open_rules(res):
                root = f"g{g_index}.r{res.guideline.rules.index(rule)}"
                yield from _unknown_fields(self._layout[root], truths, fact, None)

    def _trace_of(self, whole: _Combined, truths: dict[str, Truth]
                  ) -> list[tuple[GuidelineTrace, tuple[str, ...]]]:
        """Every rule considered, by the truth of its conditions, with the facts whose values
        explain the failed comparisons. A guideline's part depends on the truths of its own
        conditions alone, so it is built once per those (and shared by the recommendations,
        and their logged forms)."""
        out = []
        for g_index, result in enumerate(whole.results):
            key = (g_index, *[truths[node] for node in self._guideline_nodes[g_index]])
            part = self._traces.get(key)
            if part is None:
                trace = self._trace(g_index, result, truths)
                part = _kept(self._traces, key, (trace, tuple(dict.fromkeys(
                    f for c in _conditions(trace) for f in c.shows))), _CACHE_SIZE)
            out.append(part)
        return out

    def _trace(self, g_index: int, result: _GuidelineResult, truths: dict[str, Truth]
               ) -> GuidelineTrace:
        def conditions(root: str) -> list[ConditionTrace]:
            return [ConditionTrace(depth, text, truths[node_id].value,
                                   self._shows.get(node_id, ()) if truths[node_id] is Truth.FALSE
                                   else ())
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


def _conditions(trace: GuidelineTrace) -> Iterator[ConditionTrace]:
    yield from trace.scope_conditions
    for rule in trace.rules:
        yield from rule.conditions


def _kept(cache: dict[K, V], key: K, value: V, cap: int = _PLANS_KEPT) -> V:
    """`value`, remembered under `key`; a full cache is cleared first, so memory stays flat
    however long the batch."""
    if len(cache) > cap:
        cache.clear()
    cache[key] = value
    return value


def _paths(fields: Iterable[str]) -> list[tuple[str, tuple[str, ...]]]:
    return [(f, tuple(f.split("."))) for f in dict.fromkeys(fields)]


def _shows(field: str, fields: dict[str, FieldSpec]) -> tuple[str, ...]:
    spec = fields.get(field)
    return (field, *(spec.derived_from if spec else ()))


def _irreducible(chosen: list[str], settles: Callable[[Sequence[str]], bool]) -> list[str]:
    """`chosen` without each fact it settles the outcome without (in order)."""
    if not settles(chosen):
        return chosen  # even every answer leaves it open: ask them all
    for path in list(chosen):
        trial = [p for p in chosen if p != path]
        if trial and settles(trial):
            chosen = trial
    return chosen


def _unique(rules: Iterable[Rule]) -> list[Rule]:
    return list({id(r): r for r in rules}.values())


def _count_name(count: CountOutcome) -> str:
    return " ".join(filter(None, (count.statute, count.category)))


def _answer_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value.isoformat() if hasattr(value, "isoformat") else value)


def _answered(fact: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """The fact with some missing facts answered (paths like 'charges[1].quantity_grams')."""
    out = fact
    for path, value in answers.items():
        out = _put(out, _INDEX.sub(r".\1", path).split("."), value)
    return out


def _put(data: Any, parts: list[str], value: Any) -> Any:
    head, rest = parts[0], parts[1:]
    if isinstance(data, list):
        copy_list = list(data)
        copy_list[int(head)] = _put(copy_list[int(head)], rest, value) if rest else value
        return copy_list
    copy = dict(data) if isinstance(data, dict) else {}
    if hasattr(value, "isoformat"):
        value = value.isoformat()
    copy[head] = _put(copy.get(head, {}), rest, value) if rest else value
    return copy


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


def _undecided_rules(combined: _Combined) -> Iterator[Rule]:
    """The rules that decide in some world of an undecided record: the unknown rules that
    could decide, and the rules of a guideline that may or may not govern it."""
    for res in combined.visited:
        opened = _open_rules(res)
        if res.scope is Truth.UNKNOWN:
            opened += [r for rules in res.possible.values() for r in rules]
        yield from sorted(_unique(opened), key=res.guideline.rules.index)


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


def _unknown_fields(nodes: list[Node], truths: Mapping[str, Truth], fact: dict[str, Any],
                    count: int | None) -> Iterator[str]:
    """Field paths under unknown nodes whose absence made them unknown (`count`: a
    quantifier in a scope reads that count alone)."""
    skip: str | None = None
    for entry in nodes:
        node_id, node = entry.id, entry.condition
        if skip is not None and node_id.startswith(skip + "."):
            continue
        skip = None
        if truths[node_id] is not Truth.UNKNOWN:
            skip = node_id
        elif isinstance(node, AnyItem | EveryItem | SumItems):
            skip = node_id
            items = lookup(fact, node.collection)
            for index, item in enumerate(items if isinstance(items, list) else []):
                if count is not None and index != count and not isinstance(node, SumItems):
                    continue
                yield from (f"{node.collection}[{index}].{f}"
                            for f in _item_missing(node, item))
        elif isinstance(node, Compare | Exists):
            yield node.field


def _item_missing(node: AnyItem | EveryItem | SumItems, item: dict[str, Any]) -> Iterator[str]:
    match = kleene(node.item, item)
    if match is Truth.UNKNOWN:
        yield from _atoms_missing(node.item, item)
    if isinstance(node, SumItems) and match is not Truth.FALSE and node.field not in item:
        yield node.field


def _atoms_missing(cond: Condition, item: dict[str, Any]) -> Iterator[str]:
    if kleene(cond, item) is not Truth.UNKNOWN:
        return
    if isinstance(cond, Compare | Exists):
        yield cond.field
    for child in children(cond):
        yield from _atoms_missing(child, item)
