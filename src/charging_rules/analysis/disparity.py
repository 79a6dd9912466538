"""Rates by group and the relative rate index (RRI) against a reference group.

Methods (docs/analysis.md): a group's rate is positives / n at one decision point, n being
the count at the preceding stage (OJJDP RRI). RRI = group rate / reference rate, with a 95%
confidence interval by the Katz log method (scipy.stats.contingency.relative_risk) and a
Fisher exact p-value (scipy.stats.fisher_exact). Unknown groups never enter a comparison;
their count and share are always reported. scipy is imported inside the functions that
use it: the CLI must start fast.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from charging_rules.errors import InputError

# Aequitas' default fairness band: a ratio outside [0.8, 1.25] is flagged as a disparity.
BAND = (0.8, 1.25)
DEFAULT_REFERENCE = "White"
CROSS = " \u00d7 "  # race x sex: "Black \u00d7 Male"

# One observation: (group or None when unknown, positive or None when the outcome is missing,
# stratum or None, period or None).
Case = tuple[str | None, bool | None, str | None, str | None]


def finite(value: float) -> float | None:
    """JSON has no NaN or infinity: an undefined statistic is null."""
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class GroupStat:
    group: str
    n: int
    positive: int
    rate: float | None
    rri: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    suppressed: bool  # n below the minimum: no comparison is made for this group

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "n": self.n, "positive": self.positive, "rate": self.rate,
                "rri": self.rri, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "p_value": self.p_value, "suppressed": self.suppressed}

    @property
    def outside_band(self) -> bool:
        return self.rri is not None and not BAND[0] <= self.rri <= BAND[1]


@dataclass(frozen=True)
class Comparison:
    """One decision point's table: every known group against the reference."""

    reference: str | None
    groups: list[GroupStat]
    unknown: int  # observations with no usable group: excluded, share reported
    missing_outcome: int  # observations with a group but no outcome: excluded
    min_n: int

    @property
    def total(self) -> int:
        return sum(g.n for g in self.groups) + self.unknown + self.missing_outcome

    @property
    def unknown_share(self) -> float | None:
        return self.unknown / self.total if self.total else None

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "groups": [g.to_json() for g in self.groups],
                "excluded": {"unknown_group": self.unknown,
                             "unknown_group_share": self.unknown_share,
                             "missing_outcome": self.missing_outcome},
                "min_n": self.min_n}


@dataclass
class Tally:
    """Counts per (stratum, period, group): n and positives. Streaming; memory ~ cells."""

    n: Counter[tuple[str | None, str | None, str]] = field(default_factory=Counter)
    positive: Counter[tuple[str | None, str | None, str]] = field(default_factory=Counter)
    unknown: Counter[tuple[str | None, str | None]] = field(default_factory=Counter)
    missing: Counter[tuple[str | None, str | None, str]] = field(default_factory=Counter)

    def add_all(self, cases: Iterable[Case]) -> Tally:
        n, positive, unknown, missing = self.n, self.positive, self.unknown, self.missing
        for group, outcome, stratum, period in cases:
            if group is None:
                unknown[stratum, period] += 1
            elif outcome is None:
                missing[stratum, period, group] += 1
            else:
                n[stratum, period, group] += 1
                if outcome:
                    positive[stratum, period, group] += 1
        return self

    def strata(self) -> list[str]:
        return sorted({k[0] for k in (*self.n, *self.unknown) if k[0] is not None})

    def periods(self) -> list[str]:
        return sorted({k[1] for k in (*self.n, *self.unknown) if k[1] is not None})

    def counts(self, stratum: object = all, period: object = all
               ) -> tuple[dict[str, tuple[int, int]], int, int]:
        """(group -> (n, positive), unknown, missing) over a stratum/period (`all`: pooled)."""
        def keep(s: str | None, p: str | None) -> bool:
            return (stratum is all or s == stratum) and (period is all or p == period)

        groups: Counter[str] = Counter()
        positives: Counter[str] = Counter()
        for (s, p, g), count in self.n.items():
            if keep(s, p):
                groups[g] += count
                positives[g] += self.positive[s, p, g]
        unknown = sum(c for (s, p), c in self.unknown.items() if keep(s, p))
        missing = sum(c for (s, p, _), c in self.missing.items() if keep(s, p))
        return {g: (groups[g], positives[g]) for g in sorted(groups)}, unknown, missing

    def observed(self) -> dict[str, int]:
        """Observations per known group, with or without an outcome (for representation)."""
        totals: Counter[str] = Counter()
        for counter in (self.n, self.missing):
            for (_, _, group), count in counter.items():
                totals[group] += count
        return dict(totals)

    def compare(self, reference: str | None, min_n: int, stratum: object = all,
                period: object = all) -> Comparison:
        counts, unknown, missing = self.counts(stratum, period)
        return compare(counts, reference, min_n, unknown, missing)


