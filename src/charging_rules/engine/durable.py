"""The only module that touches durable_rules.

Each three-valued condition node is compiled into two durable_rules rules, one matching
when it is definitely true and one when it is definitely false; a node neither rule matches
is unknown. durable_rules' own semantics give this for free: a comparison on a missing
attribute never matches, not even `$neq`.

"Any charge such that P" is evaluated in two steps, because durable_rules mis-evaluates `$or`
inside its item quantifiers (`$iany`/`$iall`: an alternative on another attribute that is
present and false sinks the whole `$or`; tests/test_durable_quirks.py reproduces it). Each
charge is asserted as a fact of its own, so P is matched at top level where `$or` is sound;
the quantifier (true if some charge holds, false if every charge fails) is then folded in
and handed back to durable_rules as an attribute of the referral fact, on which every
enclosing condition is matched.

We drive the C engine (`durable_rules_engine`, reached through `durable.engine`) directly,
without `durable.lang`'s Host: the Host starts background dispatch threads and runs a Python
callback per fired rule, and we only need the names of the rules that matched. Quirks handled
here (see DESIGN.md): facts are asserted, never posted, so every matching rule fires; every
evaluation gets a fresh session id and its state is deleted afterwards (the 1024-session
limit, #250, #376); rulesets are named by content hash (#262); calls are serialized by a lock;
`$or` alternatives may match a node more than once. A `$nex`-only rule would also match
durable's own session-state object, so every rule requires a marker attribute that only our
facts carry. A session whose facts matched no rule has no state, and deleting it crashes the
process; so a sentinel rule matches every fact we assert (a referral that leaves every
condition unknown is exactly the case missing-is-not-false exists for).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import durable.engine as _durable

from charging_rules.errors import EngineError, InputError
from charging_rules.guidelines.conditions import (
    QUANTIFIERS,
    All,
    AnyItem,
    AnyOf,
    Compare,
    Condition,
    EveryItem,
    Exists,
    Not,
    SumItems,
    Truth,
    layout,
    sum_bounds,
)
from charging_rules.model.facts import MISSING

ENGINE_VERSION = "durable_rules 2.0.28"
_MARKER = "cr_fact"
_ITEM = "cr_item"
_QUANTIFIED = "cr_q_"
_SENTINEL = "cr_sentinel"  # a rule name without "|": not a condition node
# Measured limits of durable_rules 2.0.28, past which it fails inside C (error 303, heap
# corruption, a hang) instead of answering: a set that would cross them is refused up front.
MAX_ENGINE_RULES = 256
MAX_TESTS_PER_FACT = 128  # distinct comparisons on one attribute (e.g. age < 1 ... age < 64)
_lock = threading.Lock()
_registered: dict[str, Any] = {}  # ruleset name -> durable handle (never registered twice)
_session_ids = itertools.count(1)

_SWAP = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "gt": "le", "le": "gt",
         "in": "not_in", "not_in": "in"}
_OPERATOR = {"ne": "$neq", "lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}


def _compare(field: str, op: str, value: Any) -> dict[str, Any]:
    if op == "eq":
        return {field: value}
    if op in ("in", "not_in"):
        parts = [_compare(field, "eq" if op == "in" else "ne", v) for v in value]
        return parts[0] if len(parts) == 1 else {"$or" if op == "in" else "$and": parts}
    return {_OPERATOR[op]: {field: value}}


def _quantified(node_id: str) -> str:
    return _QUANTIFIED + node_id.replace(".", "_")


# A sum is handed to durable_rules as the two ends of the interval it lies in (the high end
# absent when unbounded), so a comparison on it is matched like any other attribute.
_LOW, _HIGH = "_lo", "_hi"
_SUM_MATCH = {  # op -> (end, operator) matching when true, and when false
    "le": ((_HIGH, "$lte"), (_LOW, "$gt")),
    "lt": ((_HIGH, "$lt"), (_LOW, "$gte")),
    "ge": ((_LOW, "$gte"), (_HIGH, "$lt")),
    "gt": ((_LOW, "$gt"), (_HIGH, "$lte")),
}


def _expression(cond: Condition, positive: bool, ids: dict[int, str]) -> dict[str, Any]:
    """durable_rules JSON matching when `cond` is definitely true (positive) or false."""
    if isinstance(cond, Compare):
        return _compare(cond.field, cond.op if positive else _SWAP[cond.op], cond.value)
    if isinstance(cond, Exists):
        return {"$ex" if cond.present == positive else "$nex": {cond.field: 1}}
    if isinstance(cond, Not):
        return _expression(cond.item, not positive, ids)
    if isinstance(cond, SumItems):
        end, operator = _SUM_MATCH[cond.op][0 if positive else 1]
        return {operator: {_quantified(ids[id(cond)]) + end: cond.value}}
    if isinstance(cond, AnyItem | EveryItem):
        return {_quantified(ids[id(cond)]): positive}
    conjunctive = isinstance(cond, All) == positive
    assert isinstance(cond, All | AnyOf)
    parts = [_expression(c, positive, ids) for c in cond.items]
    return parts[0] if len(parts) == 1 else {"$and" if conjunctive else "$or": parts}


class CompiledRuleset:
    """A durable_rules ruleset answering, for one fact, the truth of every condition node
    (`conditions.layout` ids) of the named root conditions.

    `count_roots` (with `counts`, the collection whose items are counts) name roots, such as
    guideline scopes, whose truth is also wanted per item: for item i, each any_/every_
    quantifier over that collection in those roots is given item i's own truth, and
    durable_rules matches the roots again on that view of the record.
    """

    def __init__(self, roots: dict[str, Condition], count_roots: Iterable[str] = (),
                 counts: str | None = None):
        laid = {root_id: layout(root_id, cond) for root_id, cond in roots.items()}
        nodes = [node for root_nodes in laid.values() for node in root_nodes]
        ids = {id(node.condition): node.id for node in nodes}
        definition: dict[str, Any] = {}
        for node in nodes:
            marker = {_MARKER: 1} if node.collection is None else {_ITEM: node.collection}
            for suffix, positive in (("|t", True), ("|f", False)):
                match = {"$and": [marker, _expression(node.condition, positive, ids)]}
                definition[node.id + suffix] = {"all": [{"m": match}]}
        if nodes:
            definition[_SENTINEL] = {"all": [{"m": {"$or": [{"$ex": {_MARKER: 1}},
                                                              {"$ex": {_ITEM: 1}}]}}]}
        _check_size(definition)
        text = json.dumps(definition, sort_keys=True)
        self.name = "cr-" + hashlib.sha256(text.encode()).hexdigest()[:32]
        self.nodes = tuple(node.id for node in nodes)
        self._item_nodes = {node.id: node.collection for node in nodes if node.collection}
        self._quantifiers = [(node.id, node.condition) for node in nodes
                             if isinstance(node.condition, QUANTIFIERS)]
        self._collections = sorted({c.collection for _, c in self._quantifiers})
        wanted = set(count_roots)
        self._counts = counts
        self.count_nodes = tuple(node.id for root_id in wanted & set(laid)
                                 for node in laid[root_id] if node.collection is None)
        self._count_quantifiers = [
            node.id for root_id in wanted & set(laid) for node in laid[root_id]
            if isinstance(node.condition, AnyItem | EveryItem)
            and node.condition.collection == counts and node.collection is None]
        self._definition = definition

    def _handle(self) -> Any:
        handle = _registered.get(self.name)
        if handle is None:
            # Not `durable.engine.Ruleset`: it serializes with json.dumps, whose exponents
            # durable's parser refuses (a guideline comparing with 1.0e-20).
            handle = _registered[self.name] = _durable.durable_rules_engine.create_ruleset(
                self.name, _dumps(self._definition))
        return handle

    def evaluate(self, fact: dict[str, Any]) -> dict[str, Truth]:
        """Truth of every node for this fact; nodes durable_rules did not match are unknown."""
        return self.evaluate_many((fact,))[0]

    def evaluate_many(self, facts: Iterable[dict[str, Any]]) -> list[dict[str, Truth]]:
        return [truth for truth, _ in self.evaluate_counts_many(facts)]

    def evaluate_counts_many(self, facts: Iterable[dict[str, Any]]
                             ) -> list[tuple[dict[str, Truth], list[dict[str, Truth]]]]:
        """Per fact: the truth of every node, and per count the truth of the count roots'
        nodes (`count_nodes`) on that count's view of the record."""
        if not self.nodes:  # durable_rules cannot create an empty ruleset (error 102, or
            return [({}, []) for _ in facts]  # heap corruption): no guideline for this kind
        results: list[tuple[dict[str, Truth], list[dict[str, Truth]]]] = []
        with _lock:
            handle = self._handle()
            for fact in facts:
                sid = str(next(_session_ids))
                try:
                    results.append(self._evaluate(handle, fact, sid))
                finally:
                    _durable.durable_rules_engine.delete_state(handle, sid)
        return results

    def _evaluate(self, handle: Any, fact: dict[str, Any], sid: str
                  ) -> tuple[dict[str, Truth], list[dict[str, Truth]]]:
        truth = dict.fromkeys(self.nodes, Truth.UNKNOWN)
        derived: dict[str, Any] = {}
        per_item: dict[tuple[str, int], Truth] = {}
        if self._quantifiers:
            per_item = _item_truths(
                (name, index)
                for collection in self._collections
                for index, item in enumerate(fact.get(collection) or ())
                for name in _assert(handle, {**item, "cr_i": index, _ITEM: collection,
                                             "sid": sid}))
            for node_id, cond in self._quantifiers:
                items = fact.get(cond.collection)
                truth[node_id] = _fold(cond, per_item, node_id, items, derived)
            for node_id, collection in self._item_nodes.items():
                truth[node_id] = _exists(per_item, node_id, fact.get(collection))
        fired = _assert(handle, {**fact, **derived, _MARKER: 1, "sid": sid})
        for node_id, value in _truths(fired):
            truth[node_id] = value
        return truth, self._per_count(handle, fact, derived, per_item, truth, sid)

    def _per_count(self, handle: Any, fact: dict[str, Any], derived: dict[str, Any],
                   per_item: dict[tuple[str, int], Truth], truth: dict[str, Truth],
                   sid: str) -> list[dict[str, Truth]]:
        items = fact.get(self._counts) if self._counts else None
        if not isinstance(items, list) or not self.count_nodes:
            return [] if not isinstance(items, list) else [{} for _ in items]
        if len(items) == 1 or not self._count_quantifiers:  # each count sees the whole
            same = {node_id: truth[node_id] for node_id in self.count_nodes}
            return [same for _ in items]
        out: list[dict[str, Truth]] = []
        for index in range(len(items)):
            view = dict(derived)
            count_truth = dict.fromkeys(self.count_nodes, Truth.UNKNOWN)
            for node_id in self._count_quantifiers:
                own = per_item.get((f"{node_id}.0", index), Truth.UNKNOWN)
                view.pop(_quantified(node_id), None)
                if own is not Truth.UNKNOWN:
                    view[_quantified(node_id)] = own is Truth.TRUE
                count_truth[node_id] = own
            fired = _assert(handle, {**fact, **view, _MARKER: 1, "sid": sid, "cr_count": index})
            for node_id, value in _truths(fired):
                if node_id in count_truth:
                    count_truth[node_id] = value
            out.append(count_truth)
        return out


