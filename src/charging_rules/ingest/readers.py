"""Streaming readers for batch input: .jsonl, .json (an array) and .csv.

Each yields `(line, value)`: the 1-based line where the row starts (a spreadsheet's row
number for CSV, the header being line 1) and the parsed value, or `Unreadable` when the row
itself cannot be parsed. Nothing reads the whole file: memory stays flat on any input size.
A problem with the file as a whole (missing, wrong suffix, not an array) is an `InputError`
raised before the first row, so nothing has been screened or logged when it is reported.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from charging_rules.errors import InputError
from charging_rules.files import BAD_BYTES, DuplicateKey, has_bad_bytes, no_duplicates, open_text
from charging_rules.files import loads as strict_loads

_CHUNK = 1 << 16
_SPACE = re.compile(r"[ \t\r\n]*").match


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A row that could not be parsed at all (bad JSON syntax, bad CSV quoting)."""

    reason: str


@dataclass(frozen=True, slots=True)
class JsonLine:
    """A .jsonl row not yet parsed (`RowSource(lazy=True)`): `json_value` parses it where
    it is screened, in a worker process for a parallel batch."""

    text: str


Row = tuple[int, Any]
TOO_DEEP = "invalid JSON: nested too deeply"
FORMATS = (".jsonl", ".json", ".csv")


class RowSource:
    """An open input file: its rows, and how far into the file reading has got (progress)."""

    def __init__(self, path: Path, lazy: bool = False):
        """`lazy`: .jsonl rows come as `JsonLine`, for the caller to parse."""
        self.path = path
        self._lazy = lazy
        self.format = path.suffix.lower()
        if self.format not in FORMATS:
            raise InputError(f"unsupported input format '{path.suffix}' (use "
                             f"{', '.join(FORMATS)})", source=str(path))
        # utf-8-sig: spreadsheet exports often start with a byte-order mark. A byte that is
        # not UTF-8 costs its own row only (has_bad_bytes), like any other unreadable row.
        self._file: IO[str] = open_text(path)
        self.size = os.fstat(self._file.fileno()).st_size
        self.header: list[str] | None = None
        self._rows = self._open_rows()

    def _open_rows(self) -> Iterator[Row]:
        try:
            if self.format == ".jsonl":
                return _jsonl_rows(self._file, self._lazy)
            if self.format == ".json":
                return _json_array_rows(self._file, str(self.path))
            reader = csv.reader(self._file, strict=True)
            self.header = next(reader, None)
            if self.header and has_bad_bytes("".join(self.header)):
                raise InputError(BAD_BYTES, source=str(self.path), line=1)
            if not self.header:
                raise InputError("empty CSV file: the first line must name the columns",
                                 source=str(self.path), line=1)
            twice = sorted({c for c in self.header if self.header.count(c) > 1})
            if twice:  # a row would keep only the last cell of each: which one was meant?
                raise InputError(f"column(s) named twice: {', '.join(twice)}",
                                 source=str(self.path), line=1)
            return _csv_rows(reader, self.header)
        except csv.Error as error:
            raise InputError(f"bad CSV header: {error}", source=str(self.path), line=1) from None

    def position(self) -> int:
        """Bytes of the file read so far (read-ahead included): good enough for a progress bar."""
        return os.lseek(self._file.fileno(), 0, os.SEEK_CUR)

    def __iter__(self) -> Iterator[Row]:
        return self._rows

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RowSource:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _jsonl_rows(lines: IO[str], lazy: bool) -> Iterator[Row]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        yield number, JsonLine(line) if lazy else json_value(line)


def json_value(text: str) -> Any:
    """One JSONL line's value, or why it is unreadable."""
    if has_bad_bytes(text):
        return Unreadable(BAD_BYTES)
    try:
        return strict_loads(text)
    except json.JSONDecodeError as error:
        return Unreadable(f"invalid JSON: {error.msg} (column {error.colno})")
    except DuplicateKey as error:
        return Unreadable(f"invalid JSON: {error}")
    except RecursionError:
        return Unreadable(TOO_DEEP)
    except ValueError as error:  # a number with more digits than Python converts
        return Unreadable(f"invalid JSON: {str(error).split(':')[0]}")


