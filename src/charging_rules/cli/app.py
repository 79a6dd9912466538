"""The `charging-rules` command: one Typer app, a module per command group.

Errors the user can cause become one line on stderr and exit status 2; nothing here prints
a traceback for them.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from charging_rules.cli import rules, screen
from charging_rules.errors import ChargingRulesError

app = typer.Typer(
    name="charging-rules",
    help="Charging-guideline decision support: screen referrals against YAML guidelines "
    "evaluated by durable_rules, with a tamper-evident audit log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Charging-guideline decision support (see docs/ and README.md)."""


screen.register(app)
rules.register(app)

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point; click reports usage errors itself (exit 2), we report ours the same way."""
    try:
        app()
    except ChargingRulesError as error:
        stderr.print(f"[bold red]error:[/] {escape(str(error))}")
        sys.exit(error.exit_code)
