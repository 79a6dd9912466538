"""Strict JSON (`files.loads`): a fast parser where it provably agrees with json, json where
not. Every referral line, guideline-free record and log line is read through it, so it must
give json's value, or json's error, for any text: a duplicate key is refused, never kept
silently as its last value."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from charging_rules.files import DuplicateKey, loads, no_duplicates

_JSON = json.JSONDecoder(object_pairs_hook=no_duplicates)

# Keys from a small alphabet, so objects often name one twice; strings holding the
# characters the fast path counts (colons, quotes, backslashes) and non-ASCII text.
keys = st.sampled_from(["a", "b", "a:b", "é", ""])
strings = st.text(alphabet=st.sampled_from([*'ab:"\\é\t\u2028', "\U0001f600"]),
                  max_size=6)
numbers = st.one_of(st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True))


def _text(value: Any, ascii_only: bool, spaced: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only,
                      separators=(", ", " : ") if spaced else (",", ":"))


@st.composite
def json_texts(draw: st.DrawFn, depth: int = 3) -> str:
    """JSON text, objects written pair by pair so a key may come twice."""
    ascii_only, spaced = draw(st.booleans()), draw(st.booleans())
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        leaf = draw(st.one_of(strings, numbers, st.booleans(), st.none()))
        return _text(leaf, ascii_only, spaced)
    if draw(st.booleans()):
        items = draw(st.lists(json_texts(depth=depth - 1), max_size=3))
        return "[" + ", ".join(items) + "]"
    pairs = draw(st.lists(st.tuples(keys, json_texts(depth=depth - 1)), max_size=4))
    colon = " : " if spaced else ":"
    return "{" + ",".join(_text(k, ascii_only, False) + colon + v for k, v in pairs) + "}"


def _outcome(text: str) -> tuple[str, str]:
    try:
        value = _JSON.decode(text)
    except (ValueError, RecursionError) as error:
        return type(error).__name__, str(error)
    return "value", _canonical(value)


def _canonical(value: Any) -> str:
    """repr with NaN equal to itself and ints told from floats."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k!r}:{_canonical(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return f"{type(value).__name__}:{value!r}"


def _loaded(text: str) -> tuple[str, str]:
    try:
        value = loads(text)
    except (ValueError, RecursionError) as error:
        return type(error).__name__, str(error)
    return "value", _canonical(value)


@settings(max_examples=600, deadline=None)
@given(json_texts())
def test_loads_agrees_with_json_refusing_duplicates(text: str) -> None:
    assert _loaded(text) == _outcome(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*'{}[]",: 0123456789.eE-+anlrufsNIiy\\', "\\u003a",
                                  "true", "null", "NaN", "Infinity"]),
                max_size=24).map("".join))
def test_loads_agrees_with_json_on_any_text(text: str) -> None:
    """Text that is mostly not JSON: the same value or the same error."""
    assert _loaded(text) == _outcome(text)


def test_a_duplicate_hidden_by_an_escaped_colon_is_still_refused() -> None:
    """One key fewer and one colon more (\\u003a comes out of the fast parser as ':')."""
    text = '{"a": 1, "a": "\\u003a"}'
    try:
        loads(text)
    except DuplicateKey as error:
        assert error.key == "a"
    else:
        raise AssertionError("a duplicate key was kept")


def test_numbers_past_64_bits_keep_their_value() -> None:
    assert loads('{"n": 123456789012345678901234567890}') == {"n": 123456789012345678901234567890}
