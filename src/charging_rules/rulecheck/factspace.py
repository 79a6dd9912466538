"""The finite fact space a guideline's conditions can tell apart, for exhaustive analysis.

A condition only compares facts with literals, so for each fact it mentions the values that
matter are: each literal, one value that is none of them (and, for numbers and dates, one
on each side of each literal), and "missing". Charges (any collection) are enumerated as
small lists of item types: items whose conditions give the same truths are interchangeable,
and a list of at most k item types (k = distinct item conditions) reaches every combination
of `any_<item>` truths a longer list can. Every value is first checked against the record
model, so an analysis never reports a record that could not exist (an empty `source`, a
referral without a jurisdiction).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from charging_rules.errors import InputError
from charging_rules.guidelines import domains
from charging_rules.guidelines.conditions import (
    AnyItem,
    Compare,
    Condition,
    EveryItem,
    SumItems,
    Truth,
    atoms,
    fields_of,
    kleene,
    walk,
)
from charging_rules.model.facts import MISSING, FieldSpec, lookup, to_fact, vocabulary
from charging_rules.model.kinds import KINDS, parse_record
from charging_rules.rulecheck.partial import DEFAULT_DATE, put, skeleton

Assignment = dict[int, int]  # axis index -> value index


def _item_field(path: str) -> tuple[str, str] | None:
    """'charges[].category' -> ('charges', 'category')."""
    if "[]." not in path:
        return None
    collection, _, item = path.partition("[].")
    return collection, item


def _record_with(kind: str, path: str, value: Any) -> dict[str, Any]:
    base = skeleton(kind)
    split = _item_field(path)
    if split is None:
        return put(base, path, value)
    collection, item_field = split
    items = lookup(base, collection)
    first = items[0] if isinstance(items, list) and items else {}
    return put(base, collection, [put(first, item_field, value)])


def normalized(kind: str, path: str, value: Any) -> Any:
    """The value as the engine would see it in `path`, or raise InputError if impossible."""
    fact = to_fact(parse_record(_record_with(kind, path, value), kind)[0])
    split = _item_field(path)
    if split is None:
        return lookup(fact, path)
    return lookup(lookup(fact, split[0])[0], split[1])


def _derived(kind: str, path: str) -> FieldSpec | None:
    """The spec of a fact the record derives (never input: not checked against the model)."""
    derived: dict[str, FieldSpec] = getattr(KINDS[kind].model, "DERIVED", {})
    return derived.get(path)


def may_be_missing(kind: str, path: str) -> bool:
    """Whether a valid record of `kind` can leave this fact out."""
    spec = _derived(kind, path)
    if spec is not None:
        return not spec.always
    try:
        return normalized(kind, path, MISSING) is MISSING
    except InputError:
        return False


def candidates(spec: FieldSpec, literals: list[Any]) -> list[Any]:
    """Values of one fact that the literals can tell apart (before the model check)."""
    return domains.candidates(spec, literals, DEFAULT_DATE)


@dataclass
class Axis:
    name: str  # a fact path, or a collection name
    values: list[Any]


@dataclass
class FactSpace:
    """The product of the axes; condition truths memoised on the axes each one reads."""

    kind: str
    axes: list[Axis]
    _memo: dict[tuple[int, tuple[int, ...]], Truth] = field(default_factory=dict)
    _reads: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def axes_of(self, conds: Sequence[Condition]) -> tuple[int, ...]:
        wanted: set[str] = set()
        for cond in conds:
            for path in fields_of(cond):
                split = _item_field(path)
                wanted.add(split[0] if split else path)
        return tuple(i for i, axis in enumerate(self.axes) if axis.name in wanted)

    def size(self, axes: tuple[int, ...]) -> int:
        return math.prod(len(self.axes[a].values) for a in axes)

    def assignments(self, axes: tuple[int, ...]) -> Iterator[Assignment]:
        ranges = [range(len(self.axes[a].values)) for a in axes]
        for combo in itertools.product(*ranges):
            yield dict(zip(axes, combo, strict=True))

    def fact(self, assignment: Assignment) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for axis_index, value_index in assignment.items():
            value = self.axes[axis_index].values[value_index]
            if value is not MISSING:
                out = put(out, self.axes[axis_index].name, value)
        return out

    def truth(self, cond: Condition, assignment: Assignment) -> Truth:
        reads = self._reads.get(id(cond))
        if reads is None:
            reads = self._reads[id(cond)] = self.axes_of([cond])
        key = (id(cond), tuple(assignment[a] for a in reads))
        truth = self._memo.get(key)
        if truth is None:
            truth = self._memo[key] = kleene(cond, self.fact({a: assignment[a] for a in reads}))
        return truth

    def example(self, assignment: Assignment) -> dict[str, Any]:
        """A complete, valid record showing the assignment (facts not mentioned: left out)."""
        record = skeleton(self.kind, "lint-example")
        derived: dict[str, Any] = {}
        for axis_index, value_index in sorted(assignment.items()):
            name, value = self.axes[axis_index].name, self.axes[axis_index].values[value_index]
            if _derived(self.kind, name) is not None:
                derived[name] = value
            else:
                record = put(record, name, value)
        inputs = getattr(KINDS[self.kind].model, "inputs_for", None)
        if derived and inputs is not None:  # the inputs the record derives these values from
            for path, value in inputs({k: None if v is MISSING else v
                                       for k, v in derived.items()}).items():
                record = put(record, path, MISSING if value is None else value)
        return _pruned(to_fact(parse_record(record, self.kind)[0]))


def _pruned(data: dict[str, Any]) -> dict[str, Any]:
    """Without empty sub-records (`"defendant": {}`): an example shows only what it says."""
    out = {k: _pruned(v) if isinstance(v, dict) else v for k, v in data.items()}
    return {k: v for k, v in out.items() if v != {}}


def _valid(kind: str, path: str, values: list[Any]) -> list[Any]:
    spec = _derived(kind, path)
    if spec is not None:
        return [v.isoformat() if spec.kind == "date" and v is not MISSING else v
                for v in values if v is not MISSING or not spec.always]
    out: list[Any] = []
    for value in values:
        try:
            out.append(normalized(kind, path, value))
        except InputError:
            continue
    return list({repr(v): v for v in out}.values())


def build(kind: str, conds: Sequence[Condition]) -> FactSpace:
    """The fact space of every fact the conditions mention, checked against the model."""
    vocab = vocabulary(KINDS[kind].model)
    literals: dict[tuple[str | None, str], list[Any]] = {}
    for cond in conds:
        for collection, atom in atoms(cond):
            found = literals.setdefault((collection, atom.field), [])
            if isinstance(atom, Compare):
                found += atom.value if isinstance(atom.value, list) else [atom.value]
    axes: list[Axis] = []
    item_axes: dict[str, list[tuple[str, list[Any]]]] = {}
    for (collection, name), values in literals.items():
        if collection is None:
            axes.append(Axis(name, _valid(kind, name, candidates(vocab.fields[name], values))))
        else:
            spec = vocab.collections[collection][name]
            path = f"{collection}[].{name}"
            item_axes.setdefault(collection, []).append(
                (name, _valid(kind, path, candidates(spec, values))))
    for collection, item_fields in item_axes.items():
        inner = list({repr(c.item): c.item for cond in conds for c in walk(cond)
                      if isinstance(c, AnyItem | EveryItem | SumItems)
                      and c.collection == collection}.values())
        # A sum reads its number on every item: items differing in it are not interchangeable.
        summed = sorted({c.field for cond in conds for c in walk(cond)
                         if isinstance(c, SumItems) and c.collection == collection})
        axes.append(Axis(collection, _item_lists(kind, collection, item_fields, inner, summed)))
    for axis in axes:
        if not axis.values:  # an empty axis would make every condition look contradictory
            raise InputError(f"no valid {kind} record can hold any value of '{axis.name}' "
                             f"(is the {KINDS[kind].model.__name__} model parseable from "
                             "its own defaults?)")
    return FactSpace(kind, axes)


def _item_lists(kind: str, collection: str, item_fields: list[tuple[str, list[Any]]],
                inner: list[Condition], summed: list[str]) -> list[Any]:
    """Lists of up to len(inner) item types, one type per distinct truth profile."""
    base = lookup(skeleton(kind), collection)
    template = base[0] if isinstance(base, list) and base else {}
    classes: dict[tuple[tuple[Truth, ...], tuple[str, ...]], dict[str, Any]] = {}
    names = [name for name, _ in item_fields]
    for combo in itertools.product(*(values for _, values in item_fields)):
        item = dict(template)
        for name, value in zip(names, combo, strict=True):
            item = put(item, name, value)
        profile = (tuple(kleene(c, item) for c in inner),
                   tuple(repr(item.get(f, MISSING)) for f in summed))
        classes.setdefault(profile, item)
    types = list(classes.values())
    lists: list[Any] = [list(c) for size in range(1, max(1, len(inner)) + 1)
                        for c in itertools.combinations(types, size)]
    return _valid_lists(kind, collection, [*lists, [], MISSING])


def _valid_lists(kind: str, collection: str, lists: list[Any]) -> list[Any]:
    out: list[Any] = []
    for items in lists:
        try:
            fact = to_fact(parse_record(put(skeleton(kind), collection, items), kind)[0])
        except InputError:
            continue
        out.append(lookup(fact, collection))
    return out
