"""Options shared by every command (DESIGN.md contracts)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from charging_rules.defaults import AUDIT_DIR_ENV, GUIDELINES

GuidelinesOpt = Annotated[
    Path, typer.Option("--guidelines", help="Guideline set: a directory with set.yaml, or a file.")
]
AuditDirOpt = Annotated[
    Path | None,
    typer.Option("--audit-dir", envvar=AUDIT_DIR_ENV, show_envvar=True,
                 help="Audit log directory [default: ./audit_logs]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
UserOpt = Annotated[
    str | None, typer.Option("--user", help="Who is deciding [default: your login name].")
]
DEFAULT_GUIDELINES = GUIDELINES
