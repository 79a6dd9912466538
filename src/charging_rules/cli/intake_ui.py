"""The intake queue's terminal: what the prosecutor sees and how each question is asked.

Imported only when `intake` runs (rich and the library are not start-up costs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.prompt import Confirm, Prompt
from rich.table import Table
from rich.text import Text

from charging_rules.engine.views import recommendation_view, recorded_decision
from charging_rules.errors import InputError
from charging_rules.screening.intake import IntakeSummary
from charging_rules.screening.screener import Screened
from charging_rules.text import literal

ACTIONS = {"a": "accept", "o": "override", "s": "skip", "q": "quit"}


class TerminalUI:
    """The queue's questions, asked on the terminal; each answer is confirmed with Enter."""

    def __init__(self, console: Console):
        self.console = console

    def rejected(self, path: Path, error: InputError, moved_to: Path) -> None:
        self.console.print(Text.assemble(
            ("Rejected ", "bold red"), literal(f"{path.name}: {error}"),
            literal(f"\n  moved to {moved_to} (reason in .error.txt beside it)",
                    keep_newlines=True)))

    def already_decided(self, path: Path, decision: dict[str, Any], moved_to: Path) -> None:
        self.console.print(Text.assemble(
            ("Already decided ", "yellow"),
            literal(f"{path.name}: {decision['outcome']} by {decision['actor']} (decision "
                    f"{decision['decision_id']}); moved to {moved_to}")))

    def skipped(self, path: Path) -> None:
        self.console.print(Text.assemble(("Skipped ", "yellow"), literal(
            f"{path.name}: nothing recorded; it stays waiting in the folder")))

    def show(self, path: Path, referral: dict[str, Any], screened: Screened, position: int,
             total: int) -> None:
        self.console.rule(literal(f"{position}/{total}  {path.name}"))
        self.console.print(_referral_summary(referral))
        self.console.print(recommendation_view(screened.recommendation, screened.decision_id,
                                               show_trace=False))

    def ask_request(self, missing: list[str]) -> bool:
        return Confirm.ask(f"Write a request for the {len(missing)} missing fact(s)?",
                           console=self.console, default=True)

    def request_written(self, path: Path) -> None:
        self.console.print(literal(f"Request written: {path}"))

    def ask_action(self) -> str:
        menu = "  ".join(f"[bold]{key}[/] {name}" for key, name in ACTIONS.items())
        self.console.print(menu)
        return Prompt.ask("Action", choices=list(ACTIONS), console=self.console)

    def ask_override(self, outcomes: tuple[str, ...], recommended: str) -> tuple[str, str]:
        choices = [o for o in outcomes if o != recommended]
        outcome = Prompt.ask("Outcome", choices=choices, console=self.console)
        reason = ""
        while not reason.strip():
            reason = Prompt.ask("Reason (required)", console=self.console)
        return outcome, reason

    def decided(self, record: dict[str, Any], moved_to: Path) -> None:
        self.console.print(recorded_decision(record))
        self.console.print(literal(f"  moved to {moved_to}"))


def _facts(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [row for key, item in value.items() for row in _facts(f"{prefix}{key}.", item)]
    if isinstance(value, list):
        return [(f"{prefix.rstrip('.')}[{i}]", ", ".join(f"{k}: {v}" for k, v in item.items())
                 if isinstance(item, dict) else str(item)) for i, item in enumerate(value)]
    return [(prefix.rstrip("."), str(value).lower() if isinstance(value, bool) else str(value))]


def _referral_summary(referral: dict[str, Any]) -> Table:
    """Every fact the referral states (a fact it does not state is unknown, not false)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for name, value in _facts("", referral):
        table.add_row(literal(name), literal(value))
    return table


def report(console: Console, summary: IntakeSummary) -> None:
    ended = "Stopped" if summary.interrupted else "Done"
    console.print(literal(
        f"\n{ended}: {len(summary.decided)} decided, {len(summary.skipped)} skipped, "
        f"{len(summary.rejected)} rejected, {len(summary.already_decided)} already decided; "
        f"{summary.remaining} waiting.", keep_newlines=True))
