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
        where = clip_path(self.source) if self.source else ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        return _one_line(f"{where}: {clip(self.message, MAX_MESSAGE)}" if where
                         else clip(self.message, MAX_MESSAGE))


CLIP = 80
MAX_MESSAGE = 1000


def clip(text: object, limit: int = CLIP) -> str:
    """An input fragment (key, value, file name) short enough to echo: a million-character
    key must not make a megabyte error line."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def clip_path(path: object, limit: int = 2 * CLIP) -> str:
    """A path keeps its end (the file name), which says most."""
    text = str(path)
    return text if len(text) <= limit else f"…{text[-limit:]}"


def _one_line(text: str) -> str:
    """Escape line breaks and other control characters: a key or file name from the input
    may hold them, and the error must stay one line on stderr."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class EngineError(ChargingRulesError):
    """durable_rules misbehaved; never the user's fault, so it is not an exit-2 error."""

    exit_code = 3
