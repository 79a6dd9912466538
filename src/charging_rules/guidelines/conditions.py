"""Conditions of the guideline language and their three-valued (Kleene) meaning.

The engine evaluates conditions through durable_rules; this module is the language itself:
parsing with located errors, readable text for explanations, and a reference evaluator that
static analysis (`rules lint`) and the engine's cross-check tests use.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeAlias

from charging_rules.guidelines.yamlsource import NodePath
from charging_rules.model.facts import MISSING, FieldSpec, Vocabulary, lookup, protected_term

ReportProblem = Callable[[NodePath, str], None]


class Truth(enum.Enum):
    TRUE = "held"
    FALSE = "failed"
    UNKNOWN = "unknown"

    # Members are singletons compared by identity: the C identity hash, not Enum's Python
    # one (truth vectors are dictionary keys on the batch hot path).
    __hash__ = object.__hash__

    def __invert__(self) -> Truth:
        return _NEGATION[self]


_NEGATION = {Truth.TRUE: Truth.FALSE, Truth.FALSE: Truth.TRUE, Truth.UNKNOWN: Truth.UNKNOWN}


COMPARISONS = {
    "eq": "is",
    "ne": "is not",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "in": "is one of",
    "not_in": "is none of",
}
ORDERED = ("lt", "le", "gt", "ge")


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Any
    label: str | None = None


@dataclass(frozen=True)
class Exists:
    """Two-valued on purpose: whether a fact was supplied is itself always known."""

    field: str
    present: bool
    label: str | None = None


@dataclass(frozen=True)
class All:
    items: tuple[Condition, ...]
    label: str | None = None


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]
    label: str | None = None


@dataclass(frozen=True)
class Not:
    item: Condition
    label: str | None = None


@dataclass(frozen=True)
class _OverItems:
    """A condition over the items of a collection (the referral's charges)."""

    collection: str
    singular: str
    item: Condition
    label: str | None = None


@dataclass(frozen=True)
class AnyItem(_OverItems):
    """'any charge such that ...': true if one item holds, false if every item fails."""


@dataclass(frozen=True)
class EveryItem(_OverItems):
    """'every charge is such that ...': true if every item holds, false if one fails."""


@dataclass(frozen=True)
class SumItems:
    """'the sum of a number over the charges such that ...' compared with a limit.

    Three-valued through bounds: a charge that may match (its `item` unknown) or whose number
    is missing widens the interval the sum lies in; the comparison is unknown exactly when
    the interval straddles the limit."""

    collection: str
    singular: str
    item: Condition  # which items count
    field: str  # the item's number that is summed
    op: str  # lt, le, gt, ge
    value: float
    label: str | None = None


Quantifier: TypeAlias = AnyItem | EveryItem | SumItems
Condition: TypeAlias = Compare | Exists | All | AnyOf | Not | AnyItem | EveryItem | SumItems
QUANTIFIERS = (AnyItem, EveryItem, SumItems)


def children(cond: Condition) -> tuple[Condition, ...]:
    if isinstance(cond, All | AnyOf):
        return cond.items
    if isinstance(cond, Not | AnyItem | EveryItem | SumItems):
        return (cond.item,)
    return ()


def walk(cond: Condition) -> Iterator[Condition]:
    yield cond
    for child in children(cond):
        yield from walk(child)


@dataclass(frozen=True)
class Node:
    """A condition in a tree, addressed by id: root id, then child indexes ("r0.1.0")."""

    id: str
    condition: Condition
    depth: int
    collection: str | None  # inside "any <item> such that": the collection it ranges over


def layout(root_id: str, cond: Condition) -> list[Node]:
    """Every node of a condition tree, preorder (the order a trace is read in)."""
    nodes: list[Node] = []
    stack = [Node(root_id, cond, 0, None)]
    while stack:
        node = stack.pop()
        nodes.append(node)
        inner = node.condition.collection if isinstance(node.condition, QUANTIFIERS) \
            else node.collection
        kids = children(node.condition)
        stack.extend(Node(f"{node.id}.{i}", kids[i], node.depth + 1, inner)
                     for i in reversed(range(len(kids))))
    return nodes


def atoms(cond: Condition, collection: str | None = None
          ) -> Iterator[tuple[str | None, Compare | Exists]]:
    """Every comparison and existence test, with the collection whose items it reads (None:
    the record itself). A sum reads its number on each item like a comparison with its
    limit."""
    if isinstance(cond, SumItems):
        yield cond.collection, Compare(cond.field, cond.op, cond.value)
    if isinstance(cond, AnyItem | EveryItem | SumItems):
        yield from atoms(cond.item, cond.collection)
        return
    if isinstance(cond, Compare | Exists):
        yield collection, cond
    for child in children(cond):
        yield from atoms(child, collection)


def fields_of(cond: Condition, prefix: str = "") -> set[str]:
    """Every field path the condition reads; item fields as 'charges[].category'."""
    if isinstance(cond, Compare | Exists):
        return {prefix + cond.field}
    if isinstance(cond, SumItems):
        return fields_of(cond.item, f"{cond.collection}[].") | {
            f"{cond.collection}[].{cond.field}"}
    if isinstance(cond, AnyItem | EveryItem):
        return fields_of(cond.item, f"{cond.collection}[].")
    return set().union(*(fields_of(c, prefix) for c in children(cond)))


# --- text ------------------------------------------------------------------------------


def _literal(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe(cond: Condition) -> str:
    """One line of readable policy text for a condition (its label when it has one)."""
    if cond.label:
        return cond.label
    if isinstance(cond, Compare):
        return f"{cond.field} {COMPARISONS[cond.op]} {_literal(cond.value)}"
    if isinstance(cond, Exists):
        return f"{cond.field} is {'recorded' if cond.present else 'not recorded'}"
    if isinstance(cond, Not):
        return f"not ({describe(cond.item)})"
    if isinstance(cond, AnyItem):
        return f"any {cond.singular} such that {describe(cond.item)}"
    if isinstance(cond, EveryItem):
        return f"every {cond.singular} is such that {describe(cond.item)}"
    if isinstance(cond, SumItems):
        return (f"the sum of {cond.field} over the {cond.collection} such that "
                f"{describe(cond.item)} {COMPARISONS[cond.op]} {_literal(cond.value)}")
    joiner = " and " if isinstance(cond, All) else " or "
    return joiner.join(f"({describe(c)})" if children(c) else describe(c) for c in cond.items)


def headline(cond: Condition) -> str:
    """Shorter than `describe` for a tree view, where the children are listed underneath."""
    if cond.label or isinstance(cond, Compare | Exists):
        return describe(cond)
    if isinstance(cond, Not):
        return "not:"
    if isinstance(cond, AnyItem):
        return f"any {cond.singular} such that:"
    if isinstance(cond, EveryItem):
        return f"every {cond.singular} is such that:"
    if isinstance(cond, SumItems):
        return f"the sum of {cond.field} {COMPARISONS[cond.op]} {_literal(cond.value)} " \
            f"over the {cond.collection} such that:"
    return "all of:" if isinstance(cond, All) else "any of:"


# --- parsing ---------------------------------------------------------------------------

_COMPOSITES = ("all", "any", "not")


def parse(raw: Any, vocab: Vocabulary, path: NodePath, report: ReportProblem,
          item_fields: dict[str, FieldSpec] | None = None) -> Condition | None:
    """Parse a YAML condition, reporting every problem at its path; None if unusable."""
    if not isinstance(raw, dict):
        report(path, "a condition must be a mapping (all/any/not/any_<item>/field)")
        return None
    not_text = [key for key in raw if not isinstance(key, str)]
    if not_text:  # YAML reads `1:` or `null:` as a number or null
        report(path, f"condition keys must be text, got {not_text[0]!r}")
        return None
    label = raw.get("label")
    if label is not None and not isinstance(label, str):
        report((*path, "label"), "label must be text")
        label = None
    keys = set(raw) - {"label"}
    item_keys = {f"{quantifier}_{_singular(name)}": name for name in vocab.collections
                 for quantifier in ("any", "every")}
    item_keys |= {f"sum_{name}": name for name in vocab.collections}
    composite = keys & ({*_COMPOSITES} | set(item_keys))
    if composite:
        if len(keys) != 1:
            others = sorted(keys - {min(composite)})
            report(path, f"'{min(composite)}' cannot be combined with {others} in one "
                   "condition; nest them under all/any")
            return None
        key = composite.pop()
        return _parse_composite(key, raw[key], vocab, (*path, key), report, item_fields, label,
                                item_keys)
    return _parse_atom(raw, keys, vocab, path, report, item_fields, label)


def _singular(collection: str) -> str:
    return collection[:-1] if collection.endswith("s") else collection


def _parse_composite(key: str, body: Any, vocab: Vocabulary, path: NodePath, report: ReportProblem,
                     item_fields: dict[str, FieldSpec] | None, label: str | None,
                     item_keys: dict[str, str]) -> Condition | None:
    if key in ("all", "any"):
        if not isinstance(body, list) or not body:
            report(path, f"'{key}' takes a non-empty list of conditions")
            return None
        parsed = [parse(c, vocab, (*path, i), report, item_fields) for i, c in enumerate(body)]
        if any(p is None for p in parsed):
            return None
        items = tuple(p for p in parsed if p is not None)
        return All(items, label) if key == "all" else AnyOf(items, label)
    if key == "not":
        inner = parse(body, vocab, path, report, item_fields)
        return None if inner is None else Not(inner, label)
    collection = item_keys[key]
    if item_fields is not None:
        report(path, f"'{key}' cannot be nested inside another any_/every_/sum_ condition")
        return None
    if key.startswith("sum_"):
        return _parse_sum(body, vocab, path, report, collection, label)
    inner = parse(body, vocab, path, report, vocab.collections[collection])
    if inner is None:
        return None
    kind = AnyItem if key.startswith("any_") else EveryItem
    return kind(collection, _singular(collection), inner, label)


def _parse_sum(body: Any, vocab: Vocabulary, path: NodePath, report: ReportProblem,
               collection: str, label: str | None) -> Condition | None:
    """`sum_charges: {field: quantity_grams, where: C, le: 85}`."""
    fields = vocab.collections[collection]
    if not isinstance(body, dict) or not {"field", "where"} <= set(body):
        report(path, "a sum takes 'field' (a number of each item), 'where' (which items "
               "count) and one of " + ", ".join(ORDERED))
        return None
    ops = set(body) - {"field", "where"}
    field = body["field"]
    spec = fields.get(field) if isinstance(field, str) else None
    if spec is None or spec.kind != "number":
        numbers = sorted(name for name, s in fields.items() if s.kind == "number")
        report((*path, "field"), f"a sum adds a number of each item; {field!r} is not one "
               f"(numbers: {', '.join(numbers)})")
        return None
    if len(ops) != 1 or not ops <= set(ORDERED):
        report(path, f"a sum needs exactly one of {', '.join(ORDERED)}; got {sorted(ops)}")
        return None
    op = ops.pop()
    problem = _value_problem(spec, op, body[op])
    if problem:
        report((*path, op), problem)
        return None
    where = parse(body["where"], vocab, (*path, "where"), report, fields)
    if where is None:
        return None
    return SumItems(collection, _singular(collection), where, field, op, body[op], label)


def _parse_atom(raw: dict[str, Any], keys: set[str], vocab: Vocabulary, path: NodePath,
                report: ReportProblem, item_fields: dict[str, FieldSpec] | None,
                label: str | None) -> Condition | None:
    field = raw.get("field")
    ops = keys - {"field"}
    if not isinstance(field, str) or not field:
        report(path, "a condition needs 'field' (a referral fact) or one of all/any/not/"
               + "/".join(f"{q}_{_singular(c)}" for c in vocab.collections
                          for q in ("any", "every")) + "/"
               + "/".join(f"sum_{c}" for c in vocab.collections))
        return None
    term = protected_term(field)
    if term is not None:
        report((*path, "field"), f"'{field}' names a protected attribute ({term}): "
               "guidelines must not use demographics")
        return None
    fields = item_fields if item_fields is not None else vocab.fields
    spec = fields.get(field)
    if spec is None:
        where = "a charge" if item_fields is not None else "the referral"
        hint = ""
        if item_fields is None and field.split(".")[0] in vocab.collections:
            hint = f" (use any_{_singular(field.split('.')[0])} to test its items)"
        report((*path, "field"), f"unknown field '{field}': not a fact of {where}{hint}; known: "
               + ", ".join(sorted(fields)))
        return None
    if len(ops) != 1 or not ops <= {*COMPARISONS, "exists"}:
        report(path, f"'{field}' needs exactly one operator of "
               + ", ".join([*COMPARISONS, "exists"]) + f"; got {sorted(ops) or 'none'}")
        return None
    op = ops.pop()
    value = raw[op]
    if op == "exists":
        if not isinstance(value, bool):
            report((*path, op), "exists takes true or false")
            return None
        return Exists(field, value, label)
    problem = _value_problem(spec, op, value)
    if problem:
        report((*path, op), problem)
        return None
    if spec.kind == "date":
        value = value.isoformat() if isinstance(value, date) else value
    return Compare(field, op, value, label)


def _value_problem(spec: FieldSpec, op: str, value: Any) -> str | None:
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            return f"'{op}' takes a non-empty list"
        return next(filter(None, (_value_problem(spec, "eq", v) for v in value)), None)
    if spec.kind == "bool":
        if op in ORDERED:
            return f"'{spec.path}' is true/false: it has no order for '{op}'"
        return None if isinstance(value, bool) else f"'{spec.path}' is true/false, got {value!r}"
    if spec.kind == "number":
        # NaN and infinity are YAML numbers (.nan, .inf) but no record holds them, and
        # durable_rules cannot parse them (NaN crashes it).
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value))
        return None if ok else f"'{spec.path}' is a number, got {value!r}"
    if spec.kind == "date":
        # YAML reads `2024-01-01 10:00` as a datetime (a date subclass): a time is not a date.
        ok = (isinstance(value, date) and not isinstance(value, datetime)) or (
            isinstance(value, str) and _is_iso_date(value))
        return None if ok else f"'{spec.path}' is a date (YYYY-MM-DD), got {value!r}"
    if not isinstance(value, str):
        return f"'{spec.path}' is text, got {value!r}"
    if spec.kind == "enum":
        if op in ORDERED:
            return f"'{spec.path}' is a category: it has no order for '{op}'"
        if value not in spec.choices:
            return f"'{value}' is not a value of '{spec.path}' (one of: {', '.join(spec.choices)})"
    return None


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


