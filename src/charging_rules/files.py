"""Opening the files a user names, so that no input can hang or crash the tool.

Every file the tool reads (guidelines, referrals, batch input, mappings, cases, checkpoint,
key, config, benchmark and group maps, audit segments) is opened here: non-blocking (a FIFO
named as input would otherwise wait forever for a writer) and then checked, on the open
descriptor, to be a regular file (a directory, FIFO, socket or device is refused, naming the
path; checking the descriptor leaves no window for a swap between the check and the read).
JSON objects are decoded with duplicate keys refused: Python keeps the last of two, so a
second `"firearm_recovered"` would silently win.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any, TextIO

import orjson
from pydantic_core import from_json

from charging_rules.errors import InputError, clip

StrPath = str | os.PathLike[str]

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


class NotRegular(InputError):
    """The path exists but is not a regular file (or is a symlink where none may be)."""


def kind_of_mode(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: StrPath, flags: int = os.O_RDONLY, *, follow: bool = True,
                 mode: int = 0o600) -> int:
    """A descriptor on `path`, which must be a regular file; never blocks.

    `follow=False` refuses a symlink (audit segments: one pointing at /dev/null would read as
    an empty log). OSError (missing, permission) is the caller's to word."""
    extra = os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags | extra, mode)
    except OSError as error:
        if not follow and os.path.islink(path):
            raise NotRegular("a symbolic link, not a regular file", source=str(path)) from None
        if os.path.isdir(path):
            raise NotRegular("a directory, not a regular file", source=str(path)) from None
        raise error
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotRegular(f"{kind_of_mode(info.st_mode)}, not a regular file", source=str(path))
    return fd


def read_fd(fd: int) -> bytes:
    """Every byte of an open regular file, from its start."""
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def read_bytes(path: StrPath, what: str = "") -> bytes:
    """The file's bytes; a missing, unreadable or non-regular file is an InputError."""
    try:
        fd = open_regular(path)
    except OSError as error:
        raise InputError(f"cannot read{' ' + what if what else ''}: "
                         f"{error.strerror or error}", source=str(path)) from None
    try:
        return read_fd(fd)
    except OSError as error:
        raise InputError(f"cannot read{' ' + what if what else ''}: "
                         f"{error.strerror or error}", source=str(path)) from None
    finally:
        os.close(fd)


def decode(raw: bytes, source: str, encoding: str = "utf-8") -> str:
    """UTF-8 text, or an InputError naming the line of the first bad byte."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise InputError(f"not UTF-8 text (byte {error.start})", source=source,
                         line=line) from None


def read_text(path: StrPath, what: str = "", encoding: str = "utf-8") -> str:
    return decode(read_bytes(path, what), str(path), encoding)


def open_text(path: StrPath, encoding: str = "utf-8-sig") -> TextIO:
    """A streaming text reader on a regular file. Undecodable bytes arrive as lone surrogates
    (surrogateescape) so a reader can reject the one line holding them (`has_bad_bytes`)
    instead of the whole file failing at the next read block."""
    try:
        fd = open_regular(path)
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", source=str(path)) from None
    return open(fd, encoding=encoding, errors="surrogateescape", newline="")


def has_bad_bytes(text: str) -> bool:
    """Text decoded with surrogateescape held bytes that are not UTF-8."""
    return any("\udc80" <= c <= "\udcff" for c in text) if not text.isascii() else False


BAD_BYTES = "not UTF-8 text (a byte that is not UTF-8 on this line)"


class DuplicateKey(ValueError):
    def __init__(self, key: str):
        self.key = key
        super().__init__(f"duplicate key '{clip(key)}'")


def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """object_pairs_hook: a JSON object naming one key twice is refused."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return out


STRICT_DECODER = json.JSONDecoder(object_pairs_hook=no_duplicates)


class CheckedList(list[Any]):
    """A JSON array found finite when made (`finite`), shared and never written into:
    `finite` does not walk it again."""


class CheckedDict(dict[str, Any]):
    """A JSON object found finite when made; see `CheckedList`."""


def finite(value: Any) -> bool:
    """No NaN or infinity anywhere in plain JSON data (json refuses them; orjson would
    write null). Checked containers are not walked again."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is float and item - item != 0.0:  # inf - inf and nan - nan are nan
            return False
    return True


def checked(value: Any) -> Any:
    """Plain JSON data found finite, marked so that `finite` does not walk it again
    (ValueError if it is not)."""
    if not finite(value):
        raise ValueError("Out of range float values are not JSON compliant")
    kind = type(value)
    return CheckedDict(value) if kind is dict else CheckedList(value) \
        if kind is list or kind is tuple else value


def loads(text: str) -> Any:
    """json.loads refusing duplicate keys (DuplicateKey, a ValueError).

    pydantic-core's parser (jiter) reads in a quarter of the time but keeps the last of
    duplicate keys silently. So its value is taken only where it provably lost no key:
    every key in JSON text is followed by one colon, and a colon inside a string comes back
    out of orjson.dumps as it went in, so the value lost a key exactly when it dumps with
    fewer colons than the text holds (an escaped colon, "\\u003a", would come out as one:
    text with a \\u escape is not counted on). Anything else (a duplicate, text either
    refuses) is read by json, so its errors are json's."""
    if "\\u" not in text:
        try:
            value = from_json(text)
            if orjson.dumps(value).count(b":") == text.count(":"):
                return value
        except (ValueError, orjson.JSONEncodeError):  # json says why, below
            pass
    return STRICT_DECODER.decode(text)
