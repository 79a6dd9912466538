"""Options shared by every command (docs/referral-contract.md and each command's docs)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from charging_rules import config

if TYPE_CHECKING:
    from charging_rules.audit.store import AuditStore

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
AuditDbOpt = Annotated[
    str | None,
    typer.Option("--audit-db", metavar="URL", help="PostgreSQL audit store, a libpq URL "
                 "(the office's shared log; the actor is the database login) "
                 f"[default: ${config.AUDIT_DB_ENV}, else the config file's `audit_db`; an "
                 "explicit --audit-dir overrides both; none: the file log]."),
]


def audit_store(audit_dir: Path | None, audit_db: str | None, *,
                existing: bool = False) -> AuditStore:
    """The store the options name: --audit-db, else --audit-dir, else the configured
    database, else the configured (or default) folder. `existing`: a reading command, for
    which a log that is not there is exit 2."""
    from charging_rules.audit.store import open_store
    from charging_rules.errors import InputError

    if audit_dir is not None and audit_db:
        raise InputError("give --audit-dir or --audit-db, not both")
    store = open_store(config.audit_dir(audit_dir),
                       None if audit_dir is not None else config.audit_db(audit_db))
    if existing:
        store.require()
    return store


def check_writes(out: Path | None, option: str, audit_dir: Path | None,
                 reads: Iterable[Path | None] = ()) -> None:
    """Refuse an output that is one of the command's input files or one of the audit log's
    own files (`audit.outputs.check_output`)."""
    from charging_rules.audit.outputs import check_output

    if out is not None:
        check_output(out, option, audit_dir=config.audit_dir(audit_dir),
                     reads=[path for path in reads if path is not None and path.is_file()])


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
