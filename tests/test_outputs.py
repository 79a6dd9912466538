"""Every command that writes refuses a path over its own input or over one of the audit
log's files: exit 2, one line naming the option, and nothing read or logged is changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from charging_rules.audit.outputs import check_output
from charging_rules.cli.app import app
from charging_rules.errors import InputError
from tests.helpers import REPO, RULES, referral

runner = CliRunner()
WEEK = REPO / "examples" / "outreach" / "synthetic-2023-W01.csv"
COOK_MAPPING = REPO / "examples" / "mappings" / "cook_county_intake.yaml"


def test_an_output_is_refused_over_an_input_by_any_spelling(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("{}\n")
    (tmp_path / "link.jsonl").symlink_to(source)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    for spelling in ("in.jsonl", "./in.jsonl", "sub/../in.jsonl", "link.jsonl",
                     str(source)):
        with pytest.raises(InputError, match="--out is the input"):
            check_output(Path(spelling), "--out", reads=[source])
    log = tmp_path / "log"
    for owned in ("log/decisions-000000000001.jsonl", "log/decisions-000000000900.jsonl",
                  "log/.lock", "log/quarantine/x", "log/guidelines", "./log/../log/.lock"):
        with pytest.raises(InputError, match="is a file of the audit log"):
            check_output(Path(owned), "--out", audit_dir=log)
    # Files beside the log are not read by it: a report or an export may go there.
    for beside in ("out.jsonl", "log/export.csv", "log/report", "log/decisions.csv", "log"):
        check_output(Path(beside), "--out", reads=[source], audit_dir=log)


def _snapshot(*roots: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for root in roots
            for path in ([root] if root.is_file() else sorted(root.rglob("*")))
            if path.is_file()}


@pytest.fixture
def office(tmp_path: Path) -> Path:
    """A logged batch of two referrals, the inputs and a key beside it."""
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(referral(referral_id=f"KC-{n}")) + "\n"
                              for n in range(2)))
    done = runner.invoke(app, ["batch", str(source), "--guidelines", str(RULES),
                               "--audit-dir", str(tmp_path / "log")])
    assert done.exit_code == 0, done.output
    (tmp_path / "key").write_text("a-key-only-the-supervisor-holds\n")
    (tmp_path / "weeks").mkdir()
    shutil.copy(WEEK, tmp_path / "weeks")
    shutil.copy(COOK_MAPPING, tmp_path / "map.yaml")
    return tmp_path


CASES = {
    "batch over its input": ["batch", "{d}/in.jsonl", "--no-log", "--out", "{d}/in.jsonl"],
    "batch into a segment": ["batch", "{d}/in.jsonl", "--audit-dir", "{d}/log", "--out",
                             "{d}/log/decisions-000000000001.jsonl"],
    "batch over a guideline": ["batch", "{d}/in.jsonl", "--no-log", "--guidelines",
                               "{d}/rules/kc-drug-policy.yaml", "--out",
                               "{d}/rules/kc-drug-policy.yaml"],
    "batch over the mapping": ["batch", "{d}/in.jsonl", "--no-log", "--mapping", "{d}/map.yaml",
                               "--out", "{d}/map.yaml"],
    "export into the next segment": ["audit", "export", "--audit-dir", "{d}/log", "--out",
                                     "{d}/log/decisions-000000000003.jsonl"],
    "export over the archive": ["audit", "export", "--audit-dir", "{d}/log", "--out",
                                "{d}/log/guidelines"],
    "checkpoint over the key": ["audit", "checkpoint", "--audit-dir", "{d}/log", "--key-file",
                                "{d}/key", "--out", "{d}/key"],
    "checkpoint into the lock": ["audit", "checkpoint", "--audit-dir", "{d}/log",
                                 "--key-file", "{d}/key", "--out", "{d}/log/.lock"],
    "report into the archive": ["report", "--audit-dir", "{d}/log", "--threshold", "1",
                                "--output", "{d}/log/guidelines"],
    "outreach lists into the archive": ["outreach", "import", "{d}/weeks", "--audit-dir",
                                        "{d}/log", "--out", "{d}/log/guidelines/hub"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_command_writes_over_what_it_reads_or_into_the_log(office: Path, case: str) -> None:
    shutil.copytree(RULES, office / "rules")
    before = _snapshot(office)
    args = [arg.format(d=office) for arg in CASES[case]]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    option = next(arg for arg in args if arg in ("--out", "--output"))
    assert result.stderr.count("\n") == 1 and f"{option} is " in result.stderr, result.stderr
    assert _snapshot(office) == before
