"""One rule for showing text that came from a person, a file or the audit log: literally.

On a terminal that means two things. Rich reads `[...]` in a str as markup, so a reason
"[/x] petition" crashed `audit show` and a user "[bold]eve" was listed as "eve": outside text
goes to rich as a `Text`, never as a str. And a terminal obeys control characters, so an
agency name holding an OSC sequence retitled the window: control and format characters (C0,
DEL, C1, bidirectional overrides, line separators) are shown as visible escapes (`\\x1b`).
In a spreadsheet, a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is run
as a formula: such cells are quoted with `'`. In Markdown (`rules explain`), `**`, `[x](url)`,
`<img>` or a leading `#` would be read as markup: they are backslash-escaped. In HTML (the
public report) text is escaped with `html.escape`, its control characters first.

This module sits below every other: `errors` uses it to keep each message on one line.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

# Control (Cc: C0, DEL, C1), format (Cf: bidi overrides and isolates, zero-width joiners,
# the BOM), line and paragraph separators, and lone surrogates.
_HIDDEN = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs"))
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def printable(value: object, *, keep_newlines: bool = False) -> str:
    """`value` as text with every control or format character escaped visibly; a newline is
    kept only when asked (a multi-line panel), so a one-line field stays one line."""
    text = str(value)
    if text.isprintable():  # the common case, at C speed
        return text
    return "".join(
        char if (char == "\n" and keep_newlines) or char == " "
        or unicodedata.category(char) not in _HIDDEN else _escape(char)
        for char in text)


def literal(value: object, style: str = "", *, keep_newlines: bool = False) -> Text:
    """`value` for rich, shown as it is: no markup read, control characters escaped."""
    from rich.text import Text  # rich loads only when something is drawn

    return Text(printable(value, keep_newlines=keep_newlines), style=style)


def html_text(value: object) -> str:
    """`value` for an HTML page or an SVG: control characters escaped visibly, then `<`, `&`
    and quotes escaped as HTML entities."""
    return html.escape(printable(value))


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: control characters escaped visibly (a
    terminal running `cat` on the export obeys them), and a str that would start a formula
    gets a leading `'`; numbers and empty cells pass unchanged."""
    if not isinstance(value, str):
        return value
    text = printable(value)
    return "'" + text if text.startswith(FORMULA_START) else text


# Characters that open Markdown markup anywhere in a line (CommonMark lets a backslash
# escape any ASCII punctuation), and what opens it only at a line's start.
_MARKDOWN = re.compile(r"[\\`*\[\]<>#|~!&]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_LINE_START = re.compile(r"^(\s*)(?:([-+=])|(\d+)([.)])(?=\s|$))")


def markdown_text(value: object) -> str:
    """`value` as one line of Markdown read literally: control characters escaped visibly
    (a newline included, so a label cannot start a heading), markup characters escaped
    with a backslash (an underscore only outside a word: `firearm_recovered` stays)."""
    text = _MARKDOWN.sub(lambda m: "\\" + m.group(0), printable(value))
    return _LINE_START.sub(lambda m: m.group(1) + (
        "\\" + m.group(2) if m.group(2) else m.group(3) + "\\" + m.group(4)), text)
