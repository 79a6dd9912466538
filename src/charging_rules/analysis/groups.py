"""Raw demographic labels -> analysis groups, by an explicit map the analyst can read.

Exports label race inconsistently ("White [Hispanic or Latino]", "HISPANIC", blank). Which
label joins which group is a methodological choice, so it lives in a YAML or CSV file, is
printed beside the results, and an unlisted label is an error unless the map says otherwise.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from charging_rules.errors import InputError
from charging_rules.files import read_text
from charging_rules.guidelines.yamlsource import load_yaml

UNKNOWN = None
Unmapped = Literal["error", "keep", "unknown"]
BUILTIN = {"cook-county": "group-map-cook-county.yaml", "sex": "group-map-sex.yaml"}
_UNKNOWN_DEFAULT = ("", "unknown", "not recorded", "none", "n/a", "na", "null")


def _key(label: object) -> str:
    return "" if label is None else " ".join(str(label).split()).casefold()


@dataclass
class GroupMap:
    """`group(label)` is the analysis group, or None (unknown: excluded, share reported)."""

    name: str
    groups: dict[str, str] = field(default_factory=dict)  # casefolded label -> group
    unknown: frozenset[str] = frozenset(_UNKNOWN_DEFAULT)
    unmapped: Unmapped = "keep"
    source: str = "<identity>"
    seen: dict[str, str | None] = field(default_factory=dict)  # raw label -> group, as used

    def group(self, label: object) -> str | None:
        raw = "" if label is None else str(label).strip()
        if raw in self.seen:
            return self.seen[raw]
        key = _key(raw)
        result: str | None
        if key in self.groups:
            result = self.groups[key]
        elif key in self.unknown or not key:  # a blank is never a group
            result = UNKNOWN
        elif self.unmapped == "keep":
            result = raw
        elif self.unmapped == "unknown":
            result = UNKNOWN
        else:
            raise InputError(f"label {raw!r} is not in the group map (add it to a group or "
                             "to `unknown`)", source=self.source)
        self.seen[raw] = result
        return result

    def used(self) -> dict[str, str]:
        """Every raw label met so far and where it went, for the output's methods note."""
        return {label or "(blank)": group or "(unknown: excluded)"
                for label, group in sorted(self.seen.items())}


def identity() -> GroupMap:
    """Labels stand as they are; blanks and 'Unknown'-like labels are unknown."""
    return GroupMap(name="identity")


def load_group_map(spec: str | Path | None) -> GroupMap:
    """A builtin map by name (cook-county, sex), a YAML/CSV file, or the identity map."""
    if spec is None or str(spec) == "identity":
        return identity()
    if str(spec) in BUILTIN:
        text = resources.files("charging_rules.data").joinpath(BUILTIN[str(spec)]).read_text()
        return _from_yaml(yaml.safe_load(text), f"builtin:{spec}")
    path = Path(spec)
    text = read_text(path, "group map")
    if path.suffix.lower() == ".csv":
        return _from_csv(text, str(path))
    return _from_yaml(load_yaml(text, str(path))[0], str(path))


_YAML_KEYS = {"name", "description", "groups", "unknown", "unmapped"}


def _from_yaml(data: Any, source: str) -> GroupMap:
    if not isinstance(data, dict) or not isinstance(data.get("groups"), dict):
        raise InputError("a group map needs a `groups:` mapping of group -> [labels]",
                         source=source)
    extra = sorted(str(key) for key in data if key not in _YAML_KEYS)
    if extra:
        raise InputError(f"{extra[0]}: unknown key (a group map has "
                         f"{', '.join(sorted(_YAML_KEYS))})", source=source)
    unmapped = data.get("unmapped", "error")
    if unmapped not in ("error", "keep", "unknown"):
        raise InputError("unmapped: must be error, keep or unknown", source=source)
    groups: dict[str, str] = {}
    for group, labels in data["groups"].items():
        if not isinstance(group, str) or not group.strip():
            raise InputError(f"groups: a group's name must be text, got {group!r}",
                             source=source)
        for label in _labels(labels, f"groups.{group}", source):
            _add(groups, label, group.strip(), source)
    unknown = _labels(data.get("unknown", []), "unknown", source)
    both = sorted(set(unknown) & set(groups))
    if both:
        raise InputError(f"label {both[0]!r} is both unknown and in group {groups[both[0]]}",
                         source=source)
    return GroupMap(name=str(data.get("name", source)), groups=groups,
                    unknown=frozenset(unknown), unmapped=unmapped, source=source)


def _labels(labels: Any, where: str, source: str) -> list[str]:
    """The labels listed under `where`: text, each one (a blank is always unknown)."""
    if not isinstance(labels, list):
        raise InputError(f"{where}: expected a list of labels", source=source)
    for label in labels:
        if not isinstance(label, str):
            raise InputError(f"{where}: a label must be text (quote it), got {label!r}",
                             source=source)
    return [_key(label) for label in labels]


def _from_csv(text: str, source: str) -> GroupMap:
    """CSV columns `label,group`; an empty group means unknown (excluded)."""
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or {"label", "group"} - set(reader.fieldnames):
        raise InputError("a CSV group map needs columns label,group", source=source)
    groups: dict[str, str] = {}
    unknown: set[str] = set()
    for row in reader:
        if row["group"] is None or None in row:  # DictReader's marks of a short, long row
            raise InputError(f"a row needs exactly the columns {', '.join(reader.fieldnames)}",
                             source=f"{source}:{reader.line_num}")
        label, group = _key(row["label"]), row["group"].strip()
        if group:
            _add(groups, label, group, f"{source}:{reader.line_num}")
        else:
            unknown.add(label)
    return GroupMap(name=Path(source).stem, groups=groups, unknown=frozenset(unknown),
                    unmapped="error", source=source)


def _add(groups: dict[str, str], key: str, group: str, source: str) -> None:
    if not key:
        raise InputError(f"a blank label cannot join group {group}: a blank is unknown",
                         source=source)
    if key in groups and groups[key] != group:
        raise InputError(f"label {key!r} is mapped to both {groups[key]} and {group}",
                         source=source)
    groups[key] = group
