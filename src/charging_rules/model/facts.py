"""The fact vocabulary a guideline may name, derived from a record model.

Deriving it (rather than listing it by hand) means a field added to `Referral` is usable in
guidelines at once, and a field removed makes every guideline naming it fail to load.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Union

from pydantic import BaseModel

PROTECTED = ("race", "ethnicity", "sex", "gender", "national_origin", "religion", "demographics")


@dataclass(frozen=True)
class FieldSpec:
    path: str
    kind: Literal["bool", "number", "string", "enum", "date"]
    choices: tuple[str, ...] = ()
    question: str | None = None  # the plain question to ask when the fact is missing
    ask: str | None = None  # whom to ask
    derived_from: tuple[str, ...] = ()  # a derived fact: the facts it is derived from
    always: bool = False  # a derived fact that is never missing (the as-of date)


@dataclass(frozen=True)
class Vocabulary:
    """Scalar fields by dotted path, and collections (lists of records) with their item fields."""

    fields: dict[str, FieldSpec]
    collections: dict[str, dict[str, FieldSpec]]


def _scalar(path: str, annotation: Any) -> FieldSpec | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _scalar(path, typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _scalar(path, options[0]) if len(options) == 1 else None
    if origin is Literal:
        return FieldSpec(path, "enum", tuple(str(a) for a in typing.get_args(annotation)))
    table: dict[Any, Literal["bool", "number", "string", "date"]] = {
        bool: "bool", int: "number", float: "number", str: "string", date: "date"
    }
    return FieldSpec(path, table[annotation]) if annotation in table else None


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _walk(model: type[BaseModel], prefix: str, out: dict[str, FieldSpec],
          collections: dict[str, dict[str, FieldSpec]]) -> None:
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = info.annotation  # pydantic has already moved Annotated metadata aside
        if typing.get_origin(annotation) is list:
            item = _unwrap_model(typing.get_args(annotation)[0])
            if item is not None:
                collections[path] = vocabulary(item).fields
            continue
        nested = _unwrap_model(annotation)
        if nested is not None:
            _walk(nested, f"{path}.", out, collections)
            continue
        spec = _scalar(path, annotation)
        if spec is not None:
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            question, ask = extra.get("question"), extra.get("ask")
            out[path] = dataclasses.replace(
                spec, question=question if isinstance(question, str) else None,
                ask=ask if isinstance(ask, str) else None)


def vocabulary(model: type[BaseModel]) -> Vocabulary:
    """The model's fields, and the facts it derives (`DERIVED`, see `engine_fact`)."""
    fields: dict[str, FieldSpec] = {}
    collections: dict[str, dict[str, FieldSpec]] = {}
    _walk(model, "", fields, collections)
    fields.update(getattr(model, "DERIVED", {}))
    return Vocabulary(fields, collections)


_INDEX = re.compile(r"\[\d+\]")


def generic_path(path: str) -> str:
    """'charges[2].drug' -> 'charges[].drug': the fact, whichever item of a list it is in."""
    return _INDEX.sub("[]", path)


def protected_term(path: str) -> str | None:
    """The protected attribute a field path names, if any (matched on whole path segments)."""
    segments = path.lower().replace("-", "_").split(".")
    for term in PROTECTED:
        if any(seg == term or seg.startswith(term + "_") or seg.endswith("_" + term)
               for seg in segments):
            return term
    return None


def to_fact(record: BaseModel) -> dict[str, Any]:
    """The record as the engine sees it: JSON types, absent means unknown (no nulls)."""
    return record.model_dump(mode="json", exclude_none=True)


def engine_fact(record: BaseModel, plain: dict[str, Any] | None = None) -> dict[str, Any]:
    """`to_fact` (`plain`, where the caller has it) plus the facts the record derives (a
    model's `derived_facts()`), which guidelines may compare but which are never input and
    never logged. `plain` is not changed."""
    fact = to_fact(record) if plain is None else plain
    derive = getattr(record, "derived_facts", None)
    return fact if derive is None else merged(fact, derive())


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` laid over `base`, sub-mappings merged key by key."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


MISSING = object()


def lookup(fact: dict[str, Any], path: str) -> Any:
    """A dotted path's value in a nested fact, or MISSING."""
    value: Any = fact
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value
