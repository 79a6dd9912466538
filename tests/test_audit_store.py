"""Which audit store a command uses, and reading commands on a log that is not there: exit 2
"no audit log at ..." with nothing created (a nightly `audit verify` with a mistyped folder
must fail, not report an intact empty log)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from charging_rules.cli.app import app
from tests.helpers import EXAMPLES, RULES

runner = CliRunner()


def reading_commands(tmp_path: Path) -> list[list[str]]:
    key = tmp_path / "key"
    key.write_text("a-checkpoint-key-of-some-length")
    return [["audit", "verify"], ["audit", "list"], ["audit", "show", "abcdef"],
            ["audit", "replay", "abcdef"], ["audit", "export"],
            ["audit", "checkpoint", "--out", str(tmp_path / "pins"), "--key-file", str(key)],
            ["disparity"], ["impact", "--proposed", str(RULES)],
            ["report", "--output", str(tmp_path / "report")], ["outreach", "status"]]


def test_reading_commands_on_a_missing_audit_folder_are_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "audit_logz"
    for command in reading_commands(tmp_path):
        result = runner.invoke(app, [*command, "--audit-dir", str(missing)])
        assert result.exit_code == 2, (command, result.output)
        assert result.stderr == (f"error: no audit log at {missing} (nothing has been logged "
                                 "there: check --audit-dir)\n"), command
        assert not missing.exists()


def test_a_database_from_the_environment_is_used_unless_a_folder_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nowhere = f"postgresql://nobody@/nodb?host={tmp_path}&connect_timeout=2"
    monkeypatch.setenv("CHARGING_RULES_AUDIT_DB", nowhere)
    referral = str(EXAMPLES / "referrals" / "kc-sale-no-violence.json")
    result = runner.invoke(app, ["screen", referral])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot connect to the audit database {nowhere}")
    audit = tmp_path / "audit"
    assert runner.invoke(app, ["screen", referral, "--audit-dir", str(audit)]).exit_code == 0
    assert runner.invoke(app, ["audit", "verify", "--audit-dir", str(audit)]).exit_code == 0
    both = runner.invoke(app, ["audit", "verify", "--audit-dir", str(audit), "--audit-db",
                               nowhere])
    assert both.exit_code == 2 and "not both" in both.stderr


def test_a_password_in_the_url_is_never_shown(tmp_path: Path) -> None:
    url = f"postgresql://clerk:s3cret-pw@/nodb?host={tmp_path}&connect_timeout=2"
    result = runner.invoke(app, ["audit", "verify", "--audit-db", url])
    assert result.exit_code == 2
    assert "s3cret-pw" not in result.stderr and "clerk:***@" in result.stderr
