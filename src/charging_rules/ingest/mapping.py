"""Export mappings: how a case-management export's rows become referrals.

A mapping (YAML, docs/mappings.md) says, for each referral field, which column it comes from,
how the text is converted (integer, number, boolean, date, a template), which value map
translates the export's vocabulary into the contract's (offense category -> charge category,
agency -> jurisdiction, race label -> analysis group), and what to use when a cell is blank.
It never guesses: a value absent from its value map, or a cell that does not convert, makes
the row unmappable, reported with the field and the value, and the row is skipped. A blank
cell with no default is left out of the referral (unknown), never filled in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import MaxLen
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from charging_rules.errors import InputError, clip
from charging_rules.files import read_text
from charging_rules.guidelines.yamlsource import line_of, load_yaml
from charging_rules.model.facts import FieldSpec, generic_path, vocabulary
from charging_rules.model.kinds import YAML_WORDS, validation_problems
from charging_rules.model.referral import Demographics, Referral

Kind = Literal["string", "integer", "number", "boolean", "date"]
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}
_PATH = re.compile(r"^([a-z_]+)(?:\[(\d+)\])?$")
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ][0-9:.]+)?$", re.ASCII)
# Numbers as a spreadsheet writes them: ASCII digits only. Python's int() and float() also
# take "1_000", full-width and other Unicode digits, "nan" and "infinity": none is a count
# or a weight an officer wrote.
_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


class MappingError(Exception):
    """A row the mapping cannot turn into a referral: which field, and why."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


# --- the YAML file -----------------------------------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SourceSpec(_Spec):
    column: Annotated[str, Field(min_length=1)] | None = None
    value: Any = None
    type: Kind = "string"
    values: str | None = None
    template: str | None = None
    default: Any = None


class FieldRule(SourceSpec):
    first_of: Annotated[list[SourceSpec], Field(min_length=1)] | None = None


class MappingSpec(_Spec):
    mapping: Annotated[str, Field(min_length=1)]
    description: str | None = None
    source: str | None = None
    referral: dict[str, FieldRule]
    demographics: dict[str, FieldRule] = {}
    values: dict[str, dict[str, Any]] = {}
    ignore: dict[str, str] = {}


# --- compiled ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Source:
    column: str | None
    constant: Any
    kind: Kind
    values: dict[str, Any] | None
    values_name: str | None
    template: str | None
    default: Any

    def describe(self, row: dict[str, Any]) -> str:
        """Why this source gave no value, for the skip reason."""
        cell = row.get(self.column or "")
        if cell is None or str(cell).strip() == "":
            return f"{self.column} is blank"
        return f"{self.column} {clip(str(cell).strip())!r} maps to unknown in '{self.values_name}'"

    def get(self, row: dict[str, Any], target: str) -> Any:
        """The converted value, or None when blank (and no default)."""
        if self.column is None:
            return self.constant
        cell = row.get(self.column)
        if isinstance(cell, str):
            cell = cell.strip()
        if cell is None or cell == "":
            return self.default
        if self.values is not None:
            key = str(cell).casefold()
            if key not in self.values:
                raise MappingError(target, f"{self.column} value {clip(cell)!r} is not in value "
                                   f"map '{self.values_name}' (add it to the mapping)")
            return self.values[key]
        value = _convert(cell, self.kind, self.column, target)
        return self.template.replace("{}", str(value)) if self.template else value


def _day(text: str) -> str:
    """The ISO day a date (or date-time) cell names; ValueError when it names none."""
    match = _DATE.match(text)
    if not match:
        raise ValueError
    return date.fromisoformat(match.group(1)).isoformat()


def _convert(cell: Any, kind: Kind, column: str, target: str) -> Any:
    if not isinstance(cell, str):
        return cell  # JSON input: already typed; the referral model checks the type
    try:
        if kind in ("integer", "number"):
            if _INTEGER.fullmatch(cell):
                return int(cell)
            if kind == "number" and _NUMBER.fullmatch(cell):
                return float(cell)
            raise ValueError
        if kind == "boolean":
            if cell.casefold() in _TRUE | _FALSE:
                return cell.casefold() in _TRUE
            raise ValueError
        if kind == "date":
            return _day(cell)
    except ValueError:
        article = "an" if kind == "integer" else "a"
        raise MappingError(target, f"{clip(column)} value {clip(cell)!r} is not {article} "
                           f"{kind}") from None
    return cell


