"""Where things are found and the defaults every command shares (light enough for the CLI to
import at start)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

AUDIT_DIR_ENV = "CHARGING_RULES_AUDIT_DIR"
AUDIT_KEY_ENV = "CHARGING_RULES_AUDIT_KEY"
# Formats `audit export` writes.
ExportFormat = Literal["csv", "jsonl"]
# Counts below this are not compared and not published (a common public-reporting threshold).
SMALL_CELL = 11
GUIDELINES = Path("rules")


def audit_dir() -> Path:
    return Path(os.environ.get(AUDIT_DIR_ENV) or "audit_logs")


def actor() -> str:
    """The login name, which is who is deciding unless they say otherwise (--user)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
