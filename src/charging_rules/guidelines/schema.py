"""The guideline file format (YAML) and the compiled guideline set.

Pydantic checks the shape of each file; conditions are parsed by `conditions.parse` so their
errors can point at the exact node. The compiled objects are plain frozen dataclasses: the
engine and the analysers read them, nothing mutates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from charging_rules.guidelines.conditions import Condition

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,79}$")]
Prose = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

HitPolicy = Literal["first", "priority", "unique"]
Combine = Literal["first-applicable"]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SourceSpec(Spec):
    citation: Prose
    text: Prose
    url: str | None = None


class RuleSpec(Spec):
    id: Identifier
    when: Any = None
    overrides: Identifier | None = None
    outcome: Identifier
    reason: Prose
    cite: Prose | None = None
    priority: int | None = None


class GuidelineSpec(Spec):
    id: Identifier
    title: Prose
    version: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    effective: date
    expires: date | None = None
    applies_to: Identifier = "referral"
    outcomes: list[Identifier] | None = None
    source: SourceSpec
    scope: Any = None
    hit_policy: HitPolicy
    # The guideline decides only the records its rules name and leaves the rest to the
    # guidelines after it on purpose (the law first: what the law does not settle, policy
    # does), so `rules lint` does not report its gaps.
    falls_through: bool = False
    rules: Annotated[list[RuleSpec], Field(min_length=1)]


class OtherwiseSpec(Spec):
    outcome: Identifier
    reason: Prose


class SetSpec(Spec):
    id: Identifier
    title: Prose
    combine: Combine
    guidelines: Annotated[list[str], Field(min_length=1)]
    otherwise: dict[Identifier, OtherwiseSpec] = {}


@dataclass(frozen=True)
class Rule:
    id: str
    condition: Condition
    outcome: str
    reason: str
    cite: str | None
    priority: int | None
    overrides: str | None = None  # an exception: the rule it overrides


@dataclass(frozen=True)
class Guideline:
    id: str
    title: str
    version: str
    effective: date
    expires: date | None
    applies_to: str
    outcomes: tuple[str, ...]
    citation: str
    source_text: str
    scope: Condition | None
    hit_policy: HitPolicy
    rules: tuple[Rule, ...]
    file: str
    sha256: str
    falls_through: bool = False

    def window(self) -> str:
        """'from 2022-12-08' or 'from 2022-01-01 until 2024-01-01 (exclusive)'."""
        until = f" until {self.expires.isoformat()} (exclusive)" if self.expires else ""
        return f"from {self.effective.isoformat()}{until}"

    def in_force(self, day: date) -> bool:
        return self.effective <= day and (self.expires is None or day < self.expires)


@dataclass(frozen=True)
class Otherwise:
    outcome: str
    reason: str


@dataclass(frozen=True)
class GuidelineSet:
    """What decides: the guidelines in combination order, and the fallback per record kind."""

    id: str
    title: str
    combine: Combine
    guidelines: tuple[Guideline, ...]
    otherwise: dict[str, Otherwise]
    sha256: str
    files: dict[str, bytes] = field(repr=False)

    def for_kind(self, kind: str) -> tuple[Guideline, ...]:
        return tuple(g for g in self.guidelines if g.applies_to == kind)

    def rule(self, rule_id: str) -> tuple[Guideline, Rule]:
        for guideline in self.guidelines:
            for rule in guideline.rules:
                if rule.id == rule_id:
                    return guideline, rule
        raise KeyError(rule_id)

    def summary(self, kind: str | None = None) -> list[dict[str, str]]:
        """The guidelines (of one record kind, if given) as a recommendation names them."""
        chosen = self.guidelines if kind is None else self.for_kind(kind)
        return [{"id": g.id, "version": g.version, "sha256": g.sha256} for g in chosen]
