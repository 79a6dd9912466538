"""Error types the CLI maps to exit statuses.

Every error the user can cause is an `InputError` (exit 2) carrying where it happened, so
the message is one line naming the file, line or field, and nothing reaches the audit log.
"""

from __future__ import annotations

from charging_rules.text import printable

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


class ChargingRulesError(Exception):
    """Base of every error this tool raises on purpose."""

    exit_code = 2

    def lines(self) -> list[str]:
        """Every problem, one line each (`rules validate` and a rejected file's .error.txt
        list them all)."""
        return [printable(self)]

    def one_line(self) -> str:
        """What the CLI's error boundary prints: one line, however many problems."""
        return printable(self)


class InputError(ChargingRulesError):
    """Bad input or usage: a referral, guideline, mapping or option the user supplied."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 details: tuple[str, ...] = (), concept: str | None = None):
        """`details`: every problem when there are several (`message` sums them up).
        `concept`: the setting at fault ("reference", "goal") when it is no file; the library
        names the concept, and the CLI says which option gives it."""
        self.message = message
        self.source = source
        self.line = line
        self.details = details
        self.concept = concept
        super().__init__(str(self))

    def _located(self, message: str) -> str:
        where = clip_path(self.source) if self.source else self.concept or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        # A key or file name from the input may hold line breaks or control characters:
        # escaped, so the message stays one line on stderr and cannot drive the terminal.
        # A million-character key or value must not make a megabyte "line" either.
        message = clip(message, MAX_MESSAGE)
        return printable(f"{where}: {message}" if where else message)

    def __str__(self) -> str:
        return self._located(self.message)

    def lines(self) -> list[str]:
        return [self._located(detail) for detail in self.details] or [str(self)]

    def one_line(self) -> str:
        """Every problem of one record, on one line (`; ` between them)."""
        return self._located("; ".join(self.details)) if self.details else str(self)


class EngineError(ChargingRulesError):
    """durable_rules misbehaved; never the user's fault, so it is not an exit-2 error."""

    exit_code = 3