@dataclass(frozen=True, slots=True)
class _Target:
    path: str
    steps: tuple[tuple[str, int | None], ...]
    sources: tuple[_Source, ...]
    required: bool

    def value(self, row: dict[str, Any]) -> Any:
        for source in self.sources:
            value = source.get(row, self.path)
            if value is not None:
                return value
        if self.required:
            tried = "; ".join(s.describe(row) for s in self.sources)
            raise MappingError(self.path, f"required by the referral contract, but {tried}")
        return None


class Mapping:
    """A compiled mapping; `apply(row)` returns the referral dict (demographics beside it)."""

    def __init__(self, name: str, targets: list[_Target], ignored: dict[str, str]):
        self.name = name
        self.targets = targets
        self.ignored = ignored
        self.columns = sorted({s.column for t in targets for s in t.sources if s.column})

    def check_header(self, header: Iterable[str], source: str) -> None:
        """Every column the mapping reads must be in the input: a typo is an error up front."""
        present = set(header)
        absent = [c for c in self.columns if c not in present]
        if absent:
            raise InputError(f"mapping '{self.name}' reads column(s) the input does not have: "
                             f"{', '.join(absent)}", source=source, line=1)

    def apply(self, row: Any) -> dict[str, Any]:
        if not isinstance(row, dict):
            raise MappingError("(row)", f"expected an object, got {type(row).__name__}")
        out: dict[str, Any] = {}
        for target in self.targets:
            value = target.value(row)
            if value is not None:
                _put(out, target.steps, value)
        return out


def _put(out: dict[str, Any], steps: tuple[tuple[str, int | None], ...], value: Any) -> None:
    """Set a nested value: ('charges', 0), ('category', None) -> out['charges'][0]['category']."""
    node: Any = out
    *parents, (leaf, _) = steps
    for name, index in parents:
        if index is None:
            node = node.setdefault(name, {})
        else:
            items = node.setdefault(name, [])
            items.extend({} for _ in range(index + 1 - len(items)))
            node = items[index]
    node[leaf] = value


# --- loading -----------------------------------------------------------------------------

_REFERRAL = vocabulary(Referral)
_DEMOGRAPHICS = vocabulary(Demographics)
_REQUIRED = {"referral_id", "received", "jurisdiction", "charges[].category"}

# The referral model's max_length per collection. `_put` fills every index below the one a
# path names, so a path past it (charges[99999999]) would exhaust memory on the first row.
_MAX_ITEMS = {name: min([m.max_length for m in Referral.model_fields[name].metadata
                         if isinstance(m, MaxLen)], default=1 << 31)
              for name in _REFERRAL.collections}


def _field_spec(path: str, demographics: bool) -> tuple[FieldSpec | None, tuple[tuple[str,
                                                                              int | None], ...]]:
    steps: list[tuple[str, int | None]] = []
    for part in path.split("."):
        match = _PATH.match(part)
        if not match:
            return None, ()
        steps.append((match.group(1), None if match.group(2) is None else int(match.group(2))))
    if demographics:
        return _DEMOGRAPHICS.fields.get(path), (("demographics", None), *steps)
    head, index = steps[0]
    if index is not None and len(steps) == 2 and head in _REFERRAL.collections:
        if index >= _MAX_ITEMS[head]:
            return None, ()
        return _REFERRAL.collections[head].get(steps[1][0]), tuple(steps)
    if any(i is not None for _, i in steps):
        return None, ()
    return _REFERRAL.fields.get(path), tuple(steps)


