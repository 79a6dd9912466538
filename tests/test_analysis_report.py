"""demo -> audit log -> impact, disparity, report; the report renders in headless Chromium."""

from __future__ import annotations

import csv
import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from charging_rules.audit.log import segments
from charging_rules.cli.app import app
from tests.helpers import REPO

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, [
        "demo", "--output", str(out), "--count", "3000", "--before",
        str(REPO / "examples/guidelines/before"), "--guidelines", str(REPO / "rules"),
        "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_demo_reproduces_the_office_analysis(demo: tuple[Path, dict[str, Any]]) -> None:
    out, payload = demo
    assert payload["synthetic"] is True
    impact = payload["impact"]
    assert impact["changed"] == sum(impact["transitions"].values()) > 0
    assert impact["transitions"].get("file->decline", 0) > 0
    rates = impact["rates"]["groups"]
    assert rates["Black"]["proposed_rate"] < rates["Black"]["baseline_rate"]
    rep = payload["disparity"]["representation"]
    assert rep["benchmark"] == "kansas-city-office-39"
    black = next(g for g in rep["groups"] if g["group"] == "Black")
    assert black["population_share"] == pytest.approx(0.39)
    points = payload["disparity"]["decision_points"]
    assert set(points) == {"recommendation", "decision", "override"}
    # The demo writes its own log (never ./audit_logs), and it verifies.
    assert segments(out / "audit_logs")
    verify = CliRunner().invoke(app, ["audit", "verify", "--audit-dir",
                                      str(out / "audit_logs"), "--json"])
    assert verify.exit_code == 0, verify.output
    assert json.loads(verify.stdout)["ok"] is True


def test_disparity_and_impact_on_the_demo_log(demo: tuple[Path, dict[str, Any]]) -> None:
    out, _ = demo
    runner = CliRunner()
    result = runner.invoke(app, ["disparity", "--audit-dir", str(out / "audit_logs"),
                                 "--stage", "recommendation", "--by", "offense", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"reference", "groups"} <= set(data)
    assert set(data["groups"][0]) == {"group", "n", "positive", "rate", "rri", "ci_low",
                                      "ci_high", "p_value", "suppressed"}
    assert "drug_sale" in data["by"]["strata"]
    result = runner.invoke(app, ["impact", str(out / "referrals.jsonl"), "--baseline",
                                 str(REPO / "examples/guidelines/before"), "--proposed",
                                 str(REPO / "rules"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"] == 3000
    assert sum(g["total"] for g in data["by_group"].values()) == 3000


def test_report_csvs_suppress_small_cells(demo: tuple[Path, dict[str, Any]],
                                          tmp_path: Path) -> None:
    out, _ = demo
    result = CliRunner().invoke(app, [
        "report", "--audit-dir", str(out / "audit_logs"), "--output", str(tmp_path),
        "--baseline", str(REPO / "examples/guidelines/before"), "--proposed",
        str(REPO / "rules"), "--threshold", "11", "--json"])
    assert result.exit_code == 0, result.output
    names = {Path(p).name for p in json.loads(result.stdout)["csv"]}
    assert names == {"decision_points.csv", "rri.csv", "trend.csv", "by_offense.csv",
                     "overrides.csv", "impact.csv"}
    count_columns = {"referred", "recommended_file", "filed", "decided", "overridden",
                     "referrals", "changed", "recommended"}
    for name in names:
        for row in csv.DictReader((tmp_path / name).open()):
            for column in count_columns & set(row):
                value = row[column]
                assert value == "suppressed" or int(value) == 0 or int(value) >= 11, \
                    (name, column, value)
    html = (tmp_path / "report.html").read_text()
    assert "<svg" in html and "<script" not in html and "https://" not in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing fetched


def _png_colours(path: Path) -> int:
    """Distinct colours in a PNG's decoded pixels (8-bit RGB/RGBA, no filters beyond PNG's)."""
    data = path.read_bytes()
    pos, chunks, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, _, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            chunks += body
        pos += 12 + length
    raw = zlib.decompress(chunks)
    bpp = 4 if ctype == 6 else 3
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return len({row[i:i + 3] for row in rows[::7] for i in range(0, stride, bpp * 5)})


def test_report_renders_in_headless_chromium(demo: tuple[Path, dict[str, Any]],
                                             tmp_path: Path) -> None:
    _, payload = demo
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium): the "
                    "report's browser rendering was NOT checked")
    shot = tmp_path / "report.png"
    subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                    "--window-size=1000,1400", f"--screenshot={shot}",
                    Path(payload["report"]).as_uri()],
                   check=True, capture_output=True, timeout=90)
    assert shot.exists()
    # Not blank: a white page has one colour; the charts' bars, lines and text many.
    assert _png_colours(shot) > 20
    dom = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'p2'}",
                          "--dump-dom", Path(payload["report"]).as_uri()],
                         check=True, capture_output=True, timeout=90, text=True).stdout
    assert dom.count("<svg") == 6 and "<rect" in dom and "<circle" in dom


@pytest.mark.parametrize("command", ["report", "demo"])
def test_an_output_that_is_a_file_is_an_input_error(demo: tuple[Path, dict[str, Any]],
                                                     tmp_path: Path, command: str) -> None:
    out, _ = demo
    taken = tmp_path / "taken"
    taken.write_text("not a directory")
    args = ["--audit-dir", str(out / "audit_logs")] if command == "report" else \
        ["--count", "100", "--before", str(REPO / "examples/guidelines/before"),
         "--guidelines", str(REPO / "rules")]
    result = CliRunner().invoke(app, [command, *args, "--output", str(taken)])
    assert result.exit_code == 2, result.output
    assert f"{taken}: cannot write the {command}" in result.output
    assert taken.read_text() == "not a directory"
