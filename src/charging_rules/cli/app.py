"""The `charging-rules` command: one Typer app, a module per command group.

Errors the user can cause become one line on stderr (every problem of a record on it; one
line per problem from the `rules` commands, which check guidelines as a linter does) and
their exit status (2 for bad input); no traceback. The handling sits in the root group, so
every subcommand and sub-app gets it and tests driving `app` with CliRunner see exactly what
a user sees.

Typer turns every registered command into a click command before parsing anything, which
costs start-up time per command; `main` therefore builds an app holding only the command
group that was asked for (the full app answers `--help` and unknown commands).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from charging_rules.cli import analysis, audit, batch, intake, outreach, rules, screen
from charging_rules.errors import ChargingRulesError, InputError
from charging_rules.text import printable

Register = Callable[[typer.Typer], None]

# Command (or command group) name -> the module function that registers it.
COMMANDS: dict[str, Register] = {
    "screen": screen.register,
    "audit": audit.register,
    "rules": rules.register,
    "outreach": outreach.register,
    "batch": batch.register,
    "intake": intake.register,
    **dict.fromkeys(("disparity", "impact", "report", "demo"), analysis.register),
}


class _Root(TyperGroup):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ChargingRulesError as error:
            if isinstance(error, InputError) and error.concept:  # the option that sets it
                error.concept = f"--{error.concept}"
            # One line, already escaped (no control codes). The `rules` commands check
            # guidelines as a linter does: one line per problem, each naming its file:line.
            lines = error.lines() if ctx.invoked_subcommand == "rules" else [error.one_line()]
            for line in lines:
                typer.echo(f"error: {line}", err=True)
            raise typer.Exit(error.exit_code) from None
        except OSError as error:  # disk full, a size limit, a vanished volume: not a traceback
            where = f"{error.filename}: " if error.filename else ""
            typer.echo(printable(f"error: {where}{error.strerror or error}"), err=True)
            raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        from charging_rules import __version__

        typer.echo(f"charging-rules {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """Charging-guideline decision support (see README.md and docs/)."""


def build(registrars: list[Register]) -> typer.Typer:
    built = typer.Typer(
        name="charging-rules",
        cls=_Root,
        help="Charging-guideline decision support: screen referrals against YAML guidelines "
        "evaluated by durable_rules, with a tamper-evident audit log and disparity analysis.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        # Help shows option text literally: "[default: ./audit_logs]" is not rich markup.
        rich_markup_mode=None,
    )
    built.callback()(_root)
    for register in dict.fromkeys(registrars):  # a module registering several commands: once
        register(built)
    return built


app = build(list(COMMANDS.values()))


def main() -> None:
    # pydantic scans every installed package's entry points for plugins when it builds its
    # first model: start-up time on every command. Set the variable (even empty) to scan.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    requested = COMMANDS.get(sys.argv[1]) if len(sys.argv) > 1 else None
    (build([requested]) if requested else app)()
