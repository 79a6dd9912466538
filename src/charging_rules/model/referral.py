"""The police referral (contract: referral JSON v1) and the demographics kept apart from it.

Demographics are not a field of `Referral`: they are split off before validation, so no
guideline condition can name them and the engine never receives them.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from charging_rules.model.facts import FieldSpec
from charging_rules.model.places import resolve

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

ChargeCategory = Literal[
    "drug_possession",
    "drug_sale",
    "drug_paraphernalia",
    "violent",
    "weapon",
    "property",
    "traffic",
    "public_order",
    "other",
]
Drug = Literal[
    "marijuana", "methamphetamine", "cocaine", "crack_cocaine", "heroin", "fentanyl", "other"
]
Level = Literal["felony", "misdemeanor", "infraction"]

CHARGING_OUTCOMES = ("file", "decline", "divert", "review", "needs_information")
# How count outcomes combine into the referral's (docs/referral-contract.md): the first of
# this order that some count has. An undecided count keeps the referral undecided; a count
# to file is filed whatever the others; a count that needs review is reviewed even beside
# counts declined or diverted.
OUTCOME_PRECEDENCE = ("needs_information", "file", "review", "divert", "decline")
SourceType = Literal["resident", "neighborhood_association", "business", "school", "faith_group",
                     "elected_official", "city_service_request", "police", "other"]
# A source text that is plainly the police's own observation (not a complaint from anyone).
POLICE_SOURCE = re.compile(
    r"\b(officers?|detectives?|patrol(?:man|men|ling|led|s)?|arresting|surveillance|"
    r"sergeant|sgt|deputy|deputies|trooper|undercover|task force|narcotics unit)\b", re.I)


class Fact(BaseModel):
    """Strict by default: a typo'd key or a "yes" for a boolean is an error, never "unknown"."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def asked(question: str, ask: str) -> dict[str, Any]:
    """The plain question for a fact and whom to ask, declared once beside the fact
    (`{count}` is the count's number for a charge's facts)."""
    return {"question": question, "ask": ask}


QUANTITY_LIMIT = 1_000_000  # grams: a tonne; anything more is a typing error


class Charge(Fact):
    statute: Text | None = Field(default=None, json_schema_extra=asked(
        "Which statute is count {count} charged under?", "the reporting officer"))
    description: Text | None = None
    category: ChargeCategory
    drug: Drug | None = Field(default=None, json_schema_extra=asked(
        "Which drug does count {count} involve?", "the crime lab or the case detective"))
    quantity_grams: Annotated[float, Field(ge=0, le=QUANTITY_LIMIT)] | None = Field(
        default=None, json_schema_extra=asked("How many grams does count {count} involve?",
                                      "the crime lab or the case detective"))
    level: Level | None = Field(default=None, json_schema_extra=asked(
        "Is count {count} a felony, a misdemeanor or an infraction?", "the reporting officer"))

    @field_validator("quantity_grams", mode="before")
    @classmethod
    def _int_is_a_number(cls, value: object) -> object:
        # JSON has one number type; strict mode would refuse 2 where 2.0 is fine.
        if not isinstance(value, int) or isinstance(value, bool):
            return value
        # float() of a 400-digit integer overflows: out of range before it is converted
        if value > QUANTITY_LIMIT:
            raise PydanticCustomError("less_than_equal",
                                      "Input should be less than or equal to {le}",
                                      {"le": QUANTITY_LIMIT})
        if value < 0:
            raise PydanticCustomError("greater_than_equal",
                                      "Input should be greater than or equal to {ge}", {"ge": 0})
        return float(value)


class Violence(Fact):
    linked_to_violent_incident: bool | None = Field(default=None, json_schema_extra=asked(
        "Is the conduct linked to a shooting or another violent incident?",
        "the case detective"))
    victim_injured: bool | None = Field(default=None, json_schema_extra=asked(
        "Was anyone injured?", "the case detective"))


class CommunityConcern(Fact):
    documented: bool | None = Field(default=None, json_schema_extra=asked(
        "Is a complaint or request from the community about this conduct documented?",
        "the reporting officer"))
    source: Text | None = Field(default=None, json_schema_extra=asked(
        "Who made the complaint (the record of it)?", "the reporting officer"))
    source_type: SourceType | None = Field(default=None, json_schema_extra=asked(
        "Who raised the concern: residents, a neighborhood association, a business, a school, "
        "a faith group, an elected official, a 311 request, or the police themselves?",
        "the reporting officer"))

    def by_community(self) -> bool | None:
        """Whether the concern is the community's (the police's own observation is not);
        None when that cannot be told. Without a type a v1 referral keeps its v1 meaning,
        unless its source text is plainly the police's own observation."""
        if self.source_type is not None:
            return self.source_type != "police"
        if self.source is not None and POLICE_SOURCE.search(self.source):
            return None
        return True


