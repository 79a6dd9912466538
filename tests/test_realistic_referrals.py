"""Thirty referrals written the way police write them, screened as an intake prosecutor
screens them (the CLI, the shipped rules): the expected outcome and the facts to ask for,
and no demographic variant of any of them changes a result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from charging_rules.cli.app import app
from charging_rules.engine.evaluate import Evaluator
from charging_rules.guidelines.loader import load_guidelines
from charging_rules.model.kinds import parse_record
from tests.helpers import RULES

runner = CliRunner()
KCPD = "Kansas City Missouri Police Department"
NO_VIOLENCE = {"firearm_recovered": False,
               "violence": {"linked_to_violent_incident": False, "victim_injured": False}}
NO_CONCERN = {"community_concern": {"documented": False}}


def meth(grams: float = 0.6, statute: str = "579.015") -> dict[str, Any]:
    return {"statute": statute, "description": "PCS - methamphetamine",
            "category": "drug_possession", "drug": "methamphetamine", "quantity_grams": grams,
            "level": "felony"}


def weed(grams: float, category: str = "drug_possession") -> dict[str, Any]:
    return {"statute": "579.015", "description": "Possession of marijuana", "category": category,
            "drug": "marijuana", "quantity_grams": grams, "level": "misdemeanor"}


def case(rid: str, *, agency: str | None = KCPD, jurisdiction: str = "Kansas City",
         charges: list[dict[str, Any]] | None = None, age: int | None = 34,
         **facts: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"referral_id": rid, "received": "2023-06-12",
                            "jurisdiction": jurisdiction, "charges": charges or [meth()],
                            **NO_VIOLENCE, **NO_CONCERN}
    if agency:
        body["agency"] = agency
    if age is not None:
        body["defendant"] = {"age": age}
    body.update(facts)
    return body


# (referral, expected outcome, expected missing facts)
TABLE: list[tuple[dict[str, Any], str, list[str]]] = [
    (case("R01", jurisdiction="Kansas City, MO"), "decline", []),
    (case("R02", jurisdiction="KANSAS CITY", agency=None), "decline", []),
    (case("R03", jurisdiction="Kansas City, Missouri"), "decline", []),
    (case("R04", jurisdiction="KCMO", agency="KCPD"), "decline", []),
    (case("R05", jurisdiction="Kansas City", agency="Kansas City Kansas Police Department",
          charges=[meth(statute="K.S.A. 21-5706")]), "review", []),
    (case("R06", jurisdiction="KCK", agency=None,
          charges=[meth(statute="K.S.A. 21-5706")]), "review", []),
    (case("R07", jurisdiction="Kansas City", agency=None, state="KS",
          charges=[{"category": "drug_possession", "drug": "cocaine"}]), "review", []),
    (case("R08", jurisdiction="Kansas Cty", agency=None), "needs_information", ["place"]),
    (case("R09", jurisdiction="Independence", agency="Independence Police Department"),
     "review", []),
    (case("R10", jurisdiction="Lee's Summit", agency="Lee's Summit Police Department"),
     "review", []),
    (case("R11", jurisdiction="LEES SUMMIT", agency=None), "review", []),
    (case("R12", jurisdiction="Grain Valley", agency="Jackson County Sheriff's Office",
          firearm_recovered=True), "review", []),
    (case("R13", charges=[{**meth(), "category": "drug_sale"}], community_concern={
        "documented": True, "source": "Arresting officer observed hand-to-hand sales"}),
     "needs_information", ["community_concern.by_community"]),
    (case("R14", charges=[{**meth(), "category": "drug_sale"}], community_concern={
        "documented": True, "source": "Surveillance by the narcotics unit",
        "source_type": "police"}), "decline", []),
    (case("R15", community_concern={"documented": True, "source": "Block club letter",
                                    "source_type": "neighborhood_association"}), "file", []),
    (case("R16", community_concern={"documented": True,
                                    "source": "311 complaints about a drug house"}), "file", []),
    (case("R17", charges=[weed(14)], age=35, firearm_recovered=True,
          offense_date="2023-06-03"), "decline", []),
    (case("R18", charges=[weed(14)], age=35, firearm_recovered=True,
          offense_date="2022-11-30", received="2023-01-04"), "file", []),
    (case("R19", charges=[weed(50), weed(40)], age=40), "decline", []),
    (case("R20", charges=[weed(50), weed(40)], age=40, firearm_recovered=True), "file", []),
    (case("R21", charges=[weed(20)], age=19), "decline", []),
    (case("R22", charges=[weed(20)], age=None), "needs_information", ["defendant.age"]),
    (case("R23", age=16, firearm_recovered=True), "review", []),
    (case("R24", age=17, jurisdiction="Raytown", agency="Raytown Police Department"),
     "review", []),
    (case("R25", age=None), "needs_information", ["defendant.age"]),
    (case("R26", charges=[meth(), {"statute": "570.030", "category": "property",
                                   "description": "Stealing - felony", "level": "felony"}]),
     "review", []),
    (case("R27", charges=[{"statute": "568.045", "category": "other",
                           "description": "Endangering the welfare of a child 1st degree"},
                          meth()]), "review", []),
    (case("R28", charges=[meth(), {"statute": "571.030", "category": "weapon",
                                   "description": "Unlawful use of a weapon"}]), "file", []),
    (case("R29", firearm_recovered=None), "needs_information", ["firearm_recovered"]),
    (case("R30", firearm_recovered=None, violence={}, community_concern={}),
     "needs_information", ["community_concern.documented", "community_concern.source",
                           "firearm_recovered", "violence.linked_to_violent_incident",
                           "violence.victim_injured"]),
    (case("R31", charges=[{"statute": "579.015", "category": "drug_possession",
                           "description": "PCS"}], firearm_recovered=True),
     "needs_information", ["charges[0].drug", "charges[0].quantity_grams"]),
    (case("R32", charges=[meth()], offense_date="2021-11-20", received="2022-01-10"),
     "review", []),
]


def _screen(tmp_path: Path, body: dict[str, Any]) -> dict[str, Any]:
    path = tmp_path / f"{body['referral_id']}.json"
    path.write_text(json.dumps(body))
    result = runner.invoke(app, ["screen", str(path), "--json", "--no-log", "--guidelines",
                                 str(RULES)])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


@pytest.mark.parametrize(("body", "outcome", "missing"), TABLE,
                         ids=[row[0]["referral_id"] for row in TABLE])
def test_realistic_referral(tmp_path: Path, body: dict[str, Any], outcome: str,
                            missing: list[str]) -> None:
    out = _screen(tmp_path, body)
    assert (out["outcome"], out["missing"]) == (outcome, missing), out["reasons"]
    if outcome == "needs_information":
        assert out["questions"] and {q["fact"] for q in out["questions"]} <= set(missing)
        assert all(q["question"].endswith("?") and q["ask"] for q in out["questions"])


ENGINE = Evaluator(load_guidelines(RULES))
demographics = st.fixed_dictionaries({}, optional={
    "race": st.sampled_from(["Black", "White", "Hispanic", "Asian", "American Indian"]),
    "ethnicity": st.sampled_from(["Hispanic", "Not Hispanic"]),
    "sex": st.sampled_from(["Male", "Female"]),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TABLE), demographics)
def test_no_demographic_variant_changes_a_result(row: tuple[dict[str, Any], str, list[str]],
                                                 variant: dict[str, str]) -> None:
    body = row[0]
    plain = ENGINE.evaluate(parse_record(body)[0]).to_log()
    varied = ENGINE.evaluate(parse_record({**body, "demographics": variant})[0]).to_log()
    assert varied == plain
