"""The streaming readers give back exactly what was written, at the line where it starts."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging_rules.ingest import readers

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


@settings(max_examples=60, deadline=None)
@given(items=st.lists(values, max_size=6), indent=st.sampled_from([None, 0, 1, 3]),
       chunk=st.integers(1, 40))
def test_json_array_elements_come_back_whole_with_their_line(
        items: list[Any], indent: int | None, chunk: int) -> None:
    text = json.dumps(items, indent=indent)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(readers, "_CHUNK", chunk)  # element boundaries fall across reads
        rows = list(readers._json_array_rows(io.StringIO(text), "x"))
    assert [value for _, value in rows] == items
    # Indented, each element starts its own line: decoding from the reported line gives it.
    lines = text.split("\n")
    for line, value in rows:
        rest = "\n".join(lines[line - 1:]).lstrip()
        assert line == 1 if indent is None else json.JSONDecoder().raw_decode(rest)[0] == value
