"""The police referral (contract: referral JSON v1) and the demographics kept apart from it.

Demographics are not a field of `Referral`: they are split off before validation, so no
guideline condition can name them and the engine never receives them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

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


class Fact(BaseModel):
    """Strict by default: a typo'd key or a "yes" for a boolean is an error, never "unknown"."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Charge(Fact):
    statute: Text | None = None
    description: Text | None = None
    category: ChargeCategory
    drug: Drug | None = None
    quantity_grams: Annotated[float, Field(ge=0, le=1_000_000)] | None = None
    level: Level | None = None

    @field_validator("quantity_grams", mode="before")
    @classmethod
    def _int_is_a_number(cls, value: object) -> object:
        # JSON has one number type; strict mode would refuse 2 where 2.0 is fine.
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Violence(Fact):
    linked_to_violent_incident: bool | None = None
    victim_injured: bool | None = None


class CommunityConcern(Fact):
    documented: bool | None = None
    source: Text | None = None


class Defendant(Fact):
    age: Annotated[int, Field(ge=0, le=120)] | None = None


def real_date(value: date) -> date:
    """A record date must be one that could have happened: not before 1900, not tomorrow."""
    if value > date.today():
        raise ValueError(f"date {value.isoformat()} is in the future")
    if value.year < 1900:
        raise ValueError(f"date {value.isoformat()} is before 1900")
    return value


class Referral(Fact):
    referral_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")]
    received: Annotated[date, Field(strict=False)]
    agency: Text | None = None
    jurisdiction: Text
    charges: Annotated[list[Charge], Field(min_length=1, max_length=100)]
    firearm_recovered: bool | None = None
    violence: Violence = Violence()
    community_concern: CommunityConcern = CommunityConcern()
    defendant: Defendant = Defendant()

    @field_validator("received")
    @classmethod
    def _received_is_real(cls, value: date) -> date:
        return real_date(value)


class Demographics(Fact):
    """Logged beside each decision for disparity monitoring; never given to a rule."""

    race: Text | None = None
    ethnicity: Text | None = None
    sex: Text | None = None
