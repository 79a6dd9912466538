"""What a guideline change does, and to whom: the same referrals evaluated under a baseline
and a proposed guideline set, compared referral by referral and group by group."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from charging_rules.analysis.disparity import Comparison, check_reference, compare
from charging_rules.analysis.sources import Grouping, charging_recommendation
from charging_rules.config import SMALL_CELL
from charging_rules.errors import InputError
from charging_rules.guidelines.schema import GuidelineSet
from charging_rules.ingest.readers import RowSource
from charging_rules.ingest.records import Skipped, mapping_for, referral_rows
from charging_rules.model.kinds import parse_record
from charging_rules.model.recommendation import Recommendation
from charging_rules.model.referral import Demographics

UNKNOWN_LABEL = "(unknown)"

Labelled = tuple[BaseModel, Demographics | None]


def read_referrals(path: Path) -> Iterator[Labelled]:
    """Referral records, read as `batch` reads them (JSONL, JSON array, CSV by its header;
    demographics beside the facts); a bad row stops the analysis, naming its line: an
    impact that silently left referrals out would misstate who the change reaches."""
    with RowSource(path) as source:
        for _, item in referral_rows(source, mapping_for(source, None)):
            if isinstance(item, Skipped):
                raise item.error(str(path))
            yield item


def logged_referrals(records: Iterable[dict[str, Any]]) -> Iterator[Labelled]:
    """The referral snapshots of the audit log's recommendations, with their demographics:
    each referral once (its latest screening, as the decision points count it)."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        if charging_recommendation(record):
            key = str(record.get("record_id") or record["decision_id"])
            latest.pop(key, None)
            latest[key] = record
    for record in latest.values():
        where = f"audit record {record.get('seq')}"
        if record.get("referral") is None:  # shapes.check: a mapping or nothing
            raise InputError("holds no referral snapshot to screen again", source=where)
        yield parse_record({**record["referral"], "demographics": record.get("demographics")},
                           "referral", where)


@dataclass
class Impact:
    baseline: GuidelineSet
    proposed: GuidelineSet
    positive: str
    total: int = 0
    changed: int = 0
    transitions: Counter[str] = field(default_factory=Counter)
    by_group: dict[str, Counter[str]] = field(default_factory=dict)
    before: Comparison | None = None
    after: Comparison | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "total": self.total, "changed": self.changed,
            "transitions": dict(sorted(self.transitions.items())),
            "by_group": {g: {"total": c["total"], "changed": c["changed"]}
                         for g, c in sorted(self.by_group.items())},
            "baseline": {"id": self.baseline.id, "sha256": self.baseline.sha256},
            "proposed": {"id": self.proposed.id, "sha256": self.proposed.sha256},
        }
        if self.before and self.after:
            after = {g.group: g for g in self.after.groups}
            out["rates"] = {
                "outcome": self.positive, "reference": self.before.reference,
                "groups": {b.group: _change(b.rate, after[b.group].rate, b.rri,
                                            after[b.group].rri) | {"n": b.n}
                           for b in self.before.groups}}
        return out


def _change(rate_a: float | None, rate_b: float | None, rri_a: float | None,
            rri_b: float | None) -> dict[str, float | None]:
    return {"baseline_rate": rate_a, "proposed_rate": rate_b,
            "rate_change": None if rate_a is None or rate_b is None else rate_b - rate_a,
            "baseline_rri": rri_a, "proposed_rri": rri_b,
            "rri_change": None if rri_a is None or rri_b is None else rri_b - rri_a}


def impact(referrals: Iterable[Labelled], baseline: GuidelineSet, proposed: GuidelineSet,
           grouping: Grouping, positive: str = "file", reference: str | None = None,
           min_n: int = SMALL_CELL) -> Impact:
    """Per-referral transitions, and each group's `positive` rate and RRI under both sets."""
    from charging_rules.engine.evaluate import Evaluator

    items = list(referrals)
    records = [record for record, _ in items]
    before = Evaluator(baseline, questions=False).evaluate_many(records)
    after = Evaluator(proposed, questions=False).evaluate_many(records)
    return compare_outcomes(items, before, after, baseline, proposed, grouping, positive,
                            reference, min_n)


def compare_outcomes(items: Iterable[Labelled], before: Iterable[Recommendation],
                     after: Iterable[Recommendation], baseline: GuidelineSet,
                     proposed: GuidelineSet, grouping: Grouping, positive: str = "file",
                     reference: str | None = None, min_n: int = SMALL_CELL) -> Impact:
    """The impact from recommendations already made under both sets (same order)."""
    result = Impact(baseline, proposed, positive)
    rates: dict[str, list[int]] = {}
    for (_, demographics), old, new in zip(items, before, after, strict=True):
        group = grouping.group(demographics.race if demographics else None,
                               demographics.sex if demographics else None)
        counts = result.by_group.setdefault(group or UNKNOWN_LABEL, Counter())
        counts["total"] += 1
        result.total += 1
        counts["baseline_positive"] += old.outcome == positive
        counts["proposed_positive"] += new.outcome == positive
        if old.outcome != new.outcome:
            result.changed += 1
            counts["changed"] += 1
            result.transitions[f"{old.outcome}->{new.outcome}"] += 1
        if group is not None:
            tally = rates.setdefault(group, [0, 0, 0])
            tally[0] += 1
            tally[1] += old.outcome == positive
            tally[2] += new.outcome == positive
    check_reference(rates, reference)
    unknown = result.by_group.get(UNKNOWN_LABEL, Counter())["total"]
    groups = dict(sorted(rates.items()))
    result.before = compare({g: (t[0], t[1]) for g, t in groups.items()}, reference, min_n,
                            unknown)
    result.after = compare({g: (t[0], t[2]) for g, t in groups.items()}, reference, min_n,
                           unknown)
    return result
