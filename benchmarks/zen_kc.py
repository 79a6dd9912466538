"""zen-engine peer: the Kansas City drug policy as a JDM decision table (first hit).

zen-engine (PyPI `zen-engine`, GoRules' Rust engine) is what a user could pick instead of
charging-rules. The same policy as benchmarks/handwritten_durable.py, written as one
decision table, evaluated per referral:

    pip install -e '.[bench]'                 # or: pip install zen-engine
    python benchmarks/zen_kc.py referrals.jsonl

prints `{"screened": n, "outcomes": {...}}` on stdout and the rate on stderr.

Each line is `json.loads`-ed and handed to the decision as is (zen reads nested fields and
the charge list itself with `some(charges, ...)`); the first row that matches gives the
outcome:

1. jurisdiction != "Kansas City"                                    -> review
2. no drug charge                                                     -> review
3-6. firearm / a violent or weapon charge / linked / injured is true  -> file (a row each)
7. concern documented true and its source non-empty                   -> file
8. firearm, violent charge, linked, injured, documented all false     -> decline
9. as 8 but documented true with an empty source (no rule holds)      -> review
10. anything else (catch-all)                                         -> needs_information

needs_information, as far as a decision table can say it: a missing fact is null in zen, and
`== true` / `== false` are both false on null, so a referral whose deciding facts are missing
matches neither a file nor the decline row and falls to the catch-all row 10. That gives the
same outcome as charging-rules' three-valued evaluation for this policy, but:
- the table cannot say WHICH facts are missing (charging-rules names them); and the catch-all
  is hand-placed: in a table where a missing fact could not change the outcome, the author
  must reason that out row by row (charging-rules works it out from the unknowns);
- row 1 treats a missing jurisdiction as "not Kansas City" and `some()` treats a charge
  without a category as not a drug charge (definite, not unknown); both are required by the
  referral contract, so this never differs on valid input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from importlib.metadata import version
from typing import Any

DRUG = '["drug_possession", "drug_sale", "drug_paraphernalia"]'
VIOLENT = '["violent", "weapon"]'
INPUTS = [  # (id, name, field expression)
    ("jur", "Jurisdiction", "jurisdiction"),
    ("drug", "Drug charge", f"some(charges, #.category in {DRUG})"),
    ("gun", "Firearm recovered", "firearm_recovered"),
    ("viol", "Violent or weapon charge", f"some(charges, #.category in {VIOLENT})"),
    ("link", "Linked to violent incident", "violence.linked_to_violent_incident"),
    ("hurt", "Victim injured", "violence.victim_injured"),
    ("doc", "Community concern documented", "community_concern.documented"),
    ("src", "Community concern source", "community_concern.source"),
]
ROWS: list[tuple[dict[str, str], str]] = [
    ({"jur": '!= "Kansas City"'}, "review"),
    ({"drug": "false"}, "review"),
    ({"gun": "true"}, "file"),
    ({"viol": "true"}, "file"),
    ({"link": "true"}, "file"),
    ({"hurt": "true"}, "file"),
    ({"doc": "true", "src": '$ != null and $ != ""'}, "file"),
    ({"gun": "false", "viol": "false", "link": "false", "hurt": "false", "doc": "false"},
     "decline"),
    ({"gun": "false", "viol": "false", "link": "false", "hurt": "false", "doc": "true",
      "src": '""'}, "review"),
    ({}, "needs_information"),
]


def decision_graph() -> dict[str, Any]:
    """The JDM document: input node -> decision table -> output node."""
    rules = []
    for number, (cells, outcome) in enumerate(ROWS, 1):
        row = {"_id": f"r{number}", **{key: "" for key, _, _ in INPUTS}, **cells,
               "outcome": json.dumps(outcome)}
        rules.append(row)
    table = {
        "hitPolicy": "first",
        "inputs": [{"id": key, "name": name, "field": field} for key, name, field in INPUTS],
        "outputs": [{"id": "outcome", "name": "Outcome", "field": "outcome"}],
        "rules": rules,
    }
    return {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "referral", "position": {"x": 0, "y": 0}},
            {"id": "kc", "type": "decisionTableNode", "name": "kc-drug-policy",
             "position": {"x": 300, "y": 0}, "content": table},
            {"id": "out", "type": "outputNode", "name": "result", "position": {"x": 600, "y": 0}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "in", "targetId": "kc", "type": "edge"},
            {"id": "e2", "sourceId": "kc", "targetId": "out", "type": "edge"},
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", nargs="?", help="referrals, one JSON object per line")
    parser.add_argument("--print-jdm", action="store_true", help="print the JDM and exit")
    args = parser.parse_args()
    if args.print_jdm:
        print(json.dumps(decision_graph(), indent=2))
        return
    if not args.input:
        parser.error("the referrals file is required")
    try:
        import zen
    except ImportError:
        sys.exit("zen-engine is not installed: pip install -e '.[bench]'")
    start = time.perf_counter()
    decision = zen.ZenEngine().create_decision(json.dumps(decision_graph()))
    counts: Counter[str] = Counter()
    with open(args.input) as lines:
        for line in lines:
            if line.strip():
                result = decision.evaluate(json.loads(line))["result"]
                counts[result.get("outcome", "none")] += 1
    elapsed = time.perf_counter() - start
    screened = sum(counts.values())
    print(json.dumps({"screened": screened, "outcomes": dict(sorted(counts.items()))}))
    print(f"zen-engine {version('zen-engine')}: {screened} referrals in "
          f"{elapsed:.2f} s, {screened / elapsed:,.0f}/s", file=sys.stderr)


if __name__ == "__main__":
    main()