# --- reference three-valued evaluation --------------------------------------------------

_ORDER_TEST: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
}


def kleene(cond: Condition, fact: dict[str, Any]) -> Truth:
    """Strong Kleene semantics: true OR unknown = true; false AND unknown = false."""
    if isinstance(cond, Compare):
        value = lookup(fact, cond.field)
        if value is MISSING:
            return Truth.UNKNOWN
        return Truth.TRUE if _ORDER_TEST[cond.op](value, cond.value) else Truth.FALSE
    if isinstance(cond, Exists):
        return Truth.TRUE if (lookup(fact, cond.field) is not MISSING) == cond.present \
            else Truth.FALSE
    if isinstance(cond, Not):
        return ~kleene(cond.item, fact)
    if isinstance(cond, AnyItem | EveryItem | SumItems):
        items = lookup(fact, cond.collection)
        if not isinstance(items, list):
            return Truth.UNKNOWN
        values = [kleene(cond.item, item) for item in items]
        if isinstance(cond, SumItems):
            return sum_truth(cond, sum_bounds(values, [item.get(cond.field, MISSING)
                                                       for item in items]))
        return _disjunction(values) if isinstance(cond, AnyItem) else _conjunction(values)
    values = [kleene(c, fact) for c in children(cond)]
    return _conjunction(values) if isinstance(cond, All) else _disjunction(values)


