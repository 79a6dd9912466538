"""Re-evaluate a logged decision under the guideline files archived for it.

Answers "would the rules as they stood then still say the same?" after the live rules were
edited or deleted: the referral snapshot from the log, the archived set by its sha256, a
fresh evaluation, and a comparison with what was logged.
"""

from __future__ import annotations

from dataclasses import dataclass

from charging_rules.audit.log import AuditLogError
from charging_rules.audit.query import Row, find
from charging_rules.audit.store import StoreLike, as_store
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
        notes = []
        for key in ("outcome", "rules", "missing"):
            now = getattr(self.replayed, key)
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
    row = find(store, decision_id)
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
