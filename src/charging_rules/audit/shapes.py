"""The members a reader of the log relies on, checked before it reads them.

A record that verifies (its hash chain intact) may still lack a member or hold the wrong
type: written by another tool, or edited and rehashed by someone who can write the log
(what only a checkpoint catches). `audit list`, `audit export` and the analysis read
`result.outcome`, `referral.charges`, `actor` and the rest: such a record is a failed check
naming its line, never a traceback.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, NotRequired

from typing_extensions import TypedDict

from charging_rules.audit.log import AuditLogError

if TYPE_CHECKING:
    from pydantic import TypeAdapter


class _Logged(TypedDict):
    seq: int
    hash: str
    decision_id: str
    timestamp: str
    actor: str
    record_id: NotRequired[str]
    record_kind: NotRequired[str]


class _Result(TypedDict):
    outcome: str
    rules: NotRequired[list[str]]
    missing: NotRequired[list[str]]


class _GuidelineRef(TypedDict):
    id: str
    version: str


class _GuidelineSet(TypedDict):
    id: str
    sha256: str
    guidelines: NotRequired[list[_GuidelineRef]]


class _Referral(TypedDict):
    charges: NotRequired[list[dict[str, Any]]]


class _RecommendationShape(_Logged):
    result: _Result
    guideline_set: _GuidelineSet
    referral: NotRequired[_Referral | None]
    demographics: NotRequired[dict[str, Any] | None]


class _DecisionShape(_Logged):
    outcome: str


@cache
def _shapes() -> dict[str, TypeAdapter[Any]]:
    from pydantic import TypeAdapter  # only when the log is read back

    decision = TypeAdapter(_DecisionShape)
    return {"recommendation": TypeAdapter(_RecommendationShape), "decision": decision,
            "override": decision}




def check(where: str, record: dict[str, Any]) -> dict[str, Any]:
    """`record` when it has the members its kind's readers use, else a failed check naming
    `where` (its segment and line) and the first member at fault."""
    from pydantic import ValidationError

    shape = _shapes().get(str(record.get("kind")))
    if shape is not None:
        try:
            shape.validate_python(record)
        except ValidationError as error:
            problem = error.errors(include_url=False)[0]
            field = ".".join(map(str, problem["loc"]))
            raise AuditLogError(f"{where}: malformed {record['kind']} record ({field}: "
                                f"{problem['msg']}); run 'charging-rules audit verify'"
                                ) from None
    return record