def _csv_rows(reader: Any, header: list[str]) -> Iterator[Row]:
    width = len(header)
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield start, Unreadable(f"bad CSV row: {error}")
            start = reader.line_num + 1
            continue
        if cells and any(cells):
            if has_bad_bytes("".join(cells)):
                yield start, Unreadable(BAD_BYTES)
            elif len(cells) != width:
                yield start, Unreadable(f"{len(cells)} cells where the header has {width}")
            else:
                yield start, dict(zip(header, cells, strict=True))
        start = reader.line_num + 1


class _Buffer:
    """Text read in chunks, with the line number of the current position."""

    def __init__(self, file: IO[str]):
        self.file = file
        self.text = ""
        self.pos = 0
        self.line = 1
        self.eof = False

    def fill(self) -> bool:
        """Read more (dropping what was consumed); False at end of file."""
        if self.eof:
            return False
        chunk = self.file.read(max(_CHUNK, len(self.text) - self.pos))
        self.text = self.text[self.pos:] + chunk
        self.pos = 0
        self.eof = not chunk
        return bool(chunk)

    def skip_space(self) -> str:
        """The next non-space character ('' at end of file), counting lines on the way."""
        while True:
            text = self.text
            pos = _SPACE(text, self.pos).end()  # type: ignore[union-attr]
            self.line += text.count("\n", self.pos, pos)
            self.pos = pos
            if pos < len(text):
                return text[pos]
            if not self.fill():
                return ""


def _maybe_cut(text: str, end: int) -> bool:
    """Whether a value decoded up to `end` may be the start of a number cut by the read."""
    return end == len(text) or (len(text) - end < 64 and text[end] in "0123456789.eE+-")


def _json_array_rows(file: IO[str], source: str) -> Iterator[Row]:
    """A JSON array, one element at a time (json.JSONDecoder.raw_decode on a sliding buffer).

    A syntax error inside the array leaves no safe place to resume, so it is reported as an
    unreadable row and reading stops there (the rows before it stand). So is anything after
    the closing bracket: a second array appended to the file would otherwise go unread.
    """
    decode = json.JSONDecoder(object_pairs_hook=no_duplicates).raw_decode
    lenient = json.JSONDecoder().raw_decode
    buffer = _Buffer(file)
    if buffer.skip_space() != "[":
        raise InputError("a .json input must be an array of referrals (use .jsonl for one "
                         "object per line)", source=source, line=buffer.line)
    buffer.pos += 1
    expect_item = True
    while True:
        char = buffer.skip_space()
        if char == "]":
            buffer.pos += 1
            if buffer.skip_space():
                yield buffer.line, Unreadable("invalid JSON: more data after the closing ']'")
            return
        if not expect_item:
            if char != ",":
                yield buffer.line, Unreadable(f"invalid JSON: expected ',' or ']', found "
                                              f"{char!r}" if char else "unexpected end of file")
                return
            buffer.pos += 1
            char = buffer.skip_space()
        start = buffer.line
        while True:
            try:
                try:
                    value, end = decode(buffer.text, buffer.pos)
                except DuplicateKey as error:  # skip the element whole: the rest stand
                    value, end = Unreadable(f"invalid JSON: {error}"), \
                        lenient(buffer.text, buffer.pos)[1]
            except RecursionError:
                yield start, Unreadable(TOO_DEEP)
                return
            except json.JSONDecodeError as error:
                where = buffer.text.count("\n", buffer.pos, error.pos)
                if buffer.fill():
                    continue
                yield start + where, Unreadable(f"invalid JSON: {error.msg}")
                return
            if _maybe_cut(buffer.text, end) and buffer.fill():
                continue  # a number may go on in the next chunk ("0" of "0.25")
            break
        element = buffer.text[buffer.pos:end]
        buffer.line += element.count("\n")
        buffer.pos = end
        expect_item = False
        yield start, Unreadable(BAD_BYTES) if has_bad_bytes(element) else value


@contextmanager
def stdin_as_file(stream: IO[bytes]) -> Iterator[Path]:
    """Standard input spooled to an owner-only temporary file named by its format (`[`: a
    .json array, `{`: .jsonl, else .csv), so `-` reads like any file: streamed, rows counted
    by line, the whole of it never held in memory."""
    with tempfile.TemporaryDirectory(prefix="charging-rules-stdin-") as directory:
        first = stream.read(_CHUNK)
        start = first.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        suffix = {b"[": ".json", b"{": ".jsonl"}.get(start, ".csv")
        path = Path(directory) / f"stdin{suffix}"
        with path.open("wb") as out:
            while first:
                out.write(first)
                first = stream.read(_CHUNK)
        yield path
