"""How long `rules lint` takes as a guideline mentions more facts (run by hand).

    .venv/bin/python benchmarks/lint_space.py

A synthetic record kind with N yes/no facts (each: true, false or missing, so 3^N
combinations); the guideline has N rules, rule i testing facts i and i+1, and a catch-all
last rule, so the gap check has to visit every combination (the worst case).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, create_model

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.helpers

from tests.helpers import guideline, write_set

from charging_rules.model.kinds import KINDS, RecordKind
from charging_rules.model.referral import Fact
from charging_rules.rulecheck.lint import lint


def main() -> None:
    for n in (6, 8, 10, 11, 12):
        fields: dict[str, Any] = {f"f{i}": (bool | None, None) for i in range(n)}
        model = create_model(f"Synthetic{n}", __base__=Fact, case_id=(str, ...),
                             received=(Annotated[date, Field(strict=False)], ...), **fields)
        KINDS["synthetic"] = RecordKind("synthetic", model, "case_id",
                                        ("file", "decline", "review", "needs_information"))
        rules = "\n".join(
            f"- {{id: r{i}, when: {{all: [{{field: f{i}, eq: true}}, "
            f"{{field: f{(i + 1) % n}, eq: false}}]}}, outcome: {'file' if i % 2 else 'decline'}"
            ", reason: r}" for i in range(n))
        # a catch-all last rule: no gap, so the gap check must visit every combination
        rules += ("\n- {id: rest, when: {any: [{field: f0, exists: false}, {field: f0, eq: "
                  "true}, {field: f0, eq: false}]}, outcome: review, reason: r}")
        with tempfile.TemporaryDirectory() as tmp:
            root = write_set(Path(tmp) / "set", guideline("g", rules, kind="synthetic"),
                             otherwise={"synthetic": "review"})
            start = time.perf_counter()
            report = lint(root)
            elapsed = time.perf_counter() - start
        print(f"facts={n:2d} combinations={3 ** n:7d} rules={n:2d} lint={elapsed:6.2f}s "
              f"findings={[f.check for f in report.findings]}")


if __name__ == "__main__":
    main()