class Defendant(Fact):
    age: Annotated[int, Field(ge=0, le=120)] | None = Field(default=None, json_schema_extra=asked(
        "How old was the defendant on the date of the offense?", "the reporting officer"))


def real_date(value: date) -> date:
    """A record date must be one that could have happened: not before 1900, not tomorrow."""
    if value > date.today():
        raise ValueError(f"date {value.isoformat()} is in the future")
    if value.year < 1900:
        raise ValueError(f"date {value.isoformat()} is before 1900")
    return value


PLACE_QUESTION = asked("In which city and state did the incident happen?",
                       "the reporting officer")


class Referral(Fact):
    referral_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")]
    received: Annotated[date, Field(strict=False)]
    offense_date: Annotated[date, Field(strict=False)] | None = None
    agency: Text | None = None
    jurisdiction: Annotated[Text, Field(json_schema_extra=PLACE_QUESTION)]
    state: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    charges: Annotated[list[Charge], Field(min_length=1, max_length=100)]
    firearm_recovered: bool | None = Field(default=None, json_schema_extra=asked(
        "Was a firearm recovered?", "the case detective"))
    violence: Violence = Violence()
    community_concern: CommunityConcern = CommunityConcern()
    defendant: Defendant = Defendant()

    # Facts the engine derives from the ones above (never read from input, never logged:
    # a replay derives them again from the logged referral).
    DERIVED: ClassVar[dict[str, FieldSpec]] = {
        "place": FieldSpec("place", "string", question=PLACE_QUESTION["question"],
                           ask=PLACE_QUESTION["ask"], derived_from=("jurisdiction", "state")),
        "place_state": FieldSpec("place_state", "string", question=PLACE_QUESTION["question"],
                                 ask=PLACE_QUESTION["ask"],
                                 derived_from=("jurisdiction", "state", "agency")),
        "as_of": FieldSpec("as_of", "date", derived_from=("offense_date", "received"),
                           always=True),
        "community_concern.by_community": FieldSpec(
            "community_concern.by_community", "bool",
            question="Did the concern come from the community (residents, a neighborhood "
                     "group, a business, a school, a 311 request) rather than from the "
                     "police's own observation?", ask="the reporting officer",
            derived_from=("community_concern.source", "community_concern.source_type")),
    }

    @field_validator("received", "offense_date")
    @classmethod
    def _date_is_real(cls, value: date | None) -> date | None:
        return None if value is None else real_date(value)

    @model_validator(mode="after")
    def _offense_before_referral(self) -> Referral:
        if self.offense_date is not None and self.offense_date > self.received:
            raise ValueError(f"offense_date {self.offense_date.isoformat()} is after received "
                             f"{self.received.isoformat()}")
        return self

    @field_validator("state", mode="before")
    @classmethod
    def _state_upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @staticmethod
    def inputs_for(derived: dict[str, Any]) -> dict[str, Any]:
        """Input facts under which the record derives these values (MISSING/None: the
        fact is not derivable): how an analysis writes an example referral for them."""
        out: dict[str, Any] = {}
        if "as_of" in derived:
            out["received"] = derived["as_of"]
        if "place" in derived:
            place = derived["place"]
            if place is None:
                out["jurisdiction"] = "unspecified"
            else:
                name, _, state = str(place).rpartition(", ")
                out["jurisdiction"], out["state"] = (name, state) if name else (place, "KS")
        if "place_state" in derived:  # a place the gazetteer need not name, in that state
            out.setdefault("jurisdiction", "Elsewhere")
            if derived["place_state"] is not None:
                out.setdefault("state", derived["place_state"])
        if "community_concern.by_community" in derived:
            by = derived["community_concern.by_community"]
            out["community_concern.source_type"] = {True: "resident", False: "police"}.get(by)
            if by is None:
                out["community_concern.source"] = "Officer observation"
        return out

    def derived_facts(self) -> dict[str, Any]:
        """`place` and its `place_state` (each absent when unresolved), `as_of` (the
        offense date, else received) and whether the community concern is the community's
        (absent when it cannot be told)."""
        out: dict[str, Any] = {"as_of": (self.offense_date or self.received).isoformat()}
        place, state = resolve(self.jurisdiction, self.state, self.agency,
                               (c.statute for c in self.charges))
        if place is not None:
            out["place"] = place
        if state is not None:
            out["place_state"] = state
        by_community = self.community_concern.by_community()
        if by_community is not None:
            out["community_concern"] = {"by_community": by_community}
        return out


class Demographics(Fact):
    """Logged beside each decision for disparity monitoring; never given to a rule."""

    race: Text | None = None
    ethnicity: Text | None = None
    sex: Text | None = None
