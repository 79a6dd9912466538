"""Suppressed counts cannot be back-calculated: checked by an independent attacker who solves
two linear programs per hidden count over everything published."""

from __future__ import annotations

import csv
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
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
    # _table's keys are all tuples; mypy only sees Hashable
    hidden = cast("set[tuple[Hashable, ...]]", suppress(values, equations, 11))
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


def test_a_small_unknown_count_is_hidden_with_its_complement(tmp_path: Path) -> None:
    """Referrals with no usable race are a published row too: 3 of them are hidden, and so
    is enough else (the total, or a group's count) that the 3 cannot be worked out; the
    summary never restates it."""
    from charging_rules.analysis.groups import identity
    from charging_rules.analysis.report import build_report
    from charging_rules.analysis.sources import AuditCase, Grouping

    cases = [AuditCase(race, "Male", None, "2023-03-14", "file", "file")
             for race in ["Black"] * 40 + ["White"] * 40 + [None] * 3]
    report = build_report(cases, Grouping(identity()), tmp_path, threshold=11)
    rows = {r["group"]: r for r in csv.DictReader((tmp_path / "decision_points.csv").open())}
    assert rows["Race not recorded"]["referred"] == "suppressed"
    shown = [rows[g]["referred"] for g in ("Black", "White", "All referrals")]
    assert shown.count("suppressed") >= 1
    assert not any("3 (" in finding for finding in report.findings)


# --- The attacker who reads every published CSV (#12.7) ----------------------------------

COUNTS = {"decision_points.csv": ("group", ["referred", "recommended", "decided", "filed"]),
          "overrides.csv": ("group", ["decided", "overridden"]),
          "impact.csv": ("group", ["referrals", "changed", "baseline_file", "proposed_file"])}
RATES = {"decision_points.csv": [("recommended_rate", "recommended", "referred"),
                                 ("filed_rate", "filed", "decided")],
         "overrides.csv": [("override_rate", "overridden", "decided")],
         "impact.csv": [("baseline_rate", "baseline_file", "referrals"),
                        ("proposed_rate", "proposed_file", "referrals")]}
ALL_ROW = "All referrals"


class Reader:
    """Everything a reader of the CSVs knows: each published count, each relation stated in
    the report (rows add up to 'All referrals'; trend and offense rows add up to the group's
    decision-point counts; impact's referrals are decision points' referred; filed <= decided
    <= recommended <= referred; overridden <= decided; a change of outcome count bounds the
    difference in filings), that counts are whole numbers, and that hidden ones are >= 1
    (zeros are shown). Rates and RRIs pin a count when the others in them are shown."""

    def __init__(self, folder: Path) -> None:
        self.cells: dict[tuple[str, ...], int | None] = {}
        self.eq: list[dict[tuple[str, ...], float]] = []
        self.le: list[dict[tuple[str, ...], float]] = []
        self.fixed: dict[tuple[str, ...], int] = {}
        names = {p.name for p in folder.glob("*.csv")}
        tables = {n: list(csv.DictReader((folder / n).open())) for n in names}
        for name, (key, columns) in COUNTS.items():
            for row in tables.get(name, []):
                for column in columns:
                    self._cell((name, row[key], column), row[column])
                for rate, num, den in RATES[name]:
                    self._rate((name, row[key], num), (name, row[key], den), row[rate])
            rows = [r[key] for r in tables.get(name, []) if r[key] != ALL_ROW]
            for column in columns:
                if (name, ALL_ROW, column) in self.cells:
                    self.eq.append({(name, ALL_ROW, column): 1.0,
                                    **{(name, r, column): -1.0 for r in rows}})
        for group in [r["group"] for r in tables["decision_points.csv"]]:
            dp = {c: ("decision_points.csv", group, c) for c in COUNTS["decision_points.csv"][1]}
            self._le(dp["recommended"], dp["referred"])
            self._le(dp["decided"], dp["recommended"])
            self._le(dp["filed"], dp["decided"])
            ovr = ("overrides.csv", group, "decided")
            self._le(("overrides.csv", group, "overridden"), ovr)
            self._le(dp["decided"], ovr)
            self._le(ovr, dp["referred"])
            if "impact.csv" in tables:
                imp = {c: ("impact.csv", group, c) for c in COUNTS["impact.csv"][1]}
                self.eq.append({imp["referrals"]: 1.0, dp["referred"]: -1.0})
                for c in ("changed", "baseline_file", "proposed_file"):
                    self._le(imp[c], imp["referrals"])
                self.le.append({imp["baseline_file"]: 1.0, imp["proposed_file"]: -1.0,
                                imp["changed"]: -1.0})
                self.le.append({imp["proposed_file"]: 1.0, imp["baseline_file"]: -1.0,
                                imp["changed"]: -1.0})
        for name in ("trend.csv", "by_offense.csv"):
            part = next(iter(tables[name][0])) if tables.get(name) else None
            sums: dict[tuple[str, str], dict[tuple[str, ...], float]] = {}
            for row in tables.get(name, []):
                cells: dict[str, tuple[str, ...]] = {
                    c: (name, row[part], row["group"], c) for c in ("referred", "recommended")}
                for c, cell in cells.items():
                    self._cell(cell, row[c])
                    sums.setdefault((row["group"], c), {})[cell] = -1.0
                self._le(cells["recommended"], cells["referred"])
                self._rate(cells["recommended"], cells["referred"], row["rate"])
            for (group, c), parts in sums.items():
                self.eq.append({("decision_points.csv", group, c): 1.0, **parts})
        for row in tables["rri.csv"]:
            table, num, den = {"recommended": ("decision_points.csv", "recommended", "referred"),
                               "filed": ("decision_points.csv", "filed", "decided"),
                               "overridden": ("overrides.csv", "overridden", "decided")
                               }[row["stage"]]
            for value, cell in ((row["positive"], (table, row["group"], num)),
                                (row["n"], (table, row["group"], den))):
                if value not in ("suppressed", ""):
                    self.fixed[cell] = int(value)

    def _cell(self, key: tuple[str, ...], text: str) -> None:
        self.cells[key] = None if text == "suppressed" else int(text)

    def _le(self, small: tuple[str, ...], large: tuple[str, ...]) -> None:
        self.le.append({small: 1.0, large: -1.0})

    def _rate(self, num: tuple[str, ...], den: tuple[str, ...], text: str) -> None:
        if text in ("suppressed", ""):
            return
        rate, n, pos = float(text), self.cells.get(den), self.cells.get(num)
        if n is not None and pos is None:
            self.fixed[num] = round(rate * n)
        if pos is not None and n is None and rate > 0:
            self.fixed[den] = round(pos / rate)

    def hidden(self) -> list[tuple[str, ...]]:
        return [k for k, v in self.cells.items() if v is None]

    def bounds(self, target: tuple[str, ...]) -> tuple[float, float]:
        """min and max of a hidden count over every integer table consistent with all of it."""
        import numpy as np
        from scipy.optimize import Bounds, LinearConstraint, milp

        unknown = self.hidden()
        index = {k: i for i, k in enumerate(unknown)}
        constraints = []
        for rows, low in ((self.eq, 0.0), (self.le, -np.inf)):
            for relation in rows:
                a = np.zeros(len(unknown))
                const = 0.0
                for key, c in relation.items():
                    if key in index:
                        a[index[key]] += c
                    else:
                        value = self.cells.get(key)
                        assert value is not None, f"{key} is in a relation but not published"
                        const += c * value
                if a.any():
                    constraints.append(LinearConstraint(a, low - const, -const))
                else:  # all published: the relation must hold as printed
                    assert (abs(const) if low == 0 else const) <= 1e-9, relation
        lower = np.array([self.fixed.get(k, 1) for k in unknown], dtype=float)
        upper = np.array([self.fixed.get(k, np.inf) for k in unknown], dtype=float)
        ends = []
        for sign in (1.0, -1.0):
            objective = np.zeros(len(unknown))
            objective[index[target]] = sign
            result = milp(objective, constraints=constraints, integrality=np.ones(len(unknown)),
                          bounds=Bounds(lower, upper))
            assert result.status in (0, 3), f"the true table must be feasible: {result.message}"
            ends.append(np.inf if result.status == 3 else sign * result.fun)
        return ends[0], ends[1]


