"""Load a guideline set: every file checked up front, every problem as `file:line: message`.

A directory holds `set.yaml` (which guidelines, in which order, how they combine, and the
fallback per record kind) and the guideline files it lists. A single guideline file is a set
of one. The set's identity is the SHA-256 over its files' canonical bytes, so any edit,
however small, is a new version in the audit log.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from charging_rules.errors import InputError
from charging_rules.files import read_bytes
from charging_rules.guidelines import conditions
from charging_rules.guidelines.schema import (
    Guideline,
    GuidelineSet,
    GuidelineSpec,
    Otherwise,
    Rule,
    SetSpec,
)
from charging_rules.guidelines.yamlsource import NodePath, line_of, load_yaml
from charging_rules.model.facts import vocabulary
from charging_rules.model.kinds import KINDS, YAML_WORDS, validation_problems

SET_FILE = "set.yaml"
SINGLE_FILE_FALLBACK = Otherwise("review", "No rule of this guideline decides: standard review.")
# Kinds without a "review" outcome (victim outreach) fall back to asking for more.
OTHER_KIND_FALLBACK = Otherwise("needs_information", "No rule of this guideline decides.")


class GuidelineErrors(InputError):
    """Every problem found in a guideline set; str() is the first, for one-line reports."""

    def __init__(self, problems: list[InputError]):
        self.problems = problems
        first = problems[0]
        more = f" (and {len(problems) - 1} more; run 'charging-rules rules validate')" \
            if len(problems) > 1 else ""
        super().__init__(first.message + more, source=first.source, line=first.line)

    def lines(self) -> list[str]:
        return [line for problem in self.problems for line in problem.lines()]


def canonical_bytes(raw: bytes) -> bytes:
    """Line endings do not change a policy, so they do not change its hash."""
    return raw.replace(b"\r\n", b"\n")


def file_sha256(raw: bytes) -> str:
    return hashlib.sha256(canonical_bytes(raw)).hexdigest()


def set_sha256(files: dict[str, bytes]) -> str:
    listing = "".join(f"{name}\t{file_sha256(raw)}\n" for name, raw in sorted(files.items()))
    return hashlib.sha256(listing.encode()).hexdigest()


class Problems:
    def __init__(self) -> None:
        self.items: list[InputError] = []

    def add(self, source: str, line: int | None, message: str) -> None:
        self.items.append(InputError(message, source=source, line=line))


def load_guidelines(path: Path) -> GuidelineSet:
    """The guideline set at `path` (a directory with set.yaml, or one guideline file)."""
    problems = Problems()
    result = _load(path, problems)
    if problems.items or result is None:
        raise GuidelineErrors(problems.items or [InputError("no guidelines", source=str(path))])
    return result


def check_guidelines(path: Path) -> list[InputError]:
    """Every problem in the set at `path`; empty when it loads."""
    problems = Problems()
    _load(path, problems)
    return problems.items


def _read(path: Path, problems: Problems) -> bytes | None:
    try:
        return read_bytes(path)
    except InputError as error:  # unreadable, or a FIFO or device: never blocks
        problems.items.append(error)
        return None


def parse_yaml(path: Path, raw: bytes, problems: Problems) -> tuple[Any, dict[Any, int]] | None:
    try:
        return load_yaml(canonical_bytes(raw).decode("utf-8"), str(path))
    except UnicodeDecodeError:
        problems.add(str(path), None, "not UTF-8 text")
    except InputError as error:
        problems.items.append(error)
    return None


def validate_spec(model: type[BaseModel], data: Any, path: Path, lines: dict[Any, int],
                  problems: Problems) -> Any:
    """Validate YAML data against a spec model, adding each error at its line; None if any."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        for loc, text in validation_problems(error, words=YAML_WORDS):
            problems.add(str(path), line_of(lines, loc), text)
        return None


def _load(path: Path, problems: Problems) -> GuidelineSet | None:
    if path.is_dir():
        return _load_directory(path, problems)
    if not path.exists():
        problems.add(str(path), None, "no such guideline file or directory")
        return None
    raw = _read(path, problems)
    if raw is None:
        return None
    guideline = _load_guideline(path, raw, problems)
    if guideline is None:
        return None
    files = {path.name: canonical_bytes(raw)}
    return GuidelineSet(
        id=guideline.id, title=guideline.title, combine="first-applicable",
        guidelines=(guideline,), otherwise={guideline.applies_to: _single_file_fallback(
            guideline.applies_to)},
        sha256=set_sha256(files), files=files,
    )


def _single_file_fallback(kind: str) -> Otherwise:
    """A lone file has no set.yaml to name its fallback; it was keyed to referrals only, so a
    lone victim guideline had none."""
    if SINGLE_FILE_FALLBACK.outcome in KINDS[kind].outcomes:
        return SINGLE_FILE_FALLBACK
    return OTHER_KIND_FALLBACK


