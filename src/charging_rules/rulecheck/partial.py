"""Complete partial records with neutral defaults, derived from the record model.

Test case authors write only the facts that matter; lint builds example records the same
way. Defaults are derived from the pydantic model so a new record kind (victim outreach,
...) needs no code here: required text is "unspecified", a required category is "other"
when the vocabulary has one, a required list gets one default item.
"""

from __future__ import annotations

import typing
from datetime import date
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from charging_rules.model.facts import MISSING
from charging_rules.model.kinds import KINDS, RecordKind

DEFAULT_DATE = date(2024, 1, 2)
DEFAULT_TEXT = "unspecified"


def _default(info: FieldInfo) -> Any:
    annotation = info.annotation
    origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return [skeleton_of(item)] if isinstance(item, type) and issubclass(item, BaseModel) \
            else []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return skeleton_of(annotation)
    if origin is typing.Literal:
        choices = [str(a) for a in typing.get_args(annotation)]
        return "other" if "other" in choices else choices[0]
    table: dict[Any, Any] = {str: DEFAULT_TEXT, bool: False, int: 0, float: 0.0,
                             date: DEFAULT_DATE}
    return table.get(annotation, DEFAULT_TEXT)


def skeleton_of(model: type[BaseModel]) -> dict[str, Any]:
    """The model's required fields with neutral values; optional fields are left out."""
    return {name: _default(info) for name, info in model.model_fields.items()
            if info.is_required()}


def skeleton(kind: RecordKind | str, record_id: str = "example") -> dict[str, Any]:
    kind = KINDS[kind] if isinstance(kind, str) else kind
    return {**skeleton_of(kind.model), kind.id_field: record_id}


def merge(base: Any, over: Any) -> Any:
    """Deep merge: mappings merge key by key, anything else (lists too) is replaced, and
    `None` (YAML `null`) removes the key, so a case can make a default fact unknown."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge(base.get(key), value) if key in base else value
        return out
    return over


def put(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `data` with the dotted `path` set to `value` (MISSING removes it)."""
    head, _, rest = path.partition(".")
    out = dict(data)
    if rest:
        inner = out.get(head)
        out[head] = put(inner if isinstance(inner, dict) else {}, rest, value)
    elif value is MISSING:
        out.pop(head, None)
    else:
        out[head] = value
    return out
