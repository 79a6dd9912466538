"""Hostile input and faults, injected for real: files replaced under the queue, torn and
missing checkpoint files, bad bytes, duplicate keys, alias bombs, FIFOs where files belong,
stopped lock holders, full disks (tmpfs), file size limits (RLIMIT_FSIZE) and an
unprivileged user. Each test names the behaviour a user relies on."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pkgutil
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import charging_rules
from charging_rules.audit import log
from charging_rules.audit.verify import verify
from charging_rules.cli.app import app
from charging_rules.errors import InputError
from charging_rules.ingest.readers import RowSource, Unreadable
from charging_rules.model.kinds import parse_record
from charging_rules.screening.intake import IntakeQueue
from charging_rules.screening.screener import Screened, Screener
from tests.helpers import REPO, RULES

EXAMPLE = REPO / "examples" / "referrals" / "kc-possession-community-concern.json"
runner = CliRunner()


def referral(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    data.update(changes)
    return data


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def one_line_error(stderr: str) -> str:
    """The error a user sees: exactly one line, no traceback."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def process(*args: str, timeout: float = 60, env: dict[str, str] | None = None,
            preexec: Any = None) -> subprocess.CompletedProcess[str]:
    """The installed CLI in its own process (a hang fails the test instead of blocking it)."""
    return subprocess.run([sys.executable, "-m", "charging_rules", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})},
                          preexec_fn=preexec, cwd=REPO)


