"""demo -> audit log -> impact, disparity, report; the report renders in headless Chromium."""

from __future__ import annotations

import csv
import json
import os
import re
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


def _png_rows(path: Path) -> list[bytes]:
    """A PNG's decoded pixel rows as RGB bytes (8-bit RGB/RGBA, PNG's own filters)."""
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
        prev = line
        rows.append(bytes(v for i, v in enumerate(line) if i % bpp < 3))
    return rows


def _png_colours(path: Path) -> int:
    """Distinct colours in a sample of the PNG's pixels."""
    rows = _png_rows(path)
    return len({row[i:i + 3] for row in rows[::7] for i in range(0, len(row), 15)})


@pytest.mark.slow
def test_report_renders_in_headless_chromium(demo: tuple[Path, dict[str, Any]],
                                             tmp_path: Path) -> None:
    """A real browser renders the demo's report: the summary first, then methods and the
    glossary; the period; charts painted down the page; and no script ran."""
    _, payload = demo
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser is not None, ("chromium is not installed (Debian: apt-get install -y "
                                 "chromium): the report's rendering cannot be checked")
    shot = tmp_path / "report.png"
    subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                    "--window-size=1200,3000", f"--screenshot={shot}",
                    Path(payload["report"]).as_uri()],
                   check=True, capture_output=True, timeout=90)
    assert shot.exists()
    # Not blank: a white page has one colour; the charts' bars, lines and text many, and
    # they reach down the page (content in every third of it, not only a header).
    assert _png_colours(shot) > 20
    bands = _inked_bands(shot, 3)
    assert all(bands), bands
    dom = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'p2'}",
                          "--dump-dom", Path(payload["report"]).as_uri()],
                         check=True, capture_output=True, timeout=90, text=True).stdout
    ids = re.findall(r'<section id="([a-z_]+)"', dom)
    assert ids[0] == "summary" and {"methods", "glossary", "suppression"} <= set(ids), ids
    assert re.search(r"Period covered: \d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2}", dom)
    assert "<script" not in dom and dom.count("<svg") == 6
    assert "guidelines changed" in dom  # the guideline change marked on the trend
    assert "descriptive" in dom.lower() and "not causal" in dom.lower()


def _inked_bands(path: Path, parts: int) -> list[int]:
    """Rows with non-white pixels in each of `parts` horizontal bands of the screenshot."""
    rows = _png_rows(path)
    size = len(rows) // parts
    return [sum(any(b < 200 for b in row) for row in rows[i * size:(i + 1) * size])
            for i in range(parts)]


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


def test_report_opens_with_a_plain_summary_and_reads_as_words(
        demo: tuple[Path, dict[str, Any]]) -> None:
    """#15.1, #15.3, #15.6 on the demo's report: summary first with the period, findings in
    words with their interval and band verdict, the guideline change, the reason a relative
    rate can rise while every rate falls; no snake_case or set ids in legends; the filed
    RRI row stays when one small group is hidden; the reference has no interval."""
    _, payload = demo
    html = Path(payload["report"]).read_text()
    sections = re.findall(r"<section id='([a-z_]+)'", html)
    assert sections[0] == "summary" and sections[-3:] == ["caveats", "glossary", "about"]
    summary = html.split("<section id='summary'>")[1].split("</section>")[0]
    assert re.search(r"Period covered: 2021-07-\d\d to 2022-06-\d\d", summary)
    assert re.search(r"Black referrals were recommended for filing at \d\.\d\d times the rate "
                     r"of White referrals \(95% CI \d\.\d\d to \d\.\d\d", summary)
    assert "tolerance band" in summary and "The guidelines changed on 2022-01-0" in summary
    assert "Every group&#x27;s rate falls, yet the relative rate of Black rises" in summary
    legends = re.findall(r"<text[^>]*>([^<]*)</text>", html)
    assert not [t for t in legends if "_" in t or "jackson-county" in t]
    rri = list(csv.DictReader((Path(payload["report"]).parent / "rri.csv").open()))
    filed = {r["group"]: r for r in rri if r["stage"] == "filed"}
    assert filed["Black"]["rri"] not in ("", "suppressed")
    assert (filed["White"]["rri"], filed["White"]["ci_low"]) == ("1.0000", "")
    points = {r["group"]: r for r in csv.DictReader(
        (Path(payload["report"]).parent / "decision_points.csv").open())}
    impact = {r["group"]: r for r in csv.DictReader(
        (Path(payload["report"]).parent / "impact.csv").open())}
    # Console and HTML totals reconcile: All referrals includes the unrecorded race.
    assert impact["All referrals"]["changed"] == str(payload["impact"]["changed"])
    assert points["All referrals"]["referred"] == str(payload["impact"]["total"])