def _load_directory(directory: Path, problems: Problems) -> GuidelineSet | None:
    set_path = directory / SET_FILE
    if not set_path.exists():
        problems.add(str(set_path), None, "missing: a guideline directory needs set.yaml "
                     "listing its guidelines in order (see docs/guidelines.md)")
        return None
    raw_set = _read(set_path, problems)
    parsed = None if raw_set is None else parse_yaml(set_path, raw_set, problems)
    if raw_set is None or parsed is None:
        return None
    spec: SetSpec | None = validate_spec(SetSpec, parsed[0], set_path, parsed[1], problems)
    if spec is None:
        return None
    files = {SET_FILE: canonical_bytes(raw_set)}
    listed = set(spec.guidelines)
    for stray in sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml")):
        if stray.name != SET_FILE and stray.name not in listed:
            problems.add(str(stray), None, f"not listed in {SET_FILE}: a guideline takes "
                         "effect only when listed")
    guidelines: list[Guideline] = []
    for index, name in enumerate(spec.guidelines):
        file = directory / name
        if "/" in name or "\\" in name or not file.is_file():
            problems.add(str(set_path), line_of(parsed[1], ("guidelines", index)),
                         f"guidelines[{index}]: '{name}' is not a file in {directory}")
            continue
        raw = _read(file, problems)
        guideline = None if raw is None else _load_guideline(file, raw, problems)
        if raw is not None and guideline is not None:
            files[name] = canonical_bytes(raw)
            guidelines.append(guideline)
    _check_across(guidelines, spec, set_path, parsed[1], problems)
    if problems.items:
        return None
    return GuidelineSet(
        id=spec.id, title=spec.title, combine=spec.combine, guidelines=tuple(guidelines),
        otherwise={kind: Otherwise(o.outcome, o.reason) for kind, o in spec.otherwise.items()},
        sha256=set_sha256(files), files=files,
    )


def overlap(a: Guideline, b: Guideline) -> bool:
    """Whether two date windows share a day (expires is exclusive; None is open-ended)."""
    return (a.expires is None or b.effective < a.expires) and \
        (b.expires is None or a.effective < b.expires)


def _check_across(guidelines: list[Guideline], spec: SetSpec, set_path: Path,
                  lines: dict[Any, int], problems: Problems) -> None:
    seen_guidelines: dict[str, Guideline] = {}
    seen_rules: dict[str, Guideline] = {}
    for guideline in guidelines:
        # Versions of one guideline may sit side by side, one in force on any day.
        earlier = seen_guidelines.get(guideline.id)
        if earlier is not None and overlap(earlier, guideline):
            problems.add(guideline.file, 1, f"guideline '{guideline.id}' ({guideline.window()})"
                         f" overlaps its version in {earlier.file} ({earlier.window()}): "
                         "one version of a guideline is in force on any day")
        seen_guidelines[guideline.id] = guideline
        for rule in guideline.rules:
            other = seen_rules.get(rule.id)
            if other is not None and other.id != guideline.id:
                problems.add(guideline.file, None, f"rule id '{rule.id}' is also used by "
                             f"{other.file}: rule ids are unique across a set")
            seen_rules[rule.id] = guideline
    for kind in sorted({g.applies_to for g in guidelines}):
        fallback = spec.otherwise.get(kind)
        if fallback is None:
            problems.add(str(set_path), line_of(lines, ("otherwise",)),
                         f"otherwise: no fallback outcome for '{kind}' records")
        elif kind in KINDS and fallback.outcome not in KINDS[kind].outcomes:
            problems.add(str(set_path), line_of(lines, ("otherwise", kind, "outcome")),
                         f"otherwise.{kind}.outcome: '{fallback.outcome}' is not an outcome of "
                         f"{kind} records ({', '.join(KINDS[kind].outcomes)})")