def _disjunction(values: list[Truth]) -> Truth:
    if Truth.TRUE in values:
        return Truth.TRUE
    return Truth.UNKNOWN if Truth.UNKNOWN in values else Truth.FALSE


def _conjunction(values: list[Truth]) -> Truth:
    if Truth.FALSE in values:
        return Truth.FALSE
    return Truth.UNKNOWN if Truth.UNKNOWN in values else Truth.TRUE


def sum_bounds(matches: list[Truth], values: list[Any]) -> tuple[float, float | None]:
    """Lowest and highest possible sum (None: unbounded) of the values of the items that
    match, given whether each item matches (unknown: it may) and its value (MISSING: any)."""
    low: float = 0
    high: float | None = 0
    for match, value in zip(matches, values, strict=True):
        if match is Truth.FALSE:
            continue
        if value is MISSING:
            high = None
            continue
        if match is Truth.TRUE:
            low += value
        if high is not None:
            high += value
    return low, high


def sum_truth(cond: SumItems, bounds: tuple[float, float | None]) -> Truth:
    low, high = bounds
    test = _ORDER_TEST[cond.op]
    if cond.op in ("lt", "le"):
        if high is not None and test(high, cond.value):
            return Truth.TRUE
        return Truth.FALSE if not test(low, cond.value) else Truth.UNKNOWN
    if test(low, cond.value):
        return Truth.TRUE
    return Truth.FALSE if high is not None and not test(high, cond.value) else Truth.UNKNOWN
