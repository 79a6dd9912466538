"""One reader for every input: `batch` and `impact` read one file the same way (a CSV by its
header's referral fields, a JSON array streamed, a bad row named by its line), and the
disparity tables read CSV/JSONL/JSON through the same reader."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from charging_rules.cli.app import app
from tests.helpers import EXAMPLES, RULES, referral

BEFORE = EXAMPLES / "guidelines" / "before"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_csv_named_by_referral_fields_is_read_by_impact_as_by_batch(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("referral_id,received,jurisdiction,charges[0].category,firearm_recovered,"
                    "demographics.race\nKC-1,2023-03-14,Kansas City,drug_sale,true,Black\n"
                    "KC-2,2023-03-14,Kansas City,drug_sale,false,White\n")
    code, out, err = run("batch", str(path), "--guidelines", str(RULES), "--no-log", "--json")
    assert code == 0 and json.loads(out)["screened"] == 2, err
    code, out, err = run("impact", str(path), "--baseline", str(BEFORE), "--proposed",
                         str(RULES), "--json", "--min-n", "1")
    assert code == 0, err
    assert json.loads(out)["total"] == 2


def test_a_bad_row_is_named_by_the_same_line_in_batch_and_impact(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    rows = [json.dumps(referral(referral_id=f"KC-{n}")) for n in range(3)]
    path.write_text("[\n" + ",\n".join(rows[:2]) + ",\n{\"referral_id\": oops}\n]\n")
    code, _, err = run("batch", str(path), "--guidelines", str(RULES), "--no-log")
    assert code == 1 and f"{path}: skipped line 4: (row): invalid JSON" in err
    code, _, err = run("impact", str(path), "--baseline", str(BEFORE), "--proposed",
                       str(RULES))
    assert code == 2 and f"{path}:4: (row): invalid JSON" in err


def test_a_disparity_table_as_a_json_array_reads_as_its_jsonl(tmp_path: Path) -> None:
    rows = [{"race": race, "filed": str(n % 2 == 0).lower()}
            for n, race in enumerate(["Black", "White"] * 12)]
    (tmp_path / "t.json").write_text(json.dumps(rows))
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = []
    for name in ("t.json", "t.jsonl"):
        code, out, err = run("disparity", str(tmp_path / name), "--group", "race",
                             "--outcome", "filed", "--positive", "true", "--json")
        assert code == 0, err
        data = json.loads(out)
        data.pop("input")
        results.append(data)
    assert results[0] == results[1]
    (tmp_path / "bad.jsonl").write_text(json.dumps(rows[0]) + "\n{bad\n")
    code, _, err = run("disparity", str(tmp_path / "bad.jsonl"), "--group", "race",
                       "--outcome", "filed", "--positive", "true")
    assert code == 2 and f"{tmp_path / 'bad.jsonl'}:2: invalid JSON" in err