class _Loader:
    def __init__(self, source: str, lines: dict[Any, int], spec: MappingSpec):
        self.source, self.lines, self.spec = source, lines, spec
        self.problems: list[InputError] = []
        self.maps = {name: {str(k).strip().casefold(): v for k, v in table.items()}
                     for name, table in spec.values.items()}

    def error(self, at: tuple[str | int, ...], message: str) -> None:
        self.problems.append(InputError(message, source=self.source,
                                        line=line_of(self.lines, at)))

    def compile(self) -> Mapping:
        targets = [self.target(section, path, rule)
                   for section, rules in (("referral", self.spec.referral),
                                          ("demographics", self.spec.demographics))
                   for path, rule in rules.items()]
        mapped = {generic_path(t.path) for t in targets if t is not None}
        for required in sorted(_REQUIRED - mapped):
            self.error(("referral",), f"referral: no rule for required field '{required}'")
        if self.problems:
            first = self.problems[0]
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            raise InputError(first.message + more, source=first.source, line=first.line)
        return Mapping(self.spec.mapping, [t for t in targets if t is not None],
                       self.spec.ignore)

    def target(self, section: str, path: str, rule: FieldRule) -> _Target | None:
        at = (section, path)
        field, steps = _field_spec(path, section == "demographics")
        if field is None:
            self.error(at, f"{section}: '{path}' is not a field of the referral contract")
            return None
        alternatives = rule.first_of or [rule]
        if rule.first_of and (rule.column or rule.value is not None or rule.values):
            self.error(at, f"{path}: first_of stands alone (put column/values in its items)")
        sources = [self.source_of(at if not rule.first_of else (*at, "first_of", i), path,
                                  field, alt) for i, alt in enumerate(alternatives)]
        label = f"demographics.{path}" if section == "demographics" else path
        return _Target(label, steps, tuple(s for s in sources if s is not None),
                       section == "referral" and generic_path(path) in _REQUIRED)

    def source_of(self, at: tuple[str | int, ...], path: str, field: FieldSpec,
                  spec: SourceSpec) -> _Source | None:
        if (spec.column is None) == (spec.value is None):
            self.error(at, f"{path}: give exactly one of 'column' or 'value'")
            return None
        table = None
        if spec.values is not None:
            table = self.maps.get(spec.values)
            if table is None:
                self.error((*at, "values"), f"{path}: no value map named '{spec.values}'")
                return None
            for key, mapped in self.spec.values[spec.values].items():
                self.check_value(("values", spec.values, str(key)), path, field, mapped, key)
        if spec.template is not None and spec.template.count("{}") != 1:
            self.error((*at, "template"), f"{path}: a template holds one '{{}}' for the value")
        if spec.default is not None and field.kind in ("bool", "number"):
            # Missing is not false: a blank is unknown, and the guideline asks for the fact.
            self.error((*at, "default"), f"{path}: a blank cell is unknown, never a default "
                       "(a default would decide this fact for every blank row); drop it")
        for name in ("value", "default"):
            if getattr(spec, name) is not None:
                self.check_value((*at, name), path, field, getattr(spec, name), name)
        return _Source(spec.column, spec.value, spec.type, table, spec.values, spec.template,
                       spec.default)

    def check_value(self, at: tuple[str | int, ...], path: str, field: FieldSpec, value: Any,
                    what: str) -> None:
        """A value the mapping itself gives (a constant, a default, a value map's entry) is
        checked against the field's type now, not found wrong on every row."""
        if value is None:
            return
        if field.kind == "enum" and value not in field.choices:
            self.error(at, f"{path}: {what} -> {value!r} is not one of "
                       f"{', '.join(field.choices)}")
        elif not _fits(field.kind, value):
            self.error(at, f"{path}: {what} -> {clip(repr(value))} is not "
                       f"{_VALUE_NAMES[field.kind]}")


def _fits(kind: str, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) \
            and math.isfinite(value)
    if kind == "date":
        try:
            return isinstance(value, str) and bool(_day(value))
        except ValueError:
            return False
    return kind != "string" or isinstance(value, str)


_VALUE_NAMES = {"bool": "true or false", "number": "a number", "string": "text",
                "date": "a date (YYYY-MM-DD)", "enum": "one of its values"}


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; errors name `file:line`."""
    data, lines = load_yaml(read_text(path, "mapping"), str(path))
    try:
        spec = MappingSpec.model_validate(data)
    except ValidationError as error:
        loc, text = validation_problems(error, words=YAML_WORDS)[0]
        raise InputError(text, source=str(path), line=line_of(lines, loc)) from None
    return _Loader(str(path), lines, spec).compile()


def header_mapping(header: list[str], source: str) -> Mapping:
    """Without --mapping a CSV's header names referral fields ('charges[0].category',
    'demographics.race'); cells convert by the field's type; blank means unknown."""
    kinds: dict[str, Kind] = {"bool": "boolean", "number": "number", "date": "date"}
    rules: dict[str, dict[str, FieldRule]] = {"referral": {}, "demographics": {}}
    for column in header:
        section, path = ("demographics", column[13:]) if column.startswith(
            "demographics.") else ("referral", column)
        field, _ = _field_spec(path, section == "demographics")
        if field is None:
            raise InputError(f"column '{clip(column)}' is not a referral field (name fields as in "
                             "the contract, e.g. charges[0].category, or pass --mapping)",
                             source=source, line=1)
        kind = kinds.get(field.kind, "string")
        rules[section][path] = FieldRule(column=column, type=kind)
    spec = MappingSpec(mapping="(CSV header)", referral=rules["referral"],
                       demographics=rules["demographics"])
    return _Loader(source, {}, spec).compile()