def _fold(cond: Condition, per_item: dict[tuple[str, int], Truth], node_id: str, items: Any,
          derived: dict[str, Any]) -> Truth:
    """A quantifier's truth from its items' truths, and the attributes that hand it back to
    durable_rules (`derived`), on which enclosing conditions are matched."""
    if isinstance(cond, SumItems):
        if not isinstance(items, list):
            return Truth.UNKNOWN
        matches = [per_item.get((f"{node_id}.0", i), Truth.UNKNOWN) for i in range(len(items))]
        low, high = sum_bounds(matches, [item.get(cond.field, MISSING) if isinstance(item, dict)
                                         else MISSING for item in items])
        derived[_quantified(node_id) + _LOW] = low
        if high is not None:
            derived[_quantified(node_id) + _HIGH] = high
        return Truth.UNKNOWN  # matched by durable_rules on the referral fact
    folded = _exists(per_item, f"{node_id}.0", items)
    if isinstance(cond, EveryItem):
        folded = ~_exists({k: ~v for k, v in per_item.items()}, f"{node_id}.0", items)
    if folded is not Truth.UNKNOWN:
        derived[_quantified(node_id)] = folded is Truth.TRUE
    return folded


def _tests(expression: Any, found: dict[str, set[str]]) -> None:
    """Collect the distinct comparison each attribute is put to in a durable expression."""
    if isinstance(expression, list):
        for part in expression:
            _tests(part, found)
        return
    for key, value in expression.items():
        if key in ("$and", "$or", "all", "m"):
            _tests(value, found)
        elif key.startswith("$"):
            for attribute, operand in value.items():
                found.setdefault(attribute, set()).add(f"{key} {operand!r}")
        elif key not in ("run",):
            found.setdefault(key, set()).add(f"= {value!r}")


