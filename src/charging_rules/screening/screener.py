"""Screening: a record through the guidelines and into the audit log, in one call.

The CLI's `screen`, `batch` and `intake` all come through here, so the order is the same
everywhere: validate, evaluate, log, and only then report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from charging_rules.audit.entries import decision_entry, recommendation_entry
from charging_rules.audit.store import AuditStore, StoreLike, as_store
from charging_rules.engine.evaluate import Evaluator
from charging_rules.errors import InputError
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.guidelines.schema import GuidelineSet
from charging_rules.model.kinds import KINDS, kind_of
from charging_rules.model.recommendation import Recommendation
from charging_rules.model.referral import Demographics


@dataclass(frozen=True)
class Screened:
    recommendation: Recommendation
    decision_id: str | None
    logged: dict[str, Any] | None = None


def check_decision(kind: str, recommended: str, outcome: str | None, reason: str | None) -> None:
    """An override names a different outcome of the record's kind and a non-empty reason."""
    if outcome is None:
        return
    vocabulary = KINDS[kind].outcomes
    if outcome not in vocabulary:
        raise InputError(f"override: '{outcome}' is not an outcome ({', '.join(vocabulary)})")
    if outcome == recommended:
        raise InputError(f"override: '{outcome}' is the recommendation; accept it instead")
    if not (reason or "").strip():
        raise InputError("override: a reason is required and may not be empty")


class Screener:
    """One guideline set, its compiled evaluators, and where decisions are logged."""

    def __init__(self, guidelines: GuidelineSet, store: StoreLike | None,
                 questions: bool = True, trace: bool = True):
        """`questions=False` where nobody reads them (a batch without `--out`): the search
        for them evaluates each undecided referral again per answer. Its log records still
        name the missing facts; `screen` or `batch --out` gives the questions for them.
        `trace=False` where nothing shows a trace (a batch: log records do not keep it)."""
        self.guidelines = guidelines
        self.store = None if store is None else as_store(store)
        self.questions = questions
        self.trace = trace
        self._evaluators: dict[str, Evaluator] = {}
        self._archived = False

    @classmethod
    def open(cls, guidelines_path: Path, store: StoreLike | None,
             questions: bool = True, trace: bool = True) -> Screener:
        return cls(load_guidelines(guidelines_path), store, questions, trace)

    def evaluator(self, kind: str) -> Evaluator:
        if kind not in self._evaluators:
            self._evaluators[kind] = Evaluator(self.guidelines, kind, self.questions,
                                               trace=self.trace)
        return self._evaluators[kind]

    def screen(self, record: BaseModel, demographics: Demographics | None, actor: str, *,
               override: str | None = None, reason: str | None = None) -> Screened:
        """Evaluate and log. An override the caller is about to record is checked against
        the recommendation first, so a refused one (e.g. the outcome recommended) exits
        before anything is logged."""
        recommendation = self.evaluator(kind_of(record).name).evaluate(record)
        check_decision(recommendation.kind, recommendation.outcome, override, reason)
        if self.store is None:
            return Screened(recommendation, None)
        self._archive_once(self.store)
        entry = recommendation_entry(recommendation, record, demographics, actor)
        written = self.store.append(entry)
        return Screened(recommendation, str(written["decision_id"]), written)

    def _archive_once(self, store: AuditStore) -> None:
        if not self._archived:  # the files behind the logged sha256, for `audit replay`
            store.store_guidelines(self.guidelines)
            self._archived = True

    def log_many(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Append recommendation records (`recommendation_entry`) as one group: one write,
        one fsync, before any is reported."""
        assert self.store is not None
        self._archive_once(self.store)
        return self.store.append_many(entries)

    def decide(self, screened: Screened, actor: str, override: str | None = None,
               reason: str | None = None) -> dict[str, Any]:
        """Log the prosecutor's decision: accept (no override) or override with a reason."""
        if self.store is None or screened.logged is None:
            raise InputError("a decision can only be recorded when the audit log is on")
        check_decision(screened.recommendation.kind, screened.recommendation.outcome,
                       override, reason)
        outcome = override or screened.recommendation.outcome
        entry = decision_entry(screened.logged, actor, outcome,
                               reason.strip() if reason else None)
        return self.store.append(entry)
