"""The audit log's writer guarantees, with real processes, real locks, real crashes."""

from __future__ import annotations

import collections
import random
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging_rules.audit import log
from charging_rules.audit.verify import verify
from charging_rules.errors import InputError
from tests.helpers import RULES, found

WRITER = Path(__file__).with_name("audit_writer.py")


def writer(audit_dir: Path, acks: Path, name: str, groups: int, size: int, payload: int,
           segment: int = log.DEFAULT_SEGMENT_BYTES, **popen: object) -> subprocess.Popen[bytes]:
    args = [sys.executable, str(WRITER), str(audit_dir), str(acks), name, str(groups),
            str(size), str(payload), str(segment)]
    return subprocess.Popen(args, **popen)  # type: ignore[call-overload, no-any-return]


def decision_ids(audit_dir: Path) -> collections.Counter[str]:
    return collections.Counter(str(r["decision_id"]) for r in log.read_records(audit_dir)
                               if r["kind"] != "repair")


def acknowledged(acks: Path) -> set[str]:
    return set(acks.read_text().split()) if acks.exists() else set()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_append_returns_durable_chained_records(tmp_path: Path) -> None:
    audit_dir = tmp_path / "new" / "audit_logs"
    first = log.append(audit_dir, {"kind": "recommendation", "decision_id": "a", "actor": "x"})
    group = log.append_many(audit_dir, [{"kind": "decision", "decision_id": "a", "actor": "x"},
                                        {"kind": "decision", "decision_id": "b", "actor": "y"}])
    assert [r["seq"] for r in (first, *group)] == [1, 2, 3]
    assert first["prev_hash"] == log.GENESIS and group[0]["prev_hash"] == first["hash"]
    assert list(log.read_records(audit_dir)) == [first, *group]
    assert all(r["hash"] == log.record_hash(r) for r in (first, *group))
    assert log.append_many(audit_dir, []) == []
    with pytest.raises(ValueError):  # not JSON: refused before anything is written
        log.append(audit_dir, {"kind": "recommendation", "score": float("inf")})
    assert len(list(log.read_records(audit_dir))) == 3
    assert verify(audit_dir).ok


def test_log_files_and_directories_are_owner_only(tmp_path: Path) -> None:
    audit_dir = tmp_path / "deep" / "audit_logs"
    log.append(audit_dir, {"kind": "recommendation", "decision_id": "a", "actor": "x"})
    segment = log.segments(audit_dir)[0]
    with segment.open("ab") as handle:
        handle.write(b'{"torn')
    log.append(audit_dir, {"kind": "recommendation", "decision_id": "b", "actor": "x"})
    quarantined = next((audit_dir / log.QUARANTINE_DIR).iterdir())
    for directory in (audit_dir, audit_dir.parent, audit_dir / log.QUARANTINE_DIR):
        assert mode(directory) == 0o700, directory
    for file in (segment, audit_dir / ".lock", quarantined):
        assert mode(file) == 0o600, file


def test_segments_rotate_and_read_as_one_stream(tmp_path: Path) -> None:
    for i in range(30):
        log.append_many(tmp_path, [{"kind": "recommendation", "decision_id": str(i),
                                    "actor": "x", "pad": "p" * 200}], segment_bytes=2000)
    files = log.segments(tmp_path)
    assert len(files) > 3
    assert files[0].name == log.segment_name(1)
    records = list(log.read_records(tmp_path))
    assert [r["seq"] for r in records] == list(range(1, 31))
    assert verify(tmp_path).ok
    # a date-bounded read starts at the segment holding that time, not at the beginning
    later = list(log.read_records(tmp_path, since=records[-1]["timestamp"]))
    assert later[-1] == records[-1] and len(later) < len(records)


