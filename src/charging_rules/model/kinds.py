"""Record kinds the engine can evaluate, and turning raw input into validated records.

A kind ties a pydantic model to its outcome vocabulary. Guidelines name the kind they apply
to, so a charging rule never sees a victim record and vice versa. Parsing splits the
demographics off first: they are validated, returned beside the record, never inside it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from charging_rules.errors import InputError, clip
from charging_rules.files import DuplicateKey, decode, read_bytes
from charging_rules.files import loads as strict_loads
from charging_rules.model.referral import (
    CHARGING_OUTCOMES,
    OUTCOME_PRECEDENCE,
    Demographics,
    Referral,
)
from charging_rules.model.victim import OUTREACH_OUTCOMES, Victim

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class RecordKind:
    name: str
    model: type[BaseModel]
    id_field: str
    outcomes: tuple[str, ...]
    counts: str | None = None  # the collection whose items each get an outcome (charges)
    precedence: tuple[str, ...] = ()  # how count outcomes combine: the first present wins
    as_of: str | None = None  # the date fact a guideline's effective/expires window reads


KINDS: dict[str, RecordKind] = {
    "referral": RecordKind("referral", Referral, "referral_id", CHARGING_OUTCOMES, "charges",
                           OUTCOME_PRECEDENCE, "as_of"),
    "victim": RecordKind("victim", Victim, "record_id", OUTREACH_OUTCOMES,
                         as_of="incident_date"),
}


def kind_of(record: BaseModel) -> RecordKind:
    for kind in KINDS.values():
        if type(record) is kind.model:
            return kind
    raise TypeError(f"not a record kind: {type(record).__name__}")


CONTRACT_WORDS = ("unknown field (not in the referral contract)", "required field is missing")
YAML_WORDS = ("unknown key", "required key is missing")


def validation_problems(error: ValidationError, root: str = "",
                        words: tuple[str, str] = CONTRACT_WORDS
                        ) -> list[tuple[tuple[str | int, ...], str]]:
    """Every problem pydantic found, as (location, "path: message"): the one wording of
    validation errors, for records, mappings, weekly lists and guideline files alike. `root`
    names the object validated; `words` say "field" or "key" for unknown and missing ones."""
    out = []
    for problem in error.errors(include_url=False):
        loc = tuple(problem["loc"])
        path = (root + "".join(f"[{p}]" if isinstance(p, int) else f".{clip(p)}"
                               for p in loc)).lstrip(".")
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = words[0]
        elif problem["type"] == "missing":
            message = words[1]
        elif "input" in problem and problem["type"] not in ("model_type", "dict_type"):
            message = f"{message} (got {clip(json.dumps(problem['input'], default=str))})"
        out.append((loc, f"{path or '(record)'}: {message}"))
    return out


def format_validation_error(error: ValidationError, root: str = "") -> str:
    """One line: the first problem, and how many more there are."""
    problems = validation_problems(error, root)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0][1] + more


def validation_input_error(error: ValidationError, source: str, root: str = "") -> InputError:
    """An InputError naming the first problem, with every problem in its details (a rejected
    file's .error.txt lists them all, the CLI's one line joins them)."""
    problems = tuple(text for _, text in validation_problems(error, root))
    return InputError(format_validation_error(error, root), source=source,
                      details=problems if len(problems) > 1 else ())


_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "true/false", type(None): "null"}


def parse_record(
    data: Any, kind: RecordKind | str = "referral", source: str = "<input>"
) -> tuple[BaseModel, Demographics | None]:
    """Validate one record; `InputError` names the source and field on any problem."""
    kind = KINDS[kind] if isinstance(kind, str) else kind
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object, got {_JSON_TYPES.get(type(data), 'a value')}",
                         source=source)
    body = dict(data)
    raw_demographics = body.pop("demographics", None)
    record = _validate(kind.model, body, source, "")
    if raw_demographics is None:
        return record, None
    return record, _validate(Demographics, raw_demographics, source, "demographics")


def _validate(model: type[M], data: Any, source: str, root: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_input_error(error, source, root) from None


def load_record_file(
    path: Path, kind: RecordKind | str = "referral"
) -> tuple[BaseModel, Demographics | None]:
    """Read one JSON record file (`-`: standard input); syntax errors carry the line number."""
    if str(path) == "-":
        return parse_record_bytes(sys.stdin.buffer.read(), "<stdin>", kind)
    return parse_record_bytes(read_bytes(path), str(path), kind)


def parse_record_bytes(
    raw: bytes, source: str, kind: RecordKind | str = "referral"
) -> tuple[BaseModel, Demographics | None]:
    """One JSON record from a file's bytes (intake decides exactly the bytes it showed).
    A UTF-8 byte order mark (Notepad writes one) is read past, as `batch` reads it."""
    text = decode(raw, source, "utf-8-sig")
    try:
        data = strict_loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"invalid JSON: {error.msg}", source=source,
                         line=error.lineno) from None
    except DuplicateKey as error:  # Python would keep the last: which one was meant?
        raise InputError(f"invalid JSON: {error}", source=source,
                         line=_line_of_key(text, error.key)) from None
    except RecursionError:
        raise InputError("invalid JSON: nested too deeply", source=source) from None
    except ValueError as error:  # a number with more digits than Python converts
        raise InputError(f"invalid JSON: {str(error).split(':')[0]}", source=source) from None
    return parse_record(data, kind, source)


def _line_of_key(text: str, key: str) -> int | None:
    """The line of the second occurrence of `key` as a JSON key (best effort)."""
    quoted = json.dumps(key, ensure_ascii=False)
    first = text.find(quoted)
    second = text.find(quoted, first + 1) if first >= 0 else -1
    return text.count("\n", 0, second) + 1 if second >= 0 else None
