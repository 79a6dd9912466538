"""The only module that touches durable_rules.

Each three-valued condition node is compiled into two durable_rules rules, one matching
when it is definitely true and one when it is definitely false; a node neither rule matches
is unknown. durable_rules' own semantics give this for free: a comparison on a missing
attribute never matches, not even `$neq`.

We drive the C engine (`durable_rules_engine`, reached through `durable.engine`) directly,
without `durable.lang`'s Host: the Host starts background dispatch threads and runs a Python
callback per fired rule, and we only need the names of the rules that matched. Quirks handled
here (see DESIGN.md): a fact is asserted, never posted, so every matching rule fires; every
evaluation gets a fresh session id and its state is deleted afterwards (the 1024-session
limit, #250, #376); rulesets are named by content hash (#262); calls are serialized by a lock.
A `$nex`-only rule would also match durable's own session-state object, so every rule also
requires a marker attribute that only our facts carry.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Iterable
from typing import Any

import durable.engine as _durable

from charging_rules.errors import EngineError
from charging_rules.guidelines.conditions import (
    All,
    AnyItem,
    AnyOf,
    Compare,
    Condition,
    Exists,
    Not,
    Truth,
)

ENGINE_VERSION = "durable_rules 2.0.28"
_MARKER = "cr_fact"
_lock = threading.Lock()
_registered: dict[str, Any] = {}  # ruleset name -> durable Ruleset (never registered twice)
_session_ids = itertools.count(1)

_SWAP = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "gt": "le", "le": "gt",
         "in": "not_in", "not_in": "in"}
_OPERATOR = {"ne": "$neq", "lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}


def _name(field: str, item: bool) -> str:
    return f"$i.{field}" if item else field


def _compare(field: str, op: str, value: Any) -> dict[str, Any]:
    if op == "eq":
        return {field: value}
    if op in ("in", "not_in"):
        parts = [_compare(field, "eq" if op == "in" else "ne", v) for v in value]
        return parts[0] if len(parts) == 1 else {"$or" if op == "in" else "$and": parts}
    return {_OPERATOR[op]: {field: value}}


def _expression(cond: Condition, positive: bool, item: bool) -> dict[str, Any]:
    """durable_rules JSON matching when `cond` is definitely true (positive) or false."""
    if isinstance(cond, Compare):
        op = cond.op if positive else _SWAP[cond.op]
        return _compare(_name(cond.field, item), op, cond.value)
    if isinstance(cond, Exists):
        return {"$ex" if cond.present == positive else "$nex": {_name(cond.field, item): 1}}
    if isinstance(cond, Not):
        return _expression(cond.item, not positive, item)
    if isinstance(cond, AnyItem):
        quantifier = "$iany" if positive else "$iall"
        return {quantifier: {cond.collection: _expression(cond.item, positive, True)}}
    conjunctive = isinstance(cond, All) == positive
    assert isinstance(cond, All | AnyOf)
    parts = [_expression(c, positive, item) for c in cond.items]
    return parts[0] if len(parts) == 1 else {"$and" if conjunctive else "$or": parts}


def _wrap(cond: Condition, collection: str | None) -> Condition:
    """A node inside 'any charge such that' is traced as 'some charge satisfies it'."""
    return cond if collection is None else AnyItem(collection, collection, cond)


class CompiledRuleset:
    """A durable_rules ruleset answering, for one fact, the truth of every named condition."""

    def __init__(self, nodes: dict[str, tuple[Condition, str | None]]):
        definition: dict[str, Any] = {}
        for node_id, (cond, collection) in nodes.items():
            node = _wrap(cond, collection)
            for suffix, positive in (("|t", True), ("|f", False)):
                match = {"$and": [{_MARKER: 1}, _expression(node, positive, False)]}
                definition[node_id + suffix] = {"all": [{"m": match}]}
        text = json.dumps(definition, sort_keys=True)
        self.name = "cr-" + hashlib.sha256(text.encode()).hexdigest()[:32]
        self.nodes = tuple(nodes)
        self._definition = definition

    def _handle(self) -> Any:
        ruleset = _registered.get(self.name)
        if ruleset is None:
            actions = {rule: {**body, "run": _never_called}
                       for rule, body in self._definition.items()}
            ruleset = _registered[self.name] = _durable.Ruleset(self.name, None, actions)
        return ruleset._handle

    def evaluate(self, fact: dict[str, Any]) -> dict[str, Truth]:
        """Truth of every node for this fact; nodes durable_rules did not match are unknown."""
        return self.evaluate_many((fact,))[0]

    def evaluate_many(self, facts: Iterable[dict[str, Any]]) -> list[dict[str, Truth]]:
        if not self.nodes:  # durable_rules cannot create an empty ruleset (error 102, or
            return [{} for _ in facts]  # heap corruption): no guideline for this kind
        engine = _durable.durable_rules_engine
        results: list[dict[str, Truth]] = []
        with _lock:
            handle = self._handle()
            for fact in facts:
                sid = str(next(_session_ids))
                payload = json.dumps({**fact, _MARKER: 1, "sid": sid}, ensure_ascii=False)
                try:
                    code, state = engine.assert_fact(handle, payload)
                    fired = _drain(engine, handle, state) if code == 0 else []
                finally:
                    engine.delete_state(handle, sid)
                if code not in (0, 1):
                    raise EngineError(f"durable_rules refused the fact (code {code})")
                results.append(_truths(self.nodes, fired))
        return results


def _never_called(_closure: Any) -> None:  # pragma: no cover - actions are drained, not run
    raise EngineError("durable_rules action dispatched outside the engine adapter")


def _drain(engine: Any, handle: Any, state: Any) -> list[str]:
    """Names of every rule the assert matched, by walking durable's action queue."""
    fired: list[str] = []
    started = engine.start_action_for_state(handle, state)
    message = started[1] if started else None
    while message:
        # The message is {"<rule name>": {...}}; the name is all we need.
        fired.append(message[2:message.index('"', 2)])
        message = engine.complete_and_start_action(handle, state)
    return fired


def _truths(nodes: tuple[str, ...], fired: list[str]) -> dict[str, Truth]:
    truth = dict.fromkeys(nodes, Truth.UNKNOWN)
    for name in fired:
        node, _, polarity = name.rpartition("|")
        value = Truth.TRUE if polarity == "t" else Truth.FALSE
        # An `$or` fires once per branch that matches, so one polarity may come twice.
        if truth[node] not in (Truth.UNKNOWN, value):
            raise EngineError(f"durable_rules matched both truth values of {node}")
        truth[node] = value
    return truth
