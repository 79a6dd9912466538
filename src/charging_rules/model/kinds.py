"""Record kinds the engine can evaluate, and turning raw input into validated records.

A kind ties a pydantic model to its outcome vocabulary. Guidelines name the kind they apply
to, so a charging rule never sees a victim record and vice versa. Parsing splits the
demographics off first: they are validated, returned beside the record, never inside it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, create_model

from charging_rules.errors import InputError
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


KINDS: dict[str, RecordKind] = {
    "referral": RecordKind("referral", Referral, "referral_id", CHARGING_OUTCOMES, "charges",
                           OUTCOME_PRECEDENCE),
    "victim": RecordKind("victim", Victim, "record_id", OUTREACH_OUTCOMES),
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
        path = (root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
                ).lstrip(".")
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = words[0]
        elif problem["type"] == "missing":
            message = words[1]
        elif "input" in problem and problem["type"] not in ("model_type", "dict_type"):
            message = f"{message} (got {json.dumps(problem['input'], default=str)[:60]})"
        out.append((loc, f"{path or '(record)'}: {message}"))
    return out


def format_validation_error(error: ValidationError, root: str = "") -> str:
    """One line: the first problem, and how many more there are."""
    problems = validation_problems(error, root)
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0][1] + more


def validation_input_error(error: ValidationError, source: str, root: str = "") -> InputError:
    """An InputError naming the first problem, with every problem in its details (a rejected
    file's .error.txt and the CLI list them all)."""
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


@cache
def _line_model(kind: RecordKind) -> type[BaseModel]:
    """The record with its demographics beside it, as one line of input holds them."""
    line: type[BaseModel] = create_model(f"{kind.model.__name__}Line", __base__=kind.model,
                                         demographics=(Demographics | None, None))
    return line


def parse_record_json(text: str | bytes, kind: RecordKind) -> tuple[BaseModel,
                                                                   Demographics | None] | None:
    """`parse_record` straight from JSON text (no dict in between: the batch hot path), or
    None when the text is not a valid record: the caller then parses it the ordinary way,
    which words the problem. Both accept the same records (tests/test_fast_validation.py)."""
    try:
        line = _line_model(kind).model_validate_json(text)
    except ValueError:  # ValidationError, and JSON pydantic reads differently from json
        return None
    values = dict(line.__dict__)
    demographics = values.pop("demographics")
    # What `model_construct` does, without its per-field work: every value is validated.
    record = object.__new__(kind.model)
    object.__setattr__(record, "__dict__", values)
    object.__setattr__(record, "__pydantic_fields_set__", line.model_fields_set - {"demographics"})
    object.__setattr__(record, "__pydantic_extra__", None)
    object.__setattr__(record, "__pydantic_private__", None)
    return record, demographics


def _validate(model: type[M], data: Any, source: str, root: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_input_error(error, source, root) from None


def load_record_file(
    path: Path, kind: RecordKind | str = "referral"
) -> tuple[BaseModel, Demographics | None]:
    """Read one JSON record file (`-`: standard input); syntax errors carry the line number."""
    stdin = str(path) == "-"
    try:
        text = sys.stdin.read() if stdin else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read: {error}", source=str(path)) from None
    path = Path("<stdin>") if stdin else path
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"invalid JSON: {error.msg}", source=str(path),
                         line=error.lineno) from None
    except RecursionError:
        raise InputError("invalid JSON: nested too deeply", source=str(path)) from None
    except ValueError as error:  # a number with more digits than Python converts
        raise InputError(f"invalid JSON: {str(error).split(':')[0]}", source=str(path)) from None
    return parse_record(data, kind, str(path))
