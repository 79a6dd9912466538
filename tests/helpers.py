"""What the tests share, defined once: where the repository is, referral builders, guideline
sets written into temporary directories, and the insider's tampering with the audit log.

Nothing here does work at import (no temporary directory, no file read): a broken helper
must fail the tests that use it, not the collection of the whole suite.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from hypothesis import strategies as st

from charging_rules.audit import log
from charging_rules.audit.verify import VerifyReport

if TYPE_CHECKING:
    from charging_rules.errors import InputError
    from charging_rules.model.recommendation import Recommendation
    from charging_rules.screening.screener import Screened

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
EXAMPLES = REPO / "examples"
# Real public data (attribution in examples/data/README.md).
DATA = EXAMPLES / "data"
COOK_COUNTY = DATA / "cook_county_sao_intake_2019_sample.csv"
KC_POLICY = RULES / "kc-drug-policy.yaml"

# --- referrals -------------------------------------------------------------------------

KC_DRUG_SALE: dict[str, Any] = {
    "referral_id": "KC-2023-000100",
    "received": "2023-03-14",
    "agency": "Kansas City Missouri Police Department",
    "jurisdiction": "Kansas City",
    "charges": [{"category": "drug_sale", "drug": "marijuana", "quantity_grams": 3.0}],
    "firearm_recovered": False,
    "violence": {"linked_to_violent_incident": False, "victim_injured": False},
    "community_concern": {"documented": False},
    "defendant": {"age": 34},
}
# The facts the KC guideline reads about violence and concern, all unknown.
UNKNOWN_BASE = {"violence": None, "community_concern": None}


# An adult surviving, reachable, never-referred shooting victim no listing reports killed.
SURVIVOR: dict[str, Any] = {
    "incident_id": "SYN-2023-00001", "victim_id": "SYN-V00001", "incident_date": "2023-03-01",
    "victim_age": 30, "fatal": False, "victim_contact_available": True,
    "previously_referred": False, "family_previously_referred": False,
    "previously_listed_fatal": False,
}


def referral(**changes: Any) -> dict[str, Any]:
    """A complete KC drug-sale referral with no violence and no concern, then `changes`.

    A change whose value is `None` removes the key (the fact becomes unknown); dotted keys
    reach nested objects: referral(**{"violence.victim_injured": None}).
    """
    data = copy.deepcopy(KC_DRUG_SALE)
    for key, value in changes.items():
        *parents, leaf = key.split(".")
        target = data
        for parent in parents:
            target = target.setdefault(parent, {})
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return data


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# Referrals the contract refuses: (name, data, what the error names).
MALFORMED = [
    ("unknown top-level key", referral(firearm=True), "firearm: unknown field"),
    ("unknown charge key", referral(charges=[{"category": "drug_sale", "grams": 2}]),
     "charges[0].grams: unknown field"),
    ("category typo", referral(charges=[{"category": "drugsale"}]), "charges[0].category"),
    ("bool as text", referral(firearm_recovered="no"), "firearm_recovered"),
    ("impossible date", referral(received="2023-02-30"), "received"),
    ("future date", referral(received="2999-01-01"), "received: Value error, date 2999"),
    ("missing referral_id", referral(referral_id=None), "referral_id: required field"),
    ("missing charges", referral(charges=None), "charges: required field"),
    ("no charges", referral(charges=[]), "charges: List should have at least 1 item"),
    ("negative quantity", referral(charges=[{"category": "drug_sale", "quantity_grams": -1}]),
     "charges[0].quantity_grams"),
    ("impossible age", referral(defendant={"age": 300}), "defendant.age"),
    ("charge without category", referral(charges=[{"drug": "heroin"}]),
     "charges[0].category: required field"),
    ("unknown demographics key", referral(demographics={"skin": "x"}),
     "demographics.skin: unknown field"),
    ("demographics not an object", referral(demographics="Black"),
     "demographics: Input should be a valid dictionary"),
    ("quantity as text", referral(charges=[{"category": "drug_sale", "quantity_grams": "2g"}]),
     "charges[0].quantity_grams"),
    ("id with spaces", referral(referral_id="KC 1"), "referral_id"),
    ("nested not an object", referral(violence=True), "violence"),
]

# Any combination of the facts the KC guideline reads (hypothesis), known or not.
facts = st.fixed_dictionaries({}, optional={
    "firearm_recovered": st.one_of(st.none(), st.booleans()),
    "violence.victim_injured": st.booleans(),
    "violence.linked_to_violent_incident": st.booleans(),
    "community_concern.documented": st.booleans(),
    "community_concern.source": st.sampled_from(["Neighborhood association", "311 call",
                                                 "Detective observed sales"]),
    "community_concern.source_type": st.sampled_from(["resident", "police", "business"]),
    "jurisdiction": st.sampled_from(["Kansas City", "Independence", "Raytown", "KCK",
                                     "Kansas City, KS", "Kansas Cty"]),
    "state": st.sampled_from(["MO", "KS"]),
    "offense_date": st.sampled_from(["2021-06-30", "2022-12-07", "2022-12-08"]),
    "charges": st.lists(st.fixed_dictionaries(
        {"category": st.sampled_from(["drug_sale", "drug_possession", "violent", "weapon",
                                      "property", "drug_paraphernalia"])},
        optional={"quantity_grams": st.floats(0, 500), "drug": st.sampled_from(
            ["marijuana", "heroin", "fentanyl"]), "level": st.sampled_from(
            ["felony", "misdemeanor"]), "statute": st.sampled_from(["579.015", "K.S.A. 21-5706"])}),
        min_size=1, max_size=4),
})


# --- guideline sets --------------------------------------------------------------------


CHARGING_FILES = ("mo-amendment-3-marijuana.yaml", "mo-juvenile.yaml", "kc-drug-policy.yaml")


def charging_part(dest: Path) -> Path:
    """The shipped set without its victim-outreach guideline (and that guideline's cases and
    fallback): the charging guidelines, for tests about them."""
    dest.mkdir(parents=True)
    (dest / "tests").mkdir()
    for name in CHARGING_FILES:
        shutil.copy(RULES / name, dest)
        shutil.copy(RULES / "tests" / name, dest / "tests")
    lines = (RULES / "set.yaml").read_text().splitlines(keepends=True)
    victim_at = next(i for i, line in enumerate(lines) if line.startswith("  victim:"))
    assert all(line.startswith("    ") for line in lines[victim_at + 1:]), "victim: not last"
    kept = [line for line in lines[:victim_at] if not line.startswith("  - ")
            or line.strip("- \n") in CHARGING_FILES]
    (dest / "set.yaml").write_text("".join(kept))
    return dest


# One valid guideline file, and ways to break it: (name, text, line, message).
GOOD = """\
id: test-guideline
title: A test guideline
version: "1"
effective: 2023-01-01
source:
  citation: test
  text: test text
