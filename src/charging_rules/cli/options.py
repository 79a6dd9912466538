"""Options shared by every command (DESIGN.md contracts)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from charging_rules import config

GuidelinesOpt = Annotated[
    Path | None,
    typer.Option("--guidelines", help="Guideline set: a directory with set.yaml, or a file "
                 f"[default: ${config.GUIDELINES_ENV}, else the config file's `guidelines`, "
                 "else ./rules when it exists, else the set shipped with the tool]."),
]
AuditDirOpt = Annotated[
    Path | None,
    typer.Option("--audit-dir", help="Audit log directory "
                 f"[default: ${config.AUDIT_DIR_ENV}, else the config file's `audit_dir`, "
                 "else ./audit_logs]."),
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