@pytest.mark.slow
def test_five_processes_append_concurrently_without_loss_or_interleaving(
        tmp_path: Path) -> None:
    audit_dir, acks = tmp_path / "audit_logs", tmp_path / "acks"
    procs = [writer(audit_dir, acks.with_suffix(f".{n}"), f"w{n}", groups=40, size=1 + n % 3,
                    payload=300, segment=20_000) for n in range(5)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 5
    expected = set().union(*(acknowledged(acks.with_suffix(f".{n}")) for n in range(5)))
    counts = decision_ids(audit_dir)
    assert len(expected) == sum(40 * (1 + n % 3) for n in range(5))
    assert set(counts) == expected and set(counts.values()) == {1}
    assert len(log.segments(audit_dir)) > 1
    report = verify(audit_dir)
    assert report.ok, report.problems
    assert report.records == len(expected)


def _check_crash(audit_dir: Path, acks: Path, repaired: list[bytes]) -> None:
    """After a killed writer: no tampering, at most a torn tail; repair it one way or
    another; every acknowledged record is still there exactly once."""
    report = verify(audit_dir)
    assert {p.kind for p in report.problems} <= {"torn_tail"}, report.problems
    torn = log.torn_tail(audit_dir)
    assert (torn is not None) == (not report.ok)
    if torn is not None:
        assert report.problems[0].line == report.records + 1
        repaired.append(torn.data)
        if len(repaired) % 2:  # alternate: `audit repair`, then the next writer's own repair
            record = log.repair(audit_dir, "supervisor")
            assert record is not None and record["bytes"] == len(torn.data)
            assert (audit_dir / record["quarantine"]).read_bytes() == torn.data
            assert verify(audit_dir).ok
    counts = decision_ids(audit_dir)
    assert acknowledged(acks) <= set(counts)
    assert max(counts.values(), default=1) == 1


@pytest.mark.slow
def test_killed_writers_lose_no_acknowledged_record_and_tails_are_repaired(
        tmp_path: Path) -> None:
    audit_dir, acks = tmp_path / "audit_logs", tmp_path / "acks"
    rng = random.Random(20261129)
    repaired: list[bytes] = []
    for round_ in range(4):  # SIGKILL at a random moment during a batch of large groups
        proc = writer(audit_dir, acks, f"k{round_}", groups=1000, size=40, payload=4000,
                      segment=3_000_000, stdout=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 0.9))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        _check_crash(audit_dir, acks, repaired)
    for round_ in range(4):  # killed inside a write(): a file-size limit cuts it at a random byte
        # The limit binds every file the writer touches: start it above the ack file too, so
        # it is the log's write (which grows far faster) that reaches it.
        sizes = [p.stat().st_size for p in [*log.segments(audit_dir)[-1:], acks]]
        limit = max(sizes) + rng.randrange(1_000, 400_000)

        def cap(limit: int = limit) -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        proc = writer(audit_dir, acks, f"f{round_}", groups=1000, size=40, payload=4000,
                      segment=1 << 40, preexec_fn=cap, stderr=subprocess.DEVNULL)
        assert proc.wait(timeout=60) == -signal.SIGXFSZ
        _check_crash(audit_dir, acks, repaired)
    assert len(repaired) >= 4  # every size-limited write was torn
    survivor = log.append(audit_dir, {"kind": "recommendation", "decision_id": "after",
                                      "actor": "x"})
    assert verify(audit_dir).ok
    records = list(log.read_records(audit_dir))
    assert records[-1] == survivor
    repairs = [r for r in records if r["kind"] == "repair"]
    assert len(repairs) == len(repaired)
    assert sorted(r["bytes"] for r in repairs) == sorted(len(d) for d in repaired)
    quarantine = audit_dir / log.QUARANTINE_DIR
    assert sorted(p.read_bytes() for p in quarantine.iterdir()) == sorted(repaired)
    assert acknowledged(acks) <= set(decision_ids(audit_dir))


@pytest.mark.parametrize("folder", [log.QUARANTINE_DIR, "guidelines"])
def test_the_logs_own_folders_are_never_followed_out_of_it(tmp_path: Path,
                                                           folder: str) -> None:
    """A quarantine or archive folder that is a symlink would carry torn records or
    archived policy out of the log: refused, nothing written outside, the tail kept."""
    from charging_rules.audit import archive
    from charging_rules.guidelines.loader import load_guidelines

    audit_dir, outside = tmp_path / "log", tmp_path / "outside"
    outside.mkdir()
    log.append(audit_dir, {"kind": "recommendation", "decision_id": "a", "actor": "x"})
    (audit_dir / folder).symlink_to(outside)
    with pytest.raises(InputError, match="a symbolic link"):
        if folder == log.QUARANTINE_DIR:
            with log.segments(audit_dir)[0].open("ab") as handle:
                handle.write(b'{"torn')
            log.repair(audit_dir, "supervisor")
        else:
            archive.store(audit_dir, load_guidelines(RULES))
    assert list(outside.iterdir()) == []


def test_next_writer_repairs_a_torn_tail_itself(tmp_path: Path) -> None:
    log.append(tmp_path, {"kind": "recommendation", "decision_id": "a", "actor": "x"})
    line, _ = log.encode({"kind": "recommendation", "decision_id": "lost", "seq": 2})
    with log.segments(tmp_path)[0].open("ab") as handle:
        handle.write(line[: len(line) // 2])
    report = verify(tmp_path)
    assert found(report) == [(2, "torn_tail")]
    written = log.append(tmp_path, {"kind": "decision", "decision_id": "a", "actor": "bob"})
    records = list(log.read_records(tmp_path))
    assert [r["kind"] for r in records] == ["recommendation", "repair", "decision"]
    assert records[1]["automatic"] is True and records[1]["actor"] == "bob"
    assert written == records[2] and written["seq"] == 3
    quarantined = tmp_path / records[1]["quarantine"]
    assert quarantined.read_bytes() == line[: len(line) // 2]
    assert verify(tmp_path).ok
    assert log.repair(tmp_path, "x") is None


def test_a_reader_never_sees_a_half_written_line(tmp_path: Path) -> None:
    log.append(tmp_path, {"kind": "recommendation", "decision_id": "a", "actor": "x"})
    segment = log.segments(tmp_path)[0]
    with segment.open("ab") as handle:  # a writer mid-line (or killed there)
        handle.write(b'{"kind":"recommendation","decision_id":"b"')
    before = segment.read_bytes()
    assert [r["decision_id"] for r in log.read_records(tmp_path)] == ["a"]
    # reading changes nothing: the half line stays for its writer to finish (or for repair)
    assert segment.read_bytes() == before


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)
RESERVED = {"seq", "prev_hash", "hash", "timestamp"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.text().filter(lambda k: k not in RESERVED), JSON,
                                min_size=1, max_size=5), min_size=1, max_size=6))
def test_any_entries_round_trip_and_verify(entries: list[dict[str, object]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        audit_dir = Path(directory)
        written = log.append_many(audit_dir, entries[: len(entries) // 2])
        written += [log.append(audit_dir, entry) for entry in entries[len(entries) // 2:]]
        assert list(log.read_records(audit_dir)) == written
        assert all(r["hash"] == log.record_hash(r) for r in written)
        assert verify(audit_dir).ok
