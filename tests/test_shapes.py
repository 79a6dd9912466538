"""A record whose chain verifies but whose members are not what the log's readers use (written
by another tool, or edited and rehashed): `audit list`, `audit export`, `disparity`, `impact`
and `report` each stop with one line naming its segment, line and member, never a
traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from charging_rules.audit import log
from charging_rules.cli.app import app
from charging_rules.model.kinds import parse_record
from charging_rules.screening.screener import Screener
from tests.helpers import RULES, referral, rehash_from

runner = CliRunner()
READERS = (["disparity", "--min-n", "1"], ["audit", "list"], ["audit", "export"],
           ["impact", "--proposed", str(RULES)], ["report", "--threshold", "1", "--output"])
# Members the readers use, on each kind of record, and nested ones they reach into.
MEMBERS = ("actor", "decision_id", "seq", "timestamp", "record_id", "result", "referral",
           "demographics", "guideline_set", "outcome", ("result", "outcome"),
           ("result", "rules"), ("guideline_set", "sha256"), ("referral", "charges"),
           ("demographics", "race"))
values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3),
                   st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Path:
    audit = tmp_path_factory.mktemp("shapes") / "log"
    screener = Screener.open(RULES, audit)
    for n, override in enumerate((None, "file", None)):
        data = referral(referral_id=f"KC-{n}", demographics={"race": ("Black", "White")[n % 2]})
        record, demographics = parse_record(data)
        screened = screener.screen(record, demographics, "ana", override=override,
                                   reason="a reason" if override else None)
        screener.decide(screened, "ana", override, "a reason" if override else None)
    return audit


def _rewritten(record: dict[str, Any], member: str | tuple[str, str], value: Any
               ) -> dict[str, Any]:
    if isinstance(member, str):
        return {member: value}
    outer, inner = member
    nested = record.get(outer)
    return {outer: {**nested, inner: value}} if isinstance(nested, dict) else {}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 5), member=st.sampled_from(MEMBERS), value=values)
def test_a_rehashed_record_of_the_wrong_shape_is_a_failed_check_not_a_crash(
        office: Path, tmp_path_factory: pytest.TempPathFactory, index: int,
        member: str | tuple[str, str], value: Any) -> None:
    audit = tmp_path_factory.mktemp("forged") / "log"
    shutil.copytree(office, audit)
    segment = log.segments(audit)[0]
    lines = segment.read_bytes().splitlines(keepends=True)
    changes = _rewritten(json.loads(lines[index]), member, value)
    segment.write_bytes(b"".join(rehash_from(lines, index, **changes)))
    for reader in READERS:
        args = [*reader, *([str(audit.parent / "report")] if reader[0] == "report" else [])]
        result = runner.invoke(app, [*args, "--audit-dir", str(audit)])
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            reader, changes, result.exception)
        assert result.exit_code in (0, 1, 2), (reader, result.output)
        if result.exit_code:
            assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), (
                reader, changes, result.stderr)


DELETE = object()  # a member left out


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 5), changes=st.lists(st.tuples(
    st.sampled_from(MEMBERS), st.one_of(values, st.just(DELETE))), max_size=3))
def test_the_quick_test_and_the_member_walk_agree_on_every_record(
        office: Path, index: int, changes: list[tuple[str | tuple[str, str], Any]]) -> None:
    """Well-formed records pass direct type tests; only the others are walked to name the
    member at fault. The two must agree, or a bad record would pass unchecked."""
    from charging_rules.audit.shapes import _FITS, SHAPES, _problem

    record = json.loads(log.segments(office)[0].read_bytes().splitlines()[index])
    for member, value in changes:
        if value is DELETE:
            outer, inner = member if isinstance(member, tuple) else (member, None)
            target = record if inner is None else record.get(outer)
            if isinstance(target, dict):
                target.pop(inner if inner is not None else outer, None)
        else:
            record.update(_rewritten(record, member, value))
    kind = record["kind"]
    assert _FITS[kind](record) == (_problem(record, SHAPES[kind], "") is None), record
