"""Where a command may write: never over what it reads, never over the audit log's files.

`batch --out in.jsonl` would truncate its own input before reading it; `--out` naming a
segment of the audit log would replace hash-chained records, and a file named like the next
segment would be read as part of the chain. Such a path is bad input, refused before
anything is opened. Other files beside the log (a report, the hub's lists) are not read by
it, so they may go there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from charging_rules.audit.log import owns
from charging_rules.errors import InputError


def check_output(out: Path, option: str, *, reads: Iterable[Path] = (),
                 audit_dir: Path | None = None) -> None:
    """Refuse `out` (given as `option`) when it is one of the files `reads` names, by any
    path (a link, `./`, another spelling), or one of the files of the log in `audit_dir`."""
    target = out.resolve()
    for path in reads:
        if target == path.resolve() or (out.exists() and path.exists()
                                        and os.path.samefile(out, path)):
            raise InputError(f"{option} is the input {path}: it would be overwritten "
                             "before it is read; write to another file", source=str(out))
    if audit_dir is not None and owns(audit_dir, out):
        raise InputError(f"{option} is a file of the audit log in {audit_dir}: write it "
                         "elsewhere", source=str(out))