def _load_guideline(path: Path, raw: bytes, problems: Problems) -> Guideline | None:
    parsed = parse_yaml(path, raw, problems)
    if parsed is None:
        return None
    data, lines = parsed
    spec: GuidelineSpec | None = validate_spec(GuidelineSpec, data, path, lines, problems)
    if spec is None:
        return None
    source = str(path)
    kind = KINDS.get(spec.applies_to)
    if kind is None:
        problems.add(source, line_of(lines, ("applies_to",)), f"applies_to: unknown record "
                     f"kind '{spec.applies_to}' (known: {', '.join(KINDS)})")
        return None
    vocab = vocabulary(kind.model)
    before = len(problems.items)

    def report(at: NodePath, message: str) -> None:
        problems.add(source, line_of(lines, at), message)

    outcomes = tuple(spec.outcomes or kind.outcomes)
    for index, outcome in enumerate(outcomes):
        if outcome not in kind.outcomes:
            report(("outcomes", index), f"outcomes: '{outcome}' is not an outcome of "
                   f"{kind.name} records ({', '.join(kind.outcomes)})")
    scope = None if spec.scope is None else conditions.parse(spec.scope, vocab, ("scope",), report)
    if spec.expires is not None and spec.expires <= spec.effective:
        report(("expires",), f"expires {spec.expires.isoformat()} is not after effective "
               f"{spec.effective.isoformat()}")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, rule in enumerate(spec.rules):
        at = ("rules", index)
        if rule.id in seen:
            report((*at, "id"), f"duplicate rule id '{rule.id}'")
        seen.add(rule.id)
        if rule.outcome not in outcomes:
            report((*at, "outcome"), f"rule '{rule.id}': outcome '{rule.outcome}' is not one of "
                   f"this guideline's outcomes ({', '.join(outcomes)})")
        if (spec.hit_policy == "priority") != (rule.priority is not None):
            report(at, f"rule '{rule.id}': 'priority' is required with hit_policy: priority "
                   "and not allowed otherwise")
        if rule.when is None and (rule.overrides or not any(
                other.overrides == rule.id for other in spec.rules)):
            report(at, f"rule '{rule.id}': 'when' is required (only a rule that exceptions "
                   "override may leave it out: it then holds unless an exception does)")
            continue
        condition = None if rule.when is None else conditions.parse(
            rule.when, vocab, (*at, "when"), report)
        if condition is not None or rule.when is None:
            rules.append(Rule(rule.id, condition or _ALWAYS, rule.outcome, rule.reason,
                              rule.cite, rule.priority, rule.overrides))
    rules = _with_exceptions(rules, spec, lines, report)
    window = _window(spec, kind.as_of)
    if window is not None:
        scope = window if scope is None else conditions.All((window, scope))
    if len(problems.items) > before:
        return None
    return Guideline(
        id=spec.id, title=spec.title, version=spec.version, effective=spec.effective,
        expires=spec.expires, applies_to=kind.name, outcomes=outcomes,
        citation=spec.source.citation, source_text=spec.source.text, scope=scope,
        hit_policy=spec.hit_policy,
        rules=tuple(rules), file=source, sha256=file_sha256(raw),
        falls_through=spec.falls_through,
    )


# A rule without `when` holds unless one of its exceptions does: its condition is the
# exceptions' negation alone (an empty `all` is never parsed from a file).
_ALWAYS = conditions.All(())


def _with_exceptions(rules: list[Rule], spec: GuidelineSpec, lines: dict[Any, int],
                     report: Callable[[NodePath, str], None]) -> list[Rule]:
    """Each overridden rule's condition conjoined with 'no exception holds' (Catala-style
    defaults: the base rule applies unless an exception applies; an exception that is
    unknown leaves the base rule unknown, so the outcome needs information)."""
    by_id = {rule.id: rule for rule in rules}
    out: list[Rule] = []
    for index, rule in enumerate(rules):
        if rule.overrides is not None:
            target = by_id.get(rule.overrides)
            at = ("rules", index, "overrides")
            if target is None:
                report(at, f"rule '{rule.id}' overrides '{rule.overrides}', which is not a "
                       "rule of this guideline")
            elif target.overrides is not None:
                report(at, f"rule '{rule.id}' overrides '{target.id}', itself an exception: "
                       "one level of exceptions only")
        exceptions = [r for r in rules if r.overrides == rule.id]
        if not exceptions:
            out.append(rule)
            continue
        unless = exceptions[0].condition if len(exceptions) == 1 else conditions.AnyOf(
            tuple(e.condition for e in exceptions))
        negation = conditions.Not(unless, label="no exception applies ("
                                  + ", ".join(e.id for e in exceptions) + ")")
        condition: conditions.Condition = negation if rule.condition is _ALWAYS \
            else conditions.All((rule.condition, negation))
        out.append(dataclasses.replace(rule, condition=condition))
    return out


def _window(spec: GuidelineSpec, as_of: str | None) -> conditions.Condition | None:
    """The guideline's dates as a scope condition on the record's as-of date, so the engine
    (durable_rules) decides whether a version is in force like any other condition."""
    if as_of is None:
        return None
    start = conditions.Compare(as_of, "ge", spec.effective.isoformat(),
                               label=f"in force on the as-of date ({as_of}): from "
                                     f"{spec.effective.isoformat()}")
    if spec.expires is None:
        return start
    end = conditions.Compare(as_of, "lt", spec.expires.isoformat(),
                             label=f"in force on the as-of date ({as_of}): before "
                                   f"{spec.expires.isoformat()}")
    return conditions.All((start, end), label=f"in force on the as-of date ({as_of}): from "
                          f"{spec.effective.isoformat()} until {spec.expires.isoformat()} "
                          "(exclusive)")