def _check_size(definition: dict[str, Any]) -> None:
    if len(definition) > MAX_ENGINE_RULES:
        raise InputError(f"this guideline set compiles to {len(definition)} durable_rules rules; "
                         f"the engine fails above {MAX_ENGINE_RULES}: split or simplify it")
    found: dict[str, set[str]] = {}
    _tests(list(definition.values()), found)
    for attribute, tests in found.items():
        if len(tests) > MAX_TESTS_PER_FACT:
            raise InputError(f"'{attribute}' is compared {len(tests)} different ways; "
                             f"durable_rules fails above {MAX_TESTS_PER_FACT}: use fewer "
                             "thresholds (e.g. ranges) for it")


def _assert(handle: Any, fact: dict[str, Any]) -> list[str]:
    """Assert one fact and return the name of every rule it matched.

    One fact per call: after a call that matched nothing (code 1) durable's state handle is
    not valid, and draining it crashes the process.
    """
    engine = _durable.durable_rules_engine
    code, state = engine.assert_fact(handle, _dumps(fact))
    if code == 1:
        return []
    if code != 0:
        raise EngineError(f"durable_rules refused the fact (code {code})")
    fired: list[str] = []
    started = engine.start_action_for_state(handle, state)
    message = started[1] if started else None
    while message:
        # The message is {"<rule name>":{"m":{<fact>}}}; the name is all we need.
        fired.append(message[2:message.index('"', 2)])
        message = engine.complete_and_start_action(handle, state)
    return fired


