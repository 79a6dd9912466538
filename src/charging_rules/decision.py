"""What the engine recommends and what the prosecutor decides, as logged and rendered.

A recommendation carries everything needed to explain it later without the guideline files:
the deciding rules, their reasons and citations, the facts whose absence mattered, and a
trace of every rule considered with the truth of each condition.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

TruthName = Literal["held", "failed", "unknown"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConditionTrace(_Out):
    depth: int
    text: str
    truth: TruthName


class RuleTrace(_Out):
    rule: str
    outcome: str
    truth: TruthName
    conditions: list[ConditionTrace]


class GuidelineTrace(_Out):
    guideline: str
    version: str
    scope: TruthName
    scope_conditions: list[ConditionTrace]
    hit_policy: str
    rules: list[RuleTrace]
    possible: list[str]


class GuidelineRef(_Out):
    id: str
    version: str
    sha256: str


class Citation(_Out):
    rule: str
    guideline: str
    citation: str
    text: str


class Recommendation(_Out):
    record_id: str
    kind: str
    outcome: str
    rules: list[str]
    reasons: list[str]
    citations: list[Citation]
    missing: list[str]
    guideline_set: str
    guideline_set_sha256: str
    guidelines: list[GuidelineRef]
    trace: list[GuidelineTrace]

    def contract(self, decision_id: str | None) -> dict[str, object]:
        """The `screen --json` object of the referral contract (DESIGN.md)."""
        return {
            "referral_id": self.record_id,
            "outcome": self.outcome,
            "rules": self.rules,
            "reasons": self.reasons,
            "missing": self.missing,
            "guidelines": [g.model_dump() for g in self.guidelines],
            "decision_id": decision_id,
        }
