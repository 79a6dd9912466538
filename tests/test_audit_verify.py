"""`audit verify` finds each kind of tampering at its line; checkpoints catch what a chain
cannot (a cut tail, a fully re-hashed forgery)."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging_rules.audit import checkpoint, log
from charging_rules.audit.verify import verify
from charging_rules.errors import InputError
from tests.helpers import found, rehash_from, reseal, rewrite, stored_lines, synthetic_log

KEY = b"supervisor-held-key-0123456789"
Mutation = Callable[[list[bytes]], list[bytes]]


def forged_after(lines: list[bytes], index: int) -> bytes:
    """A new record chained to line `index - 1` with a valid hash (a forger's insertion)."""
    before = json.loads(lines[index - 1])
    return reseal(lines[index - 1], seq=before["seq"] + 1, prev_hash=before["hash"],
                  decision_id="forged")


TAMPERING: dict[str, tuple[Mutation, int, str]] = {
    "edit a field": (lambda ls: [*ls[:4], ls[4].replace(b'"file"', b'"decline"'), *ls[5:]],
                     5, "edited"),
    "edit into garbage": (lambda ls: [*ls[:4], ls[4][:40] + b"\n", *ls[5:]], 5, "edited"),
    "replace the hash": (lambda ls: [*ls[:4], ls[4][:-67] + b"0" * 64 + b'"}\n', *ls[5:]],
                         5, "edited"),
    "delete a record": (lambda ls: [*ls[:4], *ls[5:]], 5, "deleted"),
    "delete the first record": (lambda ls: ls[1:], 1, "deleted"),
    "insert a garbage line": (lambda ls: [*ls[:4], b"{}\n", *ls[4:]], 5, "inserted"),
    "insert a copy of a record": (lambda ls: [*ls[:4], ls[8], *ls[4:]], 5, "inserted"),
    "insert a forged record": (lambda ls: [*ls[:4], forged_after(ls, 4), *ls[4:]],
                               5, "inserted"),
    "insert a run of copies": (lambda ls: [*ls[:8], *ls[2:5], *ls[8:]], 9, "inserted"),
    "swap two records": (lambda ls: [*ls[:4], ls[5], ls[4], *ls[6:]], 5, "reordered"),
    "move a record later": (lambda ls: [*ls[:4], *ls[5:9], ls[4], *ls[9:]], 5, "reordered"),
    "move a record earlier": (lambda ls: [*ls[:4], ls[9], *ls[4:9], *ls[10:]], 5,
                              "reordered"),
    "rewrite and re-hash a record": (lambda ls: [*ls[:4], reseal(ls[4], n=99), *ls[5:]],
                                     5, "rehashed"),
    "re-hash the first record": (lambda ls: [reseal(ls[0], actor="mallory"), *ls[1:]],
                                 1, "rehashed"),
}


def test_an_untouched_log_verifies(tmp_path: Path) -> None:
    synthetic_log(tmp_path, 12)
    report = verify(tmp_path)
    assert report.to_json() == {"records": 12, "ok": True, "problems": []}
    assert verify(tmp_path / "empty").to_json() == {"records": 0, "ok": True, "problems": []}


@pytest.mark.parametrize("name", TAMPERING)
def test_tampering_is_found_at_its_line(tmp_path: Path, name: str) -> None:
    mutate, line, kind = TAMPERING[name]
    synthetic_log(tmp_path, 12)
    rewrite(tmp_path, mutate(stored_lines(tmp_path)))
    report = verify(tmp_path)
    assert not report.ok
    assert found(report) == [(line, kind)], report.problems
    # the detail names that very line (file:line, or "line N" for a move across lines)
    detail = report.problems[0].detail
    assert re.search(rf"(:{line}:|\bline {line}\b)", detail), detail


def test_problems_in_later_segments_name_the_global_line(tmp_path: Path) -> None:
    for i in range(20):
        log.append_many(tmp_path, [{"kind": "recommendation", "decision_id": str(i)}],
                        segment_bytes=1500)
    files = log.segments(tmp_path)
    lines_before = sum(len(p.read_bytes().splitlines()) for p in files[:2])
    third = files[2].read_bytes().splitlines(keepends=True)
    files[2].write_bytes(b"".join([third[0].replace(b'"recommendation"', b'"decision"'),
                                   *third[1:]]))
    report = verify(tmp_path)
    assert found(report) == [(lines_before + 1, "edited")]
    assert f"{files[2].name}:1:" in report.problems[0].detail


def test_a_torn_tail_is_reported_as_such_not_as_tampering(tmp_path: Path) -> None:
    synthetic_log(tmp_path, 5)
    lines = stored_lines(tmp_path)
    rewrite(tmp_path, [*lines[:4], lines[4][:50]])
    report = verify(tmp_path).to_json()
    assert report["records"] == 4 and report["ok"] is False
    assert [(p["line"], p["kind"]) for p in report["problems"]] == [(5, "torn_tail")]


def _first_difference(a: list[bytes], b: list[bytes]) -> int:
    return next(i for i, (x, y) in enumerate(zip([*a, None], [*b, None], strict=False), 1)
                if x != y)


MUTATIONS = ("flip", "delete", "garbage", "copy", "forge", "swap", "move", "rehash")
EXPECTED_KINDS = {"flip": {"edited"}, "delete": {"deleted"}, "garbage": {"inserted", "edited"},
                  "copy": {"inserted"}, "forge": {"inserted"}, "swap": {"reordered"},
                  "move": {"reordered", "inserted"}, "rehash": {"rehashed"}}


@st.composite
def single_mutation(draw: st.DrawFn, lines: list[bytes]) -> tuple[str, list[bytes]]:
    """One insider edit the chain alone must expose (so never at the very end: deleting or
    re-hashing the last record, or appending a valid one, needs a checkpoint)."""
    n = len(lines)
    op = draw(st.sampled_from(MUTATIONS))
    out = list(lines)
    if op == "flip":
        i = draw(st.integers(0, n - 1))
        at = draw(st.integers(0, len(out[i]) - 2))
        new = draw(st.integers(0, 255).filter(lambda b: b != out[i][at]))
        out[i] = out[i][:at] + bytes([new]) + out[i][at + 1:]
    elif op == "delete":
        del out[draw(st.integers(0, n - 2))]
    elif op == "garbage":
        junk = draw(st.binary(max_size=80).filter(lambda b: b"\n" not in b))
        out.insert(draw(st.integers(0, n)), junk + b"\n")
    elif op == "copy":
        out.insert(draw(st.integers(0, n)), lines[draw(st.integers(0, n - 1))])
    elif op == "forge":
        i = draw(st.integers(1, n - 1))
        out.insert(i, forged_after(lines, i))
    elif op == "swap":
        i = draw(st.integers(0, n - 2))
        out[i], out[i + 1] = out[i + 1], out[i]
    elif op == "move":
        moved = out.pop(draw(st.integers(0, n - 1)))
        out.insert(draw(st.integers(0, n - 1)), moved)
    else:
        i = draw(st.integers(0, n - 2))
        out[i] = reseal(out[i], actor=draw(st.text(min_size=1, max_size=8)))
    return op, out


ORIGINAL: list[bytes] = []


def _original() -> list[bytes]:
    if not ORIGINAL:
        with tempfile.TemporaryDirectory() as directory:
            synthetic_log(Path(directory), 10)
            ORIGINAL.extend(stored_lines(Path(directory)))
    return ORIGINAL


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_single_mutation_is_found_at_its_line(data: st.DataObject) -> None:
    original = _original()
    op, mutated = data.draw(single_mutation(original))
    with tempfile.TemporaryDirectory() as directory:
        audit_dir = Path(directory)
        rewrite(audit_dir, mutated)
        report = verify(audit_dir)
    if mutated == original:  # e.g. a record moved back to its own place
        assert report.ok
        return
    expected = _first_difference(original, mutated)
    # two identical adjacent lines: either may be called the copy
    same = {expected, *(expected + d for d in (-1, 1)
                        if 0 < expected + d <= len(mutated)
                        and mutated[expected + d - 1] == mutated[expected - 1])}
    assert not report.ok
    first = report.problems[0]
    assert first.line in same, (op, expected, report.problems)
    assert first.kind in EXPECTED_KINDS[op], (op, report.problems)


UNDETECTABLE_BY_CHAIN: dict[str, tuple[Mutation, tuple[int, str], str]] = {
    "cut the tail": (lambda ls: ls[:7], (8, "truncated"), "ends at seq 7"),
    "rewrite and re-hash everything after a record":
        (lambda ls: rehash_from(ls, 6, actor="mallory"), (10, "rewritten"),
         "after seq 4 up to 10"),
}


@pytest.mark.parametrize("name", UNDETECTABLE_BY_CHAIN)
def test_checkpoints_expose_what_the_chain_cannot(tmp_path: Path, name: str) -> None:
    mutate, problem, detail = UNDETECTABLE_BY_CHAIN[name]
    audit_dir, pins = tmp_path / "audit_logs", tmp_path / "elsewhere" / "checkpoints.jsonl"
    for count in (4, 6):  # two checkpoints: at seq 4 and at seq 10
        synthetic_log(audit_dir, count)
        report, sealed = checkpoint.seal_head(audit_dir, pins, KEY)
        assert report.ok and sealed is not None and sealed["seq"] == report.records
    rewrite(audit_dir, mutate(stored_lines(audit_dir)))
    assert verify(audit_dir).ok  # the chain alone cannot tell
    report = checkpoint.verify_against(audit_dir, pins, KEY)
    assert found(report) == [problem]
    assert detail in report.problems[0].detail


def test_a_forged_or_foreign_checkpoint_is_refused(tmp_path: Path) -> None:
    audit_dir, pins = tmp_path / "audit_logs", tmp_path / "checkpoints.jsonl"
    synthetic_log(audit_dir, 3)
    checkpoint.seal_head(audit_dir, pins, KEY)
    sealed = json.loads(pins.read_text())
    pins.write_text(pins.read_text() + json.dumps({**sealed, "seq": 2}) + "\n")
    report = checkpoint.verify_against(audit_dir, pins, KEY)
    assert found(report) == [(0, "checkpoint_invalid")]
    assert ":2:" in report.problems[0].detail
    other = checkpoint.verify_against(audit_dir, pins, b"another-key-of-some-length")
    assert found(other) == [(0, "checkpoint_invalid")] * 2


def test_a_checkpoint_file_that_is_not_text_is_refused_naming_the_line(tmp_path: Path
                                                                         ) -> None:
    audit_dir, pins = tmp_path / "audit_logs", tmp_path / "checkpoints.jsonl"
    synthetic_log(audit_dir, 3)
    checkpoint.seal_head(audit_dir, pins, KEY)
    pins.write_bytes(pins.read_bytes() + b"\xff\xfe\n")
    with pytest.raises(InputError, match=re.escape(f"{pins}:2: not UTF-8 text")):
        checkpoint.verify_against(audit_dir, pins, KEY)


def test_a_tampered_log_is_never_sealed(tmp_path: Path) -> None:
    audit_dir, pins = tmp_path / "audit_logs", tmp_path / "checkpoints.jsonl"
    synthetic_log(audit_dir, 5)
    lines = stored_lines(audit_dir)
    rewrite(audit_dir, [*lines[:2], *lines[3:]])
    report, sealed = checkpoint.seal_head(audit_dir, pins, KEY)
    assert sealed is None and not report.ok and not pins.exists()


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(0, 9), min_size=1))
def test_every_edited_record_is_reported_at_its_line(edited: set[int]) -> None:
    """Edits side by side are separate problems: one must not hide the next."""
    lines = list(_original())
    for index in edited:
        lines[index] = lines[index].replace(b'"actor":"', b'"actor":"x', 1)
    with tempfile.TemporaryDirectory() as directory:
        rewrite(Path(directory), lines)
        report = verify(Path(directory))
    assert found(report) == [(index + 1, "edited") for index in sorted(edited)]
