"""Suppressed counts cannot be back-calculated: checked by an independent attacker who solves
two linear programs per hidden count over everything published."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from charging_rules.analysis.suppression import Equation, Key, suppress
from tests.helpers import REPO


def crosstab_equations(rows: Sequence[Key], columns: Sequence[Key], cell: object = "cell",
                       row_total: object = "row", column_total: object = "column",
                       grand: object = "all") -> list[Equation]:
    """Equations of a rows x columns table with row, column and grand totals. Keys are
    (cell, row, column), (row_total, row), (column_total, column), (grand,)."""
    equations = [Equation((row_total, r), tuple((cell, r, c) for c in columns)) for r in rows]
    equations += [Equation((column_total, c), tuple((cell, r, c) for r in rows))
                  for c in columns]
    equations.append(Equation((grand,), tuple((row_total, r) for r in rows)))
    return equations


def _attack(values: dict[Hashable, int], equations: list[Equation],
            hidden: set[Hashable]) -> dict[Hashable, tuple[float, float]]:
    """What a reader can deduce: (min, max) of each hidden count, totals and >= 0 known."""
    variables = sorted(hidden, key=repr)
    index = {k: i for i, k in enumerate(variables)}
    a_eq, b_eq = [], []
    for e in equations:
        row = [0.0] * len(variables)
        const = 0.0
        for key, sign in ((e.total, 1.0), *((p, -1.0) for p in e.parts)):
            if key in index:
                row[index[key]] += sign
            else:
                const -= sign * values[key]
        if any(row):
            a_eq.append(row)
            b_eq.append(const)
    out = {}
    for key in variables:
        ends = []
        for sign in (1.0, -1.0):
            c = [0.0] * len(variables)
            c[index[key]] = sign
            res = linprog(c, A_eq=a_eq or None, b_eq=b_eq or None,
                          bounds=[(0, None)] * len(variables), method="highs")
            ends.append(float("inf") if res.status == 3 else sign * res.fun)
        out[key] = (ends[0], ends[1])
    return out


def _table(cells: list[list[int]]) -> tuple[dict[Hashable, int], list[Equation]]:
    rows, cols = range(len(cells)), range(len(cells[0]))
    values: dict[Hashable, int] = {}
    for r in rows:
        for c in cols:
            values["cell", r, c] = cells[r][c]
        values["row", r] = sum(cells[r])
    for c in cols:
        values["column", c] = sum(cells[r][c] for r in rows)
    values["all",] = sum(map(sum, cells))
    return values, crosstab_equations(list(rows), list(cols))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 5).flatmap(lambda ncols: st.lists(
    st.lists(st.one_of(st.integers(0, 12), st.integers(0, 300)), min_size=ncols,
             max_size=ncols), min_size=2, max_size=6)),
       st.integers(1, 15))
def test_no_suppressed_count_is_recoverable(cells: list[list[int]], threshold: int) -> None:
    values, equations = _table(cells)
    hidden = suppress(values, equations, threshold)
    assert {k for k, v in values.items() if 0 < v < threshold} <= hidden
    for key, (low, high) in _attack(values, equations, hidden).items():
        assert high - low > 0.5, f"{key}={values[key]} recoverable: [{low}, {high}]"


def test_lone_small_cell_gets_a_complement() -> None:
    values, equations = _table([[500, 300], [40, 5], [200, 150]])
    hidden = suppress(values, equations, 11)
    assert ("cell", 1, 1) in hidden
    assert len([k for k in hidden if k[0] == "cell" and k[1] == 1]) == 2  # its row partner
    assert ("cell", 0, 0) not in hidden  # large unrelated cells stay published


def test_report_tables_leak_no_suppressed_count(tmp_path: Path) -> None:
    """The real report's systems (decision points + monthly trend + offense strata linked by
    their totals; overrides; impact) attacked with everything they publish."""
    from charging_rules.analysis.run import demo

    result = demo(tmp_path / "demo", REPO / "examples/guidelines/before", REPO / "rules",
                  count=1500, seed=11)
    for system in result.report.systems:
        assert {k for k, v in system.values.items() if 0 < v < 11} <= system.hidden
        bounds = _attack(system.values, system.equations, system.hidden)
        leaks = {k: b for k, b in bounds.items() if b[1] - b[0] < 0.5}
        assert not leaks


def test_report_total_does_not_give_away_a_small_unknown_count(tmp_path: Path) -> None:
    """Referrals with no usable race are a published figure too: when there are fewer than
    the threshold, the report's total (= known + unknown) must not be printed either."""
    from charging_rules.analysis.groups import identity
    from charging_rules.analysis.report import build_report
    from charging_rules.analysis.sources import AuditCase, Grouping

    cases = [AuditCase(race, "Male", None, "2023-03-14", "file", "file")
             for race in ["Black"] * 40 + ["White"] * 40 + [None] * 3]
    html = build_report(cases, Grouping(identity()), tmp_path, threshold=11).html.read_text()
    assert "fewer than 11" in html
    assert "83 referrals" not in html  # 80 known are published: 83 would reveal the 3
    assert ">80<" in html  # the known total is in the decision-point table

    shown = build_report(cases[:80] + [AuditCase(None, None, None, "2023-03-14", "file")] * 20,
                         Grouping(identity()), tmp_path / "big", threshold=11)
    assert "100 referrals" in shown.html.read_text()
