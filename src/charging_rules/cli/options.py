"""Options shared by every command (DESIGN.md contracts)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from charging_rules.config import AUDIT_DIR_ENV, GUIDELINES

GuidelinesOpt = Annotated[
    Path, typer.Option("--guidelines", help="Guideline set: a directory with set.yaml, or a file.")
]
AuditDirOpt = Annotated[
    Path | None,
    typer.Option("--audit-dir", envvar=AUDIT_DIR_ENV, show_envvar=True,
                 help="Audit log directory [default: ./audit_logs]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def loggable_text(value: str | None) -> str | None:
    """Text bound for the audit log must be valid UTF-8: bytes that are not (a mis-set
    locale) reach Python as lone surrogates, which the log cannot store."""
    if value is not None:
        try:
            value.encode()
        except UnicodeEncodeError:
            raise typer.BadParameter("not valid UTF-8 text") from None
    return value


UserOpt = Annotated[
    str | None, typer.Option("--user", help="Who is deciding [default: your login name].",
                             callback=loggable_text)
]
DEFAULT_GUIDELINES = GUIDELINES
