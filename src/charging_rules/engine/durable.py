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

A whole manual does not fit one durable_rules ruleset, which fails inside C past measured
limits (rules per ruleset, comparisons per attribute, rules one fact matches: error 303 and
then a crash). The nodes are therefore packed into as many rulesets as the limits need; a
single condition too large for any ruleset is refused with its guideline and rule.

We drive the C engine (`durable_rules_engine`, reached through `durable.engine`) directly,
without `durable.lang`'s Host: the Host starts background dispatch threads and runs a Python
callback per fired rule, and we only need the names of the rules that matched. Quirks handled
here: facts are asserted, never posted, so every matching rule fires; every
question gets a fresh session id and its state is deleted afterwards (the 1024-session
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
import math
import threading
from collections.abc import Hashable, Iterable, Iterator
from typing import Any, NamedTuple

import durable.engine as _durable

from charging_rules.engine.cells import key_of
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
    Node,
    Not,
    SumItems,
    Truth,
    layout,
    sum_bounds,
    sum_truth,
)
from charging_rules.model.facts import MISSING

ENGINE_VERSION = "durable_rules 2.0.28"
_MARKER = "cr_fact"
_ITEM = "cr_item"
_QUANTIFIED = "cr_q_"
_SENTINEL = "cr_sentinel"  # a rule name without "|": not a condition node
# Measured limits of durable_rules 2.0.28 for one ruleset, past which it fails inside C
# (error 303, heap corruption, a hang) instead of answering: nodes are packed under them.
MAX_ENGINE_RULES = 256
MAX_TESTS_PER_FACT = 128  # distinct comparisons on one attribute (e.g. age < 1 ... age < 64)
MAX_MATCHES_PER_FACT = 64  # rules one fact matches (error 303 past it, then a crash)
# Remembered answers are capped by the node truths they hold (each cache cleared when full),
# so memory stays flat however long the batch and however large the guideline set.
_TRUTHS_KEPT = 1_000_000  # in whole-fact answers (about 50 MB)
_CELL_TRUTHS_KEPT = 24_000_000  # counted as entries x nodes in the other caches
_lock = threading.Lock()
_registered: dict[str, Any] = {}  # ruleset name -> durable handle (never registered twice)
_session_ids = itertools.count(1)
Where = dict[str, tuple[str, str]]  # root id -> (file, "guideline G rule R") for errors

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


