"""Re-evaluate a logged decision under the guideline files archived for it.

Answers "would the rules as they stood then still say the same?" after the live rules were
edited or deleted: the referral snapshot from the log, the archived set by its sha256, a
fresh evaluation, and a comparison with what was logged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from charging_rules.audit.log import AuditLogError
from charging_rules.audit.query import Row, find
from charging_rules.audit.store import AuditStore, StoreLike, as_store
from charging_rules.engine.evaluate import Evaluator
from charging_rules.errors import InputError
from charging_rules.model.kinds import KINDS, parse_record
from charging_rules.model.recommendation import Recommendation


@dataclass(frozen=True)
class Replay:
    row: Row
    replayed: Recommendation

    @property
    def logged_outcome(self) -> str:
        return self.row.recommended

    @property
    def reproduced(self) -> bool:
        return self.replayed.outcome == self.logged_outcome

    def differences(self) -> list[str]:
        """What else changed (rules, missing facts), beyond the outcome itself."""
        logged = self.row.recommendation["result"]
        replayed = self.replayed.to_log()  # as it would be logged: compared like for like
        notes = []
        for key in ("outcome", "rules", "missing"):
            now = replayed[key]
            if logged.get(key) != now:
                notes.append(f"{key}: logged {logged.get(key)!r}, replayed {now!r}")
        return notes

    def to_json(self) -> dict[str, object]:
        return {"decision_id": self.row.decision_id, "reproduced": self.reproduced,
                "logged": self.logged_outcome, "replayed": self.replayed.outcome,
                "guideline_sha256": self.replayed.guideline_set_sha256,
                "differences": self.differences()}


def replay(audit: StoreLike, decision_id: str) -> Replay:
    store = as_store(audit)
    return replay_row(store, find(store, decision_id))


def replay_row(store: AuditStore, row: Row) -> Replay:
    logged = row.recommendation
    guidelines = store.load_guidelines(str(logged["guideline_set"]["sha256"]))
    kind = str(logged.get("record_kind"))
    where = f"audit record seq {logged['seq']}"
    if kind not in KINDS:
        raise AuditLogError(f"{where}: unknown record kind {kind!r}")
    try:
        record, _ = parse_record(logged.get("referral"), kind, where)
    except InputError as error:  # the log's content, not the user's input: a failed check
        raise AuditLogError(f"the logged record cannot be replayed: {error}") from None
    return Replay(row, Evaluator(guidelines, kind).evaluate(record))


def recommendation_of(row: Row) -> Recommendation:
    """The logged result as a Recommendation again (its guidelines are logged beside it).
    An edited result that no longer reads as one is a failed check, not a crash."""
    from pydantic import ValidationError

    rec = row.recommendation
    try:
        return Recommendation.from_dict(
            {**rec["result"], "guidelines": rec["guideline_set"].get("guidelines", [])})
    except ValidationError as error:
        raise AuditLogError(f"decision {row.decision_id} (seq {rec['seq']}): the logged result "
                            f"is malformed ({error.error_count()} problem(s)); run "
                            "'charging-rules audit verify'") from None


@dataclass(frozen=True)
class Explained:
    """A logged recommendation as `audit show` presents it, and how its trace was had."""

    recommendation: Recommendation
    note: str | None = None
    reproduced: bool = True


def explain(store: AuditStore, row: Row) -> Explained:
    """The logged recommendation, with what the log does not keep (the trace of every
    condition, the guidelines' text) re-derived by replaying the logged referral under the
    archived guideline set. A record that holds its own trace (written before records were
    lean) is shown as logged."""
    logged = recommendation_of(row)
    if logged.trace:
        return Explained(logged)
    try:
        again = replay_row(store, row)
    except AuditLogError as error:
        return Explained(logged, f"No trace: this record does not keep it and it could not "
                                 f"be re-derived ({error}).", reproduced=False)
    texts = {c.guideline: c.text for c in again.replayed.citations}
    shown = dataclasses.replace(logged, trace=again.replayed.trace, citations=[
        dataclasses.replace(c, text=texts.get(c.guideline, "")) for c in logged.citations])
    differences = again.differences()
    if not differences:
        return Explained(shown, "The trace and the guideline text are re-derived from the "
                                "archived guideline set; the replay reproduces the logged "
                                "outcome, rules and missing facts.")
    return Explained(shown, "The trace is re-derived from the archived guideline set, but "
                            "the replay DIFFERS from the log: " + "; ".join(differences),
                     reproduced=False)
