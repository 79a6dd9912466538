"""Small-cell suppression with complementary suppression, checked by linear programming.

A public table publishes counts and the totals that tie them (row = sum of cells, column
totals, a stage count = the next stage + the rest). Primary suppression hides every count
below the threshold. That is not enough: a lone hidden cell in a row is its total minus the
rest. So we ask what a reader could deduce: for each hidden count, the smallest and largest
value consistent with every published count, every known equation and non-negativity (two
linear programs). While some hidden count is pinned to one value, we also hide the smallest
published count that shares an equation with it, and ask again. The equations of a
cross-tabulation are totally unimodular, so the LP bounds are integers and "min < max"
means at least two integer tables fit what is published.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from charging_rules.config import SMALL_CELL

DEFAULT_THRESHOLD = SMALL_CELL

Key = Hashable


@dataclass(frozen=True)
class Equation:
    """value[total] == sum(value[part] for part in parts)."""

    total: Key
    parts: tuple[Key, ...]


def pinned(values: Mapping[Key, int], equations: Sequence[Equation],
           hidden: set[Key]) -> list[Key]:
    """Hidden values a reader might compute exactly from the published ones.

    The true table is one solution, so a hidden value is free iff some direction d keeps
    the equations (A d = 0) and non-negativity and moves it. Positive values may move
    either way a little; a hidden zero may only grow. We hold every hidden zero still
    (columns dropped) and ask which positive values still move: a non-zero row of the null
    space. A hidden zero is free when it moves with only the positive values free. Holding
    zeros still only removes directions, so a value reported free truly is: the check can
    over-suppress, never under-protect.
    """
    import numpy as np
    from scipy.linalg import null_space

    variables = sorted(hidden, key=repr)
    if not variables:
        return []
    index = {k: i for i, k in enumerate(variables)}
    rows = []
    for equation in equations:
        row = np.zeros(len(variables))
        for key, sign in ((equation.total, 1.0), *((p, -1.0) for p in equation.parts)):
            if key in index:
                row[index[key]] += sign
        if row.any():
            rows.append(row)
    if not rows:
        return []
    a = np.array(rows)
    positive = [index[k] for k in variables if values[k] > 0]

    from scipy.linalg import orth

    free: set[int] = set()
    if positive:
        basis = null_space(a[:, positive])
        if basis.size:
            free = {positive[i] for i in np.flatnonzero(np.abs(basis).max(axis=1) > 1e-9)}
    # A hidden zero moves iff its column is a combination of the positive values' columns.
    span = orth(a[:, positive]) if positive else np.zeros((a.shape[0], 0))
    for k in variables:
        j = index[k]
        if values[k] <= 0:
            column = a[:, j]
            if np.abs(column - span @ (span.T @ column)).max() < 1e-9:
                free.add(j)
    return [k for k in variables if index[k] not in free]


def suppress(values: Mapping[Key, int], equations: Sequence[Equation],
             threshold: int = DEFAULT_THRESHOLD) -> set[Key]:
    """The values to hide: every count from 1 to `threshold` - 1 and enough others that no hidden
    count can be back-calculated from what is shown. For an exposed value we hide the
    smallest shown part of an equation where it is the only hidden member (the usual leak:
    a total minus the rest), else the smallest shown value sharing an equation with it."""
    hidden = {k for k, v in values.items() if 0 < v < threshold}
    shown_zero = {k for k, v in values.items() if v <= 0}  # a zero hides nothing
    while exposed := pinned(values, equations, hidden):
        added = False
        for target in exposed:
            lone = [e for e in equations if target in (e.total, *e.parts)
                    and len(hidden & {e.total, *e.parts}) == 1]
            pool = {p for e in lone for p in e.parts} - hidden - shown_zero
            pool = pool or {k for e in lone for k in (e.total, *e.parts)} - hidden - shown_zero
            if pool:
                hidden.add(min(pool, key=lambda k: (values[k], repr(k))))
                added = True
        if not added:
            near = {k for e in equations if exposed[0] in (e.total, *e.parts)
                    for k in (e.total, *e.parts)} - hidden - shown_zero
            pool = near or set(values) - hidden - shown_zero
            if not pool:
                break  # everything is hidden: nothing is published to deduce from
            hidden.add(min(pool, key=lambda k: (values[k], repr(k))))
    return hidden
