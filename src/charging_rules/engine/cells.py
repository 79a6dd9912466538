"""Cells of the fact space: facts that durable_rules must answer alike.

A condition compares a fact only with its literals. Two values of a fact that stand in the
same place among those literals (equal to the same literal, or strictly between the same two
neighbours) therefore make every comparison, and so every condition, come out the same; and
missing is a place of its own. A cell key is that place for every fact the conditions read,
so the engine may ask durable_rules once per cell and reuse its answer for the other facts
in the cell (tests/test_cells.py checks the reuse against asking every time).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterable
from contextlib import suppress
from datetime import date
from typing import Any

from charging_rules.guidelines.conditions import (
    ORDERED,
    Compare,
    Condition,
    atoms,
)
from charging_rules.model.facts import MISSING

_OTHER = ("other",)  # equal to no literal of a fact compared only for (in)equality
_MISSING = ("missing",)
Key = Callable[[Any], tuple[Hashable, ...]]


class _Place:
    """Where a value stands among one fact's literals."""

    def __init__(self, literals: list[Any], ordered: bool):
        self.equal = set(literals)
        self.sorted = sorted(self.equal) if ordered else None
        # Equality only: one dictionary lookup (a record holds dates where a fact has text).
        self.table: dict[Any, Hashable] | None = None
        if self.sorted is None:
            self.table = {None: _MISSING, MISSING: _MISSING}
            for literal in self.equal:
                self.table[literal] = (True, literal)
                if isinstance(literal, str) and len(literal) == 10:
                    with suppress(ValueError):
                        self.table[date.fromisoformat(literal)] = (True, literal)

    def __call__(self, value: Any) -> Hashable:
        if value is MISSING or value is None:
            return _MISSING
        if isinstance(value, date):
            value = value.isoformat()
        try:
            if value in self.equal:
                return (True, value)
            if self.sorted is None:
                return _OTHER
            return (False, bisect_left(self.sorted, value))
        except TypeError:  # not comparable with the literals (or unhashable): its own cell
            return ("value", repr(value))


def key_of(conds: Iterable[Condition], collection: str | None = None) -> Key:
    """The cell key for these conditions: of the top-level facts they read, or of the item
    facts their `any_<item>` parts read."""
    found: dict[str, tuple[list[Any], set[str]]] = {}
    for cond in conds:
        for reads, atom in atoms(cond):
            if reads != collection:
                continue  # the record's facts, or another collection's: keys of their own
            literals, ops = found.setdefault(atom.field, ([], set()))
            if isinstance(atom, Compare):
                literals += atom.value if isinstance(atom.value, list) else [atom.value]
                ops.add(atom.op)
    return _compiled([(tuple(path.split(".")), _Place(literals, bool(ops & set(ORDERED))))
                      for path, (literals, ops) in sorted(found.items())])


def _compiled(paths: list[tuple[tuple[str, ...], _Place]]) -> Key:
    """The key as one generated function (a key is computed for every referral and every
    charge): a dictionary lookup per fact compared for equality; for an ordered one, the
    place `_Place` gives, inline for plain JSON values. Generated like dataclasses' methods;
    the facts' names are passed in as values, never spliced into the code."""
    lines = ["def key(fact):", "  try:"]
    for i, (parts, place) in enumerate(paths):
        lines.append(f"    v = fact.get(N[{i}][0], M)")
        lines += [f"    v = v.get(N[{i}][{j}], M) if type(v) is dict else M"
                  for j in range(1, len(parts))]
        if place.table is not None:
            lines.append(f"    k{i} = T[{i}].get(v, O)")
        else:
            lines += ["    if type(v) in J:",
                      f"      k{i} = (True, v) if v in E[{i}] else (False, B(S[{i}], v))",
                      "    else:",
                      f"      k{i} = P[{i}](v)"]
    lines.append("    return (" + "".join(f"k{i}, " for i in range(len(paths))) + ")")
    lines += ["  except TypeError:  # unhashable, or not comparable with the literals",
              "    return tuple([p(value_at(fact, n)) for n, p in zip(N, P)])"]
    namespace: dict[str, Any] = {
        "N": [parts for parts, _ in paths], "M": MISSING, "O": _OTHER, "B": bisect_left,
        "J": frozenset({str, int, float}), "T": [place.table for _, place in paths],
        "E": [place.equal for _, place in paths], "S": [place.sorted for _, place in paths],
        "P": [place for _, place in paths], "value_at": value_at}
    exec("\n".join(lines), namespace)  # generated above from positions, not from input
    key: Key = namespace["key"]
    return key


def value_at(fact: Any, parts: tuple[str, ...]) -> Any:
    """A fact's value at a path (split at the dots), or MISSING."""
    value = fact
    for part in parts:
        if type(value) is not dict:
            return MISSING
        value = value.get(part, MISSING)
    return value
