"""Hand-written durable_rules baseline: the Kansas City drug policy, screened by hand.

What a competent engineer would write with durable_rules 2.0.28 to screen a `.jsonl` export
against the KC drug policy, without charging-rules: `json.loads` each line, flatten the few
facts the policy reads into one flat fact, assert it into a ruleset written by hand, collect
the outcome. It imports nothing from charging_rules (the project's modules are moving), only
`durable.lang` / `durable.engine`.

    python benchmarks/handwritten_durable.py referrals.jsonl [--api engine|lang]

prints `{"screened": n, "outcomes": {...}}` on stdout and the rate on stderr.

The policy (rules/kc-drug-policy.yaml, with the set's fallback):
- scope: jurisdiction is Kansas City AND some charge is drug_possession/drug_sale/
  drug_paraphernalia; out of scope -> review;
- file if firearm_recovered, a violent/weapon charge, violence.linked_to_violent_incident or
  violence.victim_injured is true, or community_concern.documented is true with a non-empty
  source;
- decline if every one of those is documented false (the concern: documented false);
- review if every rule is definitely false (a documented concern with an empty source and no
  violence: the guideline abstains, the set's fallback applies; the contract makes an empty
  source invalid, so this never happens on valid input);
- otherwise needs_information: a fact is missing that could change the outcome.

Three-valued logic comes free from durable_rules: a missing fact is left out of the flat
fact, and a comparison on a missing attribute never matches (not even `!=`), so neither the
"file" nor the "decline" rule fires and a catch-all rule records the referral as
needs_information. The catch-all is also needed for durable itself: a fact that matches no
rule raises MessageNotHandledException and leaves a session that cannot be deleted.

Each referral gets a fresh session id whose state is deleted afterwards (durable_rules keeps
at most ~1024 live sessions per ruleset). The only Python-side flattening is the charge list:
"some charge is a drug / violent offense" is computed while flattening (durable_rules'
`$iany` mis-evaluates `$or` alternatives, and the list is short), everything else, including
the scope, is matched by durable_rules.

Two drivers, same ruleset:
- `--api engine` (default, the faster, used as the baseline by suite.py): the ruleset as
  durable_rules JSON, driven through the C module `durable.engine.durable_rules_engine`
  (create_ruleset, assert_fact, start_action_for_state / complete_and_start_action to read
  the names of the rules that fired, delete_state). No Host, no threads, no Python callback
  per fired rule: what an engineer after throughput would write once they read durable.engine.
- `--api lang`: the textbook `durable.lang` version (`with ruleset(...)`, `@when_all`,
  `assert_fact`, `delete_state`), one Python action per fired rule.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

NAME = "kc_drug_handwritten"
KC = "Kansas City"
DRUG = frozenset({"drug_possession", "drug_sale", "drug_paraphernalia"})
VIOLENT = frozenset({"violent", "weapon"})
# rule name -> outcome; a referral no outcome rule matched is needs_information.
OUTCOME = {"out_of_scope": "review", "file_violence": "file", "file_concern": "file",
           "decline": "decline", "abstain": "review"}
PRECEDENCE = ("file", "decline", "review")


def _some(charges: list[dict[str, Any]], categories: frozenset[str]) -> bool | None:
    """Three-valued "some charge is in categories": None when a charge has no category and
    no other charge settles it (the contract requires a category, so never on valid input)."""
    unknown = False
    for charge in charges:
        category = charge.get("category")
        if category in categories:
            return True
        unknown = unknown or category is None
    return None if unknown else False


def flatten(referral: dict[str, Any], sid: str) -> dict[str, Any]:
    """The flat fact durable_rules sees: only the facts the policy reads; missing stays out."""
    fact: dict[str, Any] = {"sid": sid, "kind": "referral"}
    charges = referral.get("charges") or []
    violence = referral.get("violence") or {}
    concern = referral.get("community_concern") or {}
    for key, value in (("jurisdiction", referral.get("jurisdiction")),
                       ("drug_charge", _some(charges, DRUG)),
                       ("violent_charge", _some(charges, VIOLENT)),
                       ("firearm", referral.get("firearm_recovered")),
                       ("linked", violence.get("linked_to_violent_incident")),
                       ("injured", violence.get("victim_injured")),
                       ("documented", concern.get("documented")),
                       ("source", concern.get("source"))):
        if value is not None:
            fact[key] = value
    return fact


def decide(fired: list[str]) -> str:
    outcomes = {OUTCOME[name] for name in fired if name in OUTCOME}
    return next((o for o in PRECEDENCE if o in outcomes), "needs_information")


# --- the ruleset as durable_rules JSON (the `engine` driver) -------------------------------

_IN_SCOPE = [{"kind": "referral"}, {"jurisdiction": KC}, {"drug_charge": True}]
_NO_VIOLENCE = [{"firearm": False}, {"violent_charge": False}, {"linked": False},
                {"injured": False}]
RULESET: dict[str, Any] = {
    "out_of_scope": {"all": [{"m": {"$and": [{"kind": "referral"}, {"$or": [
        {"$neq": {"jurisdiction": KC}}, {"drug_charge": False}]}]}}]},
    "file_violence": {"all": [{"m": {"$and": [*_IN_SCOPE, {"$or": [
        {"firearm": True}, {"violent_charge": True}, {"linked": True}, {"injured": True}]}]}}]},
    "file_concern": {"all": [{"m": {"$and": [*_IN_SCOPE, {"documented": True},
                                             {"$neq": {"source": ""}}]}}]},
    "decline": {"all": [{"m": {"$and": [*_IN_SCOPE, *_NO_VIOLENCE, {"documented": False}]}}]},
    "abstain": {"all": [{"m": {"$and": [*_IN_SCOPE, *_NO_VIOLENCE, {"documented": True},
                                        {"source": ""}]}}]},
    "seen": {"all": [{"m": {"kind": "referral"}}]},  # catch-all
}


def screen_engine(lines: Iterator[str]) -> Counter[str]:
    from durable.engine import durable_rules_engine as engine

    handle = engine.create_ruleset(NAME, json.dumps(RULESET))
    counts: Counter[str] = Counter()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        sid = str(number)
        code, state = engine.assert_fact(handle, json.dumps(flatten(json.loads(line), sid)))
        if code != 0:  # 1: matched nothing (impossible with the catch-all), 2: seen before
            raise RuntimeError(f"line {number}: durable_rules refused the fact (code {code})")
        fired = []
        started = engine.start_action_for_state(handle, state)
        message = started[1] if started else None
        while message:  # '{"<rule name>":{"m":{...}}}': the name is all we need
            fired.append(message[2:message.index('"', 2)])
            message = engine.complete_and_start_action(handle, state)
        engine.delete_state(handle, sid)
        counts[decide(fired)] += 1
    return counts


# --- the same ruleset with durable.lang (the `lang` driver) --------------------------------

def screen_lang(lines: Iterator[str]) -> Counter[str]:
    from durable.lang import assert_fact, delete_state, m, ruleset, when_all

    fired: list[str] = []
    in_scope = (m.kind == "referral") & (m.jurisdiction == KC) & (m.drug_charge == True)  # noqa: E712
    no_violence = ((m.firearm == False) & (m.violent_charge == False)  # noqa: E712
                   & (m.linked == False) & (m.injured == False))  # noqa: E712

    with ruleset(NAME):
        @when_all((m.kind == "referral")
                  & ((m.jurisdiction != KC) | (m.drug_charge == False)))  # noqa: E712
        def out_of_scope(c: Any) -> None:
            fired.append("out_of_scope")

        @when_all(in_scope & ((m.firearm == True) | (m.violent_charge == True)  # noqa: E712
                              | (m.linked == True) | (m.injured == True)))  # noqa: E712
        def file_violence(c: Any) -> None:
            fired.append("file_violence")

        @when_all(in_scope & (m.documented == True) & (m.source != ""))  # noqa: E712
        def file_concern(c: Any) -> None:
            fired.append("file_concern")

        @when_all(in_scope & no_violence & (m.documented == False))  # noqa: E712
        def decline(c: Any) -> None:
            fired.append("decline")

        @when_all(in_scope & no_violence & (m.documented == True) & (m.source == ""))  # noqa: E712
        def abstain(c: Any) -> None:
            fired.append("abstain")

        @when_all(m.kind == "referral")
        def seen(c: Any) -> None:  # catch-all
            pass

    counts: Counter[str] = Counter()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        sid = str(number)
        fired.clear()
        assert_fact(NAME, flatten(json.loads(line), sid))
        delete_state(NAME, sid)
        counts[decide(fired)] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", help="referrals, one JSON object per line")
    parser.add_argument("--api", choices=("engine", "lang"), default="engine")
    args = parser.parse_args()
    start = time.perf_counter()
    with open(args.input) as lines:
        counts = (screen_engine if args.api == "engine" else screen_lang)(lines)
    elapsed = time.perf_counter() - start
    screened = sum(counts.values())
    print(json.dumps({"screened": screened, "outcomes": dict(sorted(counts.items()))}))
    print(f"handwritten durable_rules ({args.api}): {screened} referrals in {elapsed:.2f} s, "
          f"{screened / elapsed:,.0f}/s", file=sys.stderr)


if __name__ == "__main__":
    main()
