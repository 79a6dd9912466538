"""What goes into an audit record: the decision log entry in OPA's sense (id, input, result,
policy revision), plus the demographics kept beside it and the versions that produced it."""

from __future__ import annotations

import sys
import uuid
from typing import Any

from pydantic import BaseModel

from charging_rules import __version__
from charging_rules.audit.log import FORMAT_VERSION
from charging_rules.engine.durable import ENGINE_VERSION
from charging_rules.files import CheckedDict
from charging_rules.model.facts import to_fact
from charging_rules.model.recommendation import Recommendation
from charging_rules.model.referral import Demographics

PYTHON = ".".join(map(str, sys.version_info[:3]))


def new_decision_id() -> str:
    return uuid.uuid4().hex


def recommendation_entry(recommendation: Recommendation, record: BaseModel,
                         demographics: Demographics | None, actor: str,
                         fact: dict[str, Any] | None = None) -> dict[str, Any]:
    """`fact`: the record's `to_fact`, where the caller has it. A record model refuses NaN
    and infinity (`Fact`), so its plain form is marked finite for the log's check."""
    result = recommendation.to_log()  # once: it is the costly part of a batch with the log
    return {
        "format": FORMAT_VERSION,
        "kind": "recommendation",
        "decision_id": new_decision_id(),
        "actor": actor,
        "record_kind": recommendation.kind,
        "record_id": recommendation.record_id,
        "referral": CheckedDict(to_fact(record) if fact is None else fact),
        "demographics": None if demographics is None else demographics.model_dump(),
        "guideline_set": {"id": recommendation.guideline_set,
                          "sha256": recommendation.guideline_set_sha256,
                          "guidelines": result.pop("guidelines")},
        "versions": {"tool": __version__, "engine": ENGINE_VERSION,
                     "python": PYTHON},
        "result": result,
    }


def decision_entry(recommendation: dict[str, Any], actor: str, outcome: str,
                   reason: str | None) -> dict[str, Any]:
    """Accepting or overriding appends a record pointing at the recommendation; nothing is
    rewritten. `recommendation` is the logged recommendation record."""
    recommended = recommendation["result"]["outcome"]
    return {
        "format": FORMAT_VERSION,
        "kind": "decision" if outcome == recommended else "override",
        "decision_id": recommendation["decision_id"],
        "actor": actor,
        "record_kind": recommendation["record_kind"],
        "record_id": recommendation["record_id"],
        "recommended": recommended,
        "outcome": outcome,
        "reason": reason,
        "guideline_set": {"id": recommendation["guideline_set"]["id"],
                          "sha256": recommendation["guideline_set"]["sha256"]},
        "versions": {"tool": __version__, "engine": ENGINE_VERSION,
                     "python": PYTHON},
    }
