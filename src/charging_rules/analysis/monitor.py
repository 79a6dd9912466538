"""The audit log's decision points, tallied by group, stratum and period.

referred -> recommended to file (rate on referred) -> filed, the final decision (rate on
those recommended to file and decided) and overrides (rate on decided): "does discretion add
disparity back?"
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from charging_rules.analysis.disparity import Tally
from charging_rules.analysis.sources import AuditCase, Grouping, stage_cases

RATE_STAGES = ("recommendation", "decision", "override")


@dataclass
class DecisionPoints:
    """One tally per decision point, and the referred counts for representation."""

    tallies: dict[str, Tally]
    referred: Counter[str]
    unknown: int
    pending: int  # recommended to file, no final decision yet

    @property
    def total(self) -> int:
        return sum(self.referred.values()) + self.unknown


def decision_points(cases: Iterable[AuditCase], grouping: Grouping, positive: str = "file",
                    period: str | None = None) -> DecisionPoints:
    cases = list(cases)
    tallies = {stage: Tally().add_all(stage_cases(cases, stage, positive, grouping, period))
               for stage in RATE_STAGES}
    referred: Counter[str] = Counter()
    unknown = 0
    for case in cases:
        group = grouping.group(case.race, case.sex)
        if group is None:
            unknown += 1
        else:
            referred[group] += 1
    # Counted on every case: the decision tally leaves out cases with no usable group.
    pending = sum(case.recommended == positive and case.final is None for case in cases)
    return DecisionPoints(tallies, referred, unknown, pending)


def summary(points: DecisionPoints) -> dict[str, Any]:
    return {"referred": points.total, "unknown_group": points.unknown,
            "unknown_group_share": points.unknown / points.total if points.total else None,
            "pending_decisions": points.pending}
