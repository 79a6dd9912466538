"""An installed tool, not a checkout: the guideline set in force is found from any folder, in
the documented order; a config file that is wrong is refused; `-` reads standard input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from charging_rules import __version__
from charging_rules.cli.app import app
from charging_rules.guidelines.loader import load_guidelines
from tests.helpers import COOK_COUNTY, EXAMPLES, REPO, RULES

REFERRAL = EXAMPLES / "referrals" / "kc-sale-no-violence.json"


def _kc_sha(path: Path) -> str:
    """The KC guideline's own sha256 in the set at `path` (what a recommendation names)."""
    return next(g.sha256 for g in load_guidelines(path).guidelines if g.id == "kc-drug-policy")


SHIPPED_SHA = _kc_sha(RULES)


def _screen(*extra: str, input: str | None = None) -> dict[str, object]:
    result = CliRunner().invoke(app, ["screen", *extra, "--no-log", "--json"], input=input)
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.stdout)
    return out


def _set_sha(out: dict[str, object]) -> str:
    guidelines = out["guidelines"]
    assert isinstance(guidelines, list)
    return str(next(g["sha256"] for g in guidelines if g["id"] == "kc-drug-policy"))


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder, no config file, no environment settings."""
    folder = tmp_path / "empty"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("CHARGING_RULES_CONFIG", "")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in ("CHARGING_RULES_GUIDELINES", "CHARGING_RULES_AUDIT_DIR"):
        monkeypatch.delenv(name, raising=False)
    return folder


def _kc_version(path: Path, version: str) -> Path:
    """The KC guideline alone, as another version: a set of one with its own sha256."""
    path.write_text((RULES / "kc-drug-policy.yaml").read_text().replace(
        'version: "1.0"', f'version: "{version}"'))
    return path


def test_from_an_empty_folder_the_set_shipped_in_the_package_decides(elsewhere: Path) -> None:
    out = _screen(str(REFERRAL))
    assert out["outcome"] == "decline"
    assert _set_sha(out) == SHIPPED_SHA
    assert not (elsewhere / "audit_logs").exists()


def test_guidelines_are_found_in_the_documented_order(elsewhere: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    local = elsewhere / "rules"
    local.mkdir()
    (local / "set.yaml").write_text((RULES / "set.yaml").read_text())
    for source in RULES.glob("*.yaml"):
        if source.name != "set.yaml":
            (local / source.name).write_text(source.read_text())
    _kc_version(local / "kc-drug-policy.yaml", "local")
    assert _set_sha(_screen(str(REFERRAL))) == _kc_sha(local)  # ./rules beats the shipped set

    configured = _kc_version(tmp_path / "configured.yaml", "configured")
    config = tmp_path / "config.toml"
    config.write_text(f'guidelines = "{configured}"\n')
    monkeypatch.setenv("CHARGING_RULES_CONFIG", str(config))
    assert _set_sha(_screen(str(REFERRAL))) == _kc_sha(configured)

    from_env = _kc_version(tmp_path / "env.yaml", "env")
    monkeypatch.setenv("CHARGING_RULES_GUIDELINES", str(from_env))
    assert _set_sha(_screen(str(REFERRAL))) == _kc_sha(from_env)

    assert _set_sha(_screen(str(REFERRAL), "--guidelines", str(RULES))) == SHIPPED_SHA


@pytest.mark.parametrize(("text", "expected"), [
    ('guidelnes = "rules"\n', "unknown key 'guidelnes'"),
    ("guidelines = [1, 2]\n", "guidelines: must be non-empty text"),
    ("guidelines = \n", "invalid TOML"),
    ('office = {name = 3}\n', "office: a table of text values"),
])
def test_a_bad_config_file_is_refused_naming_it(elsewhere: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch, text: str,
                                                expected: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    monkeypatch.setenv("CHARGING_RULES_CONFIG", str(config))
    result = CliRunner().invoke(app, ["screen", str(REFERRAL), "--no-log"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {config}: ")
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_named_config_file_that_is_missing_is_refused(elsewhere: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARGING_RULES_CONFIG", str(tmp_path / "typo.toml"))
    result = CliRunner().invoke(app, ["screen", str(REFERRAL), "--no-log"])
    assert result.exit_code == 2
    assert "typo.toml: no config file" in result.stderr


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"charging-rules {__version__}"


def test_a_referral_from_standard_input(elsewhere: Path) -> None:
    out = _screen("-", input=REFERRAL.read_text())
    assert out["referral_id"] == json.loads(REFERRAL.read_text())["referral_id"]
    assert out["outcome"] == "decline"
    result = CliRunner().invoke(app, ["screen", "-", "--no-log"], input="{not json")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: <stdin>:1: invalid JSON")


@pytest.mark.parametrize(("args", "expected"), [
    (["--outcome", "fiel"], "outcome 'fiel' is not an outcome"),
    (["--since", "2024-02-01", "--until", "2024-01-01"], "nothing can match"),
])
def test_filters_that_cannot_match_are_refused(tmp_path: Path, args: list[str],
                                               expected: str) -> None:
    logged = CliRunner().invoke(app, ["screen", str(REFERRAL), "--audit-dir", str(tmp_path)])
    assert logged.exit_code == 0, logged.output
    result = CliRunner().invoke(app, ["audit", "list", "--audit-dir", str(tmp_path), *args])
    assert result.exit_code == 2
    assert expected in result.stderr


def test_help_shows_bracketed_defaults_literally() -> None:
    result = CliRunner().invoke(app, ["screen", "--help"], env={"COLUMNS": "200"})
    assert "[default: $CHARGING_RULES_AUDIT_DIR, else the config file's `audit_dir`, else " \
        "./audit_logs]" in " ".join(result.stdout.split())


@pytest.mark.slow
def test_the_built_wheel_screens_from_an_empty_folder(tmp_path: Path) -> None:
    """What `pip install .` ships: the guideline sets inside the package, found from any
    folder (the wheel is installed apart from the checkout and run with the checkout out of
    reach)."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path / "dist"), str(REPO)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("charging_rules-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "charging_rules/data/rules/kc-drug-policy.yaml" in names
    assert "charging_rules/data/before/set.yaml" in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "CHARGING_RULES_CONFIG": "",
           "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    env.pop("CHARGING_RULES_GUIDELINES", None)
    run = subprocess.run([sys.executable, "-m", "charging_rules", "screen", str(REFERRAL),
                          "--no-log", "--json"], cwd=empty, env=env, capture_output=True,
                         text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["outcome"] == "decline"
    located = subprocess.run([sys.executable, "-c", "import charging_rules; "
                              "print(charging_rules.__file__)"], cwd=empty, env=env,
                             capture_output=True, text=True, check=True)
    assert located.stdout.startswith(str(target))


@pytest.mark.parametrize("form", ["jsonl", "json", "csv"])
def test_a_batch_from_standard_input_reads_as_the_same_file_would(tmp_path: Path,
                                                                    form: str) -> None:
    referrals = [json.loads((EXAMPLES / "referrals" / name).read_text())
                 for name in ("kc-sale-no-violence.json", "kc-burglary.json")]
    if form == "csv":
        text = COOK_COUNTY.read_text()
        extra = ["--mapping", str(EXAMPLES / "mappings" / "cook_county_intake.yaml")]
        source = COOK_COUNTY
    else:
        text = "\n".join(json.dumps(r) for r in referrals) if form == "jsonl" \
            else json.dumps(referrals, indent=2)
        extra = []
        source = tmp_path / f"referrals.{form}"
        source.write_text(text)
    from_stdin = CliRunner().invoke(app, ["batch", "-", "--no-log", "--json", *extra],
                                    input=text)
    from_file = CliRunner().invoke(app, ["batch", str(source), "--no-log", "--json", *extra])
    assert from_stdin.exit_code == from_file.exit_code
    assert json.loads(from_stdin.stdout) == json.loads(from_file.stdout)
    assert json.loads(from_stdin.stdout)["screened"] >= 2