def _dumps(fact: dict[str, Any]) -> str:
    """JSON durable_rules can parse: its parser refuses exponents without a decimal point
    (1e-05, 1e+20), which is how Python writes very small and very large floats."""
    text = json.dumps(fact, ensure_ascii=False)
    return text if "e-" not in text and "e+" not in text else _encode(fact)


def _encode(value: Any) -> str:
    if isinstance(value, float):
        mantissa, exponent_mark, exponent = repr(value).partition("e")
        if exponent_mark and "." not in mantissa:
            return f"{mantissa}.0e{exponent}"
        return repr(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _item_truths(fired: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Truth]:
    """Truth per (node, item index) from the rules matched on item facts."""
    out: dict[tuple[str, int], Truth] = {}
    for name, index in fired:
        for node_id, value in _truths([name]):
            if out.get((node_id, index)) is ~value:
                raise EngineError(f"durable_rules matched both truth values of {node_id}")
            out[(node_id, index)] = value
    return out


def _exists(per_item: dict[tuple[str, int], Truth], node_id: str, items: Any) -> Truth:
    """Kleene 'some item': true if one holds, false if every one fails, else unknown."""
    if not isinstance(items, list):
        return Truth.UNKNOWN
    values = [per_item.get((node_id, i), Truth.UNKNOWN) for i in range(len(items))]
    if Truth.TRUE in values:
        return Truth.TRUE
    return Truth.UNKNOWN if Truth.UNKNOWN in values else Truth.FALSE


def _truths(names: Iterable[str]) -> Iterator[tuple[str, Truth]]:
    """(node, truth) per matched rule name; durable_rules expands `$or` into one rule per
    alternative, so a node may come more than once (only both polarities is an error)."""
    seen: dict[str, Truth] = {}
    for name in names:
        node, _, polarity = name.rpartition("|")
        if not node:  # the sentinel
            continue
        value = Truth.TRUE if polarity == "t" else Truth.FALSE
        if seen.get(node) is ~value:
            raise EngineError(f"durable_rules matched both truth values of {node}")
        seen[node] = value
        yield node, value