def test_the_tolerance_band_is_an_option(demo: tuple[Path, dict[str, Any]],
                                         tmp_path: Path) -> None:
    out, _ = demo
    result = CliRunner().invoke(app, ["report", "--audit-dir", str(out / "audit_logs"),
                                      "--output", str(tmp_path), "--band", "0.5-2"])
    assert result.exit_code == 0, result.output
    rri = list(csv.DictReader((tmp_path / "rri.csv").open()))
    black = next(r for r in rri if r["stage"] == "recommended" and r["group"] == "Black")
    assert black["note"] == "within band"
    assert "Tolerance band 0.5 to 2" in (tmp_path / "report.html").read_text()
    bad = CliRunner().invoke(app, ["report", "--audit-dir", str(out / "audit_logs"),
                                   "--output", str(tmp_path), "--band", "2-3"])
    assert bad.exit_code == 2 and "--band: must be LOW-HIGH around 1" in bad.output


def test_text_from_the_log_reaches_the_report_literally(tmp_path: Path) -> None:
    """Race labels and a title holding an ESC sequence, a BEL and HTML: shown as text in the
    page, the charts and every CSV, never as markup and never as control characters."""
    from tests.helpers import RULES, referral

    labels = ("Black\x1b[31m", "<script>alert(1)</script>", "White")
    source = tmp_path / "in.jsonl"
    source.write_text("".join(
        json.dumps(referral(referral_id=f"KC-{n}", demographics={"race": labels[n % 3]}))
        + "\n" for n in range(60)))
    audit = tmp_path / "log"
    logged = CliRunner().invoke(app, ["batch", str(source), "--guidelines", str(RULES),
                                      "--audit-dir", str(audit)])
    assert logged.exit_code == 0, logged.output
    result = CliRunner().invoke(app, ["report", "--audit-dir", str(audit), "--threshold", "1",
                                      "--output", str(tmp_path / "report"), "--title",
                                      "T\x1b]0;pwn\x07 <b>bold</b>"])
    assert result.exit_code == 0, result.output
    written = {path.name: path.read_text() for path in (tmp_path / "report").iterdir()}
    assert "report.html" in written and len(written) > 1
    for name, text in written.items():
        assert "\x1b" not in text and "\x07" not in text, name
    page = written["report.html"]
    assert "<script>" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "Black\\x1b[31m" in page
    assert "T\\x1b]0;pwn\\x07 &lt;b&gt;bold&lt;/b&gt;" in page


def test_a_symlink_planted_in_the_output_folder_is_replaced_not_written_through(
        demo: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, _ = demo
    folder, victim = tmp_path / "report", tmp_path / "victim.txt"
    folder.mkdir()
    victim.write_text("not the report's to change")
    for name in ("rri.csv", "report.html"):
        (folder / name).symlink_to(victim)
    result = CliRunner().invoke(app, ["report", "--audit-dir", str(out / "audit_logs"),
                                      "--output", str(folder)])
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "not the report's to change"
    for name in ("rri.csv", "report.html"):
        assert not (folder / name).is_symlink() and (folder / name).stat().st_size > 0
    umask = os.umask(0)
    os.umask(umask)
    assert (folder / "report.html").stat().st_mode & 0o777 == 0o644 & ~umask  # to publish
    assert not list(folder.glob(".*.tmp"))
