"""Static analysis of a guideline set (`rules lint`).

Four checks, each exhaustive over the finite fact space of the guideline (factspace.py),
using the reference Kleene evaluator and the engine's own hit-policy choice:
- protected attributes (error) and known proxies (warning), from the raw YAML;
- overlapping rules with different outcomes that the hit policy does not resolve (error);
- rules that can never decide: contradictory, outside the scope, or shadowed (error);
- gaps: in-scope records that no rule decides, so the set's fallback does (warning).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charging_rules.engine.evaluate import choose
from charging_rules.errors import InputError
from charging_rules.files import read_text
from charging_rules.guidelines.conditions import Condition, Truth
from charging_rules.guidelines.loader import SET_FILE, check_guidelines, load_guidelines
from charging_rules.guidelines.schema import Guideline, Rule
from charging_rules.guidelines.yamlsource import line_of, load_yaml
from charging_rules.rulecheck import proxies
from charging_rules.rulecheck.factspace import Assignment, FactSpace, build

# Beyond this many combinations a check is not run (and says so) rather than stall CI.
MAX_COMBINATIONS = 1_000_000  # ~10 s per full pass (benchmarks/lint_space.py)


@dataclass(frozen=True)
class Finding:
    check: str  # protected-attribute, proxy, invalid, overlap, never-fires, gap, too-large
    severity: str  # error or warning
    message: str
    file: str
    line: int | None = None
    guideline: str | None = None
    rules: tuple[str, ...] = ()
    example: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "severity": self.severity, "message": self.message,
                "file": self.file, "line": self.line, "guideline": self.guideline,
                "rules": list(self.rules), "example": self.example}


@dataclass
class LintReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


def lint(path: Path) -> LintReport:
    """Lint the set at `path`; findings are sorted by file and line."""
    if not path.exists():
        raise InputError("no such guideline file or directory", source=str(path))
    report = LintReport(_scan_files(path))
    flagged = {(f.file, f.line) for f in report.findings if f.check == "protected-attribute"}
    problems = check_guidelines(path)
    report.findings += [Finding("invalid", "error", p.message, p.source or str(path), p.line)
                        for p in problems if (p.source, p.line) not in flagged]
    if not problems:
        loaded = load_guidelines(path)
        report.findings += _version_gaps(loaded.guidelines)
        for guideline in loaded.guidelines:
            report.findings += _analyse(guideline)
    report.findings.sort(key=lambda f: (f.file, f.line or 0, f.check))
    return report


def _version_gaps(guidelines: tuple[Guideline, ...]) -> Iterator[Finding]:
    """Days between two versions of one guideline on which neither is in force."""
    for gid in dict.fromkeys(g.id for g in guidelines):
        versions = sorted((g for g in guidelines if g.id == gid), key=lambda g: g.effective)
        for earlier, later in itertools.pairwise(versions):
            if earlier.expires is not None and earlier.expires < later.effective:
                yield Finding("version-gap", "warning", f"guideline {gid}: no version is in "
                              f"force from {earlier.expires.isoformat()} until "
                              f"{later.effective.isoformat()} (version {earlier.version} "
                              f"{earlier.window()}, version {later.version} {later.window()})",
                              later.file, 1)


def _guideline_files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.iterdir()
                  if p.suffix in (".yaml", ".yml") and p.name != SET_FILE)


def _scan_files(path: Path) -> list[Finding]:
    out: list[Finding] = []
    for file in _guideline_files(path):
        try:
            data, lines = load_yaml(read_text(file), str(file))
        except (InputError, OSError, UnicodeDecodeError):
            continue  # the loader reports it
        for severity, message, at in proxies.scan(data):
            check = "protected-attribute" if severity == "error" else "proxy"
            out.append(Finding(check, severity, message, str(file), line_of(lines, at)))
    return out


# --- reasoning over one guideline --------------------------------------------------------


class _Guideline:
    """One guideline with its fact space and the source lines of its rules."""

    def __init__(self, guideline: Guideline):
        self.g = guideline
        self.conds: list[Condition] = [r.condition for r in guideline.rules]
        if guideline.scope is not None:
            self.conds.append(guideline.scope)
        self.space: FactSpace = build(guideline.applies_to, self.conds)
        _, self.lines = load_yaml(read_text(guideline.file), guideline.file)

    def scope(self, at: Assignment) -> Truth:
        scope = self.g.scope
        return Truth.TRUE if scope is None else self.space.truth(scope, at)

    def holding(self, at: Assignment) -> list[Rule]:
        return [r for r in self.g.rules if self.space.truth(r.condition, at) is Truth.TRUE]

    def search(self, conds: Sequence[Condition], test: Callable[[Assignment], bool]
               ) -> Iterator[Assignment]:
        axes = self.space.axes_of([*conds, *([self.g.scope] if self.g.scope else [])])
        return (at for at in self.space.assignments(axes) if test(at))

    def finding(self, check: str, severity: str, message: str, rules: Sequence[Rule],
                at: Assignment | None = None) -> Finding:
        index = self.g.rules.index(rules[0]) if rules else None
        node = ("rules", index) if index is not None else \
            ("scope",) if self.g.scope is not None else ("rules",)
        line = line_of(self.lines, node)
        return Finding(check, severity, message, self.g.file, line, self.g.id,
                       tuple(r.id for r in rules),
                       None if at is None else self.space.example(at))


def _analyse(guideline: Guideline) -> list[Finding]:
    ctx = _Guideline(guideline)
    size = ctx.space.size(tuple(range(len(ctx.space.axes))))
    if size > MAX_COMBINATIONS:
        return [ctx.finding("too-large", "warning", f"guideline {guideline.id}: {size} fact "
                            f"combinations (over {MAX_COMBINATIONS}); overlap, never-fires and "
                            "gap checks were not run", [])]
    return [*_never_fires(ctx), *_overlaps(ctx), *_gaps(ctx)]


def _never_fires(ctx: _Guideline) -> Iterator[Finding]:
    rules = ctx.g.rules
    all_conds = [r.condition for r in rules]
    for rule in rules:
        if not any(ctx.space.truth(rule.condition, at) is Truth.TRUE
                   for at in ctx.space.assignments(ctx.space.axes_of([rule.condition]))):
            yield ctx.finding("never-fires", "error", f"rule {rule.id} can never fire: its "
                              "conditions contradict each other (no possible record meets "
                              "them)", [rule])
            continue

        def holds(at: Assignment, rule: Rule = rule) -> bool:
            return ctx.scope(at) is not Truth.FALSE and \
                ctx.space.truth(rule.condition, at) is Truth.TRUE

        if next(ctx.search([rule.condition], holds), None) is None:
            yield ctx.finding("never-fires", "error", f"rule {rule.id} can never fire: it "
                              f"holds only for records outside the scope of {ctx.g.id}", [rule])
            continue
        shadows: dict[str, Rule] = {}
        fires = False
        for at in ctx.search(all_conds, holds):
            chosen = choose(ctx.g, ctx.holding(at))
            if rule in chosen:
                fires = True
                break
            shadows.update((r.id, r) for r in chosen)
        if not fires:
            by = ", ".join(shadows)
            how = "an earlier rule" if ctx.g.hit_policy == "first" else \
                "a rule of higher priority (or of equal priority listed earlier)"
            yield ctx.finding("never-fires", "error", f"rule {rule.id} can never fire: whenever "
                              f"it holds, {how} decides first ({by})", [rule, *shadows.values()])


def _overlaps(ctx: _Guideline) -> Iterator[Finding]:
    policy = ctx.g.hit_policy
    if policy == "first":
        return  # the first matching rule decides: overlaps are resolved by order
    for one, two in itertools.combinations(ctx.g.rules, 2):
        if one.outcome == two.outcome or (policy == "priority" and one.priority != two.priority):
            continue

        def clash(at: Assignment, one: Rule = one, two: Rule = two) -> bool:
            if ctx.scope(at) is Truth.FALSE:
                return False
            holding = ctx.holding(at)
            if one not in holding or two not in holding:
                return False
            return policy == "unique" or max(r.priority or 0 for r in holding) == one.priority

        conds = [one.condition, two.condition] if policy == "unique" else \
            [r.condition for r in ctx.g.rules]
        example = next(ctx.search(conds, clash), None)
        if example is not None:
            how = "hit policy unique allows one" if policy == "unique" else \
                f"both have priority {one.priority} and nothing ranks above them"
            yield ctx.finding("overlap", "error", f"rules {one.id} ({one.outcome}) and "
                              f"{two.id} ({two.outcome}) both hold for some records: {how}, "
                              "so the outcome is not decided by the guideline", [one, two],
                              example)


def _gaps(ctx: _Guideline) -> Iterator[Finding]:
    if ctx.g.falls_through:
        return

    def undecided(at: Assignment) -> bool:
        return ctx.scope(at) is Truth.TRUE and all(
            ctx.space.truth(r.condition, at) is Truth.FALSE for r in ctx.g.rules)

    example = next(ctx.search([r.condition for r in ctx.g.rules], undecided), None)
    if example is not None:
        yield ctx.finding("gap", "warning", f"guideline {ctx.g.id}: some records in its scope "
                          "meet no rule (every rule is definitely false), so they fall through "
                          "to the next guideline or the set's fallback; for example:", [], example)
