"""The `charging-rules` command: one Typer app, a module per command group.

Errors the user can cause become one line on stderr and their exit status (2 for bad input);
no traceback. The handling sits in the root group, so every subcommand and sub-app gets it
and tests driving `app` with CliRunner see exactly what a user sees.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from charging_rules.cli import analysis, screen
from charging_rules.errors import ChargingRulesError


class _Root(TyperGroup):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ChargingRulesError as error:
            Console(stderr=True, highlight=False, soft_wrap=True).print(
                f"[bold red]error:[/] {escape(str(error))}")
            raise typer.Exit(error.exit_code) from None


app = typer.Typer(
    name="charging-rules",
    cls=_Root,
    help="Charging-guideline decision support: screen referrals against YAML guidelines "
    "evaluated by durable_rules, with a tamper-evident audit log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Charging-guideline decision support (see README.md and docs/)."""


screen.register(app)
analysis.register(app)


def main() -> None:
    app()
