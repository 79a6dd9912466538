"""A whole manual asked scope first.

A manual's guidelines each govern a few statutes, so a referral is in the scope of few of
them; and a guideline whose scope is false decides nothing, whatever its rules' truths (the
evaluator holds them false: `Evaluator._gate`). Where nothing shows those truths (a batch
has no trace), durable_rules is asked the scopes first, on the referral and on each count's
view, and then the rules of only the guidelines whose scope is false neither on the
referral nor on any count. Each guideline's rules are rulesets of their own, whose cells
read that guideline's facts alone, so a referral's answer is made of parts that many more
referrals share than share one answer for the whole manual.

The values shown beside failed comparisons still come from every guideline, in scope or
not: the referral-level comparisons are asked of rulesets of their own (a comparison's truth
depends on the fact's value alone, so a few cells answer a whole batch).

Kleene logic is monotone: answering a missing fact never makes a false scope true, so the
guidelines out of scope stay out of it for every answer the questions try.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

from charging_rules.engine.durable import Answer, CompiledRuleset, Truths, Where, kept
from charging_rules.guidelines.conditions import Compare, Condition, Truth, layout


class ScopedAnswer(NamedTuple):
    """durable_rules' answer for one fact, as its parts: the scopes', the comparisons' and,
    per group of rules asked (by its place), that group's. `cell`, `signature` and `shown`
    are as in `Answer` (None without reuse). The outcome, the missing facts and the
    questions depend on the scopes and the groups asked alone (a false scope stays false
    whatever is answered), so cell and signature are theirs; the values shown depend on the
    comparisons alone."""

    cell: Hashable | None
    signature: Hashable | None
    top: list[Truths]  # the comparisons' truths: what the failed ones show
    shown: Hashable | None  # names `top`
    scope: Answer
    asked: tuple[tuple[int, Answer], ...]

    @property
    def items(self) -> Hashable | None:
        return self.cell


class ScopedRuleset:
    """`CompiledRuleset`'s answers for a set whose `guarded` roots each matter only where
    their guard root (a count root: a guideline's scope) is not false on the record or on
    some count's view. Only such answers' readers may use it: the truths of roots whose
    guard is false are unknown, not the record's."""

    def __init__(self, roots: dict[str, Condition], guarded: dict[str, str],
                 counts: str | None, where: Where, reuse: bool):
        laid = {root_id: layout(root_id, cond) for root_id, cond in roots.items()}
        size = sum(map(len, laid.values()))
        self._guards = list(dict.fromkeys(guarded.values()))
        guards = set(self._guards)
        self._scopes = CompiledRuleset({g: roots[g] for g in self._guards}, self._guards,
                                       counts, where, reuse, item_truths=False, sized_for=size)
        groups: dict[str | None, dict[str, Condition]] = {}
        for root_id, cond in roots.items():
            if root_id not in guards:
                groups.setdefault(guarded.get(root_id), {})[root_id] = cond
        self._groups = [(guard, CompiledRuleset(group, (), None, where, reuse,
                                                item_truths=False, sized_for=size))
                        for guard, group in groups.items()]
        compares = {node.id: (root_id, node.condition) for root_id, nodes in laid.items()
                    for node in nodes
                    if node.collection is None and isinstance(node.condition, Compare)}
        self._compares = CompiledRuleset(
            {node_id: cond for node_id, (_, cond) in compares.items()}, (), None,
            {node_id: where[root_id] for node_id, (root_id, _) in compares.items()
             if root_id in where}, reuse, item_truths=False, sized_for=size)
        self._unknown = dict.fromkeys(roots, Truth.UNKNOWN)
        self._kept = kept(size)
        self._asked: dict[Hashable, tuple[int, ...]] = {}  # scope signature -> groups
        self._whole: dict[Hashable, tuple[Truths, list[Truths]]] = {}
        self.reuse = reuse

    def answer_many(self, facts: Sequence[dict[str, Any]]) -> list[ScopedAnswer]:
        scopes = self._scopes.answer_many(facts)
        compared = self._compares.answer_many(facts)
        at: list[list[int]] = [[] for _ in self._groups]  # per group, the facts asking it
        for i, scope in enumerate(scopes):
            for group in self._to_ask(scope):
                at[group].append(i)
        answers: list[dict[int, Answer]] = [{} for _ in facts]
        for group, (_, ruleset) in enumerate(self._groups):
            asking = at[group]
            for i, answer in zip(asking, ruleset.answer_many([facts[i] for i in asking]),
                                 strict=True):
                answers[i][group] = answer
        out = []
        for scope, compare, parts in zip(scopes, compared, answers, strict=True):
            asked = tuple(parts.items())  # filled group by group: in the groups' order
            out.append(ScopedAnswer(
                (scope.cell, *[(g, a.cell) for g, a in asked]) if self.reuse else None,
                (scope.signature, *[(g, a.signature) for g, a in asked])
                if self.reuse else None,
                compare.top, compare.shown, scope, asked))
        return out

    def _to_ask(self, scope: Answer) -> tuple[int, ...]:
        """The groups of rules to ask: those unguarded, and those whose guard is not false
        on the record or on some count. Remembered by the scopes' signature."""
        known = self._asked.get(scope.signature) if scope.signature is not None else None
        if known is None:
            truth, per_count = self._scopes.truths(scope)
            live = {guard for guard in self._guards
                    if truth[guard] is not Truth.FALSE
                    or any(view[guard] is not Truth.FALSE for view in per_count)}
            known = tuple(i for i, (guard, _) in enumerate(self._groups)
                          if guard is None or guard in live)
            if scope.signature is not None:
                if len(self._asked) > self._kept:
                    self._asked.clear()
                self._asked[scope.signature] = known
        return known

    def truths(self, answer: ScopedAnswer) -> tuple[Truths, list[Truths]]:
        """The truth of every node asked (every root: those not asked are unknown), and per
        count the scopes' truths on its view. Read them, never change them."""
        known = self._whole.get(answer.signature) if answer.signature is not None else None
        if known is None:
            truth, per_count = self._scopes.truths(answer.scope)
            merged = dict(self._unknown)
            merged.update(truth)
            for group, part in answer.asked:
                merged.update(self._groups[group][1].truths(part)[0])
            known = (merged, per_count)
            if answer.signature is not None:
                if len(self._whole) > self._kept:
                    self._whole.clear()
                self._whole[answer.signature] = known
        return known
