"""YAML with a line number for every node, and duplicate keys refused.

PyYAML silently keeps the last of two equal keys; in a policy file that would let a second
`outcome:` quietly win, so it is an error here. Aliases are expanded into plain data, so
they are counted: a few nested anchors can stand for billions of nodes (an "alias bomb"),
and an anchor that contains its own alias for an endless structure. Both are refused with
their line, as is nesting too deep to walk.
"""

from __future__ import annotations

from typing import Any

import yaml

from charging_rules.errors import InputError, clip

NodePath = tuple[str | int, ...]
# Nodes a file may expand to, aliases counted at every use: far above any real guideline,
# mapping or benchmark file, far below what would exhaust memory or time.
MAX_NODES = 100_000


class _Budget:
    """Nodes converted again through an alias so far, and the nodes being converted (an
    alias to one is a cycle). A file's own nodes are bounded by its size; only aliases can
    multiply them, so only their copies count."""

    def __init__(self, source: str):
        self.source = source
        self.copies = 0
        self.seen: set[int] = set()
        self.open: set[int] = set()

    def enter(self, node: yaml.Node) -> None:
        line = node.start_mark.line + 1
        if id(node) in self.open:
            raise InputError("an alias refers to the anchor that contains it (a cycle)",
                             source=self.source, line=line)
        if id(node) not in self.seen:
            self.seen.add(id(node))
            return
        self.copies += 1
        if self.copies > MAX_NODES:
            raise InputError(f"aliases expand to more than {MAX_NODES} values (an alias "
                             "bomb?); write the values out or use fewer aliases",
                             source=self.source, line=line)


def load_yaml(text: str, source: str) -> tuple[Any, dict[NodePath, int]]:
    """Parse YAML; return the data and the 1-based line of every node by its path."""
    try:
        # libyaml's composer when built in: 20x faster, and every guideline is parsed at start.
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except RecursionError:
        raise InputError("invalid YAML: nested too deeply", source=source) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise InputError(f"invalid YAML: {problem}", source=source, line=line) from None
    lines: dict[NodePath, int] = {}
    if node is None:
        return None, lines
    scalars = yaml.constructor.SafeConstructor()
    try:
        return _convert(node, (), lines, _Budget(source), scalars), lines
    except RecursionError:
        raise InputError("invalid YAML: nested too deeply", source=source) from None


def _convert(node: yaml.Node, path: NodePath, lines: dict[NodePath, int], budget: _Budget,
             scalars: yaml.constructor.SafeConstructor) -> Any:
    budget.enter(node)
    lines[path] = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        return _construct(node, budget.source, scalars)
    budget.open.add(id(node))
    try:
        return _collection(node, path, lines, budget, scalars)
    finally:
        budget.open.discard(id(node))


def _collection(node: yaml.Node, path: NodePath, lines: dict[NodePath, int], budget: _Budget,
                scalars: yaml.constructor.SafeConstructor) -> Any:
    source = budget.source
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):  # `? [a, b]`: a list as a key
                raise InputError("a key must be a plain value, not a list or mapping",
                                 source=source, line=key_node.start_mark.line + 1)
            key = _construct(key_node, source, scalars)
            if isinstance(key, bool):  # YAML 1.1 reads on/off/yes/no as true/false
                raise InputError(f"the key {clip(key_node.value)!r} reads as {str(key).lower()} "
                                 "in YAML: quote it", source=source,
                                 line=key_node.start_mark.line + 1)
            if key in out:
                raise InputError(f"duplicate key '{key}'", source=source,
                                 line=key_node.start_mark.line + 1)
            out[key] = _convert(value_node, (*path, str(key)), lines, budget, scalars)
            lines[(*path, str(key))] = key_node.start_mark.line + 1  # the key's line reads best
        return out
    return [_convert(n, (*path, i), lines, budget, scalars) for i, n in enumerate(node.value)]


def _construct(node: yaml.Node, source: str, scalars: yaml.constructor.SafeConstructor) -> Any:
    """A scalar's value; an impossible one (2023-02-30, `!!int abc`, an unknown tag) is an
    input error on its line, not a traceback."""
    try:
        return scalars.construct_object(node)
    except (ValueError, yaml.YAMLError) as error:
        # Python's own words for a 5,000-digit number advise a setting of the interpreter
        problem = getattr(error, "problem", None) or str(error).split(": value has")[0]
        raise InputError(f"invalid value {str(node.value)[:40]!r}: {problem}", source=source,
                         line=node.start_mark.line + 1) from None


def line_of(lines: dict[NodePath, int], path: NodePath) -> int | None:
    """The line of the deepest node on `path` that exists (errors may name absent keys)."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None
