"""Error types the CLI maps to exit statuses.

Every error the user can cause is an `InputError` (exit 2) carrying where it happened, so
the message is one line naming the file, line or field, and nothing reaches the audit log.
"""

from __future__ import annotations


class ChargingRulesError(Exception):
    """Base of every error this tool raises on purpose."""

    exit_code = 2


class InputError(ChargingRulesError):
    """Bad input or usage: a referral, guideline, mapping or option the user supplied."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        self.message = message
        self.source = source
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        return _one_line(f"{where}: {self.message}" if where else self.message)


def _one_line(text: str) -> str:
    """Escape line breaks and other control characters: a key or file name from the input
    may hold them, and the error must stay one line on stderr."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class EngineError(ChargingRulesError):
    """durable_rules misbehaved; never the user's fault, so it is not an exit-2 error."""

    exit_code = 3
