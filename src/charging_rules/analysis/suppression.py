"""Small-cell suppression that hides the least, proven against an integer-programming attacker.

A public report publishes counts tied by what any reader knows: equations (a row or column
adds up to its total, a trend adds up to the year) and inequalities (filed <= decided <=
recommended <= referred; a count is never negative; a hidden count is at least 1, because
zeros are shown). Primary suppression hides every count from 1 to threshold - 1. That alone
leaks: a lone hidden cell in a row is its total minus the rest, and an inequality can pin a
value too (recommended <= referred with referred hidden and recommended shown equal to it).

Protection, for each hidden count t: a witness, an integer change y to the table that keeps
every equation and inequality true, keeps every shown count still (y = 0 there), and moves
t by at least one. The true table and the table plus y are two integer tables a reader cannot
tell apart, so t has at least two feasible values. When no witness exists with what is
hidden, we hide more: the witness is chosen by an integer program (scipy.optimize.milp) that
minimises the published information it costs, the sum of the counts it must hide (a cell of
204 costs 204, a cell of 12 costs 12; callers raise the cost of cells they want kept, such as
a large group's row). Every count the witness moves is protected by that same witness, so
one witness per primary cell suffices, and hiding more never unprotects a cell.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from charging_rules.config import SMALL_CELL

DEFAULT_THRESHOLD = SMALL_CELL
STEP = 100  # the largest move of one count a witness may use (keeps the program well scaled)

Key = Hashable
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Equation:
    """value[total] == sum(value[part] for part in parts)."""

    total: Key
    parts: tuple[Key, ...]

    def terms(self) -> list[tuple[Key, float]]:
        return [(self.total, 1.0), *((p, -1.0) for p in self.parts)]


@dataclass(frozen=True)
class Inequality:
    """sum(coefficient * value[key]) <= 0, e.g. ((filed, 1), (decided, -1)): filed <= decided."""

    terms_: tuple[tuple[Key, float], ...]

    def terms(self) -> list[tuple[Key, float]]:
        return list(self.terms_)


def at_most(small: Key, large: Key) -> Inequality:
    return Inequality(((small, 1.0), (large, -1.0)))


def sum_at_most(parts: Iterable[Key], total: Key) -> Inequality:
    return Inequality((*((p, 1.0) for p in parts), (total, -1.0)))


def _rows(relations: Iterable[Equation | Inequality], index: Mapping[Any, int],
          values: Mapping[Any, int]) -> tuple[list[dict[int, float]], list[float]]:
    """Sparse rows over the movable cells, and each row's value at the true table."""
    rows, at_truth = [], []
    for relation in relations:
        row: dict[int, float] = {}
        total = 0.0
        for key, coefficient in relation.terms():
            total += coefficient * values[key]
            if key in index:
                row[index[key]] = row.get(index[key], 0.0) + coefficient
        row = {j: c for j, c in row.items() if c}
        if row:
            rows.append(row)
            at_truth.append(total)
    return rows, at_truth


def witness(values: Mapping[K, int], equations: Sequence[Equation],
            inequalities: Sequence[Inequality], hidden: set[K], target: K,
            cost: Mapping[K, float] | None = None) -> set[K] | None:
    """The counts a cheapest witness moves (hidden ones, and the shown ones it costs to
    hide); None when no change of the non-zero counts can move `target`."""
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp

    movable = sorted((k for k, v in values.items() if v > 0), key=repr)  # zeros stay shown
    if target not in set(movable):
        return None
    index = {k: i for i, k in enumerate(movable)}
    n = len(movable)
    shown = [k for k in movable if k not in hidden]
    zindex = {k: n + i for i, k in enumerate(shown)}
    size = n + len(shown)
    blocks: list[LinearConstraint] = []

    def matrix(rows: list[dict[int, float]]) -> Any:
        a = np.zeros((len(rows), size))
        for r, row in enumerate(rows):
            for j, c in row.items():
                a[r, j] = c
        return a

    eq_rows, _ = _rows(equations, index, values)
    if eq_rows:
        blocks.append(LinearConstraint(matrix(eq_rows), 0.0, 0.0))
    le_rows, le_truth = _rows(inequalities, index, values)
    if le_rows:  # a(x + y) <= 0 with a x = le_truth: a y <= -le_truth
        blocks.append(LinearConstraint(matrix(le_rows), -np.inf, -np.array(le_truth)))
    link = np.zeros((2 * len(shown), size))  # |y_k| <= STEP z_k for a shown count k
    for r, k in enumerate(shown):
        link[2 * r, index[k]], link[2 * r, zindex[k]] = 1.0, -STEP
        link[2 * r + 1, index[k]], link[2 * r + 1, zindex[k]] = -1.0, -STEP
    if shown:
        blocks.append(LinearConstraint(link, -np.inf, 0.0))
    low = np.array([max(1 - values[k], -STEP) for k in movable] + [0.0] * len(shown))
    high = np.array([STEP] * n + [1.0] * len(shown), dtype=float)
    weights = np.zeros(size)
    for k, j in zindex.items():
        weights[j] = (cost or {}).get(k, float(values[k]))
    for direction in (1.0, -1.0):
        bounds_low, bounds_high = low.copy(), high.copy()
        t = index[target]
        if direction > 0:
            bounds_low[t] = 1.0
        else:
            bounds_high[t] = -1.0
        if bounds_low[t] > bounds_high[t]:
            continue
        result = milp(weights, constraints=blocks, integrality=np.ones(size),
                      bounds=Bounds(bounds_low, bounds_high))
        if result.status == 0 and result.x is not None:
            y = np.round(result.x[:n]).astype(int)
            return {movable[j] for j in np.flatnonzero(y)}
    return None


def suppress(values: Mapping[K, int], equations: Sequence[Equation],
             threshold: int = DEFAULT_THRESHOLD, inequalities: Sequence[Inequality] = (),
             cost: Mapping[K, float] | None = None) -> set[K]:
    """The counts to hide: every count from 1 to threshold - 1 and the cheapest complements
    that leave each of them at least two values consistent with everything published. A
    count no change can move (pinned by zeros) takes every non-zero count with it: the
    report then has nothing publishable and says so."""
    hidden = {k for k, v in values.items() if 0 < v < threshold}
    protected: set[K] = set()
    for target in sorted(hidden, key=lambda k: (values[k], repr(k))):
        if target in protected:
            continue
        moved = witness(values, equations, inequalities, hidden, target, cost)
        if moved is None:
            return {k for k, v in values.items() if v > 0}
        hidden |= moved
        protected |= moved
    return hidden
