"""What the engine recommends and what the prosecutor decides, as logged and rendered.

A recommendation carries everything needed to explain it later without the guideline files:
the deciding rules, their reasons and citations, the facts whose absence mattered, and a
trace of every rule considered with the truth of each condition.

Immutable: one is computed per distinct truth vector and copied for every record that shares
it, so its sequences are tuples (lists given are frozen on construction); changing one
record's result can never change another's.

Plain frozen dataclasses, not pydantic models: one is built per referral on the batch hot
path, where validation would cost more than the evaluation itself. Reading one back from the
audit log goes through pydantic (`Recommendation.from_dict`), where validation belongs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from charging_rules.files import checked

if TYPE_CHECKING:
    from pydantic import TypeAdapter

TruthName = Literal["held", "failed", "unknown"]


def _freeze(obj: object, names: tuple[str, ...]) -> None:
    """Lists given for the fields `names` become tuples (a frozen dataclass's fields are set
    once, here, through object.__setattr__)."""
    for name in names:
        value = getattr(obj, name)
        if type(value) is list:
            object.__setattr__(obj, name, tuple(value))


class ConditionTrace(NamedTuple):
    depth: int
    text: str
    truth: TruthName
    # A failed comparison names the facts whose values explain it; the values themselves
    # are the record's (`Recommendation.compared`), so one trace serves every record.
    shows: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleTrace:
    rule: str
    outcome: str
    truth: TruthName
    conditions: Sequence[ConditionTrace]

    def __post_init__(self) -> None:
        _freeze(self, ("conditions",))


@dataclass(frozen=True, slots=True)
class GuidelineTrace:
    guideline: str
    version: str
    scope: TruthName
    scope_conditions: Sequence[ConditionTrace]
    hit_policy: str
    rules: Sequence[RuleTrace]
    possible: Sequence[str]

    def __post_init__(self) -> None:
        _freeze(self, ("scope_conditions", "rules", "possible"))


@dataclass(frozen=True, slots=True)
class GuidelineRef:
    id: str
    version: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Citation:
    rule: str
    guideline: str
    citation: str
    # The guideline's source text; not logged (the archived guideline set holds it).
    text: str = ""


@dataclass(frozen=True, slots=True)
class CountOutcome:
    """One charge's outcome: from the first guideline that governs it and decides (None:
    the set's fallback), or needs_information when its facts leave it open."""

    charge: int
    statute: str | None
    category: str
    outcome: str
    guideline: str | None
    rules: Sequence[str]

    def __post_init__(self) -> None:
        _freeze(self, ("rules",))


