"""The members a reader of the log relies on, checked before it reads them.

A record that verifies (its hash chain intact) may still lack a member or hold the wrong
type: written by another tool, or edited and rehashed by someone who can write the log
(what only a checkpoint catches). `audit list`, `audit export` and the analysis read
`result.outcome`, `referral.charges`, `actor` and the rest: such a record is a failed check
naming its line, never a traceback.

The check runs on every record of a million-record analysis: a well-formed record passes a
few direct type tests (`_FITS`, about 2 us); only a record that fails them is walked against
the table of members (`SHAPES`) to name the one at fault. (A validation library's model cost
the analysis a third more.)
"""

from __future__ import annotations

from typing import Any

from charging_rules.audit.log import AuditLogError

# member -> (accepted types, required, the members of each item or of the mapping itself)
Shape = dict[str, tuple[tuple[type, ...], bool, "Shape | None"]]

_TEXT = (str,)
_LOGGED: Shape = {"seq": ((int,), True, None), "hash": (_TEXT, True, None),
                  "decision_id": (_TEXT, True, None), "timestamp": (_TEXT, True, None),
                  "actor": (_TEXT, True, None), "record_id": (_TEXT, False, None),
                  "record_kind": (_TEXT, False, None)}
_RECOMMENDATION: Shape = {
    **_LOGGED,
    "result": ((dict,), True, {"outcome": (_TEXT, True, None),
                               "rules": ((list,), False, {"": (_TEXT, True, None)}),
                               "missing": ((list,), False, {"": (_TEXT, True, None)})}),
    "guideline_set": ((dict,), True, {
        "id": (_TEXT, True, None), "sha256": (_TEXT, True, None),
        "guidelines": ((list,), False, {"": ((dict,), True, {"id": (_TEXT, True, None),
                                                             "version": (_TEXT, True, None)})})}),
    "referral": ((dict, type(None)), False, {
        "charges": ((list,), False, {"": ((dict,), True, None)})}),
    "demographics": ((dict, type(None)), False, None),
}
_DECISION: Shape = {**_LOGGED, "outcome": (_TEXT, True, None)}
SHAPES = {"recommendation": _RECOMMENDATION, "decision": _DECISION, "override": _DECISION}

_ABSENT: tuple[()] = ()  # an optional member left out


def _texts(value: Any) -> bool:
    return value is _ABSENT or (type(value) is list and all(type(v) is str for v in value))


def _logged(r: dict[str, Any]) -> bool:
    return (type(r.get("seq")) is int and type(r.get("hash")) is str
            and type(r.get("decision_id")) is str and type(r.get("timestamp")) is str
            and type(r.get("actor")) is str and type(r.get("record_id", "")) is str
            and type(r.get("record_kind", "")) is str)


def _recommendation(r: dict[str, Any]) -> bool:
    result, used = r.get("result"), r.get("guideline_set")
    referral, demographics = r.get("referral"), r.get("demographics")
    charges = referral.get("charges", _ABSENT) if type(referral) is dict else _ABSENT
    versions = used.get("guidelines", _ABSENT) if type(used) is dict else _ABSENT
    return (_logged(r) and type(result) is dict and type(result.get("outcome")) is str
            and _texts(result.get("rules", _ABSENT)) and _texts(result.get("missing", _ABSENT))
            and type(used) is dict and type(used.get("id")) is str
            and type(used.get("sha256")) is str
            and (versions is _ABSENT or (type(versions) is list and all(
                type(v) is dict and type(v.get("id")) is str
                and type(v.get("version")) is str for v in versions)))
            and (referral is None or type(referral) is dict)
            and (charges is _ABSENT or (type(charges) is list
                                        and all(type(c) is dict for c in charges)))
            and (demographics is None or type(demographics) is dict))


def _decision(r: dict[str, Any]) -> bool:
    return _logged(r) and type(r.get("outcome")) is str


_FITS = {"recommendation": _recommendation, "decision": _decision, "override": _decision}


def _problem(value: Any, shape: Shape, path: str) -> str | None:
    """The first member of `value` (a mapping) at fault, as `path: what`, or None."""
    for name, (types, required, inner) in shape.items():
        items: Any
        if name == "":  # a list's items
            items = enumerate(value)
        elif name in value:
            items = ((name, value[name]),)
        elif required:
            return f"{path}{name}: missing"
        else:
            continue
        for key, member in items:
            where = f"{path}{key}" if name else f"{path[:-1]}[{key}]"
            if not isinstance(member, types) or isinstance(member, bool):
                wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
                return f"{where}: expected {wanted}"
            if inner is not None and member is not None:
                found = _problem(member, inner, f"{where}.")
                if found:
                    return found
    return None


def check(where: str, record: dict[str, Any]) -> dict[str, Any]:
    """`record` when it has the members its kind's readers use, else a failed check naming
    `where` (its segment and line) and the first member at fault."""
    kind = record.get("kind")
    fits = _FITS.get(kind) if type(kind) is str else None
    if fits is None or fits(record):
        return record
    problem = _problem(record, SHAPES[str(kind)], "")
    if problem:
        raise AuditLogError(f"{where}: malformed {record['kind']} record ({problem}); run "
                            "'charging-rules audit verify'")
    return record