hit_policy: first
rules:
  - id: r-file
    when:
      field: firearm_recovered
      eq: true
    outcome: file
    reason: firearm
"""

BAD = [
    ("yaml syntax", GOOD.replace("title: A test", "title: [unclosed"), 3, "invalid YAML"),
    ("duplicate key",
     GOOD.replace("    outcome: file\n", "    outcome: file\n    outcome: decline\n"), 15,
     "duplicate key 'outcome'"),
    ("unknown top-level key", GOOD + "owner: me\n", 16, "owner: unknown key"),
    ("missing rules", GOOD.split("rules:")[0], 1, "rules: required key is missing"),
    ("unknown field", GOOD.replace("field: firearm_recovered", "field: gun_found"), 12,
     "unknown field 'gun_found'"),
    ("protected attribute", GOOD.replace("field: firearm_recovered", "field: race"), 12,
     "names a protected attribute (race)"),
    ("demographics path", GOOD.replace("field: firearm_recovered", "field: demographics.sex"),
     12, "protected attribute"),
    ("value not of the field", GOOD.replace("eq: true", "eq: maybe"), 13,
     "'firearm_recovered' is true/false"),
    ("order on a boolean", GOOD.replace("eq: true", "gt: true"), 13, "has no order"),
    ("unknown enum value", GOOD.replace(
        "      field: firearm_recovered\n      eq: true\n",
        "      any_charge:\n        field: category\n        eq: drugsale\n"), 14,
     "'drugsale' is not a value of 'category'"),
    ("unknown outcome", GOOD.replace("outcome: file", "outcome: prosecute"), 14,
     "outcome 'prosecute' is not one of"),
    ("duplicate rule id", GOOD + GOOD.split("rules:\n")[1], 16, "duplicate rule id 'r-file'"),
    ("priority without priorities", GOOD.replace("hit_policy: first", "hit_policy: priority"),
     10, "'priority' is required"),
    ("two operators", GOOD.replace("      eq: true\n", "      eq: true\n      ne: false\n"), 11,
     "needs exactly one operator"),
    ("empty any", GOOD.replace("      field: firearm_recovered\n      eq: true\n",
                               "      any: []\n"), 12, "'any' takes a non-empty list"),
    ("nested any_charge", GOOD.replace(
        "      field: firearm_recovered\n      eq: true\n",
        "      any_charge:\n        any_charge:\n"
        "          field: category\n          eq: weapon\n"),
     13, "cannot be nested"),
    ("charge field at top level", GOOD.replace("field: firearm_recovered", "field: charges"), 12,
     "use any_charge"),
    ("bad hit policy", GOOD.replace("hit_policy: first", "hit_policy: all"), 8, "hit_policy"),
    ("impossible date", GOOD.replace("2023-01-01", "2023-13-01"), 4, "invalid value '2023-13-01'"),
    ("integer too long for Python", GOOD.replace("version: \"1\"", "version: " + "9" * 5000), 3,
     "invalid value '9999"),
    ("a list as a key", GOOD.replace("      field: firearm_recovered\n", "      [a]: 1\n"), 12,
     "a key must be a plain value"),
    ("NaN", GOOD.replace("field: firearm_recovered\n      eq: true",
                         "field: defendant.age\n      lt: .nan"), 13, "is a number, got nan"),
    ("infinity", GOOD.replace("field: firearm_recovered\n      eq: true",
                              "field: defendant.age\n      lt: .inf"), 13, "is a number, got inf"),
    ("a number as a condition key",
     GOOD.replace("      eq: true\n", "      eq: true\n      1: true\n"), 11,
     "condition keys must be text, got 1"),
    ("a time for a date", GOOD.replace("field: firearm_recovered\n      eq: true",
                                       "field: received\n      lt: 2023-01-01 10:00:00"), 13,
     "'received' is a date"),
]


SET_YAML = """\
id: crafted
title: Crafted guideline set
combine: first-applicable
guidelines: [{files}]
otherwise:
{otherwise}
"""

GUIDELINE_YAML = """\
id: {id}
title: Crafted guideline {id}
version: "1"
effective: 2020-01-01
applies_to: {kind}
source: {{citation: test, text: crafted for a test}}
hit_policy: {policy}
"""


def guideline(gid: str, rules: str, policy: str = "first", scope: str | None = None,
              kind: str = "referral") -> str:
    text = GUIDELINE_YAML.format(id=gid, kind=kind, policy=policy)
    if scope is not None:
        text += "scope:\n" + textwrap.indent(textwrap.dedent(scope).strip(), "  ") + "\n"
    return text + "rules:\n" + textwrap.indent(textwrap.dedent(rules).strip(), "  ") + "\n"


def write_set(root: Path, *guidelines: str,
              otherwise: dict[str, str] | None = None) -> Path:
    """A set directory: each guideline text as g<n>.yaml, listed in order."""
    root.mkdir(parents=True, exist_ok=True)
    names = []
    for index, text in enumerate(guidelines):
        name = f"g{index}.yaml"
        (root / name).write_text(text)
        names.append(name)
    fallback = otherwise or {"referral": "review"}
    lines = "\n".join(f"  {kind}: {{outcome: {o}, reason: fallback for {kind}}}"
                      for kind, o in fallback.items())
    (root / "set.yaml").write_text(SET_YAML.format(files=", ".join(names), otherwise=lines))
    return root


def mutate_rule(set_dir: Path, rule_id: str, **changes: object) -> None:
    """Change one rule of a copied guideline (comments are lost; the policy is not)."""
    path = next(p for p in set_dir.glob("*.yaml") if f"id: {rule_id}\n" in p.read_text())
    data = yaml.safe_load(path.read_text())
    rule = next(r for r in data["rules"] if r["id"] == rule_id)
    rule.update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


# --- the audit log, tampered with as an insider with write access would ----------------


def stored_lines(audit_dir: Path) -> list[bytes]:
    return b"".join(p.read_bytes() for p in log.segments(audit_dir)).splitlines(keepends=True)


def rewrite(audit_dir: Path, lines: list[bytes]) -> None:
    """Replace the log by these lines (one segment), as an editor saving the file would."""
    for path in log.segments(audit_dir):
        path.unlink()
    (audit_dir / log.segment_name(1)).write_bytes(b"".join(lines))


def reseal(line: bytes, **changes: Any) -> bytes:
    """The line with `changes` applied and its hash recomputed: a forged, self-consistent
    record."""
    record = json.loads(line)
    record.update(changes)
    record.pop("hash")
    return log.encode(record)[0]


def rehash_from(lines: list[bytes], index: int, **changes: Any) -> list[bytes]:
    """Rewrite record `index` and re-hash the whole chain after it: no chain break left."""
    out = lines[:index]
    prev = json.loads(out[-1])["hash"] if out else log.GENESIS
    for position, line in enumerate(lines[index:]):
        forged = reseal(line, prev_hash=prev, **(changes if position == 0 else {}))
        prev = json.loads(forged)["hash"]
        out.append(forged)
    return out


def synthetic_log(audit_dir: Path, count: int) -> list[dict[str, Any]]:
    return log.append_many(audit_dir, [
        {"kind": "recommendation", "decision_id": f"d{i}", "actor": "ana",
         "result": {"outcome": "file"}, "n": i} for i in range(count)])


def found(report: VerifyReport) -> list[tuple[int, str]]:
    """(line, kind) of every problem verify reported."""
    return [(p.line, p.kind) for p in report.problems]


# --- a whole charging manual: one guideline per statute, four rules each, thresholds on the
# same facts in every guideline (quantity, age), the size of a real office's manual --------


def manual_statute(i: int) -> str:
    return f"195.{200 + i}"


def manual_limits(i: int) -> tuple[float, int]:
    """Quantity (grams) and age thresholds of guideline i, distinct per guideline."""
    return round(1 + 0.25 * i, 2), 17 + i % 40


def _manual_guideline(i: int) -> str:
    grams, age = manual_limits(i)
    return f"""\
