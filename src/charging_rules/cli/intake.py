"""`charging-rules intake DIR`: work through the referral files waiting in a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from charging_rules import config
from charging_rules.cli.options import AuditDbOpt, AuditDirOpt, GuidelinesOpt, UserOpt, audit_store


def intake(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Folder of referral files.")],
    guidelines: GuidelinesOpt = None,
    audit_dir: AuditDirOpt = None,
    audit_db: AuditDbOpt = None,
    user: UserOpt = None,
) -> None:
    """Screen the referrals waiting in DIR one at a time: accept, override, skip or quit.

    Example: charging-rules intake inbox/ --user jdoe
    """
    # The library is imported here, not at the top: start-up time is part of the job.
    from rich.console import Console

    from charging_rules.cli.intake_ui import TerminalUI, report
    from charging_rules.screening.intake import IntakeQueue
    from charging_rules.screening.screener import Screener

    store = audit_store(audit_dir, audit_db)
    screener = Screener.open(config.guidelines(guidelines), store)
    queue = IntakeQueue(directory, screener, store.actor(user))
    console = Console(highlight=False)
    report(console, queue.run(TerminalUI(console)))


def register(app: typer.Typer) -> None:
    app.command()(intake)