def kept(nodes: int) -> int:
    """Whole-fact answers of `nodes` truths each remembered before the cache is cleared."""
    return max(256, _TRUTHS_KEPT // max(nodes, 1))


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


class _Shard:
    """One durable_rules ruleset holding some of the nodes, within the measured limits."""

    def __init__(self) -> None:
        self.definition: dict[str, Any] = {}
        self.tests: dict[str, set[str]] = {}
        self.matches = 1  # the sentinel
        self.name = ""
        self.conditions: list[Condition] = []

    def fits(self, rules: dict[str, Any], tests: dict[str, set[str]], matches: int) -> bool:
        if len(self.definition) + len(rules) + 1 > MAX_ENGINE_RULES:  # + the sentinel
            return False
        if self.matches + matches > MAX_MATCHES_PER_FACT:
            return False
        return all(len(self.tests.get(attribute, set()) | found) <= MAX_TESTS_PER_FACT
                   for attribute, found in tests.items())

    def add(self, rules: dict[str, Any], tests: dict[str, set[str]], matches: int,
            condition: Condition) -> None:
        self.definition.update(rules)
        self.conditions.append(condition)
        self.matches += matches
        for attribute, found in tests.items():
            self.tests.setdefault(attribute, set()).update(found)

    def seal(self) -> _Shard:
        self.definition[_SENTINEL] = {"all": [{"m": {"$or": [{"$ex": {_MARKER: 1}},
                                                             {"$ex": {_ITEM: 1}}]}}]}
        text = json.dumps(self.definition, sort_keys=True)
        self.name = "cr-" + hashlib.sha256(text.encode()).hexdigest()[:32]
        self.reads = [tuple(attribute.split(".")) for attribute in sorted(self.tests)]
        # The place of each fact its own conditions compare, among their literals only: a
        # manual's ruleset tells apart the ages of its own guidelines' thresholds.
        self.cell = key_of(self.conditions)
        # The attributes quantifiers hand it (a sum: its place, under its plain name).
        self.derived = sorted({a.removesuffix(_LOW).removesuffix(_HIGH) for a in self.tests
                               if a.startswith(_QUANTIFIED)})
        return self

    def project(self, fact: dict[str, Any]) -> dict[str, Any]:
        """The fact with only the attributes this shard's rules test: durable_rules copies
        the whole fact into every match it reports, so a large fact makes each one slow."""
        out: dict[str, Any] = {}
        for path in self.reads:
            value: Any = fact
            for part in path:
                value = value.get(part, MISSING) if isinstance(value, dict) else MISSING
            if value is MISSING:
                continue
            target = out
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = value
        return out

    def handle(self) -> Any:
        handle = _registered.get(self.name)
        if handle is None:
            # Not `durable.engine.Ruleset`: it serializes with json.dumps, whose exponents
            # durable's parser refuses (a guideline comparing with 1.0e-20).
            handle = _registered[self.name] = _durable.durable_rules_engine.create_ruleset(
                self.name, _dumps(self.definition))
        return handle


Truths = dict[str, Truth]
Sealed = tuple[int, Truths]  # truths, with a serial naming their content (`_seal`)
_serials = itertools.count()


class Answer(NamedTuple):
    """durable_rules' answer for one fact, as the parts it is made of (shared between the
    facts whose parts agree): `CompiledRuleset.truths` puts them together.

    `cell` is the fact's cell (None without reuse); `signature` names the truths exactly
    (the parts' serials; None without reuse): facts in many cells share truths, so what is
    built from the truths alone is remembered by it; `shown` names the top-level parts,
    which hold the referral-level comparisons.
    """

    cell: tuple[Hashable, ...] | None
    signature: Hashable | None
    folded: Truths
    top: list[Truths]
    per_count: list[Truths] | int  # per count on its own view; an int: that many counts,
    #                                each seeing the whole record
    shown: Hashable | None  # names the top-level parts (`top`; None without reuse)

    @property
    def items(self) -> Hashable | None:
        """What the record's items (and sums) add to its cell: the missing facts of an
        undecided record name its items, so what is built from them is told apart by this."""
        return None if self.cell is None else self.cell[1:]


class _Traits(NamedTuple):
    """An item's answer as folding reads it (the nodes it holds true, and false) and as a
    count reads it (its truth of each count quantifier's own condition)."""

    true: frozenset[str]
    false: frozenset[str]
    owns: tuple[Truth, ...]


class _Items(NamedTuple):
    """What a record's items of one collection tell, in their order (shared by the records
    whose items have the same cells in the same order): each item's answer, the set of their
    cells (None: unknown), per sum whether each item matches, and for counts each item's
    truths of the count quantifiers' own conditions."""

    answers: list[Truths]
    cell: Hashable
    sums: dict[str, list[Truth]]
    owns: list[tuple[Truth, ...]]


class CompiledRuleset:
    """durable_rules rulesets answering, for one fact, the truth of every condition node
    (`conditions.layout` ids) of the named root conditions.

    The nodes are packed into as many rulesets (shards) as durable_rules' measured limits
    need: a node's rules test only the fact's own attributes (and, for a quantifier over
    items, attributes derived from the item facts first), so any node can sit in any shard.
    Item nodes are asked first, on each item; the quantifiers are folded; then the top-level
    shards are asked about the fact with the derived attributes.

    `count_roots` (with `counts`, the collection whose items are counts) name roots, such as
    guideline scopes, whose truth is also wanted per item: for item i, each any_/every_
    quantifier over that collection in those roots is given item i's own truth, and
    durable_rules matches the roots again on that view of the record.

    With `reuse`, durable_rules is asked once per cell (cells.py) of an item or a fact, and
    its answer is reused for the other items and facts in the cell.
    """

    def __init__(self, roots: dict[str, Condition], count_roots: Iterable[str] = (),
                 counts: str | None = None, where: Where | None = None, reuse: bool = True,
                 item_truths: bool = True, sized_for: int | None = None):
        laid = {root_id: layout(root_id, cond) for root_id, cond in roots.items()}
        placed = [(root_id, node) for root_id, root_nodes in laid.items() for node in root_nodes]
        nodes = [node for _, node in placed]
        ids = {id(node.condition): node.id for node in nodes}
        self._item_shards = _pack([p for p in placed if p[1].collection], ids, where or {})
        # Count roots' nodes are packed apart: a count's view is asked of their rulesets
        # alone, whose cells read only what the count roots read.
        wanted = set(count_roots)
        self._top_shards = [*_pack([p for p in placed if not p[1].collection and p[0] in wanted],
                                   ids, where or {}),
                            *_pack([p for p in placed if not p[1].collection
                                    and p[0] not in wanted], ids, where or {})]
        self.definitions = [s.definition for s in (*self._item_shards, *self._top_shards)]
        self.nodes = tuple(node.id for node in nodes)
        self._item_nodes = {node.id: node.collection for node in nodes if node.collection}
        self._quantifiers = [(node.id, node.condition) for node in nodes
                             if isinstance(node.condition, QUANTIFIERS)]
        self._collections = sorted({c.collection for _, c in self._quantifiers})
        self._counts = counts
        self.count_nodes = tuple(node.id for root_id in wanted & set(laid)
                                 for node in laid[root_id] if node.collection is None)
        self._count_quantifiers = [
            node.id for root_id in wanted & set(laid) for node in laid[root_id]
            if isinstance(node.condition, AnyItem | EveryItem)
            and node.condition.collection == counts and node.collection is None]
        self.reuse = reuse
        conds = list(roots.values())
        self._item_keys = {c: key_of(conds, c) for c in self._collections}
        # A sum's node, condition, and the attributes handing its place and ends back.
        self._sums = [(node_id, cond, _quantified(node_id), _quantified(node_id) + _LOW,
                       _quantified(node_id) + _HIGH) for node_id, cond in self._quantifiers
                      if isinstance(cond, SumItems)]
        self._whole_cache: dict[Hashable, tuple[Truths, list[Truths]]] = {}
        # Part of a larger set (`sized_for` its nodes): each part keeps as many entries as
        # one ruleset for the whole set would, entries of fewer nodes, so the parts together
        # stay within one ruleset's budget.
        size = max(sized_for or len(self.nodes), 1)
        self._whole_kept = kept(size)
        self._cells_kept = max(4096, _CELL_TRUTHS_KEPT // size)
        self._fold_cache: dict[Hashable, tuple[Sealed, dict[str, bool]]] = {}
        self._count_cache: dict[Hashable, Sealed] = {}
        self._traits: dict[int, tuple[Truths, _Traits]] = {}
        self._own_views: dict[tuple[Truth, ...], tuple[list[str], dict[str, bool], Truths]] = {}
        self._count_items = [f"{node_id}.0" for node_id in self._count_quantifiers]
        # The rulesets holding count roots' nodes (packed first, apart from the others): a
        # count's view is asked of them alone.
        self._count_shards = [i for i, shard in enumerate(self._top_shards)
                              if any(f"{n}|t" in shard.definition for n in self.count_nodes)]
        self._count_names = [_quantified(node_id) for node_id in self._count_quantifiers]
        # What folding reads: per quantifier its collection, its item node, the attribute
        # that hands it back to durable_rules and whether it is "every" (not "some"); for a
        # trace, "some item" for each node inside a quantifier (handed back to nobody).
        self._folds: list[tuple[str, str, str, str | None, bool]] = [
            (node_id, q.collection, f"{node_id}.0", _quantified(node_id),
             isinstance(q, EveryItem)) for node_id, q in self._quantifiers
            if not isinstance(q, SumItems)]
        self._folds += [(node_id, collection, node_id, None, False)
                        for node_id, collection in self._item_nodes.items() if item_truths]
        self._top_cache: dict[Hashable, Sealed] = {}
        self._reads: dict[tuple[int, Hashable], int] = {}
        self._item_cache: dict[Hashable, Truths] = {}
        self._items_cache: dict[Hashable, _Items] = {}
        self._sealed: dict[Hashable, int] = {}  # content -> serial (`_serial`)

    def evaluate(self, fact: dict[str, Any]) -> Truths:
        """Truth of every node for this fact; nodes durable_rules did not match are unknown."""
        return self.evaluate_many((fact,))[0]

    def evaluate_many(self, facts: Iterable[dict[str, Any]]) -> list[Truths]:
        return [dict(self.truths(answer)[0]) for answer in self.answer_many(facts)]

    def answer_many(self, facts: Iterable[dict[str, Any]]) -> list[Answer]:
        """Per fact, durable_rules' answer (`truths` puts it together)."""
        if not self.nodes:  # durable_rules cannot create an empty ruleset (error 102, or
            return [Answer(None, None, {}, [], [], None) for _ in facts]  # heap corruption)
        with _lock:
            caches: tuple[dict[Any, Any], ...] = (
                self._fold_cache, self._count_cache, self._top_cache, self._item_cache,
                self._items_cache, self._traits, self._sealed, self._own_views)
            # Cleared together: the serials one cache holds are named in the others. The
            # small entries of `_reads` grow with those counted, a few per entry.
            if sum(map(len, caches)) > self._cells_kept:
                for cache in (*caches, self._reads):
                    cache.clear()
            return [self._answer(fact) for fact in facts]

    def truths(self, answer: Answer) -> tuple[Truths, list[Truths]]:
        """The truth of every node, and per count the truth of the count roots' nodes
        (`count_nodes`) on that count's view of the record. Answers with one signature share
        these dictionaries: read them, never change them."""
        with _lock:
            return self._truths(answer)

    def _truths(self, answer: Answer) -> tuple[Truths, list[Truths]]:
        signature = answer.signature
        if signature is not None:
            known = self._whole_cache.get(signature)
            if known is not None:
                return known
        truth = dict.fromkeys(self.nodes, Truth.UNKNOWN)
        truth.update(answer.folded)
        for part in answer.top:
            truth.update(part)
        per_count = answer.per_count
        if isinstance(per_count, int):  # each count sees the whole
            same = {node_id: truth[node_id] for node_id in self.count_nodes}
            per_count = [same] * per_count
        if signature is not None:
            if len(self._whole_cache) > self._whole_kept:  # large entries
                self._whole_cache.clear()
            self._whole_cache[signature] = (truth, per_count)
        return truth, per_count

    def _seal(self, truths: Truths) -> Sealed:
        """Truths with a serial naming their content (`_serial`)."""
        return self._serial(frozenset(truths.items())), truths

    def _serial(self, content: Hashable) -> int:
        """A serial naming `content`: the same content, the same serial (until the caches
        are cleared; a serial is never given to other content)."""
        serial = self._sealed.get(content)
        if serial is None:
            serial = self._sealed[content] = next(_serials)
        return serial

    def _answer(self, fact: dict[str, Any]) -> Answer:
        """Each item asked once per item cell, the fact once per cell of the fact and of
        what its items tell; the keys are computed once per fact. A sum reads its items'
        numbers themselves, so its place in the cell is the truth of its comparison."""
        reuse = self.reuse
        top = tuple([shard.cell(fact) for shard in self._top_shards]) if reuse else None
        whole: list[Hashable] = [top]
        parts: dict[str, _Items] = {}
        cells: list[Hashable] = []  # per collection, the set of its items' cells
        for collection in self._collections:
            items = fact.get(collection)
            if not isinstance(items, list):
                whole.append(MISSING)
                cells.append(MISSING)
                continue
            if reuse:
                key = self._item_keys[collection]
                keys = tuple([key(item) if type(item) is dict else None for item in items])
                record = self._items_cache.get((collection, keys))
                if record is None:
                    record = self._items_cache[collection, keys] = self._items(collection,
                                                                                items, keys)
            else:
                keys, record = None, self._items(collection, items, None)
            whole.append(keys)
            cells.append(record.cell)
            parts[collection] = record
        derived: dict[str, Any] = {}
        places: list[str] = []
        for node_id, cond, name, low, high in self._sums:
            record = parts.get(cond.collection)
            place = _sum(cond, fact.get(cond.collection),
                         record.sums[node_id] if record is not None else [], derived, low, high)
            derived[name] = place  # the cache key's; durable_rules reads the ends
            places.append(place)
        whole += places
        fold_key = tuple(cells) if reuse and None not in cells else None
        folded = self._fold_cache.get(fold_key) if fold_key is not None else None
        if folded is None:
            folded = self._fold({c: record.answers for c, record in parts.items()})
            if fold_key is not None:
                self._fold_cache[fold_key] = folded
        derived.update(folded[1])
        about = (folded[0][0], *places)  # names what `derived` holds
        tops = self._top(fact, derived, top, about)
        counts = self._per_count(fact, derived, parts.get(self._counts or ""), top, about)
        if isinstance(counts, int):
            own: list[Truths] | int = counts
            serials: list[int] = [counts]
        else:
            own, serials = [truths for _, truths in counts], [serial for serial, _ in counts]
        shown = tuple([serial for serial, _ in tops])
        return Answer(tuple(whole) if reuse else None,
                      (folded[0][0], *shown, "|", *serials) if reuse else None, folded[0][1],
                      [truths for _, truths in tops], own, shown if reuse else None)

    def _fold(self, answers: dict[str, list[Truths]]) -> tuple[Sealed, dict[str, bool]]:
        """The truths "some item" / "every item" give, from the items' answers, and the
        attributes that hand the quantifiers back to durable_rules. Duplicates and order of
        items change neither, so this is remembered per set of item cells."""
        truth: Truths = {}
        derived: dict[str, bool] = {}
        sides = {collection: _sides([self._traits_of(answer)[:2] for answer in items])
                 for collection, items in answers.items()}
        unknown = Truth.UNKNOWN
        for node_id, collection, probe, name, every in self._folds:
            side = sides.get(collection)
            if side is None:
                truth[node_id] = unknown
                continue
            hit, miss, on_hit, on_miss = side[every]
            folded = on_hit if probe in hit else on_miss if miss is None or probe in miss \
                else unknown
            truth[node_id] = folded
            if name is not None and folded is not unknown:  # handed back to durable_rules
                derived[name] = folded is Truth.TRUE
        return self._seal(truth), derived

    def _traits_of(self, answer: Truths) -> _Traits:
        """What folding and counts read of an item's answer; answers are shared per item
        cell, so this is worked out once per answer."""
        known = self._traits.get(id(answer))
        if known is not None and known[0] is answer:
            return known[1]
        traits = _Traits(frozenset([n for n, v in answer.items() if v is Truth.TRUE]),
                         frozenset([n for n, v in answer.items() if v is Truth.FALSE]),
                         tuple([answer.get(node, Truth.UNKNOWN) for node in self._count_items]))
        self._traits[id(answer)] = (answer, traits)
        return traits

    def _items(self, collection: str, items: list[Any], keys: tuple[Hashable, ...] | None
               ) -> _Items:
        answers = [self._item(collection, item, None if keys is None else keys[i])
                   for i, item in enumerate(items)]
        return _Items(
            answers, frozenset(keys) if keys is not None and None not in keys else None,
            {node_id: [answer.get(item_node, Truth.UNKNOWN) for answer in answers]
             for node_id, cond, *_ in self._sums if cond.collection == collection
             for item_node in [f"{node_id}.0"]},
            [self._traits_of(answer).owns for answer in answers]
            if collection == self._counts else [])

    def _item(self, collection: str, item: Any, key: Any) -> Truths:
        """An item's nodes' truths, asked of each ruleset once per cell of what it reads
        (of this collection's item facts: its rules for other collections never match)."""
        if not isinstance(item, dict):
            return {}
        if key is None:
            return _ask(self._item_shards, {**item, _ITEM: collection})
        answer = self._item_cache.get((collection, key))
        if answer is None:
            answer = {}
            for shard in self._item_shards:
                shard_key = (shard.name, collection, shard.cell(item))
                known = self._item_cache.get(shard_key)
                if known is None:
                    known = self._item_cache[shard_key] = _ask([shard],
                                                               {**item, _ITEM: collection})
                answer.update(known)
            self._item_cache[(collection, key)] = answer
        return answer

    def _top(self, fact: dict[str, Any], derived: dict[str, Any], top: Any, about: Hashable,
             shards: list[int] | None = None) -> list[Sealed]:
        """The top-level nodes' truths (of the `shards` given, else all), each ruleset asked
        once per cell of what it reads (a manual's rulesets each read a few guidelines'
        facts; a count's view changes only the quantifiers' attributes). A sum's ends vary
        from fact to fact; its place, under its own name, keys it. `about` names what
        `derived` holds, so each ruleset's part of it is looked up once per content."""
        indices = range(len(self._top_shards)) if shards is None else shards
        if top is None:
            return [(0, _ask([self._top_shards[i] for i in indices],
                             {**fact, **derived, _MARKER: 1}))]
        answer: list[Sealed] = []
        for index in indices:
            shard = self._top_shards[index]
            reads = self._reads.get((index, about))
            if reads is None:  # this ruleset's attributes of `derived` (absent: None)
                reads = self._reads[index, about] = self._serial(
                    tuple(map(derived.get, shard.derived)))
            key = (index, top[index], reads)
            known = self._top_cache.get(key)
            if known is None:
                known = self._top_cache[key] = self._seal(
                    _ask([shard], {**fact, **derived, _MARKER: 1}))
            answer.append(known)
        return answer

    def _per_count(self, fact: dict[str, Any], derived: dict[str, Any],
                   counts: _Items | None, top: Hashable, about: Hashable
                   ) -> list[Sealed] | int:
        """Per count, the count roots' truths on its view (an int: that many counts, each
        seeing the whole record, so their truths are the whole record's). A count's view
        differs from the record's only in its quantifiers' own truths: the record's part is
        its cell (`top`, None without reuse) and `about`, what the quantifiers hand back
        and the sums' places."""
        if counts is None:
            return 0
        if len(counts.owns) < 2 or not self.count_nodes:
            return len(counts.answers)
        out: list[Sealed] = []
        for owns in counts.owns:
            key = None if top is None else (top, about, owns)
            count_truth = self._count_cache.get(key) if key is not None else None
            if count_truth is None:
                count_truth = self._count_truth(fact, derived, owns, top, (about, owns))
                if key is not None:
                    self._count_cache[key] = count_truth
            out.append(count_truth)
        return out

    def _count_truth(self, fact: dict[str, Any], derived: dict[str, Any],
                     owns: tuple[Truth, ...], top: Hashable, about: Hashable) -> Sealed:
        hidden, shown, base = self._own_view(owns)
        view = {**derived, **shown}
        for name in hidden:
            view.pop(name, None)
        count_truth = dict(base)
        for _, part in self._top(fact, view, top, about, self._count_shards):
            count_truth.update(part)  # their rulesets hold count roots' nodes alone
        return self._seal(count_truth)

    def _own_view(self, owns: tuple[Truth, ...]
                  ) -> tuple[list[str], dict[str, bool], Truths]:
        """What a count's own truths change in the record's view (the attributes hidden and
        those handed to durable_rules instead), and its count-root truths before asking."""
        known = self._own_views.get(owns)
        if known is None:
            pairs = list(zip(self._count_quantifiers, self._count_names, owns, strict=True))
            base = dict.fromkeys(self.count_nodes, Truth.UNKNOWN)
            base.update({node_id: own for node_id, _, own in pairs})
            known = self._own_views[owns] = (
                [name for _, name, own in pairs if own is Truth.UNKNOWN],
                {name: own is Truth.TRUE for _, name, own in pairs if own is not Truth.UNKNOWN},
                base)
        return known


def _sum(cond: SumItems, items: Any, matches: list[Truth], derived: dict[str, Any], low: str,
         high: str) -> str:
    """A sum's place (the truth of its comparison), given whether each item matches; the
    ends of the interval it lies in go into `derived` under the names durable_rules matches
    (`_SUM_MATCH`; the high end absent when unbounded)."""
    if not isinstance(items, list):
        return Truth.UNKNOWN.value
    bounds = sum_bounds(matches, [item.get(cond.field, MISSING) if type(item) is dict
                                  else MISSING for item in items])
    derived[low] = bounds[0]
    if bounds[1] is not None:
        derived[high] = bounds[1]
    return sum_truth(cond, bounds).value


def _pack(placed: list[tuple[str, Node]], ids: dict[int, str], where: Where) -> list[_Shard]:
    """First fit of each node's two rules into shards under the measured limits."""
    shards: list[_Shard] = []
    for root_id, node in placed:
        marker = {_MARKER: 1} if node.collection is None else {_ITEM: node.collection}
        rules = {node.id + suffix: {"all": [{"m": {"$and": [
            marker, _expression(node.condition, positive, ids)]}}]}
            for suffix, positive in (("|t", True), ("|f", False))}
        tests: dict[str, set[str]] = {}
        _tests(list(rules.values()), tests)
        # Only one polarity can hold, but an `$or` may match once per alternative.
        matches = max(_matches(rule["all"][0]["m"]) for rule in rules.values())
        problem = next((f"one condition compares '{attribute}' {len(found)} different ways; "
                        f"durable_rules fails above {MAX_TESTS_PER_FACT} in a ruleset"
                        for attribute, found in tests.items()
                        if len(found) > MAX_TESTS_PER_FACT), None)
        if matches >= MAX_MATCHES_PER_FACT:
            problem = (f"one condition has {matches} alternatives that may hold at once; "
                       f"durable_rules fails when a fact matches over {MAX_MATCHES_PER_FACT} "
                       "rules of a ruleset")
        if problem:
            source, label = where.get(root_id, (None, f"condition {root_id}"))
            raise InputError(f"{label}: {problem}, and one condition cannot be split: "
                             "simplify it (fewer thresholds or alternatives)", source=source)
        shard = next((s for s in shards if s.fits(rules, tests, matches)), None)
        if shard is None:
            shard = _Shard()
            shards.append(shard)
        shard.add(rules, tests, matches, node.condition)
    return [shard.seal() for shard in shards]


def _matches(expression: dict[str, Any]) -> int:
    """How many times durable_rules may match an expression on one fact: it runs each `$or`
    alternative as a rule of its own (equalities on one attribute: at most one holds)."""
    if "$or" in expression:
        parts = expression["$or"]
        if all(len(p) == 1 and not next(iter(p)).startswith("$") for p in parts) and \
                len({next(iter(p)) for p in parts}) == 1:
            return 1
        return sum(_matches(p) for p in parts)
    if "$and" in expression:
        return math.prod(_matches(p) for p in expression["$and"])
    return 1


def _ask(shards: list[_Shard], fact: dict[str, Any]) -> dict[str, Truth]:
    """The truth of every node of these shards durable_rules matched for one fact, asked in a
    fresh session that is deleted afterwards (the 1024-session limit)."""
    sid = str(next(_session_ids))
    engine = _durable.durable_rules_engine
    fired: list[str] = []
    asked: list[Any] = []
    try:
        for shard in shards:
            handle = shard.handle()
            asked.append(handle)
            fired += _assert(handle, _dumps({**shard.project(fact), "sid": sid}))
    finally:
        for handle in asked:
            engine.delete_state(handle, sid)
    return dict(_truths(fired))


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


def _assert(handle: Any, text: str) -> list[str]:
    """Assert one fact (JSON text) and return the name of every rule it matched.

    One fact per call: after a call that matched nothing (code 1) durable's state handle is
    not valid, and draining it crashes the process.
    """
    engine = _durable.durable_rules_engine
    code, state = engine.assert_fact(handle, text)
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


_Side = tuple[frozenset[str], frozenset[str] | None, Truth, Truth]


def _sides(sets: list[tuple[frozenset[str], frozenset[str]]]) -> tuple[_Side, _Side]:
    """Kleene "some item" and "every item" for every node at once, from the nodes each item
    holds true and false: a node is `on_hit` if it is in `hit`, `on_miss` if it is in `miss`
    (None: there are no items, so for every node), else unknown. "Some item holds" is true
    if one item holds it and false if every item fails it; "every item holds" is false if
    one item fails it and true if every item holds it."""
    trues = [true for true, _ in sets]
    falses = [false for _, false in sets]
    return ((frozenset().union(*trues), frozenset.intersection(*falses) if sets else None,
             Truth.TRUE, Truth.FALSE),
            (frozenset().union(*falses), frozenset.intersection(*trues) if sets else None,
             Truth.FALSE, Truth.TRUE))


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
