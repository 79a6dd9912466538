"""The one way a command prints its result: the JSON object with `--json`, else its views.

A str view is shown literally (text.literal): a message carrying a path or a name typed by
someone cannot be read as rich markup. Views that style themselves are rich renderables.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


def console(stderr: bool = False) -> Console:
    """A console for this output, made when it is drawn: it reads the terminal's width
    then (a kept one would keep the first caller's width in a long-lived process)."""
    from rich.console import Console  # rich loads when something is drawn

    return Console(stderr=stderr, highlight=False)


def emit_json(data: Any, *, indent: int | None = None) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=indent))


def show(views: Iterable[RenderableType | str], *, stderr: bool = False,
         soft_wrap: bool = False) -> None:
    from charging_rules.text import literal

    out = console(stderr)
    for view in views:
        out.print(literal(view, keep_newlines=True) if isinstance(view, str) else view,
                  soft_wrap=soft_wrap)


def emit(as_json: bool, data: Any, *views: RenderableType | str, indent: int | None = None,
         soft_wrap: bool = False) -> None:
    """`data` as one JSON document on stdout with --json; otherwise each view in turn."""
    if as_json:
        emit_json(data, indent=indent)
    else:
        show(views, soft_wrap=soft_wrap)