def attack(folder: Path) -> dict[tuple[str, ...], tuple[float, float]]:
    """Every hidden count the reader can pin to one value (none, when suppression holds)."""
    reader = Reader(folder)
    assert reader.hidden(), "nothing hidden: the attack would prove nothing"
    pinned = {}
    for key in reader.hidden():
        low, high = reader.bounds(key)
        if high - low < 0.5:
            pinned[key] = (low, high)
    return pinned


def synthetic_cases(seed: int, sizes: dict[str | None, int]) -> list[Any]:
    """A log's referrals: groups of the given sizes, random dates, offenses and decisions."""
    import random

    from charging_rules.analysis.sources import AuditCase

    rng = random.Random(seed)
    cases = []
    for race, size in sizes.items():
        for _ in range(size):
            recommended = rng.choice(["file", "file", "decline", "divert", "needs_information"])
            final = None if rng.random() < 0.1 or recommended == "needs_information" else (
                recommended if rng.random() < 0.9 else rng.choice(["file", "decline"]))
            cases.append(AuditCase(race, "Male", rng.choice(["drug_sale", "property",
                                                             "violent", "weapon"]),
                                   f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                                   recommended, final))
    return cases


@pytest.mark.parametrize(("seed", "sizes"), [
    (1, {"Black": 400, "White": 300, "Hispanic": 37, "Asian": 6, None: 3}),
    (2, {"Black": 120, "White": 90, "Hispanic": 15, None: 30}),
    (3, {"Black": 60, "White": 800, "Asian": 12, "Native": 2}),
])
def test_no_hidden_count_is_recoverable_from_every_csv(tmp_path: Path, seed: int,
                                                       sizes: dict[str | None, int]) -> None:
    from charging_rules.analysis.groups import identity
    from charging_rules.analysis.report import build_report
    from charging_rules.analysis.sources import Grouping

    build_report(synthetic_cases(seed, sizes), Grouping(identity()), tmp_path, threshold=11,
                 period="quarter")
    assert not attack(tmp_path)


@pytest.mark.slow
def test_the_demo_report_hides_nothing_recoverable_and_erases_no_large_group(
        tmp_path: Path) -> None:
    """The demo's six CSVs (impact included), attacked together; and the Hispanic group
    (about 200 referrals) is no longer erased to protect the Asian group (#15.2)."""
    from charging_rules.analysis.run import demo

    repo = Path(__file__).resolve().parents[1]
    result = demo(tmp_path / "demo", repo / "examples/guidelines/before", repo / "rules")
    folder = result.report.html.parent
    assert not attack(folder)
    for row in csv.DictReader((folder / "decision_points.csv").open()):
        if row["referred"] != "suppressed" and int(row["referred"]) >= 100:
            assert "suppressed" not in (row["recommended"], row["recommended_rate"]), row