def as_nobody(*args: str) -> tuple[int, str]:
    """The CLI run by the unprivileged user `nobody` (a forked child that drops root: the
    interpreter lives where nobody may not execute it): exit status and stderr."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 99
        try:
            os.close(read)
            for module in pkgutil.walk_packages(charging_rules.__path__, "charging_rules."):
                if not module.name.endswith("__main__"):  # nobody may not read them later
                    importlib.import_module(module.name)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            result = cli(*args)
            os.write(write, json.dumps([result.exit_code, result.stderr]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    code, stderr = json.loads(data)
    return int(code), str(stderr)


# --- 1. intake decides exactly the bytes it showed ------------------------------------


class Prosecutor:
    """Accepts every recommendation; `on_show` runs while a referral is on screen."""

    def __init__(self, on_show: Any = None) -> None:
        self.shown: list[dict[str, Any]] = []
        self.changed_files: list[str] = []
        self.on_show = on_show

    def rejected(self, path: Path, error: InputError, moved_to: Path) -> None: ...
    def already_decided(self, path: Path, decision: dict[str, Any], moved_to: Path) -> None: ...
    def skipped(self, path: Path) -> None: ...
    def request_written(self, path: Path) -> None: ...
    def decided(self, record: dict[str, Any], moved_to: Path) -> None: ...

    def show(self, path: Path, facts: dict[str, Any], screened: Screened, position: int,
             total: int) -> None:
        self.shown.append(facts)
        if self.on_show is not None and len(self.shown) == 1:
            self.on_show(path)

    def ask_request(self, missing: Sequence[str]) -> bool:
        return True

    def ask_action(self) -> str:
        return "a"

    def ask_override(self, outcomes: tuple[str, ...], recommended: str) -> tuple[str, str]:
        raise AssertionError("only accepts")

    def changed(self, path: Path) -> None:
        self.changed_files.append(path.name)


def _replace(path: Path) -> None:  # a corrected re-send: a new file renamed over the old
    fresh = path.with_name("incoming.tmp")
    fresh.write_text(json.dumps(referral(agency="Corrected Agency")))
    os.replace(fresh, path)


def _rewrite(path: Path) -> None:  # the same file rewritten in place
    path.write_text(json.dumps(referral(agency="Corrected Agency")))


def _truncate(path: Path) -> None:
    with path.open("r+") as handle:
        handle.truncate(10)


def _delete(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize("change", [_replace, _rewrite, _truncate, _delete],
                         ids=["replaced", "rewritten", "truncated", "deleted"])
def test_intake_never_decides_a_file_changed_while_on_screen(tmp_path: Path,
                                                             change: Any) -> None:
    inbox, audit = tmp_path / "inbox", tmp_path / "audit"
    inbox.mkdir()
    (inbox / "01.json").write_text(json.dumps(referral(agency="Original Agency")))
    ui = Prosecutor(on_show=change)
    IntakeQueue(inbox, Screener.open(RULES, audit), "alice").run(ui)
    assert ui.changed_files == ["01.json"]  # told, and nothing decided on the old bytes
    decisions = [r for r in log.read_records(audit) if r["kind"] == "decision"]
    snapshots = {r["decision_id"]: r["referral"] for r in log.read_records(audit)
                 if r["kind"] == "recommendation"}
    assert all(snapshots[d["decision_id"]]["agency"] != "Original Agency" for d in decisions)
    screened = list((inbox / "screened").iterdir()) if (inbox / "screened").exists() else []
    if change is _delete:
        assert decisions == [] and screened == []
        return
    if change is _truncate:  # shown again, and now rejected as broken JSON: never screened
        assert decisions == [] and screened == []
        assert any(p.suffix == ".json" for p in (inbox / "rejected").iterdir())
        return
    assert [facts["agency"] for facts in ui.shown] == ["Original Agency", "Corrected Agency"]
    (filed,) = screened
    assert json.loads(filed.read_text())["agency"] == "Corrected Agency"
    (decision,) = decisions
    assert snapshots[decision["decision_id"]]["agency"] == "Corrected Agency"


def test_a_swap_after_the_check_is_put_back_in_the_queue(tmp_path: Path) -> None:
    """The narrowest window: the file is replaced after the decision is logged, before the
    move. The replacement is not filed as screened; it waits to be screened itself."""
    inbox, audit = tmp_path / "inbox", tmp_path / "audit"
    inbox.mkdir()
    (inbox / "01.json").write_text(json.dumps(referral(agency="Original Agency")))
    queue = IntakeQueue(inbox, Screener.open(RULES, audit), "alice")
    logged = queue.screener.decide

    def decide_then_resend(*args: Any, **kwargs: Any) -> dict[str, Any]:
        record = logged(*args, **kwargs)
        if queue.screener.decide is decide_then_resend:
            queue.screener.decide = logged  # type: ignore[method-assign]
            _replace(inbox / "01.json")
        return record

    queue.screener.decide = decide_then_resend  # type: ignore[method-assign]
    ui = Prosecutor()
    queue.run(ui)
    assert [facts["agency"] for facts in ui.shown] == ["Original Agency", "Corrected Agency"]
    (filed,) = (inbox / "screened").iterdir()
    assert json.loads(filed.read_text())["agency"] == "Corrected Agency"
    assert not (inbox / "01.json").exists()


def test_intake_folders_and_files_it_writes_are_owner_only(tmp_path: Path) -> None:
    inbox, audit = tmp_path / "inbox", tmp_path / "audit"
    inbox.mkdir(mode=0o755)
    (inbox / "broken.json").write_text('{"referral_id": ')
    unknown = REPO / "examples" / "referrals" / "kc-possession-unknown-firearm.json"
    shutil.copy(unknown, inbox / "needs.json")  # needs information: a request is written
    os.umask(old := os.umask(0o022))
    try:
        IntakeQueue(inbox, Screener.open(RULES, audit), "alice").run(Prosecutor())
    finally:
        os.umask(old)
    for folder in ("rejected", "requests", "screened"):
        assert stat.S_IMODE((inbox / folder).stat().st_mode) == 0o700, folder
        for path in (inbox / folder).iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# --- 2. checkpoints: missing, empty, torn -------------------------------------------


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, Path, Path]:
    audit, key, pins = tmp_path / "audit", tmp_path / "key", tmp_path / "pins.jsonl"
    key.write_text("a-key-only-the-supervisor-holds\n")
    for number in range(3):
        log.append(audit, {"kind": "note", "n": number})
    result = cli("audit", "checkpoint", "--out", str(pins), "--key-file", str(key),
                 "--audit-dir", str(audit))
    assert result.exit_code == 0, result.output
    return audit, key, pins


@pytest.mark.parametrize("problem", ["missing", "empty", "blank"])
def test_verify_against_a_missing_or_empty_checkpoint_file_is_an_error(
        sealed: tuple[Path, Path, Path], problem: str) -> None:
    audit, key, pins = sealed
    if problem == "missing":
        pins.unlink()
    else:
        pins.write_text("" if problem == "empty" else "\n  \n")
    result = cli("audit", "verify", "--checkpoint", str(pins), "--key-file", str(key),
                 "--audit-dir", str(audit))
    assert result.exit_code == 2
    assert str(pins) in one_line_error(result.stderr)


def test_a_missing_audit_dir_does_not_verify_as_an_empty_log(tmp_path: Path) -> None:
    for command in (["audit", "verify"], ["audit", "list"], ["audit", "export"],
                    ["disparity"]):
        result = cli(*command, "--audit-dir", str(tmp_path / "typo"))
        assert result.exit_code == 2, command
        assert "no audit log at" in one_line_error(result.stderr)


def test_a_torn_checkpoint_line_is_repaired_like_the_log(
        sealed: tuple[Path, Path, Path]) -> None:
    audit, key, pins = sealed
    whole = pins.read_bytes()
    with pins.open("ab") as handle:
        handle.write(b'{"format":1,"seq":3,"ha')  # the cron job killed mid-write
    args = ["--key-file", str(key), "--audit-dir", str(audit)]
    for command in (["audit", "verify", "--checkpoint", str(pins)],
                    ["audit", "checkpoint", "--out", str(pins)]):
        blocked = cli(*command, *args, "--json")
        assert blocked.exit_code == 1
        (problem,) = json.loads(blocked.stdout)["problems"]
        assert f"charging-rules audit repair --checkpoint {pins}" in problem["detail"]
    repaired = cli("audit", "repair", "--checkpoint", str(pins), "--audit-dir", str(audit),
                   "--json")
    assert repaired.exit_code == 0, repaired.output
    moved = json.loads(repaired.stdout)["checkpoint"]
    assert Path(moved["quarantine"]).read_bytes() == b'{"format":1,"seq":3,"ha'  # kept
    assert pins.read_bytes() == whole
    assert cli("audit", "verify", "--checkpoint", str(pins), *args).exit_code == 0
    assert cli("audit", "checkpoint", "--out", str(pins), *args).exit_code == 0


def test_a_checkpoint_file_behind_a_symlink_is_still_used(
        sealed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """Segments may not be symlinks; a checkpoint file on a secure volume may be."""
    audit, key, pins = sealed
    link = tmp_path / "pins-link.jsonl"
    link.symlink_to(pins)
    args = ["--key-file", str(key), "--audit-dir", str(audit)]
    assert cli("audit", "checkpoint", "--out", str(link), *args).exit_code == 0
    assert cli("audit", "verify", "--checkpoint", str(link), *args).exit_code == 0
    assert len(pins.read_text().splitlines()) == 2


# --- 4 and duplicate keys: a bad row costs its line only --------------------------------


def _row(number: int) -> bytes:
    return json.dumps(referral(referral_id=f"KC-{number}")).encode()


@pytest.mark.parametrize(("fmt", "fault"), [
    ("jsonl", "bad byte"), ("json", "bad byte"), ("csv", "bad byte"),
    ("jsonl", "duplicate key"), ("json", "duplicate key")])  # CSV: a header naming a
def test_one_bad_row_is_skipped_by_line_and_the_rest_screened(tmp_path: Path, fmt: str,
                                                               fault: str) -> None:
    rows = [_row(n) for n in range(1, 6)]
    if fault == "bad byte":
        rows[2] = rows[2].replace(b"Kansas City", b"Kansas \xff City")
    elif fmt != "csv":
        rows[2] = rows[2][:-1] + b', "firearm_recovered": true}'
    if fmt == "jsonl":
        data = b"\n".join(rows) + b"\n"
    elif fmt == "json":
        data = b"[\n" + b",\n".join(rows) + b"\n]\n"
    else:  # column twice is refused as a whole (test_readers)
        data = b"referral_id,received,jurisdiction,charges[0].category\n" + b"".join(
            b"KC-%d,2023-03-14,Kansas%s City,drug_possession\n" % (n, b" \xff" if n == 3
                                                                     else b"")
            for n in range(1, 6))
    source = tmp_path / f"in.{fmt}"
    source.write_bytes(data)
    result = cli("batch", str(source), "--guidelines", str(RULES), "--audit-dir",
                 str(tmp_path / "audit"), "--json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["screened"] == 4
    (skipped,) = [line for line in result.stderr.splitlines() if "skipped" in line]
    # The third row: line 3 of .jsonl; line 4 of .json ('[' first) and .csv (header first).
    assert f"line {3 if fmt == 'jsonl' else 4}:" in skipped
    assert ("not UTF-8" if fault == "bad byte" else "duplicate key 'firearm_recovered'") \
        in skipped


def test_screen_refuses_a_referral_naming_a_key_twice(tmp_path: Path) -> None:
    path = tmp_path / "twice.json"
    text = json.dumps(referral(), indent=1)[:-2] + ',\n "firearm_recovered": true\n}'
    path.write_text(text)
    result = cli("screen", str(path), "--guidelines", str(RULES), "--no-log")
    assert result.exit_code == 2
    message = one_line_error(result.stderr)
    assert "duplicate key 'firearm_recovered'" in message
    assert f"{path}:{text.count(chr(10))}:" in message  # the line of the second one


def test_intake_rejects_a_referral_naming_a_key_twice(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "twice.json").write_text('{"referral_id": "A", "referral_id": "B"}')
    IntakeQueue(inbox, Screener.open(RULES, tmp_path / "audit"), "alice").run(Prosecutor())
    reason = next((inbox / "rejected").glob("*.error.txt")).read_text()
    assert "duplicate key 'referral_id'" in reason


# --- 14. echoed input is clipped ------------------------------------------------------


@pytest.mark.parametrize("where", ["key", "value", "nested key"])
def test_a_huge_key_or_value_gives_a_short_error(tmp_path: Path, where: str) -> None:
    huge = "k" * 1_000_000
    data = referral()
    if where == "key":
        data[huge] = 1
    elif where == "value":
        data["jurisdiction"] = [huge]
    else:
        data["violence"] = {huge: True}
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(data))
    result = cli("screen", str(path), "--guidelines", str(RULES), "--no-log")
    assert result.exit_code == 2
    assert len(one_line_error(result.stderr)) < 400


def test_a_huge_cell_in_a_batch_gives_a_short_skip_line(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("referral_id,received,jurisdiction,charges[0].category,"
                      "firearm_recovered\nKC-1,2023-03-14,Kansas City,drug_possession,"
                      + "x" * 1_000_000 + "\n")
    result = cli("batch", str(source), "--guidelines", str(RULES), "--no-log")
    assert result.exit_code == 1
    assert max(len(line) for line in result.stderr.splitlines()) < 400


# --- 10. YAML that expands without end ------------------------------------------------

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
    for i in range(8))  # 9 levels of 9: 387 million values once expanded
CYCLE = "id: cyclic\nrules: &r\n  - *r\n"


@pytest.mark.slow
@pytest.mark.parametrize("text", [BOMB, CYCLE], ids=["alias bomb", "cyclic anchor"])
@pytest.mark.parametrize("role", ["guidelines", "mapping", "group map", "benchmark"])
def test_yaml_aliases_are_refused_within_a_budget(tmp_path: Path, text: str,
                                                  role: str) -> None:
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(text)
    table = [str(REPO / "examples/data/cook_county_sao_intake_2019_sample.csv"), "--group",
             "race", "--outcome", "participant_status", "--positive", "Approved"]
    command = {
        "guidelines": ["screen", str(EXAMPLE), "--guidelines", str(hostile), "--no-log"],
        "mapping": ["batch", str(EXAMPLE), "--mapping", str(hostile), "--no-log"],
        "group map": ["disparity", *table, "--group-map", str(hostile)],
        "benchmark": ["disparity", *table, "--benchmark", str(hostile)],
    }[role]
    started = time.monotonic()
    result = process(*command, timeout=60)
    assert result.returncode == 2, result.stderr
    assert str(hostile) in one_line_error(result.stderr)
    assert time.monotonic() - started < 30


def test_a_large_file_without_aliases_is_not_taken_for_a_bomb() -> None:
    """Only an alias's copies count against the budget: a long value map (an export's
    150,000 codes) is not an alias bomb."""
    from charging_rules.guidelines.yamlsource import MAX_NODES, load_yaml

    text = "codes:\n" + "".join(f"  L{i}: drug_sale\n" for i in range(MAX_NODES + 50_000))
    data, _ = load_yaml(text, "long.yaml")
    assert len(data["codes"]) == MAX_NODES + 50_000
    shared = "a: &a [x, y]\n" + "".join(f"k{i}: *a\n" for i in range(1000))
    assert load_yaml(shared, "shared.yaml")[0]["k999"] == ["x", "y"]
    with pytest.raises(InputError) as refused:  # Python's advice is not the user's to take
        load_yaml("a: " + "9" * 5000, "digits.yaml")
    assert "digits.yaml:1:" in str(refused.value) and "sys." not in str(refused.value)


@pytest.mark.parametrize("key", ["on", "off", "yes", "No", "TRUE"])
def test_a_key_yaml_reads_as_true_or_false_is_named_on_its_own_line(key: str) -> None:
    from charging_rules.guidelines.yamlsource import load_yaml

    with pytest.raises(InputError, match=f"g.yaml:3: the key '{key}' reads as "):
        load_yaml(f"id: x\nrules:\n  - {key}: 1\n", "g.yaml")
    assert load_yaml(f"values: {{'{key}': a, 7: b}}\n", "g.yaml")[0] == {
        "values": {key: "a", 7: "b"}}


# --- 10 and 12: a FIFO (or directory) where a file belongs never blocks -------------------


def _fifo_commands(tmp_path: Path, fifo: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    key = tmp_path / "key"
    key.write_text("a-key-only-the-supervisor-holds\n")
    guideline_dir, cases = tmp_path / "set", tmp_path / "cases"
    for folder, name in ((guideline_dir, "set.yaml"), (cases, "cases.yaml")):
        folder.mkdir()
        os.mkfifo(folder / name)
    table = [str(REPO / "examples/data/cook_county_sao_intake_2019_sample.csv"), "--group",
             "race", "--outcome", "participant_status", "--positive", "Approved"]
    audit = ["--audit-dir", str(tmp_path / "audit")]
    none: dict[str, str] = {}
    return {
        "guideline file": (["screen", str(EXAMPLE), "--guidelines", str(fifo), "--no-log"],
                           none),
        "set.yaml": (["screen", str(EXAMPLE), "--guidelines", str(guideline_dir), "--no-log"],
                     none),
        "referral": (["screen", str(fifo), "--guidelines", str(RULES), "--no-log"], none),
        "batch input": (["batch", str(fifo.with_suffix(".jsonl")), "--guidelines", str(RULES),
                         "--no-log"], none),
        "mapping": (["batch", str(EXAMPLE), "--mapping", str(fifo), "--no-log"], none),
        "key file": (["audit", "checkpoint", "--out", str(tmp_path / "pins"), "--key-file",
                      str(fifo), *audit], none),
        "checkpoint file": (["audit", "verify", "--checkpoint", str(fifo), "--key-file",
                             str(key), *audit], none),
        "config": (["screen", str(EXAMPLE), "--no-log"],
                   {"CHARGING_RULES_CONFIG": str(fifo)}),
        "table": (["disparity", str(fifo.with_suffix(".csv")), *table[1:]], none),
        "group map": (["disparity", *table, "--group-map", str(fifo)], none),
        "benchmark": (["disparity", *table, "--benchmark", str(fifo)], none),
        "rule cases": (["rules", "test", str(RULES), "--cases", str(cases)], none),
        "weekly list": (["outreach", "import", str(fifo.with_suffix(".csv")), "--guidelines",
                         str(RULES), "--out", str(tmp_path / "lists"), *audit], none),
    }


FIFO_ROLES = ["guideline file", "set.yaml", "referral", "batch input", "mapping", "key file",
              "checkpoint file", "config", "table", "group map", "benchmark", "rule cases",
              "weekly list"]


@pytest.mark.slow
@pytest.mark.parametrize("role", FIFO_ROLES)
def test_a_fifo_given_as_any_input_is_refused_at_once(tmp_path: Path, role: str) -> None:
    fifo = tmp_path / "input.yaml"
    for suffix in (".yaml", ".jsonl", ".csv"):
        os.mkfifo(fifo.with_suffix(suffix))
    log.append(tmp_path / "audit", {"kind": "note"})
    command, env = _fifo_commands(tmp_path, fifo)[role]
    result = process(*command, env=env, timeout=30)  # a blocking open would time out
    assert result.returncode == 2, result.stderr
    assert "FIFO" in one_line_error(result.stderr)


def _log(tmp_path: Path) -> Path:
    audit = tmp_path / "audit"
    for number in range(3):
        log.append(audit, {"kind": "note", "n": number})
    return audit


def _fifo_segment(audit: Path) -> Path:
    os.mkfifo(audit / log.segment_name(99))
    return audit / log.segment_name(99)


def _dir_segment(audit: Path) -> Path:
    (audit / log.segment_name(99)).mkdir()
    return audit / log.segment_name(99)


def _null_segment(audit: Path) -> Path:
    (segment,) = log.segments(audit)
    segment.unlink()
    segment.symlink_to("/dev/null")
    return segment


@pytest.mark.slow
@pytest.mark.parametrize("plant", [_fifo_segment, _dir_segment, _null_segment],
                         ids=["FIFO", "directory", "symlink to /dev/null"])
def test_a_segment_that_is_not_a_file_fails_the_check_by_name(tmp_path: Path,
                                                              plant: Any) -> None:
    audit = _log(tmp_path)
    planted = plant(audit)
    audit_dir = ["--audit-dir", str(audit)]
    checks = [["audit", "verify", *audit_dir], ["audit", "list", *audit_dir],
              ["screen", str(EXAMPLE), "--guidelines", str(RULES), "--accept", *audit_dir],
              ["audit", "repair", *audit_dir]]
    for command in checks:
        result = process(*command, timeout=30)
        assert result.returncode == 1, (command, result.stderr)
        assert str(planted) in one_line_error(result.stderr)


@pytest.mark.slow
def test_a_lock_file_that_is_a_directory_is_named(tmp_path: Path) -> None:
    audit = _log(tmp_path)
    (audit / ".lock").unlink()
    (audit / ".lock").mkdir()
    result = process("screen", str(EXAMPLE), "--guidelines", str(RULES), "--accept",
                     "--audit-dir", str(audit), timeout=30)
    assert result.returncode == 2
    assert f"{audit / '.lock'}: a directory" in one_line_error(result.stderr)


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    """A folder an unprivileged user may enter (pytest's own tmp folders are owner-only)."""
    folder = Path(f"/tmp/charging-rules-faults-{os.getpid()}-{time.monotonic_ns()}")
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


@pytest.mark.slow
def test_an_unreadable_log_is_an_error_not_an_empty_log(shared: Path) -> None:
    audit = _log(shared)
    os.chmod(audit, 0o711)  # nobody may enter but not list
    code, stderr = as_nobody("audit", "verify", "--audit-dir", str(audit))
    assert code == 2 and "is not readable" in stderr  # the option's own check (click)
    os.chmod(audit, 0o755)  # nobody may list, but the segment is owner-only
    code, stderr = as_nobody("audit", "verify", "--audit-dir", str(audit))
    assert code == 2
    assert "cannot read the audit log: Permission denied" in one_line_error(stderr)
    code, stderr = as_nobody("audit", "list", "--audit-dir", str(audit))
    assert code == 2
    assert "cannot read the audit log: Permission denied" in one_line_error(stderr)


@pytest.mark.slow
def test_an_export_over_a_public_file_is_not_readable_by_others(shared: Path) -> None:
    audit = _log(shared)
    out = shared / "export.csv"
    out.write_text("public\n")
    out.chmod(0o644)
    assert process("audit", "export", "--out", str(out), "--audit-dir",
                   str(audit)).returncode == 0
    assert process("audit", "list", "--audit-dir", str(audit)).returncode == 0
    peek = subprocess.run(["runuser", "-u", "nobody", "--", "cat", str(out)],
                          capture_output=True, text=True)
    assert peek.returncode != 0 and "Permission denied" in peek.stderr


# --- 11. a stopped lock holder ---------------------------------------------------------


@pytest.fixture
def stopped_holder(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A writer holding the audit lock, then stopped (SIGSTOP) as a suspended job would be."""
    audit = _log(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; "
         "from charging_rules.audit.lock import exclusive\n"
         "with exclusive(Path(sys.argv[1])):\n    print('held', flush=True)\n"
         "    sys.stdin.read()", str(audit)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    os.kill(holder.pid, signal.SIGSTOP)
    try:
        yield audit, holder.pid
    finally:
        os.kill(holder.pid, signal.SIGCONT)
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_a_writer_gives_up_on_a_stopped_lock_holder(stopped_holder: tuple[Path, int]) -> None:
    audit, pid = stopped_holder
    before = b"".join(p.read_bytes() for p in log.segments(audit))
    started = time.monotonic()
    result = process("screen", str(EXAMPLE), "--guidelines", str(RULES), "--accept",
                     "--audit-dir", str(audit), env={"CHARGING_RULES_LOCK_TIMEOUT": "4"})
    waited = time.monotonic() - started
    assert result.returncode == 2
    notice, error = result.stderr.strip().splitlines()
    assert notice.startswith(f"waiting for the audit log lock held by pid {pid}")
    assert "gave up after 4 s" in error and "Traceback" not in result.stderr
    assert 4 <= waited < 30
    assert b"".join(p.read_bytes() for p in log.segments(audit)) == before  # nothing written


@pytest.mark.slow
def test_outreach_gives_up_on_a_stopped_lock_holder(tmp_path: Path) -> None:
    audit = tmp_path / "audit"
    audit.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | "
         "os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); "
         "sys.stdin.read()", str(audit / "outreach.lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    os.kill(holder.pid, signal.SIGSTOP)
    week = tmp_path / "week.csv"
    week.write_text("week,incident_id,victim_id,incident_date\n2023-W10,I-1,V-1,2023-03-06\n")
    try:
        result = process("outreach", "import", str(week), "--guidelines", str(RULES),
                         "--out", str(tmp_path / "lists"), "--audit-dir", str(audit),
                         env={"CHARGING_RULES_LOCK_TIMEOUT": "3"})
    finally:
        os.kill(holder.pid, signal.SIGCONT)
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    assert f"held by pid {holder.pid}" in result.stderr and "gave up" in result.stderr


# --- 13. disk full and file size limits -------------------------------------------------


@contextmanager
def tmpfs(tmp_path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs: a real ENOSPC (mounting needs root, as CI has); unmounted after."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                    str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path, "192k") as mount:
        yield mount


def _fill(disk: Path) -> Path:
    """Take every free byte (what is left is less than a page)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def _complete(audit: Path) -> list[bytes]:
    """The log's lines, checked to end on a complete, verifying record."""
    data = b"".join(p.read_bytes() for p in log.segments(audit))
    assert data.endswith(b"\n")
    assert verify(audit).ok
    return data.splitlines()


@pytest.mark.slow
def test_batch_on_a_full_disk_stops_cleanly_on_a_complete_record(tmp_path: Path) -> None:
    """Room for some of the 256-record group commits, not all: those written stand whole,
    the one that hit the full disk is taken back entirely."""
    source = tmp_path / "many.jsonl"
    source.write_text("".join(json.dumps(referral(referral_id=f"KC-{n}")) + "\n"
                              for n in range(3000)))
    with tmpfs(tmp_path, "2m") as disk:
        audit = disk / "audit"
        result = process("batch", str(source), "--guidelines", str(RULES), "--audit-dir",
                         str(audit))
        assert result.returncode == 2
        assert "No space left on device" in one_line_error(result.stderr)
        assert len(_complete(audit)) in range(256, 3000, 256)


@pytest.mark.slow
def test_repair_on_a_full_disk_leaves_no_empty_quarantine_file(small_disk: Path) -> None:
    audit = _log(small_disk)
    with log.segments(audit)[-1].open("ab") as handle:
        handle.write(b'{"kind":"recommendation","torn":"' + b"t" * 5000)
    before = log.segments(audit)[-1].read_bytes()
    filler = _fill(small_disk)
    result = process("audit", "repair", "--audit-dir", str(audit))
    assert result.returncode == 2
    assert "No space left on device" in one_line_error(result.stderr)
    quarantine = audit / log.QUARANTINE_DIR
    assert not quarantine.exists() or list(quarantine.iterdir()) == []
    assert log.segments(audit)[-1].read_bytes() == before  # as it was: nothing lost
    filler.unlink()
    assert process("audit", "repair", "--audit-dir", str(audit)).returncode == 0
    (moved,) = quarantine.iterdir()
    assert moved.read_bytes() == before[before.rindex(b"\n") + 1:]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["screen", "checkpoint", "export", "report"])
def test_a_full_disk_is_one_line_and_leaves_files_as_they_were(tmp_path: Path,
                                                                small_disk: Path,
                                                                command: str) -> None:
    audit = small_disk / "audit"
    key = tmp_path / "key"
    key.write_text("a-key-only-the-supervisor-holds\n")
    for number in range(3):
        assert process("screen", str(EXAMPLE), "--guidelines", str(RULES), "--accept",
                       "--audit-dir", str(audit), "--user", f"p{number}").returncode == 0
    pins, out = small_disk / "pins.jsonl", small_disk / "export.csv"
    assert process("audit", "checkpoint", "--out", str(pins), "--key-file", str(key),
                   "--audit-dir", str(audit)).returncode == 0
    with pins.open("ab") as handle:  # blank lines up to a page: the next seal needs a new one
        handle.write(b"\n" * (-pins.stat().st_size % 4096))
    out.write_text("an earlier export\n")
    state = {p: p.read_bytes() for p in (pins, out, *log.segments(audit))}
    # A record longer than a page cannot fit in what is left of the segment's last page.
    wordy = small_disk / "wordy.json"
    wordy.write_text(json.dumps(referral(charges=[
        {"category": "drug_possession", "drug": "marijuana", "description": "x" * 500}
        for _ in range(10)])))
    _fill(small_disk)
    result = process(*{
        "screen": ["screen", str(wordy), "--guidelines", str(RULES), "--accept"],
        "checkpoint": ["audit", "checkpoint", "--out", str(pins), "--key-file", str(key)],
        "export": ["audit", "export", "--out", str(out)],
        # threshold 1: a 3-screening log has nothing publishable at 11 (exit 1, nothing
        # written), and this test is about the write
        "report": ["report", "--output", str(small_disk / "report"), "--threshold", "1"],
    }[command], "--audit-dir", str(audit))
    assert result.returncode == 2, result.stderr
    assert "No space left on device" in one_line_error(result.stderr)
    assert {p: p.read_bytes() for p in state} == state
    assert not list(small_disk.glob(".*.tmp"))
    _complete(audit)


def _file_size_limit(limit: int) -> Any:
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.slow
def test_a_file_size_limit_mid_record_is_taken_back(tmp_path: Path) -> None:
    """EFBIG after part of the record was written: the log is cut back to where it was."""
    audit = tmp_path / "audit"
    assert process("screen", str(EXAMPLE), "--guidelines", str(RULES), "--accept",
                   "--audit-dir", str(audit)).returncode == 0
    (segment,) = log.segments(audit)
    before = segment.read_bytes()
    result = process("screen", str(EXAMPLE), "--guidelines", str(RULES), "--accept",
                     "--audit-dir", str(audit), preexec=_file_size_limit(len(before) + 100))
    assert result.returncode == 2
    assert "File too large" in one_line_error(result.stderr)
    assert segment.read_bytes() == before
    pins, key = tmp_path / "pins.jsonl", tmp_path / "key"
    key.write_text("a-key-only-the-supervisor-holds\n")
    assert process("audit", "checkpoint", "--out", str(pins), "--key-file", str(key),
                   "--audit-dir", str(audit)).returncode == 0
    sealed = pins.read_bytes()
    again = process("audit", "checkpoint", "--out", str(pins), "--key-file", str(key),
                    "--audit-dir", str(audit), preexec=_file_size_limit(len(sealed) + 20))
    assert again.returncode == 2 and "File too large" in one_line_error(again.stderr)
    assert pins.read_bytes() == sealed


# --- 15 and 16. the demo -------------------------------------------------------------


@pytest.mark.slow
def test_every_demo_decision_replays(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert process("demo", "--output", str(out), "--count", "100", "--json",
                   timeout=300).returncode == 0
    audit = out / "audit_logs"
    recommendations = [r for r in log.read_records(audit) if r["kind"] == "recommendation"]
    sets = {r["guideline_set"]["sha256"]: r["decision_id"] for r in recommendations}
    assert len(sets) == 2  # the "before" practice and the current guideline
    for decision_id in sets.values():
        replay = process("audit", "replay", decision_id, "--audit-dir", str(audit), "--json")
        assert replay.returncode == 0, replay.stderr
        assert json.loads(replay.stdout)["reproduced"] is True


@pytest.mark.parametrize("problem", ["before set missing", "output not writable"])
def test_the_demo_checks_its_inputs_before_writing_anything(tmp_path: Path,
                                                            problem: str) -> None:
    out = tmp_path / "demo"
    args = ["demo", "--output", str(out), "--count", "100"]
    if problem == "before set missing":
        args += ["--before", str(tmp_path / "no-such-set")]
    else:
        out.write_text("a file, not a folder")
        args[2] = str(out / "inside")
    result = cli(*args)
    assert result.exit_code == 2
    one_line_error(result.stderr)
    assert not (out / "referrals.jsonl").exists() and not (out / "audit_logs").exists()


# --- the log read back: what a person is shown is what the tool wrote ------------------


def _screened(tmp_path: Path) -> tuple[Path, str]:
    audit = tmp_path / "audit"
    result = cli("screen", str(EXAMPLE), "--guidelines", str(RULES), "--audit-dir", str(audit),
                 "--json")
    assert result.exit_code == 0, result.output
    return audit, str(json.loads(result.stdout)["decision_id"])


def test_a_logged_record_naming_a_key_twice_is_refused_when_shown(tmp_path: Path) -> None:
    audit, decision_id = _screened(tmp_path)
    (segment,) = log.segments(audit)
    line = segment.read_bytes()
    forged = line.replace(b'"kind":"recommendation"',
                          b'"kind":"recommendation","kind":"recommendation"')
    body = forged[:-log.HASH_TAIL]  # re-hashed over the forged bytes: the chain is fooled
    digest = hashlib.sha256(body + b"}").hexdigest().encode()
    segment.write_bytes(body + log.HASH_MEMBER + digest + b'"}\n')
    assert verify(audit).ok
    for command in (["audit", "show", decision_id], ["audit", "export"]):
        result = cli(*command, "--audit-dir", str(audit))
        assert result.exit_code == 1
        assert "duplicate key 'kind'" in one_line_error(result.stderr)


@pytest.mark.slow
def test_an_archived_guideline_file_that_is_a_fifo_fails_replay_at_once(tmp_path: Path) -> None:
    audit, decision_id = _screened(tmp_path)
    (archived,) = (audit / "guidelines").iterdir()
    victim = next(archived.iterdir())
    victim.unlink()
    os.mkfifo(victim)
    result = process("audit", "replay", decision_id, "--audit-dir", str(audit), timeout=30)
    assert result.returncode == 1
    assert "FIFO" in one_line_error(result.stderr)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.dictionaries(st.text(max_size=6), st.text(max_size=12), max_size=4),
                     min_size=1, max_size=8),
       bad=st.integers(0, 7), junk=st.binary(min_size=1, max_size=4).filter(
           lambda b: not _decodes(b) and b"\r" not in b and b"\n" not in b))
def test_undecodable_bytes_cost_exactly_their_own_line(rows: list[dict[str, str]], bad: int,
                                                        junk: bytes) -> None:
    """Whatever the rows and wherever bytes that are not UTF-8 land, every other row reads
    back as written and the bad one is an Unreadable at its own line."""
    bad %= len(rows)
    lines = [json.dumps(row, ensure_ascii=False).encode() for row in rows]
    lines[bad] = lines[bad][:1] + junk + lines[bad][1:]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        with RowSource(path) as source:
            got = list(source)
    assert [line for line, _ in got] == list(range(1, len(rows) + 1))
    for index, (_, value) in enumerate(got):
        if index == bad:
            assert isinstance(value, Unreadable) and "UTF-8" in value.reason
        else:
            assert value == rows[index]


def _decodes(data: bytes) -> bool:
    try:
        (b"{" + data).decode()
    except UnicodeDecodeError:
        return False
    return True


@given(key=st.text(min_size=1000, max_size=5000))
def test_no_error_echoes_more_than_a_clip_of_its_input(key: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_record({**referral(), key: 1})
    assert len(str(raised.value)) < 300
