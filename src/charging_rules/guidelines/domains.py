"""The values of a fact that a guideline set can tell apart.

A condition only compares facts with literals, so for each fact the values that matter are:
each literal, one value that is none of them (and, for numbers and dates, one on each side of
each literal). Static analysis (`rulecheck.factspace`) enumerates them; the engine offers
them as the answers to a question about a missing fact.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

from charging_rules.guidelines.conditions import (
    Compare,
    Condition,
    atoms,
)
from charging_rules.model.facts import MISSING, FieldSpec


def _spread(literals: list[Any], step: Callable[[Any, int], Any]) -> list[Any]:
    """Each ordered literal, and a value below, between and above them."""
    points = sorted(set(literals))
    out = [step(points[0], -1)]
    for low, high in itertools.pairwise(points):
        out.append(low)
        middle = step(low, 1)
        if middle < high:
            out.append(middle)
    return [*out, points[-1], step(points[-1], 1)]


def _number_step(value: Any, sign: int) -> Any:
    return value + sign if isinstance(value, int) else value + sign * 0.5


def _date_step(value: date, sign: int) -> date:
    return value + timedelta(days=sign)


def candidates(spec: FieldSpec, literals: list[Any], default_date: date) -> list[Any]:
    """Values of one fact that the literals can tell apart, and MISSING (before any check
    against the record model)."""
    if spec.kind == "bool":
        values: list[Any] = [True, False]
    elif spec.kind == "number":
        values = _spread(literals, _number_step) if literals else [0]
    elif spec.kind == "date":  # date objects: a strict model refuses text for a date
        days = [date.fromisoformat(v) for v in literals]
        values = _spread(days, _date_step) if days else [default_date]
    elif spec.kind == "enum":
        others = [c for c in spec.choices if c not in literals]
        values = [*dict.fromkeys(literals), *others[:1]]
    else:
        other = next(f"other-{n}" if n else "other" for n in itertools.count()
                     if (f"other-{n}" if n else "other") not in literals)
        values = [*dict.fromkeys(literals), other]
    return [*values, MISSING]


def literals(conds: Iterable[Condition]) -> dict[str, list[Any]]:
    """Field path ('charges[].quantity_grams' for an item's) -> the literals compared with."""
    found: dict[str, list[Any]] = {}
    for cond in conds:
        for collection, atom in atoms(cond):
            if isinstance(atom, Compare):
                path = atom.field if collection is None else f"{collection}[].{atom.field}"
                found.setdefault(path, []).extend(
                    atom.value if isinstance(atom.value, list) else [atom.value])
    return found
