"""Whether durable_rules can hold a guideline set (`rules validate`), before any screening.

Compiling each record kind's conditions packs them into durable_rules rulesets under the
engine's measured limits (engine/durable.py); a condition that no packing can fit is
reported with its guideline, rule and reason. Nothing is registered with durable_rules.
"""

from __future__ import annotations

from charging_rules.engine.evaluate import Evaluator
from charging_rules.errors import InputError
from charging_rules.guidelines.schema import GuidelineSet


def engine_problems(guidelines: GuidelineSet) -> list[InputError]:
    problems: list[InputError] = []
    for kind in sorted({g.applies_to for g in guidelines.guidelines}):
        try:
            Evaluator(guidelines, kind)
        except InputError as error:
            problems.append(error)
    return problems
