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
    when: Any
    outcome: Identifier
    reason: Prose
    cite: Prose | None = None
    priority: int | None = None


class GuidelineSpec(Spec):
    id: Identifier
    title: Prose
    version: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    effective: date
    applies_to: Identifier = "referral"
    outcomes: list[Identifier] | None = None
    source: SourceSpec
    scope: Any = None
    hit_policy: HitPolicy
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


@dataclass(frozen=True)
class Guideline:
    id: str
    title: str
    version: str
    effective: date
    applies_to: str
    outcomes: tuple[str, ...]
    citation: str
    source_text: str
    scope: Condition | None
    hit_policy: HitPolicy
    rules: tuple[Rule, ...]
    file: str
    sha256: str


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