id: statute-{i:03d}
title: Statute {manual_statute(i)}
version: "1"
effective: 2022-01-01
applies_to: referral
source: {{citation: "RSMo {manual_statute(i)}", text: "Generated guideline {i} for tests."}}
scope:
  any_charge: {{field: statute, eq: "{manual_statute(i)}"}}
hit_policy: first
rules:
  - id: g{i}-weight
    when:
      any_charge:
        all:
          - {{field: statute, eq: "{manual_statute(i)}"}}
          - {{field: quantity_grams, ge: {grams}}}
    outcome: file
    reason: at least {grams} g
  - id: g{i}-firearm
    when: {{field: firearm_recovered, eq: true}}
    outcome: file
    reason: a firearm
  - id: g{i}-young
    when: {{field: defendant.age, lt: {age}}}
    outcome: divert
    reason: younger than {age}
  - id: g{i}-small
    when:
      all:
        - {{field: firearm_recovered, eq: false}}
        - any_charge:
            all:
              - {{field: statute, eq: "{manual_statute(i)}"}}
              - {{field: quantity_grams, lt: {grams}}}
    outcome: decline
    reason: under {grams} g
"""


def untraced(recommendations: Iterable[Recommendation]) -> list[dict[str, Any]]:
    """Recommendations as plain data without their traces (a batch computes none)."""
    return [{k: v for k, v in dataclasses.asdict(r).items() if k != "trace"}
            for r in recommendations]


def write_manual(dest: Path, count: int = 30) -> Path:
    """`count` guidelines and their set.yaml in `dest`; returns `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        names.append(f"statute-{i:03d}.yaml")
        (dest / names[-1]).write_text(_manual_guideline(i))
    (dest / "set.yaml").write_text(
        f"id: manual-{count}\ntitle: Generated manual\ncombine: first-applicable\n"
        f"guidelines: [{', '.join(names)}]\n"
        "otherwise:\n  referral: {outcome: review, reason: no guideline applies}\n")
    return dest


@st.composite
def manual_referrals(draw: Any, complete: bool) -> dict[str, Any]:
    """Referrals under the manual's statutes (and a few it does not cover), weights and ages
    around its thresholds; `complete`: one charge (so the referral's outcome is its one
    count's) and every fact the manual reads present."""
    statutes = st.sampled_from([manual_statute(i) for i in range(33)])
    weights = st.sampled_from(sorted({w for i in range(30) for w in
                                      (manual_limits(i)[0], manual_limits(i)[0] - 0.01, 0.0)}))
    charges = draw(st.lists(st.fixed_dictionaries(
        {"category": st.just("drug_possession"), "statute": statutes},
        optional={} if complete else {"quantity_grams": weights}), min_size=1,
        max_size=1 if complete else 3))
    if complete:
        charges = [{**c, "quantity_grams": draw(weights)} for c in charges]
    maybe = (lambda s: s) if complete else (lambda s: st.one_of(st.none(), s))
    data = referral(charges=charges, firearm_recovered=draw(maybe(st.booleans())))
    age = draw(maybe(st.integers(14, 70)))
    if age is not None:
        data["defendant"] = {"age": age}
    return data


# --- intake -------------------------------------------------------------------------


class Accepting:
    """A prosecutor who accepts every recommendation (an IntakeUI without a terminal)."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    def rejected(self, path: Path, error: InputError, moved_to: Path) -> None: ...
    def already_decided(self, path: Path, decision: dict[str, Any], moved_to: Path) -> None: ...

    def show(self, path: Path, referral: dict[str, Any], screened: Screened, position: int,
             total: int) -> None:
        self.shown.append(path.name)

    def ask_request(self, missing: Sequence[str]) -> bool:
        return False

    def request_written(self, path: Path) -> None: ...

    def ask_action(self) -> str:
        return "a"

    def ask_override(self, outcomes: tuple[str, ...], recommended: str) -> tuple[str, str]:
        raise AssertionError("never asked: every recommendation is accepted")

    def decided(self, record: dict[str, Any], moved_to: Path) -> None: ...
    def changed(self, path: Path) -> None: ...
    def skipped(self, path: Path) -> None: ...