def choose_reference(groups: dict[str, tuple[int, int]], reference: str | None) -> str | None:
    """The named reference; by default White (OJJDP), else the group with the most cases.
    For intersectional groups ("White x Male") the largest group of the named race."""
    wanted = reference or DEFAULT_REFERENCE
    if wanted in groups:
        return wanted
    prefixed = [g for g in groups if g.startswith(wanted + CROSS)]
    if prefixed:
        return max(prefixed, key=lambda g: groups[g][0])
    if reference is None and groups:
        return max(groups, key=lambda g: groups[g][0])
    return None


def check_reference(groups: Collection[str], reference: str | None) -> None:
    """A named reference that matches no group is a typo, not a request for a table with
    every ratio left blank: say so, naming the groups there are."""
    if reference is not None and groups and \
            choose_reference(dict.fromkeys(groups, (0, 0)), reference) is None:
        raise InputError(f"{reference!r} is not a group in the data (groups: "
                         f"{', '.join(sorted(groups))})", concept="reference")


def compare(groups: dict[str, tuple[int, int]], reference: str | None, min_n: int,
            unknown: int = 0, missing: int = 0) -> Comparison:
    """Each group's rate and its RRI, Katz 95% CI and Fisher p against the reference."""
    ref = choose_reference(groups, reference)
    ref_counts = groups.get(ref) if ref is not None else None
    stats = []
    for group, (n, positive) in groups.items():
        rate = positive / n if n else None
        small = n < min_n
        comparable = (ref_counts is not None and not small and ref_counts[0] >= min_n)
        rri = low = high = p = None
        if comparable and ref_counts is not None:
            rri, low, high, p = relative_rate(positive, n, ref_counts[1], ref_counts[0])
        stats.append(GroupStat(group, n, positive, rate, rri, low, high, p, small))
    return Comparison(ref, stats, unknown, missing, min_n)


def relative_rate(positive: int, n: int, ref_positive: int, ref_n: int
                  ) -> tuple[float | None, float | None, float | None, float | None]:
    """(RRI, Katz log 95% CI low, high, Fisher exact two-sided p)."""
    from scipy.stats import fisher_exact
    from scipy.stats.contingency import relative_risk

    p = float(fisher_exact([[positive, n - positive],
                            [ref_positive, ref_n - ref_positive]]).pvalue)
    if ref_positive == 0:
        return None, None, None, p
    result = relative_risk(positive, n, ref_positive, ref_n)
    if positive == 0:
        return 0.0, None, None, p  # the log method has no interval at zero
    ci = result.confidence_interval(confidence_level=0.95)
    return finite(result.relative_risk), finite(ci.low), finite(ci.high), p


def period_of(day: str, period: str) -> str | None:
    """'2019-03-14' -> '2019-03' (month) or '2019Q1' (quarter); None if not a date."""
    if len(day) < 7 or day[4] != "-" or not day[:4].isdigit() or not day[5:7].isdigit():
        return None
    month = int(day[5:7])
    if not 1 <= month <= 12:
        return None
    return day[:7] if period == "month" else f"{day[:4]}Q{(month - 1) // 3 + 1}"