@dataclass(frozen=True, slots=True)
class Question:
    """A fact to ask for: the plain question, whom to ask, and the outcome each answer
    leads to on its own (needs_information where other answers are still needed)."""

    fact: str
    question: str
    ask: str
    answers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Recommendation:
    record_id: str
    kind: str
    outcome: str
    rules: Sequence[str]
    reasons: Sequence[str]
    citations: Sequence[Citation]
    missing: Sequence[str]
    guideline_set: str
    guideline_set_sha256: str
    guidelines: Sequence[GuidelineRef]
    # Not logged: a function of the logged referral and the archived guideline set, which
    # `audit show` re-derives through `audit replay`.
    trace: Sequence[GuidelineTrace] = ()
    counts: Sequence[CountOutcome] = ()
    questions: Sequence[Question] = ()
    # The record's values of the facts failed comparisons name (`ConditionTrace.shows`).
    compared: dict[str, Any] = dataclasses.field(default_factory=dict)

    def filled(self, record_id: str, trace: Sequence[GuidelineTrace],
               questions: Sequence[Question], compared: dict[str, Any]) -> Recommendation:
        """This recommendation, built once for many records, for one of them."""
        new = self._copy()
        object.__setattr__(new, "record_id", record_id)
        object.__setattr__(new, "trace", tuple(trace))
        object.__setattr__(new, "questions", tuple(questions))
        object.__setattr__(new, "compared", compared)
        return new

    def labelled(self, counts: tuple[CountOutcome, ...], reasons: tuple[str, ...]
                 ) -> Recommendation:
        """This recommendation with its counts named (and the reasons naming them)."""
        new = self._copy()
        object.__setattr__(new, "counts", counts)
        object.__setattr__(new, "reasons", reasons)
        return new

    def _copy(self) -> Recommendation:
        """A copy sharing the (frozen) values, which `dataclasses.replace` would check
        again: one is made per referral on the batch hot path."""
        new = object.__new__(Recommendation)
        for name in _ALL_FIELDS:
            object.__setattr__(new, name, getattr(self, name))
        return new

    def shown(self, cond: ConditionTrace) -> str:
        """A failed comparison's text with the values that failed it:
        "... (place: 'Independence, MO', jurisdiction: 'Independence')"."""
        values = [f"{f}: {self.compared[f]!r}" for f in cond.shows if f in self.compared]
        return cond.text + (f" ({', '.join(values)})" if values else "")

    def __post_init__(self) -> None:
        _freeze(self, ("rules", "reasons", "citations", "missing", "guidelines", "trace",
                       "counts", "questions"))

    def to_log(self) -> dict[str, Any]:
        """Plain data for the log: lean, without what the archived guideline set and the
        logged referral determine (the trace, the guideline text; docs/audit-log.md). Its
        sequences are shared by the many recommendations filled from one template, and so
        are their plain forms: made once, never written into (a logged record is read, not
        changed)."""
        plain: dict[str, Any] = {name: _plain_shared(getattr(self, name)) for name in _LOGGED}
        plain["record_id"] = self.record_id
        plain["compared"] = dict(self.compared)
        return plain

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Recommendation:
        """Validated: a record read back from the log is input like any other."""
        return _adapter().validate_python(data)

    def to_json(self, decision_id: str | None) -> dict[str, object]:
        """The `screen --json` object of the referral contract (docs/referral-contract.md)."""
        return {
            "referral_id": self.record_id,
            "outcome": self.outcome,
            "rules": list(self.rules),
            "reasons": list(self.reasons),
            "missing": list(self.missing),
            "guidelines": _plain(self.guidelines),
            "decision_id": decision_id,
            "counts": _plain(self.counts),
            "questions": _plain(self.questions),
        }


@cache
def _adapter() -> TypeAdapter[Recommendation]:
    from pydantic import TypeAdapter  # only needed when reading logs back

    return TypeAdapter(Recommendation)


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}
_LEAVES = {str, int, float, bool, type(None)}
_LOGGED = ("kind", "outcome", "rules", "reasons", "citations", "missing", "guideline_set",
           "guideline_set_sha256", "guidelines", "counts", "questions")
_ALL_FIELDS = tuple(f.name for f in dataclasses.fields(Recommendation))
_SHARED_KEPT = 65536  # a batch's recommendations share a few thousand templates
_shared: dict[int, tuple[object, Any]] = {}  # id -> (the object, kept alive; its plain form)


def _plain(value: Any) -> Any:
    """`dataclasses.asdict` without its deep copies (8x faster on the batch-with-log path):
    the leaves here are immutable, so sharing them is safe."""
    cls = type(value)
    if cls is list or cls is tuple:  # JSON has arrays
        return [item if type(item) in _LEAVES else _plain(item) for item in value]
    try:
        names = _FIELD_NAMES[cls]
    except KeyError:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls)) \
            if dataclasses.is_dataclass(cls) else None
    if names is None:
        return value
    return {name: _plain(getattr(value, name)) for name in names}


def _plain_shared(value: Any) -> Any:
    """A field's plain form, made once per (immutable, shared) value; a citation without
    its text (the archived guideline set holds it)."""
    if type(value) in _LEAVES:
        return value
    known = _shared.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    if len(_shared) >= _SHARED_KEPT:
        _shared.clear()
    plain = _plain(value)
    if type(value) is tuple and value and type(value[0]) is Citation:
        plain = [{k: v for k, v in c.items() if k != "text"} for c in plain]
    plain = checked(plain)  # the log checks each record for NaN: this part once
    _shared[id(value)] = (value, plain)
    return plain
